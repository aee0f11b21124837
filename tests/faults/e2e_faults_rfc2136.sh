#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/faults/e2e_faults_rfc2136.sh — the RFC 2136 adapter under faults: the fault proxy in
# --dns mode sits in front of the BIND primary (TCP and UDP), and 20% of what the adapter sends
# (its reads, the TSIG-signed UPDATEs, the access probe) is dropped, answered SERVFAIL, cut
# short, reset, or — the nastiest — applied with the answer lost. The sandbox's one BIND zone
# that takes updates (northwind.test) is cut over and rolled back through it: every attempt
# ends 0, 1 (a preflight that met a fault, or a gate) or 3 with a reason; run, resume and
# rollback are repeated (bounded) until done; the zone ends exactly as the plan says and then
# exactly as it was; no intent is left open; a monitor never sees an empty MX.
. "$(dirname "$0")/faults_lib.sh"
RATE=${MX_FAULT_RATE:-0.2}
SEED=${MX_FAULT_SEED:-42}
nw_prepare
nw_proxy bindf --rate "$RATE" --seed "$SEED" --kinds drop,lost,servfail,truncate,reset --stall 3

# The monitor: both BIND servers, every 100 ms, never an empty MX RRset.
rm -f "$workdir/stop"
(
	while [ ! -e "$workdir/stop" ]; do
		for s in 127.0.4.2 127.0.4.3; do
			out=$(dig +norec +tries=1 +time=1 @$s $NW MX)
			if grep -q "status: NOERROR" <<<"$out" && ! grep -q "ANSWER: [1-9]" <<<"$out"; then
				echo "monitor: $s served an EMPTY MX RRset for $NW"
				exit 1
			fi
		done
		sleep 0.1
	done
) >"$workdir/mon.log" 2>&1 &
mon=$!
pids+=($mon)

# attempt N CMD... — one attempt; 0, 1 and 3 are allowed, any other status fails, and a
# non-zero one must end with its reason on stderr.
attempt() {
	local n=$1 rc
	shift
	mxc "$workdir/bindf.conf" "$@" >"$workdir/a$n.out" 2>"$workdir/a$n.err"
	rc=$?
	case $rc in
	0) ;;
	1 | 3) [ -n "$(tail -1 "$workdir/a$n.err")" ] || fail "attempt $n ($*): exit $rc with nothing on stderr" ;;
	*) fail "attempt $n ($*): exit $rc ($(tail -1 "$workdir/a$n.err"))" ;;
	esac
	return $rc
}
state() { mxc "$MX_CONFIG" --json status $NW 2>/dev/null | python3 -c '
import json, sys
try:
    r = json.load(sys.stdin)["runs"][0]
    print(r["state"], r["step"])
except Exception:
    print("none -")'; }

# Forward: run (again while a preflight met a fault and left no run), resume otherwise; the
# final policy is published when the run waits for it, as a person would.
n=0 rc=1 stops=0
while [ $n -lt 25 ]; do
	n=$((n + 1))
	read -r st step < <(state)
	case $st in
	done) rc=0; break ;;
	none) attempt $n run $NW --target-mx $NWT --provider bindf --yes ;;
	*) attempt $n resume $NW --yes ;;
	esac
	rc=$?
	[ $rc -eq 0 ] || stops=$((stops + 1))
	read -r st step < <(state)
	[ "$step" = mtasts_finalize ] && cp "$workdir/final" "$POLICY"
done
read -r st step < <(state)
[ "$st" = done ] || fail "$NW not done after $n attempts: $st at $step ($(tail -1 "$workdir/a$n.err"))"
fwd_attempts=$n
nw_served "$want_mx" cutover "the plan says"

# Back: the rollback through the same proxy. The staged policy covers every host again, and
# the TLSA goes as Disable-SmtpDaneInbound makes it go.
cp "$workdir/staged" "$POLICY"
Z dane-off $NWT
n=0
while [ $n -lt 25 ]; do
	n=$((n + 1))
	read -r st step < <(state)
	[ "$st" = rolled_back ] && break
	if [ $n -eq 1 ]; then attempt r$n rollback $NW --yes; else attempt r$n resume $NW --yes; fi
	[ $? -eq 0 ] || stops=$((stops + 1))
done
read -r st step < <(state)
restore
[ "$st" = rolled_back ] || fail "$NW not rolled back after $n attempts: $st at $step ($(tail -1 "$workdir/ar$n.err"))"
touch "$workdir/stop"
wait "$mon" || fail "monitor: $(tail -3 "$workdir/mon.log")"
nw_served "$mx_before" rollback before:
lost=$(python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["fault"] == "lost"))' "$workdir/bind.plog")
figure "rfc2136: $NW, $(fault_counts "$workdir/bind.plog") (lost: $lost answers of applied messages); cutover in $fwd_attempts attempt(s), rollback in $n, $stops stop(s) with exit 1 or 3; the zone exactly as planned, then exactly as before; no intent open"
finish
