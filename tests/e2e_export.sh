#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/e2e_export.sh — exports that cannot skip the waits, against the sandbox's BIND: the
# single-file nsupdate export fed whole to nsupdate (with the right TSIG key) changes nothing;
# `-o DIR/` writes one file per writing step, numbered in order, and a README with the gates
# and waits between them; a step's file and the last rollback file work with nsupdate by
# themselves; the PowerShell export cannot enable DANE before the cutover.
. "$(dirname "$0")/e2e_lib.sh"
NW=northwind.test
NWT=northwind-test.o-v1.mx.microsoft.test
KEY="hmac-sha256:sbx-tsig:$(cat "$MX_SANDBOX_DIR/tsig.secret")"
mxrr() { dig +norec +noall +answer @127.0.4.2 $NW MX | awk '{print $2, $5, $6}'; }
before=$(mxrr)
[ -n "$before" ] || fail "no MX for $NW on BIND"

# 1. One file: nsupdate refuses it as a whole, before sending anything.
expect_status 0 mx plan $NW --target-mx $NWT --provider bind --format nsupdate -o "$workdir/nw.nsupdate"
grep -q 'nsupdate .*< ' "$workdir/nw.nsupdate" && fail "the single file suggests a whole-file invocation"
head -20 "$workdir/nw.nsupdate" | grep -q '^STOP: ' || fail "the single file starts with its guard"
nsupdate -y "$KEY" <"$workdir/nw.nsupdate" >"$workdir/whole.out" 2>&1 &&
	fail "nsupdate accepted the whole file: $(cat "$workdir/whole.out")"
grep -q 'syntax error' "$workdir/whole.out" || fail "nsupdate stops at the guard: $(cat "$workdir/whole.out")"
[ "$(mxrr)" = "$before" ] || fail "feeding the whole file changed the zone: $(mxrr)"
# Every block stands alone (its own server and zone lines) and is followed by a guard.
[ "$(grep -c '^send$' "$workdir/nw.nsupdate")" = "$(grep -c '^server 127.0.4.2 53$' "$workdir/nw.nsupdate")" ] ||
	fail "each block has its server line"
grep -q '^WAIT: 1 h before the next block$' "$workdir/nw.nsupdate" || fail "the old TTL's wait is a guard line"

# 2. One file per step, in order, with the waits in the README.
expect_status 0 mx plan $NW --target-mx $NWT --provider bind --format nsupdate -o "$workdir/nw/"
ls "$workdir/nw" >"$workdir/ls"
grep -Eq '^01-(mtasts_stage|lower_ttl)\.nsupdate$' "$workdir/ls" || fail "first file: $(cat "$workdir/ls")"
low=$(grep -E '^[0-9][0-9]-lower_ttl\.nsupdate$' "$workdir/ls")
add=$(grep -E '^[0-9][0-9]-add_target\.nsupdate$' "$workdir/ls")
[ -n "$low" ] && [ -n "$add" ] && [[ $low < $add ]] || fail "lower_ttl before add_target: $(cat "$workdir/ls")"
grep -q '^README$' "$workdir/ls" || fail "a README"
grep -q '^rollback-01.nsupdate$' "$workdir/ls" || fail "rollback files"
python3 - "$workdir/nw/README" "$low" "$add" <<'PY' || fail "README: $(cat "$workdir/nw/README")"
import sys
t = open(sys.argv[1]).read()
a, w, b = t.index(sys.argv[2]), t.index("WAIT 1 h before the next file"), t.index(sys.argv[3])
assert a < w < b, (a, w, b)
assert "ONE AT A TIME" in t and "Never run them together" in t
PY
for f in "$workdir"/nw/*.nsupdate; do
	[ "$(grep -c '^send$' "$f")" = 1 ] || fail "$f holds one step"
done
# The lower_ttl file applied alone lowers the TTL; the last rollback file restores it.
nsupdate -y "$KEY" "$workdir/nw/$low" || fail "nsupdate $low"
[ "$(mxrr | awk '{print $1}' | sort -u)" = 30 ] || fail "after $low: $(mxrr)"
last=$(grep -E '^rollback-[0-9]+\.nsupdate$' "$workdir/ls" | tail -1)
grep -q "MX" "$workdir/nw/$last" || last=$(grep -E '^rollback-[0-9]+\.nsupdate$' "$workdir/ls" | tail -2 | head -1)
nsupdate -y "$KEY" "$workdir/nw/$last" || fail "nsupdate $last"
[ "$(mxrr)" = "$before" ] || fail "after $last: $(mxrr), want $before"

# 3. A folder for another format is a usage error.
expect_status 2 mx plan $NW --target-mx $NWT --provider bind --format markdown -o "$workdir/nw/" 2>"$workdir/err"
grep -q "one file per step is the nsupdate format's" "$workdir/err" || fail "folder for markdown: $(cat "$workdir/err")"

# 4. PowerShell: run whole, nothing enables DANE; the cmdlet is there to run by hand later.
expect_status 0 mx plan $NW --target-mx $NWT --provider bind --format powershell -o "$workdir/nw.ps1"
grep -q '^Enable-SmtpDaneInbound' "$workdir/nw.ps1" && fail "powershell enables DANE when run whole"
grep -q '^# Enable-SmtpDaneInbound -DomainName northwind.test' "$workdir/nw.ps1" || fail "powershell shows the cmdlet"

finish
