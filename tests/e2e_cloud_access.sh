#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/e2e_cloud_access.sh — `check D --provider P` for the cloud adapters, through the real
# binary against the local API fakes (tests/fakes/): what provider.access proves about write
# permission without changing the zone, what it says it could not prove, and the fix it names
# when the credential may not write. azure: the zone's permissions list (pass; Reader or a
# role whose notActions exclude MX writes fails); gcloud: the managed zone's permission test
# (pass; roles/dns.reader fails); cloudflare: the token's verification (warn: Cloudflare cannot
# test a DNS write without one; an expired token or one without the zone fails); route53:
# GetHostedZone (warn: no dry run; a denied read or a hosted_zone_id of another zone fails).
# Every case: the exit status, the JSON and the text a person reads, and the zone unchanged.
. "$(dirname "$0")/e2e_lib.sh"
Z() { python3 "$MX_SOURCE_DIR/tests/zonetool.py" "$@"; }
FAKES=$MX_SOURCE_DIR/tests/fakes
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; [ -n "${MX_E2E_KEEP:-}" ] || rm -rf "$workdir"' EXIT
umask 077

n=0
fresh() { # fresh → sets D (domain) and T (target)
	n=$((n + 1))
	D=acc$$x$n.test
	T=$("$MX_SANDBOX_TOOLS/mkzone" "$D" --mtasts none) || fail "mkzone $D"
}
# start_fake NAME SCRIPT ARGS... — starts a fake API; sets PORT.
start_fake() {
	local name=$1 script=$2
	shift 2
	rm -f "$workdir/$name.port"
	python3 "$FAKES/$script" --port-file "$workdir/$name.port" "$@" 2>"$workdir/$name.log" &
	pids+=($!)
	for _ in $(seq 1 100); do
		[ -s "$workdir/$name.port" ] && break
		sleep 0.05
	done
	PORT=$(cat "$workdir/$name.port" 2>/dev/null) || fail "fake $name did not start: $(cat "$workdir/$name.log")"
}
cutover() { sed -n '/^\[cutover\]/,/^$/p' "$MX_CONFIG"; }

# access CASE PROVIDER STATUS EXIT — `check D --provider PROVIDER` as JSON and as text: exit
# status EXIT both times, provider.access STATUS. Leaves the JSON in
# $workdir/CASE.json, provider.access's summary in CASE.sum and the text output (stdout and
# stderr) in CASE.txt.
access() {
	local c=$1 prov=$2 want=$3 code=$4
	expect_status "$code" mx --json check "$D" --target-mx "$T" --provider "$prov" \
		>"$workdir/$c.json" 2>"$workdir/$c.err"
	python3 - "$workdir/$c.json" "$D" "$want" >"$workdir/$c.sum" <<'PY' || fail "$c: $(cat "$workdir/$c.json")"
import json, sys
d = next(x for x in json.load(open(sys.argv[1]))["domains"] if x["domain"] == sys.argv[2])
c = next(c for c in d["checks"] if c["id"] == "provider.access")
print(c["summary"])
assert c["status"] == sys.argv[3], "provider.access is %s, want %s" % (c["status"], sys.argv[3])
assert d["ready"] == (sys.argv[3] != "fail")
assert c["detail"]["provider"] and ("not_proved" in c["detail"]) == (c["status"] != "fail")
PY
	expect_status "$code" mx check "$D" --target-mx "$T" --provider "$prov" >"$workdir/$c.txt" 2>&1
}
# The whole zone as its name servers serve it, before the checks and after them: unchanged.
snapshot() { Z dump "$D" >"$workdir/zone-$D"; }
unchanged() { [ "$(Z dump "$D")" = "$(cat "$workdir/zone-$D")" ] || fail "$1: check changed zone $D"; }
has() { # has CASE TEXT — the summary holds TEXT, and so does the text output
	grep -qF -- "$2" "$workdir/$1.sum" || fail "$1: summary lacks \"$2\": $(cat "$workdir/$1.sum")"
	grep -qF -- "$2" "$workdir/$1.txt" || fail "$1: text output lacks \"$2\": $(cat "$workdir/$1.txt")"
}

