#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/e2e_cloud_r53_gcp.sh — complete cutovers through the route53 and gcloud adapters with
# the real binary, against local servers that behave like the documented APIs
# (tests/fakes/route53_api.py, tests/fakes/gcloud_api.py: signatures/JWTs verified, small
# pages, PENDING→INSYNC / pending→done, throttling and 5xx once) and that write through to
# the sandbox's child PowerDNS, so the engine's propagation check sees real name servers.
# Then rollback, and the errors a user meets: a wrong secret, a missing permission, a zone
# changed between read and write (the compare-and-swap).
. "$(dirname "$0")/e2e_lib.sh"
Z() { python3 "$MX_SOURCE_DIR/tests/zonetool.py" "$@"; }
FAKES=$MX_SOURCE_DIR/tests/fakes
export MXCUTOVER_CLOCK=warp
n=0
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	[ -n "${MX_E2E_KEEP:-}" ] || rm -rf "$workdir"
}
trap cleanup EXIT
fresh() { # fresh → sets D (domain) and T (target)
	n=$((n + 1))
	D=cl$$x$n.test
	T=$("$MX_SANDBOX_TOOLS/mkzone" "$D" --mtasts none) || fail "mkzone $D"
}
mxline() { Z dump "$D" | grep "^$D\. MX "; }
legacy_mx() { echo "$D. MX 3600 0 ${D//./-}.mail.protection.outlook.test."; }
final_mx() { echo "$D. MX 3600 0 $T."; }
# start_fake NAME SCRIPT ARGS... — starts a fake API; sets PORT.
start_fake() {
	local name=$1 script=$2
	shift 2
	rm -f "$workdir/$name.port"
	python3 "$FAKES/$script" --port-file "$workdir/$name.port" --stats-file "$workdir/$name.stats" \
		"$@" 2>"$workdir/$name.log" &
	pids+=($!)
	for _ in $(seq 1 100); do
		[ -s "$workdir/$name.port" ] && break
		sleep 0.05
	done
	PORT=$(cat "$workdir/$name.port" 2>/dev/null) || fail "fake $name did not start: $(cat "$workdir/$name.log")"
}
stat_of() { # stat_of NAME KEY → the fake's counter
	sleep 0.3
	tr ' ' '\n' <"$workdir/$1.stats" | sed -n "s/^$2=//p"
}
mxc() { # mxc CONFIG ARGS... — the binary with another config
	local conf=$1
	shift
	"$MXCUTOVER" --config "$conf" --resolver-conf "$MX_RESOLVER_CONF" --cacert "$MX_CACERT" \
		--state "$workdir/state.db" "$@"
}

# ------------------------------------------------------------------ Route 53
printf 'AKIDMXCUTOVERTEST' >"$workdir/r53.keyid"
printf 'r53-secret/K7MDENG+bPxRfiCYTEST' >"$workdir/r53.secret"
printf 'wrong-secret-of-someone-else' >"$workdir/r53.bad"
chmod 600 "$workdir"/r53.*
export MX_R53_KEY_ID=AKIDMXCUTOVERTEST
r53_conf() { # r53_conf FILE PORT SECRETFILE
	{
		sed -n '/^\[cutover\]/,/^$/p' "$MX_CONFIG"
		printf '[provider.r53]\ntype = route53\nbase_url = http://127.0.0.1:%s\n' "$2"
		printf 'access_key_id_env = MX_R53_KEY_ID\nsecret_access_key_file = %s\n' "$3"
		printf 'region = us-east-1\n'
	} >"$1"
}

# 1. A complete cutover: throttled once, pages of one item, PENDING→INSYNC after 2 polls.
fresh
start_fake r53 route53_api.py --zone "$D" --access-key-id AKIDMXCUTOVERTEST \
	--secret-file "$workdir/r53.secret"
r53_conf "$workdir/r53.conf" "$PORT" "$workdir/r53.secret"
[ "$(mxline)" = "$(legacy_mx)" ] || fail "r53: start MX: $(mxline)"
expect_status 0 mxc "$workdir/r53.conf" run "$D" --target-mx "$T" --provider r53 --yes \
	>"$workdir/r53-run.log" 2>&1
