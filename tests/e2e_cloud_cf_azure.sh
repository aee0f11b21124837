#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/e2e_cloud_cf_azure.sh — the cloudflare and azure adapters through the real binary,
# against local fakes of their APIs (tests/fakes/cloudflare_api.py, azure_api.py) that write
# every change through to the sandbox's child PowerDNS, so the engine's propagation checks see
# it: a complete cutover and rollback through each, under pagination, 429 with Retry-After,
# a 5xx, eventual consistency, an expired token and a monitor; then the errors a person sees (bad token or
# secret, missing permission, unknown zone, a record set changed between read and write).
. "$(dirname "$0")/e2e_lib.sh"
Z() { python3 "$MX_SOURCE_DIR/tests/zonetool.py" "$@"; }
FAKES=$MX_SOURCE_DIR/tests/fakes
export MXCUTOVER_CLOCK=warp
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; [ -n "${MX_E2E_KEEP:-}" ] || rm -rf "$workdir"' EXIT

umask 077
printf 'cf-edit-token-0123456789\n' >"$workdir/cf.token"
printf 'cf-read-token-0123456789\n' >"$workdir/cf-ro.token"
printf 'cf-wrong-token-012345678\n' >"$workdir/cf-bad.token"
printf 'cf-other-token-012345678\n' >"$workdir/cf-other.token"
printf 'az-secret~with&odd=chars\n' >"$workdir/az.secret"
printf 'not-the-secret\n' >"$workdir/az-bad.secret"
python3 "$FAKES/cloudflare_api.py" --port-file "$workdir/cf.port" 2>"$workdir/cf-fake.log" &
pids+=($!)
python3 "$FAKES/azure_api.py" --port-file "$workdir/az.port" tenant-0001 client-0001 \
	"$workdir/az.secret" sub-0001 rg-dns 2>"$workdir/az-fake.log" &
pids+=($!)
for _ in $(seq 1 100); do
	[ -s "$workdir/cf.port" ] && [ -s "$workdir/az.port" ] && break
	sleep 0.05
done
CF=http://127.0.0.1:$(cat "$workdir/cf.port")
AZ=http://127.0.0.1:$(cat "$workdir/az.port")
cf() { python3 "$FAKES/cloudflare_api.py" --ctl "$CF" "$1" >/dev/null || fail "cf ctl $1"; }
# cf_api METHOD PATH [BODY]: the fake's API itself, as a person's script would call it.
cf_api() {
	curl -sf -X "$1" -H "Authorization: Bearer cf-edit-token-0123456789" \
		-H "Content-Type: application/json" ${3:+--data "$3"} "$CF/client/v4$2"
}
az() { python3 "$FAKES/azure_api.py" --ctl "$AZ" "$1"; }
cf '{"token": "cf-edit-token-0123456789"}'
cf '{"token": "cf-read-token-0123456789", "edit": false}'
cf '{"token": "cf-other-token-012345678", "zones": ["elsewhere.test"]}'

cat "$MX_CONFIG" >"$workdir/cloud.conf"
cat >>"$workdir/cloud.conf" <<EOF
[provider.cf]
type = cloudflare
base_url = $CF/client/v4
api_token_file = $workdir/cf.token
[provider.cfro]
type = cloudflare
base_url = $CF/client/v4/
api_token_file = $workdir/cf-ro.token
[provider.cfbad]
type = cloudflare
base_url = $CF/client/v4
api_token_file = $workdir/cf-bad.token
[provider.cfother]
type = cloudflare
base_url = $CF/client/v4
api_token_file = $workdir/cf-other.token
[provider.az]
type = azure
tenant_id = tenant-0001
client_id = client-0001
client_secret_file = $workdir/az.secret
subscription_id = sub-0001
resource_group = rg-dns
base_url = $AZ
login_url = $AZ
[provider.azbad]
type = azure
tenant_id = tenant-0001
client_id = client-0001
client_secret_file = $workdir/az-bad.secret
subscription_id = sub-0001
resource_group = rg-dns
base_url = $AZ
login_url = $AZ
[provider.azgroup]
type = azure
tenant_id = tenant-0001
client_id = client-0001
client_secret_file = $workdir/az.secret
subscription_id = sub-0001
resource_group = rg-other
base_url = $AZ
login_url = $AZ
EOF
MX_CONFIG=$workdir/cloud.conf

