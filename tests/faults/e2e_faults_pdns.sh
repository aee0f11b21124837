#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/faults/e2e_faults_pdns.sh — 20 domains cut over through the PowerDNS adapter with the
# fault proxy (tests/faults/faultproxy.py) in front of the PowerDNS HTTP API, 20% of requests
# failing (resets, 5xx, 429 with Retry-After, truncated and malformed bodies, writes applied
# whose answer is lost): every attempt ends 0 or 3, resume (bounded) finishes every run, and
# every zone ends exactly as its plan says, nothing lost or duplicated, no intent left open.
. "$(dirname "$0")/faults_lib.sh"
RATE=${MX_FAULT_RATE:-0.2}
SEED=${MX_FAULT_SEED:-20}
N=${MX_FAULT_DOMAINS:-20}

start_proxy pdns http://127.0.0.1:8081 --rate "$RATE" --seed "$SEED" --max-stall 0
pdns_conf pdns "$PROXY_PORT" >"$workdir/pdns.conf"

make_zones pdns "$N"
plan_all pdns "$MX_CONFIG" pdns
# A monitor on three of the zones: never an empty MX, never a host that does not resolve.
rm -f "$workdir/stop"
mons=()
for d in $(head -3 "$workdir/pdns.zones"); do
	Z monitor "$d" "$workdir/stop" >"$workdir/mon-$d.log" 2>&1 &
	mons+=($!)
done
storm pdns "$workdir/pdns.conf" pdns
touch "$workdir/stop"
for m in "${mons[@]}"; do wait "$m" || fail "monitor: $(cat "$workdir"/mon-*.log | tail -3)"; done
verify pdns
read -r lost rec replay < <(lost_writes pdns "$workdir/pdns.plog" '/zones/([^/?]+)')
figure "powerdns: $N domains, $(fault_counts "$workdir/pdns.plog"); first run exit $STORM_FIRST, $STORM_RESUMES resume(s), ${STOPS:-0} stop(s) with exit 3; $VERIFIED/$N zones exactly as planned; lost writes $lost: $rec read back first, $replay sent again before any read (as a compare-and-swap where the API has one)"
[ "$replay" -eq 0 ] || known "powerdns: $replay write(s) whose answer was lost were sent again without reading the zone first (PATCH REPLACE is idempotent, but nothing checks the zone still holds what was read)"
finish
