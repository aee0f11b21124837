#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/faults/e2e_faults_lanes.sh — one hung provider never holds up the others. Eight runs
# whose provider answers nothing (the fault proxy stalls every request past the client's
# timeout) and one run on a healthy PowerDNS are continued by one `resume` process. Each
# provider section is a lane of the engine's worker threads, and one lane holds at most half
# of them: the healthy domain's cutover finishes while every call to the hung provider is
# still stuck (without lanes, eight stuck calls held all eight threads for the 30 s timeout
# and the healthy run waited behind them).
. "$(dirname "$0")/faults_lib.sh"
N=8
STALL=90

# Two fault proxies in front of the sandbox's PowerDNS, each with its rules file: the hung
# provider's stalls every request for STALL seconds (then resets the connection), the healthy
# one's stalls too while its run is made and is emptied before the resume.
STALL_ALL='[{"method": "*", "path": "", "kind": "stall", "times": 1000000}]'
for p in hung quick; do
	printf '%s\n' "$STALL_ALL" >"$workdir/$p.rules"
	start_proxy $p http://127.0.0.1:8081 --rate 0 --rules-file "$workdir/$p.rules" --stall "$STALL"
	printf -v "${p}_port" %s "$PROXY_PORT"
done
{
	pdns_conf hung "$hung_port"
	printf '\n[provider.quick]\ntype = powerdns\nurl = http://127.0.0.1:%s\n' "$quick_port"
	printf 'server_id = localhost\napi_key_file = %s\n' "$PDNS_API_KEY_FILE"
} >"$workdir/lanes.conf"
make_zones hung "$N"
make_zones quick 1
plan_all quick "$MX_CONFIG" pdns

# runs_made LIST — waits until every domain of LIST has a run in the state database.
runs_made() {
	local n
	for _ in $(seq 1 200); do
		n=$(mxc "$workdir/lanes.conf" --json status 2>/dev/null | python3 -c '
import json, sys
want = {l.split()[0] for l in open(sys.argv[1]) if l.strip()}
print(len(want & {r["domain"] for r in json.load(sys.stdin)["runs"]}) == len(want))' "$1")
		[ "$n" = True ] && return 0
		sleep 0.1
	done
	fail "the runs of $1 were not made"
}

# The runs, each stuck at its first provider call, then the processes killed (a crash): the
# runs are left unfinished, for one `resume` to continue them all.
# exec: $! is the binary itself, not a subshell around it.
lanes() {
	exec "$MXCUTOVER" --config "$workdir/lanes.conf" --resolver-conf "$MX_RESOLVER_CONF" \
		--cacert "$MX_CACERT" --state "$STATE" "$@"
}
(lanes run --file "$workdir/hung.list" --provider hung --yes >"$workdir/hung.out" 2>"$workdir/hung.err") &
hp=$!
read -r qd qt <"$workdir/quick.list"
(lanes run "$qd" --target-mx "$qt" --provider quick --yes >"$workdir/quick.out" 2>"$workdir/quick.err") &
qp=$!
runs_made "$workdir/hung.list"
runs_made "$workdir/quick.list"
kill -KILL $hp $qp
wait $hp $qp 2>/dev/null
echo '[]' >"$workdir/quick.rules"

t0=$(date +%s.%N)
(lanes resume --yes >"$workdir/resume.out" 2>"$workdir/resume.err") &
rp=$!
pids+=($rp)
# The healthy run's first write (it lowers the MX TTL) reaches its provider while every call
# to the hung one is still stuck. (The waits of the healthy run then pass in real time: the
# test clock jumps only while no call is under way, and the hung calls always are.)
first=
for _ in $(seq 1 400); do
	first=$(python3 -c '
import json, sys
w = [json.loads(l)["t"] for l in open(sys.argv[1]) if json.loads(l)["method"] == "PATCH"]
print("%.1f" % (min(w) - float(sys.argv[2])) if w else "")' "$workdir/quick.plog" "$t0")
	[ -n "$first" ] && break
	kill -0 $rp 2>/dev/null || break
	sleep 0.1
done
stuck=$(python3 -c '
import json, sys
print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["fault"] == "stall"))' "$workdir/hung.plog")
kill -KILL $rp 2>/dev/null
wait $rp 2>/dev/null
[ -n "$first" ] ||
	fail "the healthy domain's run wrote nothing beside the hung provider: $(tail -1 "$workdir/resume.err")"
# A call to the hung provider lasts 30 s (the client's timeout).
(($(echo "${first:-99} < 15" | bc))) ||
	fail "the healthy domain's first write came ${first} s after the resume: it waited behind the hung calls"
[ "$stuck" -ge 4 ] || fail "only $stuck requests reached the hung provider"
# Alone (no call stuck), the healthy run finishes; its zone is exactly as planned.
qstate=$(mxc "$workdir/lanes.conf" --json status "$qd" 2>/dev/null |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["runs"][0]["state"])')
if [ "$qstate" != done ]; then
	mxc "$workdir/lanes.conf" resume "$qd" --yes >>"$workdir/quick.out" 2>>"$workdir/quick.err" ||
		fail "resume $qd alone: $(tail -1 "$workdir/quick.err")"
fi
verify quick
figure "lanes: $N runs on a hung provider ($stuck requests stalled) and 1 healthy run in one resume: the healthy run's first write ${first} s after the start; alone, it finished exactly as planned"
finish