[ "$(mxline)" = "$(final_mx)" ] || fail "r53: final MX: $(mxline) ($(tail -3 "$workdir/r53-run.log"))"
[ "$(stat_of r53 throttled)" = 1 ] || fail "r53: the fake throttled once"
[ "$(stat_of r53 sig_fail)" = 0 ] || fail "r53: every request carried a valid SigV4 signature"
[ "$(stat_of r53 changes)" -ge 4 ] || fail "r53: changes applied: $(stat_of r53 changes)"
# The engine never sleeps in an adapter: it waits for the change on the name servers
# itself, so GetChange is not polled during a run.
[ "$(stat_of r53 polls)" = 0 ] || fail "r53: GetChange polled during a run: $(stat_of r53 polls)"
[ "$(stat_of r53 conflicts)" = 0 ] || fail "r53: no conflicts in a clean run"
mxc "$workdir/r53.conf" --json status "$D" | grep -q '"state": "done"' || fail "r53: status done"

# Rollback after completion restores the snapshot (values, TTL) through the adapter.
Z dane-off "$T" # Disable-SmtpDaneInbound, as Microsoft does
expect_status 0 mxc "$workdir/r53.conf" rollback "$D" --yes >"$workdir/r53-rb.log" 2>&1
[ "$(mxline)" = "$(legacy_mx)" ] || fail "r53: rolled back MX: $(mxline)"

# 2. A wrong secret: exit 3 and the sentence that says what to fix; the secret never shows.
fresh
kill "${pids[-1]}"
start_fake r53b route53_api.py --zone "$D" --access-key-id AKIDMXCUTOVERTEST \
	--secret-file "$workdir/r53.secret"
r53_conf "$workdir/r53-bad.conf" "$PORT" "$workdir/r53.bad"
expect_status 3 mxc "$workdir/r53-bad.conf" plan "$D" --target-mx "$T" --provider r53 \
	>"$workdir/r53-bad.log" 2>&1
grep -q 'route53: AWS refused the request signature (HTTP 403, SignatureDoesNotMatch); check that the secret access key of \[provider.r53\]' \
	"$workdir/r53-bad.log" || fail "r53: bad secret sentence: $(cat "$workdir/r53-bad.log")"
grep -qF "$(cat "$workdir/r53.bad")" "$workdir/r53-bad.log" && fail "r53: the secret is in the output"
expect_status 3 mxc "$workdir/r53-bad.conf" run "$D" --target-mx "$T" --provider r53 --yes \
	>"$workdir/r53-bad2.log" 2>&1
grep -q 'SignatureDoesNotMatch' "$workdir/r53-bad2.log" || fail "r53: run with a bad secret: $(tail -3 "$workdir/r53-bad2.log")"
[ "$(mxline)" = "$(legacy_mx)" ] || fail "r53: a refused run wrote DNS"

# 3. The IAM identity may read but not change: exit 3 naming the action and the zone ARN.
fresh
kill "${pids[-1]}"
start_fake r53d route53_api.py --zone "$D" --access-key-id AKIDMXCUTOVERTEST \
	--secret-file "$workdir/r53.secret" --deny ChangeResourceRecordSets --no-throttle
r53_conf "$workdir/r53-deny.conf" "$PORT" "$workdir/r53.secret"
expect_status 3 mxc "$workdir/r53-deny.conf" run "$D" --target-mx "$T" --provider r53 --yes \
	>"$workdir/r53-deny.log" 2>&1
grep -q 'route53: the IAM identity may not call ChangeResourceRecordSets on zone '"$D"' (HTTP 403, AccessDenied); grant it route53:ChangeResourceRecordSets on arn:aws:route53:::hostedzone/ZP' \
	"$workdir/r53-deny.log" || fail "r53: access denied sentence: $(tail -3 "$workdir/r53-deny.log")"
[ "$(mxline)" = "$(legacy_mx)" ] || fail "r53: a denied run wrote DNS"

