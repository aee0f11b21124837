#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/faults/e2e_faults_cf_az.sh — 20 domains through the Cloudflare adapter and 20 through
# the Azure DNS adapter, each with the fault proxy (tests/faults/faultproxy.py) in front of its
# API stand-in (tests/fakes/), token endpoint included, 20% of requests failing: every
# attempt ends 0 or 3, resume (bounded) finishes every run, every zone ends exactly as its
# plan says (nothing lost, nothing duplicated in the provider or on the name servers), no
# intent left open.
. "$(dirname "$0")/faults_lib.sh"
RATE=${MX_FAULT_RATE:-0.2}
SEED=${MX_FAULT_SEED:-21}
N=${MX_FAULT_DOMAINS:-20}
umask 077
printf 'cf-edit-token-0123456789\n' >"$workdir/cf.token"
printf 'az-secret-0123456789\n' >"$workdir/az.secret"
python3 "$FAKES/cloudflare_api.py" --port-file "$workdir/cf.port" 2>"$workdir/cf-fake.log" &
pids+=($!)
python3 "$FAKES/azure_api.py" --port-file "$workdir/az.port" tenant-0001 client-0001 \
	"$workdir/az.secret" sub-0001 rg-dns 2>"$workdir/az-fake.log" &
pids+=($!)
CF=http://127.0.0.1:$(wait_port "$workdir/cf.port")
AZ=http://127.0.0.1:$(wait_port "$workdir/az.port")
python3 "$FAKES/cloudflare_api.py" --ctl "$CF" '{"token": "cf-edit-token-0123456789"}' >/dev/null
start_proxy cf "$CF" --rate "$RATE" --seed "$SEED" --max-stall 0
CFP=http://127.0.0.1:$PROXY_PORT
start_proxy az "$AZ" --rate "$RATE" --seed "$SEED" --max-stall 0
AZP=http://127.0.0.1:$PROXY_PORT
conf() { # conf FILE CF_URL AZ_URL
	{
		cutover_conf
		printf '[provider.cf]\ntype = cloudflare\nbase_url = %s/client/v4\n' "$2"
		printf 'api_token_file = %s\n' "$workdir/cf.token"
		printf '[provider.az]\ntype = azure\ntenant_id = tenant-0001\nclient_id = client-0001\n'
		printf 'client_secret_file = %s\nsubscription_id = sub-0001\n' "$workdir/az.secret"
		printf 'resource_group = rg-dns\nbase_url = %s\nlogin_url = %s\n' "$3" "$3"
	} >"$1"
}
conf "$workdir/direct.conf" "$CF" "$AZ"
conf "$workdir/faulty.conf" "$CFP" "$AZP"

for prov in cf az; do
	make_zones "$prov" "$N"
	while read -r d t; do
		if [ $prov = cf ]; then
			python3 "$FAKES/cloudflare_api.py" --ctl "$CF" "{\"zone\": \"$d\"}" >/dev/null
		else
			python3 "$FAKES/azure_api.py" --ctl "$AZ" "{\"zone\": \"$d\"}" >/dev/null
		fi
	done <"$workdir/$prov.list"
	STATE=$workdir/$prov.db
	plan_all "$prov" "$workdir/direct.conf" "$prov"
	STOPS=0
	storm "$prov" "$workdir/faulty.conf" "$prov"
	verify "$prov"
	case $prov in
	cf) re='/zones/([0-9a-f]+)/' ;;
	az) re='(?i)/dnszones/([^/]+)/' ;;
	esac
	read -r lost rec replay < <(lost_writes "$prov" "$workdir/$prov.plog" "$re")
	figure "$prov: $N domains, $(fault_counts "$workdir/$prov.plog"); first run exit $STORM_FIRST, $STORM_RESUMES resume(s), $STOPS stop(s) with exit 3; $VERIFIED/$N zones exactly as planned; lost writes $lost: $rec read back first, $replay sent again before any read (as a compare-and-swap where the API has one)"
	# Azure (If-Match), Route 53 and Cloud DNS (a DELETE of what was read in the same
	# batch) write compare-and-swap: a write sent again fails unless the zone still holds
	# what was read, and the adapter then reads the zone. Cloudflare and PowerDNS must read.
	case $prov in
	az) ;;
	*) [ "$replay" -eq 0 ] || known "$prov: $replay write(s) whose answer was lost were sent again without reading the zone first" ;;
	esac
done
# The provider's own view: no duplicate record (Cloudflare keeps one record per value).
for d in $(cat "$workdir/cf.zones"); do
	n=$(python3 - "$CF" "$d" <<'PY'
import json, sys, urllib.request
base, d = sys.argv[1], sys.argv[2]
h = {"Authorization": "Bearer cf-edit-token-0123456789"}
z = json.load(urllib.request.urlopen(urllib.request.Request(base + "/client/v4/zones?name=" + d, headers=h)))
zid = z["result"][0]["id"]
r = json.load(urllib.request.urlopen(urllib.request.Request(
    base + "/client/v4/zones/%s/dns_records?type=MX&per_page=5000" % zid, headers=h)))
vals = [(x["content"], x.get("priority")) for x in r["result"] if x["type"] == "MX"]
print(len(vals) - len(set(vals)))
PY
)
	[ "$n" = 0 ] || fail "cloudflare holds $n duplicate MX record(s) for $d"
done
finish