# ------------------------------------------------------------------ Azure
printf 'az-secret-0123456789\n' >"$workdir/az.secret"
start_fake az azure_api.py tenant-0001 client-0001 "$workdir/az.secret" sub-0001 rg-dns
AZ=http://127.0.0.1:$PORT
az() { python3 "$FAKES/azure_api.py" --ctl "$AZ" "$1" >/dev/null || fail "az ctl $1"; }
{
	cat "$MX_CONFIG"
	printf '[provider.az]\ntype = azure\ntenant_id = tenant-0001\nclient_id = client-0001\n'
	printf 'client_secret_file = %s\nsubscription_id = sub-0001\nresource_group = rg-dns\n' "$workdir/az.secret"
	printf 'base_url = %s\nlogin_url = %s\n' "$AZ" "$AZ"
} >"$workdir/az.conf"
MX_CONFIG_SAVED=$MX_CONFIG
MX_CONFIG=$workdir/az.conf

# 1. DNS Zone Contributor (listed on the second page of the permissions list): pass, and
#    what the list cannot show (deny assignments) is said.
fresh
az "{\"zone\": \"$D\"}"
snapshot
az '{"role": "contributor", "clear_log": true}'
access az-pass az pass 0
has az-pass "provider az: app client-0001 may change zone $D (its roles allow Microsoft.Network/dnsZones/MX/write and TXT/write; nothing changed); not proved: deny assignments"
has az-pass "not proved: deny assignments"
json_check "$workdir/az-pass.json" "check('$D', 'provider.access')['detail']['not_proved'].startswith('deny assignments')"
json_check "$workdir/az-pass.json" "'Microsoft.Network/dnsZones/MX/write' in check('$D', 'provider.access')['detail']['proved']"
python3 "$FAKES/azure_api.py" --log "$AZ" >"$workdir/az-req.log"
grep -q "dnsZones/$D/providers/Microsoft.Authorization/permissions?api-version=2022-04-01" "$workdir/az-req.log" ||
	fail "azure: the permissions list of the zone was asked: $(cat "$workdir/az-req.log")"
grep -q 'skiptoken=1' "$workdir/az-req.log" || fail "azure: the permissions list's nextLink was followed"
grep -qE '^(PUT|DELETE|PATCH) ' "$workdir/az-req.log" && fail "azure: check sent a write"

# 2. Reader only: fail with the role to assign; exit 1.
az '{"role": "reader"}'
access az-reader az fail 1
has az-reader "azure: app client-0001 may read zone $D but not change it (its roles there do not allow Microsoft.Network/dnsZones/MX/write); assign it the role DNS Zone Contributor on the zone"
has az-reader "--scope /subscriptions/sub-0001/resourceGroups/rg-dns/providers/Microsoft.Network/dnsZones/$D"

# 3. A role that allows dnsZones/* but excludes MX writes (notActions): fail.
az '{"role": "no-mx"}'
access az-nomx az fail 1
has az-nomx "do not allow Microsoft.Network/dnsZones/MX/write"
unchanged azure
az '{"role": "contributor"}'
MX_CONFIG=$MX_CONFIG_SAVED

# ------------------------------------------------------------------ Google Cloud DNS
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$workdir/sa.pem" 2>/dev/null
openssl pkey -in "$workdir/sa.pem" -pubout -out "$workdir/sa.pub"
SA=mxcutover@mx-project.iam.gserviceaccount.com
python3 - "$workdir/sa.pem" "$workdir/sa.json" "$SA" <<'PY'
import json, os, sys
pem = open(sys.argv[1]).read()
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as f:
    json.dump({"type": "service_account", "project_id": "mx-project", "private_key_id": "k1",
               "private_key": pem, "client_email": sys.argv[3], "client_id": "1",
               "token_uri": "https://oauth2.googleapis.com/token"}, f)
