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

# 1. A: its first change meets 8 server errors. Driven by the engine, the adapter never
#    pauses: it reads the RRset back and sends the change again at once, 4 tries a call, and
#    then ends the call; the engine runs the step again after a deadline (1 s, then 2 s: the
#    warp clock passes them at once). So 2 pauses of the engine, and the run takes about a
#    second — 7 s at least if the adapter still paused (0.5 + 1 + 2 s a call).
rules "[{\"method\": \"PATCH\", \"path\": \"/zones/$A.\", \"times\": 8, \"kind\": \"500\"}]"
t0=$(date +%s.%N)
mxc "$workdir/pdns.conf" run "$A" --target-mx "$TA" --provider pdns --yes >"$workdir/a.out" 2>"$workdir/a.err" ||
	fail "A: exit $? through 8 server errors: $(tail -1 "$workdir/a.err")"
grep -q "HTTP 500.*the step runs again in [0-9]* s" "$workdir/a.out" ||
	fail "A: no word of the server error and the pause: $(grep -m3 -i 'http' "$workdir/a.out")"
n=$(grep -c 'the step runs again' "$workdir/a.out")
took=$(echo "$(date +%s.%N) - $t0" | bc)
[ "$n" -eq 2 ] || fail "A: $n pause(s) of the engine for 8 server errors, want 2 (4 tries a call)"
(($(echo "$took < 6" | bc))) || fail "A: the run took $took s through 8 server errors: the adapter paused"
figure "A: 8 HTTP 500 on its first change: exit 0 in ${took%??????} s; $n pauses, both the engine's deadlines"

# 2. B: every change meets a server error: the run stops with exit 3 after its tries (at
#    most 10, fewer when gate_timeout comes first: 60 s here), the zone untouched, and says
#    so on its last line; resume finishes it once the server is back.
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