n=0
fresh() { # fresh [mkzone options] → sets D (domain), T (target), L (legacy host)
	n=$((n + 1))
	D=cloud$$x$n.test
	T=$("$MX_SANDBOX_TOOLS/mkzone" "$D" "$@") || fail "mkzone $D"
	L=${D//./-}.mail.protection.outlook.test
}
mxline() { Z dump "$D" | grep "^$D\. MX "; }
others() { Z dump "$D" | grep -v -E "^($D\. MX|_mta-sts\.$D\. TXT) "; }

# 1. Cloudflare: a complete cutover with one record per page, a 429 (Retry-After: 1) on the
#    first listing, a 503 on the first create, and listings that show a change only on the
#    second read; a monitor asks both name servers every 50 ms that the MX is never empty.
fresh --mtasts none
cf "{\"zone\": \"$D\"}"
cf '{"max_per_page": 1, "stale_reads": true, "clear_log": true, "inject": [
	{"method": "GET", "path": "dns_records", "status": 429, "retry_after": 1, "times": 1},
	{"method": "POST", "path": "dns_records", "status": 503, "times": 1}]}'
before_others=$(others)
rm -f "$workdir/stop"
Z monitor "$D" "$workdir/stop" >"$workdir/monitor-cf.log" &
mon=$!
expect_status 0 mx run "$D" --target-mx "$T" --provider cf --yes >"$workdir/cf-run.log" 2>&1
touch "$workdir/stop"
wait "$mon" || fail "cloudflare monitor: $(cat "$workdir/monitor-cf.log")"
[ "$(mxline)" = "$D. MX 3600 0 $T." ] || fail "cloudflare final MX: $(mxline) ($(tail -3 "$workdir/cf-run.log"))"
[ "$(others)" = "$before_others" ] || fail "cloudflare run touched other records"
grep -q "(TTL 60)" "$workdir/cf-run.log" || fail "low_ttl raised to Cloudflare's 60 s minimum"
# A listing that does not show the change yet is waited out by the engine (a deadline, never a
# pause on a worker), and the step is not planned again from it (the creates counted below).
grep -q "cloudflare: the API accepted the change to the MX records of $D but does not list it yet" \
	"$workdir/cf-run.log" || fail "the stale listing is announced: $(grep -i list "$workdir/cf-run.log")"
grep -q "(shown on a later read)" "$workdir/cf-run.log" || fail "the write is reported once listed"
python3 "$FAKES/cloudflare_api.py" --log "$CF" >"$workdir/cf-req.log"
grep -q "page=2" "$workdir/cf-req.log" || fail "cloudflare listing went past page 1"
[ "$(grep -c 'GET /client/v4/zones?name=' "$workdir/cf-req.log")" -eq 1 ] ||
	fail "the zone id is looked up once per run"
# The adapter minimises calls: lower_ttl 1 PATCH, add_target 1 POST (+1 retried after 503),
# swap 2 PATCH, remove_legacy 1 DELETE, raise_ttl 1 PATCH.
[ "$(grep -c '^PATCH ' "$workdir/cf-req.log")" -eq 4 ] || fail "cloudflare updates: $(grep -c '^PATCH ' "$workdir/cf-req.log"), want 4"
grep -q '^PUT ' "$workdir/cf-req.log" && fail "cloudflare: an update by PUT drops the record's comment and tags"
[ "$(grep -c '^POST ' "$workdir/cf-req.log")" -eq 2 ] || fail "cloudflare creates: $(grep -c '^POST ' "$workdir/cf-req.log"), want 2"
[ "$(grep -c '^DELETE ' "$workdir/cf-req.log")" -eq 1 ] || fail "cloudflare deletes: $(grep -c '^DELETE ' "$workdir/cf-req.log"), want 1"
mx --json status "$D" | grep -q '"state": "done"' || fail "cloudflare run status done"

