#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/faults/e2e_faults_slow_check.sh — `check --provider` of many domains against a slow
# provider API: every request to PowerDNS is held 1 s by the fault proxy. Each domain's
# provider.access needs at least 3 requests (the zone, its MX RRset, the write probe), so 12
# domains read one after another take 36 s or more; the reads run in fibers on the check's
# one loop (no thread of a worker pool) and overlap, and every domain still gets its
# provider.access verdict. Then every read's first request meets a 503: each adapter pauses
# before it tries again, and the pauses, deadlines of the loop, overlap too. Last, Ctrl-C
# while every request is held 20 s: the reads are stopped, not waited for, in check, plan and
# run alike.
. "$(dirname "$0")/faults_lib.sh"
N=12
start_rules_proxy slowck http://127.0.0.1:8081
rules '[{"method": "*", "path": "", "kind": "delay", "seconds": 1, "times": 1000000}]'
pdns_conf slowck "$PROXY_PORT" >"$workdir/slowck.conf"
make_zones slowck "$N"
t0=$(date +%s.%N)
mxc "$workdir/slowck.conf" --json check --file "$workdir/slowck.list" --provider slowck \
	>"$workdir/check.json" 2>"$workdir/check.err" &
ck=$!
# While the reads wait for the held requests, the process has no thread of a worker pool.
sleep 2
for t in /proc/$ck/task/*/comm $(for c in $(pgrep -P $ck); do echo /proc/$c/task/*/comm; done); do
	[ "$(cat "$t" 2>/dev/null)" != mx-worker ] ||
		fail "check --provider read on a thread of a worker pool: the reads belong on its loop"
done
[ -d /proc/$ck ] || fail "check --provider ended within 2 s with every request held 1 s"
wait $ck
rc=$?
took=$(echo "$(date +%s.%N) - $t0" | bc)
# Not ready (no MTA-STS policy and more) is exit 1; the provider's verdicts are what counts.
[ "$rc" -le 1 ] || fail "check --provider through a slow API: exit $rc ($(tail -1 "$workdir/check.err"))"
verdicts=$(python3 - "$workdir/check.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
out = []
for d in doc["domains"]:
    c = [c for c in d["checks"] if c["id"] == "provider.access"]
    out.append(c[0]["status"] if c else "missing")
print(" ".join(sorted(out)))
PY
)
n_pass=$(tr ' ' '\n' <<<"$verdicts" | grep -c '^pass$')
[ "$n_pass" -eq "$N" ] || fail "provider.access of $N domains: $verdicts"
requests=$(grep -c . "$workdir/slowck.plog")
(($(echo "$took < 18" | bc))) ||
	fail "check --provider of $N domains took $took s with every request held 1 s ($requests requests): the reads did not overlap"
figure "check --provider, $N domains, every request to the provider held 1 s ($requests requests): ${took%??????} s, $n_pass/$N provider.access pass"

# 8 domains; the first 8 requests (one per domain's read, all at once) meet a 503, so every
# adapter pauses 0.5 s before its second try. One after another the pauses alone would take
# 4 s; as deadlines of the loop they take 0.5 s together.
make_zones retry 8
rules '[{"method": "GET", "path": "", "kind": "503", "times": 8}]'
t0=$(date +%s.%N)
mxc "$workdir/slowck.conf" --json check --file "$workdir/retry.list" --provider slowck \
	>"$workdir/retry.json" 2>"$workdir/retry.err"
