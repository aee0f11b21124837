#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/e2e_check_stream.sh — `mxcutover check` over many domains: each domain is printed as it
# completes, a summary line ends the text, -q prints only what is not ready, --json stays one
# valid document while it is streamed, the progress line appears only on a terminal, and
# Ctrl-C keeps what was complete.
. "$(dirname "$0")/e2e_lib.sh"

J=$workdir/out.json
O=$workdir/out.txt
E=$workdir/err.txt
MKZONE=$MX_SANDBOX_TOOLS/mkzone

# A list with ready, warned and failing domains.
LIST=$workdir/list
printf '%s\n' '# mixed' contoso.test fabrikam.test bogus.test sts-404.test nospf.test \
	tlsrpt-absent.test pref10.test sts-testing.test >"$LIST"
NLIST=8

# ---- text: one block per domain as it completes, then the summary line; exit 1 names why
expect_status 1 mx check --file "$LIST" >"$O" 2>"$E"
for d in contoso.test fabrikam.test bogus.test sts-404.test nospf.test pref10.test; do
	grep -q "^$d\b" "$O" || fail "text output has no line for $d"
done
tail -n 1 "$O" | grep -Eq "^$NLIST domains: [0-9]+ ready, 2 not ready" ||
	fail "the last stdout line is not the summary: $(tail -n 1 "$O")"
tail -n 1 "$E" | grep -q "2 of $NLIST domains are not ready" ||
	fail "the last stderr line does not say why the exit is 1: $(tail -n 1 "$E")"
grep -q 'checked' "$E" && fail "progress was drawn although stderr is not a terminal"

# ---- -q: only errors — nothing for ready domains, no summary
expect_status 0 mx -q check contoso.test fabrikam.test >"$O" 2>"$E"
[ -s "$O" ] && fail "-q printed something for ready domains: $(head -n 3 "$O")"
[ -s "$E" ] && fail "-q wrote to stderr for ready domains: $(head -n 3 "$E")"
expect_status 1 mx -q check contoso.test bogus.test >"$O" 2>"$E"
grep -q '^bogus.test' "$O" || fail "-q does not show the domain that is not ready"
grep -q 'contoso.test' "$O" && fail "-q shows the ready domain contoso.test"
grep -q 'PASS' "$O" && fail "-q shows passing checks"
grep -q 'domains:' "$O" && fail "-q prints the summary line"

# ---- --json: one valid document, every listed domain exactly once, contract keys only
expect_status 1 mx --json check --file "$LIST" >"$J" 2>"$E"
python3 -m json.tool "$J" >/dev/null || fail "streamed --json is not one valid JSON document"
json_check "$J" 'set(doc)=={"domains"} and len(doc["domains"])=='"$NLIST"
json_check "$J" 'sorted(d["domain"] for d in doc["domains"])==sorted(["contoso.test","fabrikam.test","bogus.test","sts-404.test","nospf.test","tlsrpt-absent.test","pref10.test","sts-testing.test"])'
json_check "$J" 'all({"domain","ready","checks"}<=set(d) for d in doc["domains"])'
json_check "$J" 'all(set(c)=={"id","status","summary","detail"} for d in doc["domains"] for c in d["checks"])'
json_check "$J" 'dom("bogus.test")["ready"] is False and dom("contoso.test")["ready"] is True'
json_check "$J" 'all(d["ready"]==all(c["status"]!="fail" for c in d["checks"]) for d in doc["domains"])'
grep -q 'checked' "$E" && fail "progress was drawn with --json to a pipe"
expect_status 0 mx --json check contoso.test >"$J"
json_check "$J" 'len(doc["domains"])==1 and dom("contoso.test")["ready"] is True'

# ---- a domain listed twice (another spelling, or again as an operand) is checked once;
# two different target hosts for it are a usage error, and so is a list with no domain
printf 'contoso.test\nCONTOSO.TEST.\nfabrikam.test\ncontoso.test, %s\n' \
	contoso-test.o-v1.mx.microsoft.test >"$workdir/dups"
# (the target host given on the later line is kept: the policy does not cover it)
expect_status 1 mx --json check --file "$workdir/dups" fabrikam.test contoso.test >"$J" 2>"$E"
json_check "$J" '[d["domain"] for d in doc["domains"]].count("contoso.test")==1 and len(doc["domains"])==2'
json_check "$J" 'check("contoso.test","mtasts.covers_target")["status"]=="fail"'
printf 'contoso.test a.o-v1.mx.microsoft.test\ncontoso.test b.o-v1.mx.microsoft.test\n' >"$workdir/dups"
expect_status 2 mx check --file "$workdir/dups" >"$O" 2>"$E"
[ "$(wc -l <"$E")" -eq 1 ] && grep -q "dups: contoso.test is listed twice with different target hosts (a.o-v1.mx.microsoft.test and b.o-v1.mx.microsoft.test); list each domain once" "$E" ||
	fail "two targets for one domain: $(cat "$E")"