PY
gcp_conf() { # gcp_conf FILE PORT
	{
		cat "$MX_CONFIG_SAVED"
		printf '[provider.gcp]\ntype = gcloud\nproject = mx-project\ncredentials_file = %s\n' "$workdir/sa.json"
		printf 'base_url = http://127.0.0.1:%s/dns/v1\ntoken_url = http://127.0.0.1:%s/token\n' "$2" "$2"
	} >"$1"
}

# 4. roles/dns.admin: pass, with the advisory nature of the test said.
fresh
start_fake gcp gcloud_api.py --project mx-project --zone "$D" --client-email "$SA" \
	--public-key "$workdir/sa.pub" --no-flaky
gcp_conf "$workdir/gcp.conf" "$PORT"
MX_CONFIG=$workdir/gcp.conf
snapshot
access gcp-pass gcp pass 0
has gcp-pass "provider gcp: service account $SA may change managed zone z-${D//./-} (IAM grants it the permissions a change needs there; nothing changed); not proved: Google documents"
has gcp-pass "not proved: Google documents its permission test as advisory"
kill "${pids[-1]}"

# 5. roles/dns.reader: fail naming what is missing and the role to grant.
start_fake gcpd gcloud_api.py --project mx-project --zone "$D" --client-email "$SA" \
	--public-key "$workdir/sa.pub" --no-flaky --deny-changes
gcp_conf "$workdir/gcp-deny.conf" "$PORT"
MX_CONFIG=$workdir/gcp-deny.conf
access gcp-reader gcp fail 1
has gcp-reader "gcloud: service account $SA may read managed zone z-${D//./-} but lacks dns.changes.create, dns.resourceRecordSets.create, dns.resourceRecordSets.update, dns.resourceRecordSets.delete there; grant it roles/dns.admin"
unchanged gcloud
kill "${pids[-1]}"
MX_CONFIG=$MX_CONFIG_SAVED

# ------------------------------------------------------------------ Cloudflare
start_fake cf cloudflare_api.py
CF=http://127.0.0.1:$PORT
cf() { python3 "$FAKES/cloudflare_api.py" --ctl "$CF" "$1" >/dev/null || fail "cf ctl $1"; }
cf_prov() { # cf_prov NAME TOKEN
	printf '%s\n' "$2" >"$workdir/$1.token"
	printf '[provider.%s]\ntype = cloudflare\nbase_url = %s/client/v4\napi_token_file = %s\n' \
		"$1" "$CF" "$workdir/$1.token"
}
cf '{"token": "cf-edit-token-0123456789", "expires_on": "2030-01-01T00:00:00Z"}'
cf '{"token": "cf-read-token-0123456789", "edit": false}'
cf '{"token": "cf-acct-token-0123456789", "account_owned": true}'
cf '{"token": "cf-expired-token-0123456", "status": "expired"}'
cf '{"token": "cf-other-token-012345678", "zones": ["elsewhere.test"]}'
{
	cat "$MX_CONFIG_SAVED"
	cf_prov cf cf-edit-token-0123456789
	cf_prov cfro cf-read-token-0123456789
	cf_prov cfacct cf-acct-token-0123456789
	cf_prov cfexp cf-expired-token-0123456
	cf_prov cfother cf-other-token-012345678
} >"$workdir/cf.conf"
MX_CONFIG=$workdir/cf.conf
fresh
cf "{\"zone\": \"$D\"}"
snapshot