# Rollback through Cloudflare restores the snapshot exactly; the deletion of the new host
# comes only after the legacy record is back (creates before deletes).
cf '{"clear_log": true}'
rm -f "$workdir/stop"
Z monitor "$D" "$workdir/stop" >"$workdir/monitor-cf2.log" &
mon=$!
Z dane-off "$T" # Disable-SmtpDaneInbound, as Microsoft does
expect_status 0 mx rollback "$D" --yes >"$workdir/cf-rb.log" 2>&1
touch "$workdir/stop"
wait "$mon" || fail "cloudflare rollback monitor: $(cat "$workdir/monitor-cf2.log")"
[ "$(mxline)" = "$D. MX 3600 0 $L." ] || fail "cloudflare rolled back MX: $(mxline) ($(tail -3 "$workdir/cf-rb.log"))"
mx --json status "$D" | grep -q '"state": "rolled_back"' || fail "cloudflare status rolled_back"
python3 "$FAKES/cloudflare_api.py" --log "$CF" | grep -E '^(POST|DELETE) ' >"$workdir/cf-rb-req.log"
[ "$(head -1 "$workdir/cf-rb-req.log" | cut -d' ' -f1)" = POST ] &&
	[ "$(tail -1 "$workdir/cf-rb-req.log" | cut -d' ' -f1)" = DELETE ] ||
	fail "rollback creates before it deletes: $(cat "$workdir/cf-rb-req.log")"
cf '{"max_per_page": 5000, "stale_reads": false}'

# 1b. A record's comment and tags survive the updates of a run and of its rollback: the legacy
#     MX record is updated in place (TTL lowered, preference 30 at the swap, both back on
#     rollback), never replaced whole.
fresh --mtasts none
cf "{\"zone\": \"$D\"}"
zid=$(cf_api GET "/zones?name=$D" | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"][0]["id"])')
rid=$(cf_api GET "/zones/$zid/dns_records?type=MX&name=$D" | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"][0]["id"])')
cf_api PATCH "/zones/$zid/dns_records/$rid" '{"comment": "inbound via EXO, ticket 42", "tags": ["team:mail"]}' >/dev/null
MXCUTOVER_CRASH_AT=swap:done mx run "$D" --target-mx "$T" --provider cf --yes >"$workdir/cf-note.log" 2>&1
expect_status 0 mx rollback "$D" --yes >>"$workdir/cf-note.log" 2>&1
[ "$(mxline)" = "$D. MX 3600 0 $L." ] || fail "cloudflare rollback with a comment: $(mxline)"
cf_api GET "/zones/$zid/dns_records?type=MX&name=$D" | python3 -c '
import json, sys
r = next(r for r in json.load(sys.stdin)["result"] if r["id"] == sys.argv[1])
assert r["comment"] == "inbound via EXO, ticket 42" and r["tags"] == ["team:mail"], r' "$rid" ||
	fail "cloudflare: the legacy record lost its comment or tags"

# 2. Cloudflare errors through the binary: exit 3 and one sentence naming provider, status
#    and fix; the zone untouched.
fresh --mtasts none
cf "{\"zone\": \"$D\"}"
before=$(mxline)
expect_status 3 mx run "$D" --target-mx "$T" --provider cfbad --yes >"$workdir/cf-bad.log" 2>&1
grep -q "cloudflare: the API token was refused for zone $D (HTTP 401" "$workdir/cf-bad.log" ||
	fail "bad token message: $(cat "$workdir/cf-bad.log")"
grep -q "cf-wrong-token" "$workdir/cf-bad.log" && fail "the token is in a message"
[ "$(mxline)" = "$before" ] || fail "a refused Cloudflare run changed the MX: $(mxline)"
fresh --mtasts none
cf "{\"zone\": \"$D\"}"
before=$(mxline)
expect_status 3 mx run "$D" --target-mx "$T" --provider cfro --yes >"$workdir/cf-ro.log" 2>&1
grep -q "cloudflare: the API token cannot edit zone $D (HTTP 403); give it Zone.DNS:Edit" \
	"$workdir/cf-ro.log" || fail "read-only token message: $(cat "$workdir/cf-ro.log")"
[ "$(mxline)" = "$before" ] || fail "a refused Cloudflare run changed the MX: $(mxline)"
fresh --mtasts none
cf "{\"zone\": \"$D\"}"
before=$(mxline)
expect_status 2 mx run "$D" --target-mx "$T" --provider cfother --yes >"$workdir/cf-other.log" 2>&1
grep -q "cloudflare: zone $D is not in any account the API token can see" "$workdir/cf-other.log" ||
	fail "unknown zone message: $(cat "$workdir/cf-other.log")"
[ "$(mxline)" = "$before" ] || fail "a refused Cloudflare run changed the MX: $(mxline)"
# 429 on every try: provider.access fails with the rate-limit sentence (bounded retries).
cf '{"inject": [{"method": "GET", "path": "dns_records", "status": 429, "retry_after": 1, "times": 6}]}'
expect_status 1 mx check "$D" --provider cf --target-mx "$T" >"$workdir/cf-429.log" 2>&1
grep -q "cloudflare: the API kept answering HTTP 429" "$workdir/cf-429.log" ||
	fail "429 message: $(cat "$workdir/cf-429.log")"

# 2b. A long Retry-After on a write: the adapter does not sleep through it; the engine waits
#     for it as a deadline (skipped here by the warp clock) and the run completes.
fresh --mtasts none
cf "{\"zone\": \"$D\"}"
cf '{"clear_log": true, "inject": [
	{"method": "POST", "path": "dns_records", "status": 429, "retry_after": 30, "times": 1}]}'