rc=$?
took=$(echo "$(date +%s.%N) - $t0" | bc)
[ "$rc" -le 1 ] || fail "check --provider after a 503 each: exit $rc ($(tail -1 "$workdir/retry.err"))"
n_pass=$(python3 -c '
import json, sys
doc = json.load(open(sys.argv[1]))
print(sum(1 for d in doc["domains"] for c in d["checks"]
          if c["id"] == "provider.access" and c["status"] == "pass"))' "$workdir/retry.json")
[ "$n_pass" -eq 8 ] || fail "provider.access after a 503 each: $n_pass of 8 pass"
n503=$(grep -c '"fault": "503"' "$workdir/slowck.plog")
[ "$n503" -eq 8 ] || fail "the proxy answered $n503 requests with 503, want 8"
(($(echo "$took < 3" | bc))) ||
	fail "check --provider of 8 domains whose first request met a 503 took $took s: the adapters' pauses did not overlap"
figure "check --provider, 8 domains, each read's first request answered 503 (the adapter pauses 0.5 s): ${took%??????} s, 8/8 provider.access pass"

# Ctrl-C while the reads wait for requests held 20 s: they are stopped at once (their
# transfers dropped), the check says it was interrupted, exit 1.
rules '[{"method": "*", "path": "", "kind": "delay", "seconds": 20, "times": 1000000}]'
(exec "$MXCUTOVER" --config "$workdir/slowck.conf" --resolver-conf "$MX_RESOLVER_CONF" \
	--cacert "$MX_CACERT" --state "$STATE" check --file "$workdir/retry.list" \
	--provider slowck >"$workdir/int.out" 2>"$workdir/int.err") &
ck=$!
sleep 2
t0=$(date +%s%N)
kill -INT $ck
wait $ck
rc=$?
int_ms=$((($(date +%s%N) - t0) / 1000000))
[ "$rc" -eq 1 ] || fail "Ctrl-C during check --provider: exit $rc, want 1 ($(tail -1 "$workdir/int.err"))"
tail -1 "$workdir/int.err" | grep -q "check interrupted after" ||
	fail "Ctrl-C during check --provider: last line '$(tail -1 "$workdir/int.err")'"
((int_ms < 2000)) ||
	fail "Ctrl-C during check --provider with every request held 20 s took $int_ms ms to exit: the reads were waited for"
figure "Ctrl-C during check --provider, every request held 20 s: exit 1 after $int_ms ms"

# The same for `plan` (its reads of the provider) and for `run` (a run's reads: none of them
# changes the zone, so Ctrl-C stops them at once; only a write under way is let end, see
# e2e_faults_slow). The run is stopped where it is and nothing was written.
read -r d t <"$workdir/retry.list"
# intr NAME ARGS...: Ctrl-C 3 s after the start; INT_MS, RC, and the last line in LAST.
intr() {
	local name=$1 pid t0
	shift
	(exec "$MXCUTOVER" --config "$workdir/slowck.conf" --resolver-conf "$MX_RESOLVER_CONF" \
		--cacert "$MX_CACERT" --state "$STATE" "$@" </dev/null >"$workdir/$name.out" \
		2>"$workdir/$name.err") &
	pid=$!
	sleep 3
	[ -d /proc/$pid ] || fail "$name ended within 3 s with every request held 20 s: $(tail -1 "$workdir/$name.err")"
	t0=$(date +%s%N)
	kill -INT $pid
	wait $pid
	RC=$?
	INT_MS=$((($(date +%s%N) - t0) / 1000000))
	LAST=$(tail -1 "$workdir/$name.err")
}
intr plan plan "$d" --target-mx "$t" --provider slowck
[ "$RC" -eq 1 ] || fail "Ctrl-C during plan: exit $RC, want 1 ($LAST)"
[[ $LAST == "mxcutover: plan of $d interrupted; nothing was changed — run plan again" ]] ||
	fail "Ctrl-C during plan: last line '$LAST'"
((INT_MS < 2000)) || fail "Ctrl-C during plan with every request held 20 s took $INT_MS ms: the reads were waited for"
plan_ms=$INT_MS
before=$(dig +short +norec @127.0.3.1 "$d" MX)
intr run run "$d" --target-mx "$t" --provider slowck --yes
[ "$RC" -eq 1 ] || fail "Ctrl-C during a run's reads: exit $RC, want 1 ($LAST)"
[[ $LAST == *"$d is safe where it is — continue with \`mxcutover resume $d\`" ]] ||
	fail "Ctrl-C during a run's reads: last line '$LAST'"
grep -q "letting them end" "$workdir/run.err" &&
	fail "Ctrl-C during a run's reads said it lets calls end: only writes are waited for"
((INT_MS < 2000)) || fail "Ctrl-C during a run's reads with every request held 20 s took $INT_MS ms: they were waited for"
[ "$(dig +short +norec @127.0.3.1 "$d" MX)" = "$before" ] || fail "the interrupted run changed the MX of $d"
mxc "$workdir/slowck.conf" --json status "$d" >"$workdir/run.status" 2>&1
grep -q '"state": "running"\|"state": "waiting"' "$workdir/run.status" ||
	fail "the interrupted run is not left resumable: $(cat "$workdir/run.status")"
figure "Ctrl-C with every request held 20 s: plan exit 1 after $plan_ms ms, run (its reads) exit 1 after $INT_MS ms"
finish