# 6. An active token with Zone.DNS:Edit: warn — active and may read, but Cloudflare cannot
#    test an edit without one. The same for a read-only token: the check cannot tell them
#    apart, and says so rather than pass either.
access cf-edit cf warn 0
has cf-edit "provider cf can read the MX RRset of $D, but write permission is not proved: the token is active until 2030-01-01T00:00:00Z and may read zone $D, but Cloudflare has no way to test Zone.DNS:Edit without changing a record"
access cf-ro cfro warn 0
has cf-ro "write permission is not proved: the token is active and may read zone $D"
# An account-owned token is verified at its account.
access cf-acct cfacct warn 0
has cf-acct "the token is active and may read zone $D"
python3 "$FAKES/cloudflare_api.py" --log "$CF" >"$workdir/cf-req.log"
grep -q "GET /client/v4/accounts/0123456789abcdef0123456789abcdef/tokens/verify" "$workdir/cf-req.log" ||
	fail "cloudflare: an account-owned token is verified at /accounts/ID/tokens/verify"
grep -qE '^(POST|PUT|PATCH|DELETE) /client' "$workdir/cf-req.log" && fail "cloudflare: check sent a write"

# 7. An expired token, a token without the zone: fail with the fix.
access cf-exp cfexp fail 1
has cf-exp "cloudflare: the API token was refused for zone $D (HTTP 401"
has cf-exp "active and not expired"
access cf-other cfother fail 1
has cf-other "cloudflare: zone $D is not in any account the API token can see"
unchanged cloudflare
MX_CONFIG=$MX_CONFIG_SAVED

# ------------------------------------------------------------------ Route 53
printf 'r53-secret/K7MDENG+bPxRfiCYTEST' >"$workdir/r53.secret"
export MX_R53_KEY_ID=AKIDMXCUTOVERTEST
r53_conf() { # r53_conf FILE PORT [HOSTED_ZONE_ID]
	{
		cat "$MX_CONFIG_SAVED"
		printf '[provider.r53]\ntype = route53\nbase_url = http://127.0.0.1:%s\n' "$2"
		printf 'access_key_id_env = MX_R53_KEY_ID\nsecret_access_key_file = %s\n' "$workdir/r53.secret"
		[ -z "${3:-}" ] || printf 'hosted_zone_id = %s\n' "$3"
	} >"$1"
}

# 8. Route 53: warn — the hosted zone is read, the change cannot be tested.
fresh
start_fake r53 route53_api.py --zone "$D" --access-key-id AKIDMXCUTOVERTEST \
	--secret-file "$workdir/r53.secret" --no-throttle
r53_conf "$workdir/r53.conf" "$PORT"
MX_CONFIG=$workdir/r53.conf
snapshot
access r53-warn r53 warn 0
has r53-warn "write permission is not proved: the credentials may read public hosted zone ZP"
has r53-warn "Route 53 cannot test route53:ChangeResourceRecordSets without making a change"
# hosted_zone_id naming the private zone of the same name: fail with the fix.
zid=ZA$(printf '%s' "$D" | sha1sum | cut -c1-12 | tr a-f A-F) # the fake's private twin
r53_conf "$workdir/r53-priv.conf" "$PORT" "$zid"
MX_CONFIG=$workdir/r53-priv.conf
access r53-priv r53 fail 1
has r53-priv "route53: hosted zone $zid is the private zone $D., not the public zone $D; fix hosted_zone_id"
kill "${pids[-1]}"

# 9. GetHostedZone denied: fail naming the action to grant.
start_fake r53d route53_api.py --zone "$D" --access-key-id AKIDMXCUTOVERTEST \
	--secret-file "$workdir/r53.secret" --no-throttle --deny GetHostedZone
r53_conf "$workdir/r53-deny.conf" "$PORT"
MX_CONFIG=$workdir/r53-deny.conf
access r53-deny r53 fail 1
has r53-deny "route53: the IAM identity may not call GetHostedZone on zone $D (HTTP 403, AccessDenied); grant it route53:GetHostedZone"
unchanged route53
kill "${pids[-1]}"
MX_CONFIG=$MX_CONFIG_SAVED

finish