# 4. Compare-and-swap: the RRset changes between the engine's read and the batch; Route 53
#    refuses the exact DELETE (InvalidChangeBatch) and the run stops with exit 3.
fresh
kill "${pids[-1]}"
start_fake r53r route53_api.py --zone "$D" --access-key-id AKIDMXCUTOVERTEST \
	--secret-file "$workdir/r53.secret" --race --no-throttle
r53_conf "$workdir/r53-race.conf" "$PORT" "$workdir/r53.secret"
expect_status 3 mxc "$workdir/r53-race.conf" run "$D" --target-mx "$T" --provider r53 --yes \
	>"$workdir/r53-race.log" 2>&1
grep -q 'route53: the MX RRset of '"$D"' changed behind our back (HTTP 400, InvalidChangeBatch' \
	"$workdir/r53-race.log" || fail "r53: CAS conflict sentence: $(tail -3 "$workdir/r53-race.log")"
[ "$(stat_of r53r conflicts)" = 1 ] || fail "r53: the fake refused one DELETE"
[ "$(mxline)" = "$D. MX 3607 0 ${D//./-}.mail.protection.outlook.test." ] ||
	fail "r53: the other writer's RRset is left alone: $(mxline)"
kill "${pids[-1]}"

# ------------------------------------------------------------------ Google Cloud DNS
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$workdir/sa.pem" 2>/dev/null
openssl pkey -in "$workdir/sa.pem" -pubout -out "$workdir/sa.pub"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$workdir/other.pem" 2>/dev/null
SA=mxcutover@mx-project.iam.gserviceaccount.com
sa_key() { # sa_key PEM OUT — a service-account JSON key file around PEM
	python3 - "$1" "$2" "$SA" <<'PY'
import json, os, sys
pem = open(sys.argv[1]).read()
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as f:
    json.dump({"type": "service_account", "project_id": "mx-project", "private_key_id": "k1",
               "private_key": pem, "client_email": sys.argv[3], "client_id": "1",
               "token_uri": "https://oauth2.googleapis.com/token"}, f)
PY
}
sa_key "$workdir/sa.pem" "$workdir/sa.json"
sa_key "$workdir/other.pem" "$workdir/sa-bad.json"
gcp_conf() { # gcp_conf FILE PORT KEYFILE
	{
		sed -n '/^\[cutover\]/,/^$/p' "$MX_CONFIG"
		printf '[provider.gcp]\ntype = gcloud\nproject = mx-project\ncredentials_file = %s\n' "$3"
		printf 'base_url = http://127.0.0.1:%s/dns/v1\ntoken_url = http://127.0.0.1:%s/token\n' "$2" "$2"
	} >"$1"
}
gcp_fake() { # gcp_fake NAME ARGS...
	local name=$1
	shift
	start_fake "$name" gcloud_api.py --project mx-project --zone "$D" --client-email "$SA" \
		--public-key "$workdir/sa.pub" "$@"
}

# 5. A complete cutover: 429 (Retry-After) and 503 once, pages of one, pending→done.
fresh
gcp_fake gcp
gcp_conf "$workdir/gcp.conf" "$PORT" "$workdir/sa.json"
expect_status 0 mxc "$workdir/gcp.conf" run "$D" --target-mx "$T" --provider gcp --yes \
	>"$workdir/gcp-run.log" 2>&1
[ "$(mxline)" = "$(final_mx)" ] || fail "gcp: final MX: $(mxline) ($(tail -3 "$workdir/gcp-run.log"))"
[ "$(stat_of gcp tokens)" = 1 ] || fail "gcp: one access token for the whole run (cached): $(stat_of gcp tokens)"
[ "$(stat_of gcp jwt_fail)" = 0 ] || fail "gcp: every JWT verified"
[ "$(stat_of gcp auth_fail)" = 0 ] || fail "gcp: every request carried a valid token"
[ "$(stat_of gcp throttled)" = 1 ] && [ "$(stat_of gcp unavailable)" = 1 ] ||
	fail "gcp: the 429 and the 503 were retried"
