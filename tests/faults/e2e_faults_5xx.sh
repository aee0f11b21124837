#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/faults/e2e_faults_5xx.sh — a provider's server errors (HTTP 5xx: a busy backend
# database, a restart): the adapter never pauses for them in a run; the step runs again after
# a pause (a deadline of the engine), a few times, and the run finishes once the server
# recovers; a server that keeps failing stops the run (exit 3) with the reason and the number of tries on the last stderr
# line, and resume finishes it once the server is back. PowerDNS behind the fault proxy
# (--rules-file), the warp clock (the pauses pass at once).
. "$(dirname "$0")/faults_lib.sh"
pdns_rules_batch sx 2
read -r A TA < <(sed -n 1p "$workdir/sx.list")
read -r B TB < <(sed -n 2p "$workdir/sx.list")

# 1. A: its first change meets 4 server errors: the adapter never pauses when the engine
#    drives it (it reads the zone back and ends the call), so each error is one pause of the
#    engine, a deadline (1, 2, 4, 8 s), and the fifth try of the step goes through.
rules "[{\"method\": \"PATCH\", \"path\": \"/zones/$A.\", \"times\": 4, \"kind\": \"500\"}]"
mxc "$workdir/pdns.conf" run "$A" --target-mx "$TA" --provider pdns --yes >"$workdir/a.out" 2>"$workdir/a.err" ||
	fail "A: exit $? through 4 server errors: $(tail -1 "$workdir/a.err")"
grep -q "HTTP 500.*the step runs again in [0-9]* s" "$workdir/a.out" ||
	fail "A: no word of the server error and the pause: $(grep -m3 -i 'http' "$workdir/a.out")"
n=$(grep -c 'the step runs again' "$workdir/a.out")
[ "$n" -eq 4 ] || fail "A: $n pause(s) of the engine for 4 server errors, want 4 (the adapter paused itself)"
figure "A: 4 HTTP 500 on its first change: exit 0; $n pauses, all the engine's deadlines"

# 2. B: every change meets a server error: the run stops with exit 3 after its tries (at
#    most 10, fewer when gate_timeout comes first: 60 s here), the zone untouched, and says so on its
#    last line; resume finishes it once the server is back.
rules "[{\"method\": \"PATCH\", \"path\": \"/zones/$B.\", \"times\": 100000, \"kind\": \"503\"}]"
mxc "$workdir/pdns.conf" run "$B" --target-mx "$TB" --provider pdns --yes >"$workdir/b.out" 2>"$workdir/b.err"
rc=$?
last=$(tail -1 "$workdir/b.err")
[ "$rc" -eq 3 ] || fail "B: exit $rc, want 3 ($last)"
echo "$last" | grep -qE "$B" || fail "B: the last stderr line does not name $B: $last"
echo "$last" | grep -qE "after [2-9] tries.*HTTP 503" || fail "B: the last stderr line does not give the tries and the status: $last"
n=$(grep -c 'the step runs again' "$workdir/b.out")
[ "$n" -ge 3 ] && [ "$n" -le 8 ] || fail "B: $n pause(s), want 3 to 8"
grep -q "after $((n + 1)) tries" <<<"$last" || fail "B: $n pauses, but the last line says: $last"
figure "B: HTTP 503 on every change: exit $rc after $n pauses: $last"
rules '[]'
mxc "$workdir/pdns.conf" resume "$B" --yes >"$workdir/b2.out" 2>"$workdir/b2.err" ||
	fail "B: resume after the server came back: exit $? ($(tail -1 "$workdir/b2.err"))"
verify sx
finish
