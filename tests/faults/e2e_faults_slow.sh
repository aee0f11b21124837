#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/faults/e2e_faults_slow.sh — a slow provider never holds up the engine: every write to
# PowerDNS is held by the fault proxy for seconds before it is forwarded and again before it
# is answered, and 6 domains run in one process. The PowerDNS adapter's calls run in fibers on
# the engine's own loop (no worker thread waits for them), so no unit of the engine's work
# lasts as long as one write (the engine's own timing, MXCUTOVER_ENGINE_BUDGET_MS), the runs'
# writes overlap at the proxy, and every zone ends exactly as its plan says.
. "$(dirname "$0")/faults_lib.sh"
N=6
HOLD=3 # seconds each way: a write takes at least 6 s
start_proxy slow http://127.0.0.1:8081 --rate 0 --slow-writes "$HOLD"
pdns_conf slow "$PROXY_PORT" >"$workdir/slow.conf"
make_zones slow "$N"
plan_all slow "$MX_CONFIG" pdns
MXCUTOVER_ENGINE_BUDGET_MS=1000 mxc "$workdir/slow.conf" run --file "$workdir/slow.list" \
	--provider slow --yes >"$workdir/slow.out" 2>"$workdir/slow.err"
rc=$?
[ "$rc" -eq 0 ] || fail "run through a slow provider: exit $rc ($(tail -1 "$workdir/slow.err"))"
timing=$(grep "engine: .* units of work" "$workdir/slow.err")
[[ $timing =~ ([0-9]+)\ units\ of\ work,\ ([0-9]+)\ over\ 1000\ ms,\ the\ longest\ ([0-9]+)\.[0-9]\ ms ]] ||
	fail "no engine timing line: '$timing'"
# Every provider call ran on the engine's loop, several at once (a run makes about 11).
[[ $timing =~ calls:\ ([0-9]+)\ on\ the\ engine\'s\ loop\ \(at\ most\ ([0-9]+)\ at\ once ]] ||
	fail "no count of the calls on the engine's loop: '$timing'"
[ "${BASH_REMATCH[1]}" -ge $((N * 8)) ] && [ "${BASH_REMATCH[2]}" -ge 2 ] ||
	fail "the provider's calls did not run on the engine's loop together: '$timing'"
[[ $timing =~ ([0-9]+)\ units\ of\ work,\ ([0-9]+)\ over\ 1000\ ms,\ the\ longest\ ([0-9]+)\.[0-9]\ ms ]]
# One write takes 2 x HOLD seconds; the engine never waits for one inside a unit.
[ "${BASH_REMATCH[3]}" -lt $((HOLD * 1000)) ] ||
	fail "a unit of the engine's work lasted ${BASH_REMATCH[3]} ms while a write takes $((2 * HOLD)) s: $timing"
# The writes of different runs were in flight together at the proxy.
# (The proxy logs each request's arrival; a write lasts at least 2 x HOLD from there.)
overlap=$(python3 - "$workdir/slow.plog" "$((2 * HOLD))" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
span = float(sys.argv[2])
w = sorted(r["t"] for r in rows if r["method"] not in ("GET", "HEAD"))
print(max([sum(1 for b in w if a <= b < a + span) for a in w] or [0]))
PY
)
[ "${overlap:-0}" -ge 2 ] || fail "the writes did not overlap at the proxy (at most $overlap at once)"
verify slow
verified=$VERIFIED

# Ctrl-C while a write is under way: the process says it lets the call end, stops (exit 1,
# the last line says how to continue), and resume reconciles the write from the zone.
make_zones slowint 1
plan_all slowint "$MX_CONFIG" pdns
read -r d t <"$workdir/slowint.list"
# exec: $! is then the binary itself, not a subshell around it.
(exec "$MXCUTOVER" --config "$workdir/slow.conf" --resolver-conf "$MX_RESOLVER_CONF" \
	--cacert "$MX_CACERT" --state "$STATE" run "$d" --target-mx "$t" --provider slow --yes \
	>"$workdir/int.out" 2>"$workdir/int.err") &
ctrl_c $! "$workdir/int.out" "Lower the MX TTL"
[ $RC -eq 1 ] || fail "Ctrl-C during a write: exit $RC, want 1 ($(tail -1 "$workdir/int.err"))"
grep -q "provider call(s) under way; letting them end" "$workdir/int.err" ||
	fail "Ctrl-C during a write: not said that a call is under way: $(cat "$workdir/int.err")"
tail -1 "$workdir/int.err" | grep -q "continue with \`mxcutover resume $d\`" ||
	fail "Ctrl-C during a write: last line: $(tail -1 "$workdir/int.err")"
mxc "$workdir/slow.conf" resume "$d" --yes >>"$workdir/int.out" 2>>"$workdir/int.err" ||
	fail "resume after Ctrl-C: $(tail -1 "$workdir/int.err")"
verify slowint
figure "slow provider: $N domains, every write held $((2 * HOLD)) s; $timing; at most $overlap writes in flight at once; $verified/$N zones exactly as planned; Ctrl-C during a write: exit 1 once the call ended, resume reconciled it"
finish