[ "$(stat_of gcp changes)" -ge 4 ] || fail "gcp: changes applied: $(stat_of gcp changes)"
[ "$(stat_of gcp polls)" = 0 ] || fail "gcp: changes polled during a run: $(stat_of gcp polls)"
[ "$(stat_of gcp conflicts)" = 0 ] || fail "gcp: no conflicts in a clean run"
Z dane-off "$T" # Disable-SmtpDaneInbound, as Microsoft does
expect_status 0 mxc "$workdir/gcp.conf" rollback "$D" --yes >"$workdir/gcp-rb.log" 2>&1
[ "$(mxline)" = "$(legacy_mx)" ] || fail "gcp: rolled back MX: $(mxline)"
kill "${pids[-1]}"

# 6. A key Google does not know (another private key): exit 3 and the sentence.
fresh
gcp_fake gcpb --no-flaky
gcp_conf "$workdir/gcp-bad.conf" "$PORT" "$workdir/sa-bad.json"
expect_status 3 mxc "$workdir/gcp-bad.conf" plan "$D" --target-mx "$T" --provider gcp \
	>"$workdir/gcp-bad.log" 2>&1
grep -q "gcloud: Google refused the service-account key $workdir/sa-bad.json (HTTP 400, invalid_grant: Invalid JWT Signature.)" \
	"$workdir/gcp-bad.log" || fail "gcp: bad key sentence: $(cat "$workdir/gcp-bad.log")"
grep -q "PRIVATE KEY" "$workdir/gcp-bad.log" && fail "gcp: key material in the output"
# A key file others may read is refused before any request.
chmod 644 "$workdir/sa-bad.json"
expect_status 2 mxc "$workdir/gcp-bad.conf" plan "$D" --target-mx "$T" --provider gcp \
	>"$workdir/gcp-perm.log" 2>&1
grep -q "chmod 600" "$workdir/gcp-perm.log" || fail "gcp: world-readable key: $(cat "$workdir/gcp-perm.log")"
kill "${pids[-1]}"

# 7. The service account may read but not change: exit 3 with the role to grant.
gcp_fake gcpd --no-flaky --deny-changes
gcp_conf "$workdir/gcp-deny.conf" "$PORT" "$workdir/sa.json"
expect_status 3 mxc "$workdir/gcp-deny.conf" run "$D" --target-mx "$T" --provider gcp --yes \
	>"$workdir/gcp-deny.log" 2>&1
grep -q "gcloud: the service account cannot change managed zone z-${D//./-} (HTTP 403); grant it roles/dns.admin on the project or a custom role with dns.changes.create and dns.resourceRecordSets.\*" \
	"$workdir/gcp-deny.log" || fail "gcp: 403 sentence: $(tail -3 "$workdir/gcp-deny.log")"
[ "$(mxline)" = "$(legacy_mx)" ] || fail "gcp: a denied run wrote DNS"
kill "${pids[-1]}"

# 8. Compare-and-swap: the RRset changes between read and change; 412 conditionNotMet.
fresh
gcp_fake gcpr --no-flaky --race
gcp_conf "$workdir/gcp-race.conf" "$PORT" "$workdir/sa.json"
expect_status 3 mxc "$workdir/gcp-race.conf" run "$D" --target-mx "$T" --provider gcp --yes \
	>"$workdir/gcp-race.log" 2>&1
grep -q "gcloud: the MX RRset of $D changed behind our back (HTTP 412, conditionNotMet)" \
	"$workdir/gcp-race.log" || fail "gcp: CAS conflict sentence: $(tail -3 "$workdir/gcp-race.log")"
[ "$(mxline)" = "$D. MX 3607 0 ${D//./-}.mail.protection.outlook.test." ] ||
	fail "gcp: the other writer's RRset is left alone: $(mxline)"
kill "${pids[-1]}"

# Secrets never reach the state database.
sqlite3 "$workdir/state.db" .dump >"$workdir/dump.sql"
grep -qF "$(cat "$workdir/r53.secret")" "$workdir/dump.sql" && fail "the AWS secret is in the state database"
grep -q "PRIVATE KEY" "$workdir/dump.sql" && fail "the service-account key is in the state database"

finish
