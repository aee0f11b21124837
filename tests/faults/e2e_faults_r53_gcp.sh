#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/faults/e2e_faults_r53_gcp.sh — 20 domains through the Route 53 adapter and 20 through
# the Google Cloud DNS adapter, each with the fault proxy (tests/faults/faultproxy.py) in
# front of its API stand-in (tests/fakes/; Google's token endpoint is not proxied: the JWT's
# audience names it), 20% of requests failing:
# every attempt ends 0 or 3, resume (bounded) finishes every run, every zone ends exactly as
# its plan says, no intent left open.
. "$(dirname "$0")/faults_lib.sh"
RATE=${MX_FAULT_RATE:-0.2}
SEED=${MX_FAULT_SEED:-22}
N=${MX_FAULT_DOMAINS:-20}
umask 077
make_zones r53 "$N"
make_zones gcp "$N"
zone_args() { while read -r d t; do printf -- '--zone\n%s\n' "$d"; done <"$workdir/$1.list"; }
start_fake() { # start_fake NAME SCRIPT ARGS... — sets FAKE_URL
	local name=$1 script=$2
	shift 2
	python3 "$FAKES/$script" --port-file "$workdir/$name.port" "$@" 2>"$workdir/$name.log" &
	pids+=($!)
	FAKE_URL=http://127.0.0.1:$(wait_port "$workdir/$name.port")
}

printf 'r53-secret/K7MDENG+bPxRfiCYTEST' >"$workdir/r53.secret"
export MX_R53_KEY_ID=AKIDMXCUTOVERTEST
mapfile -t za < <(zone_args r53)
start_fake r53 route53_api.py "${za[@]}" --access-key-id AKIDMXCUTOVERTEST \
	--secret-file "$workdir/r53.secret"
R53=$FAKE_URL
start_proxy r53 "$R53" --rate "$RATE" --seed "$SEED" --max-stall 0
R53P=http://127.0.0.1:$PROXY_PORT

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$workdir/sa.pem" 2>/dev/null
openssl pkey -in "$workdir/sa.pem" -pubout -out "$workdir/sa.pub"
SA=mxcutover@mx-project.iam.gserviceaccount.com
python3 - "$workdir/sa.pem" "$workdir/sa.json" "$SA" <<'PY'
import json, os, sys
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as f:
    json.dump({"type": "service_account", "project_id": "mx-project", "private_key_id": "k1",
               "private_key": open(sys.argv[1]).read(), "client_email": sys.argv[3],
               "client_id": "1", "token_uri": "https://oauth2.googleapis.com/token"}, f)
PY
mapfile -t za < <(zone_args gcp)
start_fake gcp gcloud_api.py --project mx-project "${za[@]}" --client-email "$SA" \
	--public-key "$workdir/sa.pub"
GCP=$FAKE_URL
start_proxy gcp "$GCP" --rate "$RATE" --seed "$SEED" --max-stall 0
GCPP=http://127.0.0.1:$PROXY_PORT

conf() { # conf FILE R53_URL GCP_URL — the token endpoint is always the fake's own (the JWT's
	# audience is the token URL, which the fake checks), the DNS API goes through $3.
	{
		cutover_conf
		printf '[provider.r53]\ntype = route53\nbase_url = %s\n' "$2"
		printf 'access_key_id_env = MX_R53_KEY_ID\nsecret_access_key_file = %s\n' "$workdir/r53.secret"
		printf 'region = us-east-1\n'
		printf '[provider.gcp]\ntype = gcloud\nproject = mx-project\ncredentials_file = %s\n' "$workdir/sa.json"
		printf 'base_url = %s/dns/v1\ntoken_url = %s/token\n' "$3" "$GCP"
	} >"$1"
}
conf "$workdir/direct.conf" "$R53" "$GCP"
conf "$workdir/faulty.conf" "$R53P" "$GCPP"

for prov in r53 gcp; do
	STATE=$workdir/$prov.db
	plan_all "$prov" "$workdir/direct.conf" "$prov"
	STOPS=0
	storm "$prov" "$workdir/faulty.conf" "$prov"
	verify "$prov"
	case $prov in
	r53) re='/hostedzone/([^/]+)/' ;;
	gcp) re='/managedZones/([^/]+)/' ;;
	esac
	read -r lost rec replay < <(lost_writes "$prov" "$workdir/$prov.plog" "$re")
	figure "$prov: $N domains, $(fault_counts "$workdir/$prov.plog"); first run exit $STORM_FIRST, $STORM_RESUMES resume(s), $STOPS stop(s) with exit 3; $VERIFIED/$N zones exactly as planned; lost writes $lost: $rec read back first, $replay sent again before any read (as a compare-and-swap where the API has one)"
	# Azure (If-Match), Route 53 and Cloud DNS (a DELETE of what was read in the same
	# batch) write compare-and-swap: a write sent again fails unless the zone still holds
	# what was read, and the adapter then reads the zone. Cloudflare and PowerDNS must read.
	case $prov in
	r53|gcp) ;;
	*) [ "$replay" -eq 0 ] || known "$prov: $replay write(s) whose answer was lost were sent again without reading the zone first" ;;
	esac
done
finish