start=$(date +%s)
expect_status 0 mx run "$D" --target-mx "$T" --provider cf --yes >"$workdir/cf-ra.log" 2>&1
[ $(($(date +%s) - start)) -lt 20 ] || fail "the run slept through Retry-After"
grep -q 'asks to wait 30 s' "$workdir/cf-ra.log" || fail "the rate limit is announced: $(tail -3 "$workdir/cf-ra.log")"
[ "$(mxline)" = "$D. MX 3600 0 $T." ] || fail "run after a long Retry-After: $(mxline)"

# 2c. Listings that lag three reads behind each change: the run waits for its own write to
#     be listed and never plans it again from the old listing (one create in all, no second).
fresh --mtasts none
cf "{\"zone\": \"$D\"}"
cf '{"stale_reads": 3, "clear_log": true}'
expect_status 0 mx run "$D" --target-mx "$T" --provider cf --yes >"$workdir/cf-lag.log" 2>&1
[ "$(mxline)" = "$D. MX 3600 0 $T." ] || fail "run with lagging listings: $(mxline) ($(tail -3 "$workdir/cf-lag.log"))"
python3 "$FAKES/cloudflare_api.py" --log "$CF" >"$workdir/cf-lag-req.log"
[ "$(grep -c '^POST ' "$workdir/cf-lag-req.log")" -eq 1 ] ||
	fail "lagging listings: $(grep -c '^POST ' "$workdir/cf-lag-req.log") creates, want 1"
[ "$(grep -c "does not list it yet" "$workdir/cf-lag.log")" -ge 2 ] ||
	fail "the lag is waited out more than once: $(grep -c "does not list it yet" "$workdir/cf-lag.log")"

# 2d. The same on the real clock: while the run waits for the listing, status says so.
fresh --mtasts none
cf "{\"zone\": \"$D\"}"
cf '{"stale_reads": 3, "clear_log": true}'
MXCUTOVER_CLOCK= "$MXCUTOVER" --config "$workdir/cloud.conf" --resolver-conf "$MX_RESOLVER_CONF" \
	--cacert "$MX_CACERT" --state "$workdir/state.db" run "$D" --target-mx "$T" --provider cf \
	--yes >"$workdir/cf-lag2.log" 2>&1 </dev/null &
lagpid=$!
seen=
for _ in $(seq 150); do
	mx --json status "$D" >"$workdir/lag-status.json" 2>/dev/null
	if grep -q '"waiting_for": "the provider to list the change it accepted (try' \
		"$workdir/lag-status.json"; then
		seen=1
		break
	fi
	sleep 0.1
