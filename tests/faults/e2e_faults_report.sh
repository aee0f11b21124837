#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/faults/e2e_faults_report.sh — a command over several domains that fails says why on
# its last stderr line, with --json too (where every progress line goes to stderr): `run
# --file` with a domain that cannot start while the others finish, `run --file` and `resume`
# (no domain) whose runs stop with exit 3. PowerDNS behind the fault proxy, whose rules
# (--rules-file) refuse the changes of chosen zones (HTTP 403).
. "$(dirname "$0")/faults_lib.sh"
refuse() { # refuse DOMAIN... — every change of these zones answered 403
	local out="[" sep="" d
	for d in "$@"; do
		out+="$sep{\"method\": \"PATCH\", \"path\": \"/zones/$d.\", \"times\": 1000, \"kind\": \"403\"}"
		sep=", "
	done
	rules "$out]"
}
pdns_rules_batch rp 4
read -r A _ < <(sed -n 1p "$workdir/rp.list")
read -r B _ < <(sed -n 2p "$workdir/rp.list")
read -r C _ < <(sed -n 3p "$workdir/rp.list")
read -r E _ < <(sed -n 4p "$workdir/rp.list")
sub() { for d in "$@"; do grep "^$d " "$workdir/rp.list"; done; } # a list file's lines
# last_says LABEL RC WANT_RC PATTERN... — the command ended WANT_RC and its last stderr line
# matches every pattern (grep -E).
last_says() {
	local label=$1 rc=$2 want=$3 last p
	shift 3
	last=$(tail -1 "$workdir/$label.err")
	[ "$rc" -eq "$want" ] || fail "$label: exit $rc, want $want ($last)"
	[ -n "$last" ] || fail "$label: exit $rc with an empty last stderr line"
	case $last in *"without a message"*) fail "$label: no reason given: $last" ;; esac
	for p in "$@"; do
		echo "$last" | grep -qE -- "$p" || fail "$label: the last stderr line does not say '$p': $last"
	done
	figure "$label: exit $rc: $last"
}

# 1. A: an unfinished run that changed the zone (its second change refused).
rules "[{\"method\": \"PATCH\", \"path\": \"/zones/$A.\", \"skip\": 1, \"times\": 1, \"kind\": \"403\"}]"
t=$(grep "^$A " "$workdir/rp.list" | cut -d' ' -f2)
mxc "$workdir/pdns.conf" run "$A" --target-mx "$t" --provider pdns --yes >"$workdir/a.out" 2>"$workdir/a.err"
last_says a $? 3 "$A" "HTTP 403"

# 2. run --file A C --json: A cannot start (exit 2), C runs to its end (its progress lines
#    on stderr after A's refusal): the last line still gives A's reason.
rules '[]'
sub "$A" "$C" >"$workdir/ac.list"
mxc "$workdir/pdns.conf" --json run --file "$workdir/ac.list" --provider pdns --yes \
	>"$workdir/ac.out" 2>"$workdir/ac.err"
last_says ac $? 2 "$A" "unfinished run"
grep -q "^$C: cutover complete" "$workdir/ac.err" || fail "ac: $C did not finish: $(tail -3 "$workdir/ac.err")"

# 3. run --file B E, text and --json: both stop with exit 3 (their changes refused).
refuse "$B" "$E"
sub "$B" "$E" >"$workdir/be.list"
mxc "$workdir/pdns.conf" run --file "$workdir/be.list" --provider pdns --yes \
	>"$workdir/be.out" 2>"$workdir/be.err"
last_says be $? 3 "2 of 2 domains did not finish" "($B|$E)" "HTTP 403"

# 4. resume (no domain), --json: A resumes and finishes, B and E stop again with exit 3.
mxc "$workdir/pdns.conf" --json resume --yes >"$workdir/res.out" 2>"$workdir/res.err"
last_says res $? 3 "2 of 3 domains did not finish" "($B|$E)" "HTTP 403"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$workdir/res.out" ||
	fail "res: stdout is not one JSON document"
# ... and text.
mxc "$workdir/pdns.conf" resume --yes >"$workdir/res2.out" 2>"$workdir/res2.err"
last_says res2 $? 3 "2 of 2 domains did not finish" "($B|$E)" "HTTP 403"

# 5. Without the refusals, resume finishes everything as planned.
rules '[]'
mxc "$workdir/pdns.conf" resume --yes >"$workdir/res3.out" 2>"$workdir/res3.err" ||
	fail "resume without faults: exit $? ($(tail -1 "$workdir/res3.err"))"
verify rp
finish