printf '# nothing yet\n\n' >"$workdir/none"
expect_status 2 mx check --file "$workdir/none" >"$O" 2>"$E"
grep -q "none lists no domain" "$E" || fail "an empty list: $(cat "$E")"
# --target-mx without its domain: the error names what is missing, for check and for run
for c in check run; do
	expect_status 2 mx $c --target-mx x.o-v1.mx.microsoft.test --provider pdns >"$O" 2>"$E" </dev/null
	[ "$(wc -l <"$E")" -eq 1 ] && grep -q "target-mx x.o-v1.mx.microsoft.test names no domain: give the domain it is for" "$E" ||
		fail "$c --target-mx without a domain: $(cat "$E")"
done

# ---- progress: on a terminal (a pty from script(1)) the line is drawn and erased; not with -q
if command -v script >/dev/null; then
	cmd="$MXCUTOVER --config $MX_CONFIG --resolver-conf $MX_RESOLVER_CONF --cacert $MX_CACERT"
	script -qec "$cmd check contoso.test fabrikam.test >$O" /dev/null >"$E" 2>&1
	grep -q "checked [0-9]*/2" "$E" || fail "no progress line on a terminal: $(head -c 300 "$E")"
	grep -q "^2 domains: 2 ready" "$O" || fail "summary missing when progress is drawn"
	script -qec "$cmd -q check contoso.test fabrikam.test >$O" /dev/null >"$E" 2>&1
	grep -q "checked" "$E" && fail "progress drawn with -q"
	# --json into a pipe: a program reads the document; stderr on the terminal stays quiet
	script -qec "$cmd --json check contoso.test fabrikam.test | cat >$J" /dev/null >"$E" 2>&1
	grep -q "checked" "$E" && fail "progress drawn with --json into a pipe"
	python3 -m json.tool "$J" >/dev/null || fail "--json through a pipe is not one document"
	# A terminal 30 columns wide: the line is cut to one row (a wrapped one could not be
	# redrawn in place), never inside a character.
	script -qec "stty cols 30; $cmd check contoso.test fabrikam.test >$O" /dev/null >"$E" 2>&1
	python3 - "$E" <<'PY' || fail "progress at 30 columns: $(od -c "$E" | head -5)"
import sys
raw = open(sys.argv[1], "rb").read()
parts = [p.split(b"\r")[0] for p in raw.split(b"\x1b[K")[1:]]
drawn = [p for p in parts if p.startswith(b"checked")]
assert drawn, raw
for p in drawn:
    assert len(p.decode()) <= 29, p
PY
fi

# ---- Ctrl-C: a domain whose name servers never answer keeps the check running; SIGINT then
# stops it, and the domains already complete have been printed (text) or are in the closed
# document (JSON).
SLOW=slow$$.test
blackhole_zone "$SLOW"
bh=$BH_PID
trap 'kill $bh 2>/dev/null; rm -rf "$workdir"' EXIT

# The binary itself in the background (not a subshell running it), so that $! is its pid.
mx_bg() {
	exec "$MXCUTOVER" --config "$MX_CONFIG" --resolver-conf "$MX_RESOLVER_CONF" \
		--cacert "$MX_CACERT" --state "$workdir/state.db" "$@"
}

# interrupt FILE WANT... — waits until every WANT domain appears in FILE (at most 60 s), then
# sends SIGINT to the check running in the background ($pid) and returns its exit status.
interrupt() {
	local file=$1 ok i
	shift
	for i in $(seq 600); do
		ok=1
		for d in "$@"; do grep -q "\"\?$d\b" "$file" || ok=0; done
		[ "$ok" = 1 ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -INT "$pid"
	wait "$pid"
}

mx_bg check "$SLOW" contoso.test fabrikam.test >"$O" 2>"$E" &
pid=$!
interrupt "$O" contoso.test fabrikam.test
st=$?
[ "$st" = 1 ] || fail "interrupted check exits $st, want 1"
grep -q '^contoso.test' "$O" && grep -q '^fabrikam.test' "$O" ||
	fail "the domains complete before Ctrl-C are not printed: $(cat "$O")"
grep -q "^$SLOW" "$O" && fail "the unfinished $SLOW was printed as if complete"
tail -n 1 "$E" | grep -q 'interrupted after 2 of 3 domains' ||
	fail "the last stderr line does not say the check was interrupted: $(tail -n 1 "$E")"

mx_bg --json check "$SLOW" contoso.test fabrikam.test >"$J" 2>"$E" &
pid=$!
interrupt "$J" contoso.test fabrikam.test
st=$?
[ "$st" = 1 ] || fail "interrupted --json check exits $st, want 1"
python3 -m json.tool "$J" >/dev/null || fail "interrupted --json output is not a valid document"
json_check "$J" 'sorted(d["domain"] for d in doc["domains"])==["contoso.test","fabrikam.test"]'

finish