done
kill -INT "$lagpid" 2>/dev/null
wait "$lagpid"
[ -n "$seen" ] || fail "status does not say the run waits for the listing: $(cat "$workdir/lag-status.json")"
cf '{"stale_reads": false}'

# 3. Azure: a complete cutover with a 429 (Retry-After: 1) on the first write, a 500 on the
#    first read, stale reads after each change, under the monitor; one token per process.
fresh --mtasts none
az "{\"zone\": \"$D\"}" >/dev/null
az '{"stale_reads": true, "clear_log": true, "inject": [
	{"method": "PUT", "path": "/MX/", "status": 429, "retry_after": 1, "times": 1},
	{"method": "GET", "path": "/MX/", "status": 500, "times": 1}]}' >/dev/null
before_others=$(others)
issued=$(az '{}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens_issued"])')
rm -f "$workdir/stop"
Z monitor "$D" "$workdir/stop" >"$workdir/monitor-az.log" &
mon=$!
expect_status 0 mx run "$D" --target-mx "$T" --provider az --yes >"$workdir/az-run.log" 2>&1
touch "$workdir/stop"
wait "$mon" || fail "azure monitor: $(cat "$workdir/monitor-az.log")"
[ "$(mxline)" = "$D. MX 3600 0 $T." ] || fail "azure final MX: $(mxline) ($(tail -3 "$workdir/az-run.log"))"
[ "$(others)" = "$before_others" ] || fail "azure run touched other records"
grep -q "(TTL 30)" "$workdir/az-run.log" || fail "azure lowers the TTL to 30"
grep -q "azure: Azure DNS accepted the change to the MX records of $D but does not list it yet" \
	"$workdir/az-run.log" || fail "the stale read is announced: $(grep -i list "$workdir/az-run.log")"
issued2=$(az '{}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens_issued"])')
[ $((issued2 - issued)) -eq 1 ] || fail "azure token not cached: $((issued2 - issued)) tokens for one run"
python3 "$FAKES/azure_api.py" --log "$AZ" >"$workdir/az-req.log"
grep '^PUT ' "$workdir/az-req.log" | grep -q 'api-version=2018-05-01' || fail "azure api-version"
Z dane-off "$T" # Disable-SmtpDaneInbound, as Microsoft does
expect_status 0 mx rollback "$D" --yes >"$workdir/az-rb.log" 2>&1
[ "$(mxline)" = "$D. MX 3600 0 $L." ] || fail "azure rolled back MX: $(mxline) ($(tail -3 "$workdir/az-rb.log"))"
mx --json status "$D" | grep -q '"state": "rolled_back"' || fail "azure status rolled_back"
az '{"stale_reads": false}' >/dev/null

# A token that Resource Manager calls expired is renewed once, transparently.
before_tokens=$(az '{}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens_issued"])')
az '{"inject": [{"method": "GET", "path": "/MX/", "status": 401, "times": 1,
	"body": {"error": {"code": "ExpiredAuthenticationToken", "message": "expired"}}}]}' >/dev/null
mx --json check "$D" --provider az --target-mx "$T" >"$workdir/az-exp.json" 2>/dev/null
json_check "$workdir/az-exp.json" 'st(doc["domains"][0]["domain"], "provider.access") in ("pass", "warn")'
after_tokens=$(az '{}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens_issued"])')
[ $((after_tokens - before_tokens)) -eq 2 ] || fail "an expired token is renewed once: $((after_tokens - before_tokens)) tokens"

# 3b. A record set's metadata (tags set in the portal) survives the writes of a run and of its
#     rollback: every PUT, which replaces the record set whole, sends it again.
fresh --mtasts none
az "{\"zone\": \"$D\"}" >/dev/null
meta() { az "{\"metadata\": {\"zone\": \"$D\", \"type\": \"MX\", \"rel\": \"@\"${1:-}}}" |
	python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["metadata"], sort_keys=True))'; }
