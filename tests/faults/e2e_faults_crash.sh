#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/faults/e2e_faults_crash.sh — a crash storm: 10 domains run together through the
# PowerDNS adapter, and the process is killed with SIGKILL at random instants (a seeded
# random generator; writes are held 0.2 s on each side by the fault proxy, so many kills land
# inside a write: applied, not yet answered), then resumed and killed again, 50 times. Then
# resume finishes: every run done, every zone exactly as its plan says, no intent left open.
# (tests/e2e_crash.sh kills at each step boundary from inside; this one kills from outside.)
. "$(dirname "$0")/faults_lib.sh"
SEED=${MX_FAULT_SEED:-50}
KILLS=${MX_CRASH_KILLS:-50}
N=${MX_FAULT_DOMAINS:-10}

start_proxy crash http://127.0.0.1:8081 --rate 0 --slow-writes 0.2
pdns_conf pdns "$PROXY_PORT" >"$workdir/crash.conf"
# settle LABEL — resume until the batch is done (bounded).
settle() {
	local i rc=1
	for i in $(seq 1 10); do
		mxc "$workdir/crash.conf" resume --yes >>"$workdir/crash.out" 2>"$workdir/crash.last.err"
		rc=$?
		[ "$rc" -eq 0 ] && return 0
		[ "$rc" -eq 3 ] || { fail "$1: resume after the storm: exit $rc ($(tail -1 "$workdir/crash.last.err"))"; return 1; }
	done
	fail "$1: resume after the storm: not done after 10 resumes ($(tail -1 "$workdir/crash.last.err"))"
}

# Delays drawn from the seed: mostly within the first seconds of an attempt.
python3 -c "
import random; r = random.Random($SEED)
for _ in range(600): print('%.2f' % r.uniform(0.05, 2.0))" >"$workdir/delays"
kills=0 inflight=0 attempts=0 batches=0
exec 3<"$workdir/delays"
# Batches of N fresh zones, one after the other, until KILLS kills have landed.
while [ "$kills" -lt "$KILLS" ] && [ "$batches" -lt 20 ]; do
	batches=$((batches + 1))
	B=crash$batches
	STATE=$workdir/$B.db
	make_zones "$B" "$N"
	plan_all "$B" "$MX_CONFIG" pdns
	first=1
	while [ "$kills" -lt "$KILLS" ] && [ "$attempts" -lt 400 ] && read -r delay <&3; do
		attempts=$((attempts + 1))
		if [ $first = 1 ]; then
			set -- run --file "$workdir/$B.list" --provider pdns --yes
		else
			set -- resume --yes
		fi
		first=0
		# exec: $! is then the binary itself, not a subshell around it.
		(exec "$MXCUTOVER" --config "$workdir/crash.conf" --resolver-conf "$MX_RESOLVER_CONF" \
			--cacert "$MX_CACERT" --state "$STATE" "$@" \
			>>"$workdir/crash.out" 2>>"$workdir/crash.err") &
		pid=$!
		# The storm is about kills inside the runs: the first attempt of a batch is killed
		# only once `run --file` has journaled every listed domain's run (a kill before
		# leaves domains without a run, which `resume` cannot know of; `run` starts those).
		if [ "$1" = run ]; then
			for _ in $(seq 1 100); do
				[ "$(sqlite3 "$STATE" "SELECT count(*) FROM runs" 2>/dev/null)" = "$N" ] && break
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
		fi
		sleep "$delay"
		if kill -0 "$pid" 2>/dev/null; then
			kill -KILL "$pid"
			wait "$pid" 2>/dev/null
			kills=$((kills + 1))
			# Runs of the batch not finished when this kill landed.
			n=$(sqlite3 "$STATE" "SELECT count(*) FROM runs WHERE state NOT IN ('done','failed','rolled_back')" 2>/dev/null)
			inflight=$((inflight + ${n:-0}))
		else
			wait "$pid"
			rc=$?
			[ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || fail "attempt $attempts: exit $rc ($(tail -1 "$workdir/crash.err"))"
			# The batch finished before the kill.
			[ "$rc" -eq 0 ] && break
		fi
	done
	settle "$B"
	verify "$B"
done
exec 3<&-
figure "crash storm: $batches batch(es) of $N domains, $kills SIGKILLs at random instants in $attempts attempts, $inflight unfinished run(s) caught by a kill; every zone exactly as planned, no intent left open"
[ "$kills" -ge "$KILLS" ] || fail "only $kills kills landed"
finish
