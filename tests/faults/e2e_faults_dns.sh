#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/faults/e2e_faults_dns.sh — DNS faults during a run: one of a zone's two name servers
# answers SERVFAIL, answers nothing (timeouts), is lame (REFUSED), or keeps serving the old
# data (the fault proxy in --dns mode, on an address the zone's delegation and glue now name).
# The run must stop with a reason, never proceed on indeterminate or inconsistent data: the
# MX is not changed past the step that waits for every server; once the server is healthy,
# resume finishes exactly as planned.
. "$(dirname "$0")/faults_lib.sh"
if ! ip addr add 127.0.9.1/32 dev lo 2>/dev/null; then
	echo "skipped: cannot add a loopback address for the faulty name servers"
	exit 77
fi
for i in 2 3 4; do ip addr add 127.0.9.$i/32 dev lo; done
KINDS=(servfail drop refused stale)
make_zones dns ${#KINDS[@]}
i=0
while read -r d t; do
	i=$((i + 1))
	kind=${KINDS[$((i - 1))]}
	ip=127.0.9.$i
	echo 0 >"$workdir/dns$i.rate"
	python3 "$PROXY" --dns 127.0.3.2:53 --listen "$ip:53" --rate 0 --rate-file "$workdir/dns$i.rate" \
		--kinds "$kind" --stall 5 --log "$workdir/dns$i.plog" 2>"$workdir/dns$i.err" &
	pids+=($!)
	# ns2 of the zone is now the proxy: glue in test. and the address record in the zone.
	python3 - "$d" "$ip" <<'PY' || fail "repoint ns2.$d"
import os, sys
sys.path.insert(0, os.environ["MX_SANDBOX_TOOLS"])
import sbxlib as L
env = L.load_env(os.environ["MX_SANDBOX_ENV"])
d, ip = sys.argv[1], sys.argv[2]
L.api_from_env(env, "parent").patch("test.", [L.rr("ns2." + d, "A", ip)])
L.api_from_env(env, "child").patch(d, [L.rr("ns2." + d, "A", ip)])
PY
done <"$workdir/dns.list"
# The plans, made while every server is healthy (the proxies forward everything).
plan_all dns "$MX_CONFIG" pdns
i=0
while read -r d t; do
	i=$((i + 1))
	kind=${KINDS[$((i - 1))]}
	echo 1 >"$workdir/dns$i.rate"
	before=$(Z dump "$d" | grep "^$d\. MX " | cut -d' ' -f4-)
	mxc "$MX_CONFIG" run "$d" --target-mx "$t" --provider pdns --yes \
		>"$workdir/dns$i.out" 2>"$workdir/dns$i.run.err"
	rc=$?
	after=$(Z dump "$d" | grep "^$d\. MX " | cut -d' ' -f4-)
	reason=$(grep -h "stopped\|failed\|lags\|SERVFAIL\|timed out\|REFUSED\|127.0.9.$i" \
		"$workdir/dns$i.out" "$workdir/dns$i.run.err" | tail -1)
	figure "dns $kind on one of two name servers: exit $rc; reason: $reason; MX before '$before', after '$after'"
	case $rc in
	0) fail "dns $kind: the run completed while a name server was $kind" ;;
	1 | 3) ;;
	*) fail "dns $kind: exit $rc" ;;
	esac
	[ -n "$reason" ] || fail "dns $kind: no reason given ($(tail -2 "$workdir/dns$i.out"))"
	# Never past the lowered TTL: the new host is not added while a server is in doubt.
	case $after in
	*o-v1.mx.microsoft*) fail "dns $kind: the run went on to write the new host: $after" ;;
	esac
	# Healthy again: resume (or run again if nothing was started) ends as planned.
	echo 0 >"$workdir/dns$i.rate"
	if mxc "$MX_CONFIG" --json status "$d" 2>/dev/null | grep -q '"state"'; then
		mxc "$MX_CONFIG" resume "$d" --yes >>"$workdir/dns$i.out" 2>&1 ||
			mxc "$MX_CONFIG" resume "$d" --yes >>"$workdir/dns$i.out" 2>&1
	else
		mxc "$MX_CONFIG" run "$d" --target-mx "$t" --provider pdns --yes >>"$workdir/dns$i.out" 2>&1
	fi
	rc=$?
	[ $rc -eq 0 ] || fail "dns $kind: after the server healed, exit $rc ($(tail -1 "$workdir/dns$i.out"))"
done <"$workdir/dns.list"
verify dns
finish
