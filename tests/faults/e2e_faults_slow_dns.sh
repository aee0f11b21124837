#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/faults/e2e_faults_slow_dns.sh — a slow RFC 2136 primary never holds up the engine: the
# fault proxy in --dns mode sits in front of the BIND primary and holds every UPDATE message
# HOLD seconds before forwarding it and HOLD seconds before answering. The sandbox's BIND zone
# that takes updates (northwind.test) is cut over and rolled back through it. The adapter's
# calls run in fibers on the engine's loop (each UPDATE a non-blocking TCP exchange), so no
# unit of the engine's work lasts as long as one UPDATE (the engine's own timing,
# MXCUTOVER_ENGINE_BUDGET_MS), none runs on a worker, and the zone ends exactly as the plan
# says, then exactly as it was.
. "$(dirname "$0")/faults_lib.sh"
HOLD=1.5 # seconds each way: an UPDATE takes at least 3 s (the adapter's timeout is 5 s)
HOLD_MS=1500
nw_prepare
nw_proxy binds --rate 0 --slow-writes "$HOLD"

# timed N CMD... — one command with the engine's timing; its longest unit must stay under
# one hold (an UPDATE takes two). Sets LONGEST (ms) and RC.
LONGEST=0
timed() {
	local n=$1 line
	shift
	MXCUTOVER_ENGINE_BUDGET_MS=1000 mxc "$workdir/binds.conf" "$@" >"$workdir/t$n.out" \
		2>"$workdir/t$n.err"
	RC=$?
	line=$(grep "engine: .* units of work" "$workdir/t$n.err")
	[[ $line =~ the\ longest\ ([0-9]+)\.[0-9]\ ms ]] || fail "$n ($*): no engine timing line: '$line'"
	[ "${BASH_REMATCH[1]}" -lt "$HOLD_MS" ] ||
		fail "$n ($*): a unit of the engine's work lasted ${BASH_REMATCH[1]} ms while an UPDATE takes at least $((2 * HOLD_MS)) ms: $line"
	[ "${BASH_REMATCH[1]}" -gt "$LONGEST" ] && LONGEST=${BASH_REMATCH[1]}
	[[ $line =~ calls:\ ([0-9]+)\ on\ the\ engine.s\ loop.*,\ ([0-9]+)\ on\ workers ]] &&
		[ "${BASH_REMATCH[1]}" -ge 1 ] && [ "${BASH_REMATCH[2]}" -eq 0 ] ||
		fail "$n ($*): the adapter's calls did not all run on the engine's loop: '$line'"
	return 0
}

# Ctrl-C while an UPDATE is held: the process says it lets the call end (its fiber goes on
# while the engine drives the resolver), stops with exit 1 and says how to continue.
# exec: $! is then the binary itself, not a subshell around it.
(exec "$MXCUTOVER" --config "$workdir/binds.conf" --resolver-conf "$MX_RESOLVER_CONF" \
	--cacert "$MX_CACERT" --state "$STATE" run $NW --target-mx $NWT --provider binds --yes \
	>"$workdir/int.out" 2>"$workdir/int.err") &
ctrl_c $! "$workdir/int.out" "Lower the MX TTL"
int_ms=$INT_MS
[ $RC -eq 1 ] || fail "Ctrl-C during an UPDATE: exit $RC, want 1 ($(tail -1 "$workdir/int.err"))"
grep -q "provider call(s) under way; letting them end" "$workdir/int.err" ||
	fail "Ctrl-C during an UPDATE: not said that a call is under way: $(cat "$workdir/int.err")"
tail -1 "$workdir/int.err" | grep -q "continue with \`mxcutover resume $NW\`" ||
	fail "Ctrl-C during an UPDATE: last line: $(tail -1 "$workdir/int.err")"

# The cutover goes on: the run waits at the final MTA-STS policy (exit 1 with --yes), which is
# then published as a person would, and resume finishes it.
timed run resume $NW --yes
[ "$RC" -eq 0 ] || [ "$RC" -eq 1 ] || fail "resume through a slow primary: exit $RC ($(tail -1 "$workdir/trun.err"))"
cp "$workdir/final" "$POLICY"
if [ "$RC" -eq 1 ]; then
	timed resume resume $NW --yes
	[ "$RC" -eq 0 ] || fail "resume through a slow primary: exit $RC ($(tail -1 "$workdir/tresume.err"))"
fi
nw_served "$want_mx" cutover "the plan says"
updates=$(grep -c '"update": true' "$workdir/bind.plog")
[ "$updates" -ge 3 ] || fail "only $updates UPDATE message(s) went through the slow proxy"

# The rollback through the same slow primary.
cp "$workdir/staged" "$POLICY"
Z dane-off $NWT
timed rollback rollback $NW --yes
rb_rc=$RC
restore
[ "$rb_rc" -eq 0 ] || fail "rollback through a slow primary: exit $rb_rc ($(tail -1 "$workdir/trollback.err"))"
nw_served "$mx_before" rollback before:
total=$(grep -c '"update": true' "$workdir/bind.plog")
figure "slow RFC 2136 primary: every UPDATE held $((2 * HOLD_MS)) ms, $total UPDATE messages; the longest unit of the engine's work ${LONGEST} ms; Ctrl-C during an UPDATE: exit 1 after ${int_ms} ms, once the call ended; the zone exactly as planned, then exactly as before"
finish
