#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/faults/e2e_faults_slow_dns.sh — a slow RFC 2136 primary never holds up the engine: the
# fault proxy in --dns mode sits in front of the BIND primary and holds every UPDATE message
# HOLD seconds before forwarding it and HOLD seconds before answering. The sandbox's BIND zone
# that takes updates (northwind.test) is cut over and rolled back through it. The adapter's
# calls run on the engine's workers, so no unit of the engine's work lasts as long as one
# UPDATE (the engine's own timing, MXCUTOVER_ENGINE_BUDGET_MS), and the zone ends exactly as
# the plan says, then exactly as it was.
. "$(dirname "$0")/faults_lib.sh"
HOLD=1.5 # seconds each way: an UPDATE takes at least 3 s (the adapter's timeout is 5 s)
HOLD_MS=1500
NW=northwind.test
NWT=northwind-test.o-v1.mx.microsoft.test
POLICY=$MX_SANDBOX_WWW/mta-sts.$NW/.well-known/mta-sts.txt

dig_mx() { dig +short +norec @"$1" $NW MX | sort | tr '\n' ' '; }
mx_before=$(dig_mx 127.0.4.2)
cp "$POLICY" "$workdir/policy.orig" || fail "no MTA-STS policy for $NW in the sandbox"
tlsa=$(Z dump mx.microsoft.test | grep "^_25._tcp.$NWT. TLSA " | cut -d' ' -f3-)
[ -n "$tlsa" ] || fail "no TLSA for $NWT in the sandbox"
restore() {
	cp "$workdir/policy.orig" "$POLICY"
	Z set mx.microsoft.test "_25._tcp.$NWT." TLSA "${tlsa%% *}" "${tlsa#* }" >/dev/null
}

mxc "$MX_CONFIG" plan $NW --target-mx $NWT --provider bind --format json -o "$workdir/plan.json" ||
	fail "plan for $NW"
want_mx=$(python3 - "$workdir/plan.json" "$workdir" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
st = {s["key"]: s for s in p["steps"]}
last = [s["after"] for s in p["steps"] if s.get("after") and s["after"]["type"] == "MX"][-1]
open(sys.argv[2] + "/staged", "w").write(st["mtasts_stage"]["policy"])
open(sys.argv[2] + "/final", "w").write(st["mtasts_finalize"]["policy"])
print("".join(v + ". " for v in sorted(last["values"])), end="")
PY
)
[ -n "$want_mx" ] || fail "no final MX in the plan"
cp "$workdir/staged" "$POLICY"

rm -f "$workdir/bind.pport"
python3 "$PROXY" --dns 127.0.4.2:53 --listen 127.0.0.1:0 --port-file "$workdir/bind.pport" \
	--rate 0 --slow-writes "$HOLD" --log "$workdir/bind.plog" 2>"$workdir/bind.proxy.err" &
pids+=($!)
port=$(wait_port "$workdir/bind.pport")
{
	cutover_conf
	sed -n '/^\[provider\.bind\]/,/^$/p' "$MX_CONFIG" |
		sed "s/^\[provider\.bind\]/[provider.binds]/; s/^server *=.*/server = 127.0.0.1@$port/"
} >"$workdir/binds.conf"
grep -q "^server = 127.0.0.1@$port" "$workdir/binds.conf" || fail "no proxied provider config"

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
	return 0
}

# The cutover: the run waits at the final MTA-STS policy (exit 1 with --yes), which is then
# published as a person would, and resume finishes it.
timed run run $NW --target-mx $NWT --provider binds --yes
[ "$RC" -eq 0 ] || [ "$RC" -eq 1 ] || fail "run through a slow primary: exit $RC ($(tail -1 "$workdir/trun.err"))"
cp "$workdir/final" "$POLICY"
if [ "$RC" -eq 1 ]; then
	timed resume resume $NW --yes
	[ "$RC" -eq 0 ] || fail "resume through a slow primary: exit $RC ($(tail -1 "$workdir/tresume.err"))"
fi
for s in 127.0.4.2 127.0.4.3; do
	got=$(dig_mx $s)
	[ "$got" = "$want_mx" ] || fail "$NW on $s after the cutover: '$got', the plan says '$want_mx'"
done
updates=$(grep -c '"update": true' "$workdir/bind.plog")
[ "$updates" -ge 3 ] || fail "only $updates UPDATE message(s) went through the slow proxy"

# The rollback through the same slow primary.
cp "$workdir/staged" "$POLICY"
Z dane-off $NWT
timed rollback rollback $NW --yes
rb_rc=$RC
restore
[ "$rb_rc" -eq 0 ] || fail "rollback through a slow primary: exit $rb_rc ($(tail -1 "$workdir/trollback.err"))"
for s in 127.0.4.2 127.0.4.3; do
	[ "$(dig_mx $s)" = "$mx_before" ] || fail "$NW on $s after the rollback: '$(dig_mx $s)', before: '$mx_before'"
done
open=$(sqlite3 "$STATE" "SELECT count(*) FROM intents WHERE done_at IS NULL")
[ "$open" = 0 ] || fail "$open intent(s) left open"
total=$(grep -c '"update": true' "$workdir/bind.plog")
figure "slow RFC 2136 primary: every UPDATE held $((2 * HOLD_MS)) ms, $total UPDATE messages; the longest unit of the engine's work ${LONGEST} ms; the zone exactly as planned, then exactly as before"
finish