meta ', "metadata": {"owner": "mail-team", "ticket": "42"}' >/dev/null
want_meta='{"owner": "mail-team", "ticket": "42"}'
MXCUTOVER_CRASH_AT=swap:done mx run "$D" --target-mx "$T" --provider az --yes >"$workdir/az-meta.log" 2>&1
[ "$(meta)" = "$want_meta" ] || fail "azure: the run's writes dropped the metadata: $(meta)"
expect_status 0 mx rollback "$D" --yes >>"$workdir/az-meta.log" 2>&1
[ "$(mxline)" = "$D. MX 3600 0 $L." ] || fail "azure rollback with metadata: $(mxline)"
[ "$(meta)" = "$want_meta" ] || fail "azure: the rollback dropped the metadata: $(meta)"

# 4. Azure: a record set changed between our read and our write → If-Match fails (412), the
#    run stops with the conflict and the intruder survives.
fresh --mtasts none
az "{\"zone\": \"$D\"}" >/dev/null
az "{\"race\": {\"zone\": \"$D\", \"type\": \"MX\", \"rel\": \"@\", \"ttl\": 3600,
	\"records\": [{\"preference\": 0, \"exchange\": \"$L\"},
		{\"preference\": 5, \"exchange\": \"intruder.elsewhere.test\"}]}}" >/dev/null
expect_status 3 mx run "$D" --target-mx "$T" --provider az --yes >"$workdir/az-race.log" 2>&1
grep -q "azure: the MX record set of $D changed behind our back (HTTP 412 PreconditionFailed)" \
	"$workdir/az-race.log" || fail "azure 412 message: $(cat "$workdir/az-race.log")"
mxline | grep -q intruder.elsewhere.test || fail "the concurrent change was overwritten: $(mxline)"

# 5. Azure errors through the binary.
fresh --mtasts none
az "{\"zone\": \"$D\"}" >/dev/null
before=$(mxline)
expect_status 3 mx run "$D" --target-mx "$T" --provider azbad --yes >"$workdir/az-bad.log" 2>&1
grep -q "azure: the client secret of app client-0001 was refused by tenant tenant-0001 (HTTP 401, AADSTS7000215)" \
	"$workdir/az-bad.log" || fail "azure bad secret message: $(cat "$workdir/az-bad.log")"
grep -q "not-the-secret" "$workdir/az-bad.log" && fail "the secret is in a message"
[ "$(mxline)" = "$before" ] || fail "a refused Azure run changed the MX: $(mxline)"
fresh --mtasts none
az "{\"zone\": \"$D\"}" >/dev/null
before=$(mxline)
az '{"role": "reader"}' >/dev/null
expect_status 3 mx run "$D" --target-mx "$T" --provider az --yes >"$workdir/az-ro.log" 2>&1
grep -q "azure: app client-0001 may not change the MX record set of $D (HTTP 403 AuthorizationFailed); give the app DNS Zone Contributor" \
	"$workdir/az-ro.log" || fail "azure reader message: $(cat "$workdir/az-ro.log")"
az '{"role": "contributor"}' >/dev/null
[ "$(mxline)" = "$before" ] || fail "a refused Azure run changed the MX: $(mxline)"
fresh --mtasts none
az "{\"zone\": \"$D\"}" >/dev/null
before=$(mxline)
expect_status 3 mx run "$D" --target-mx "$T" --provider azgroup --yes >"$workdir/az-group.log" 2>&1
grep -q "azure: resource group rg-other was not found in subscription sub-0001 (HTTP 404 ResourceGroupNotFound)" \
	"$workdir/az-group.log" || fail "azure group message: $(cat "$workdir/az-group.log")"
[ "$(mxline)" = "$before" ] || fail "a refused Azure run changed the MX: $(mxline)"

# Secrets never reach the state database.
sqlite3 "$workdir/state.db" .dump >"$workdir/dump.sql"
grep -qF "cf-edit-token" "$workdir/dump.sql" && fail "the Cloudflare token is in the state database"
grep -qF "az-secret" "$workdir/dump.sql" && fail "the Azure secret is in the state database"

finish
