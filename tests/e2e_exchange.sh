#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/e2e_exchange.sh — the [exchange] section through the real binary, against the local
# stand-in of the Exchange Online admin API and its token endpoint (tests/fakes/exo_api.py),
# which publishes a managed target's TLSA in the sandbox's endpoint zone only while inbound
# DANE is enabled: check without --target-mx (the host comes from Exchange), check --tenant,
# a given target that differs, a wrong secret, a certificate credential, a token that
# expires, 429 with Retry-After, the errors a person sees (no Exchange.ManageAsApp, no
# role, a domain that is not accepted, a cmdlet the tenant lacks), outbound --apply and its
# rollback; secrets and tokens appear in no output and not in the state database.
. "$(dirname "$0")/e2e_lib.sh"
. "$(dirname "$0")/exo_lib.sh"
PLAIN=$MX_CONFIG
conf secret "client_secret_file = $workdir/exo.secret"
conf badsecret "client_secret_file = $workdir/exo-bad.secret"
conf cert "certificate_file = $workdir/app.pem"
conf othercert "certificate_file = $workdir/other.pem"
conf envsecret "client_secret_env = MX_E2E_EXO_SECRET"
MX_CONFIG=$workdir/secret.conf

n=0
fresh() { # fresh [mkzone options] → D (domain), T (target host), registered with the fake
	n=$((n + 1))
	D=exo$$x$n.test
	T=$("$MX_SANDBOX_TOOLS/mkzone" "$D" --mtasts none "$@") || fail "mkzone $D"
}
tlsa() { dig +short +norec @127.0.3.1 "_25._tcp.$1" TLSA; }

# 1. check without --target-mx: the target is the host Exchange assigned. The fake manages
#    the domain with DANE off, so the target's TLSA is gone (mx.target.tlsa warns).
fresh
exo "{\"domain\": \"$D\", \"dnssec\": \"Enabled\"}" >/dev/null
[ -z "$(tlsa "$T")" ] || fail "a managed domain's TLSA stays while DANE is off"
expect_status 0 mx --json check "$D" >"$workdir/check.json" 2>"$workdir/check.err"
json_check "$workdir/check.json" "st('$D','exchange.access') == 'pass'"
json_check "$workdir/check.json" "st('$D','exchange.dnssec') == 'pass'"
json_check "$workdir/check.json" "check('$D','exchange.dnssec')['detail']['expected_host'] == '$T'"
json_check "$workdir/check.json" "check('$D','exchange.dnssec')['detail']['expected_preference'] == 10"
json_check "$workdir/check.json" "'EX001' in check('$D','exchange.dnssec')['detail']['mx_validation']['errors'][0]"
json_check "$workdir/check.json" "'final_preference' in check('$D','exchange.dnssec')['summary']"
json_check "$workdir/check.json" "st('$D','mx.target') == 'pass'"
json_check "$workdir/check.json" "st('$D','mx.target.tlsa') == 'warn'"
calls | grep -q "^Enable-" && fail "check changed the tenant: $(calls)"

# The same target given explicitly is fine; a different one is refused naming both hosts.
expect_status 0 mx check "$D" --target-mx "$T" >/dev/null 2>&1
OTHER=contoso-test.o-v1.mx.microsoft.test
expect_status 2 mx check "$D" --target-mx "$OTHER" >"$workdir/differs.log" 2>&1
tail -1 "$workdir/differs.log" | grep -q "$OTHER.*$T" ||
	fail "a differing target names both hosts: $(cat "$workdir/differs.log")"

# 2. A domain whose endpoint is not provisioned yet: exchange.dnssec warns, check never calls
#    Enable-DnssecForVerifiedDomain, the target checks skip.
fresh
D2=$D
exo "{\"domain\": \"$D2\"}" >/dev/null
exo '{"clear_calls": true}' >/dev/null
expect_status 0 mx --json check "$D2" >"$workdir/check2.json" 2>/dev/null
json_check "$workdir/check2.json" "st('$D2','exchange.dnssec') == 'warn'"
json_check "$workdir/check2.json" "st('$D2','mx.target') == 'skip'"
calls | grep -q "^Enable-" && fail "check provisioned the endpoint: $(calls)"

# 3. check --tenant: every accepted domain but *.onmicrosoft.com.
expect_status 0 mx --json check --tenant >"$workdir/tenant.json" 2>"$workdir/tenant.err"
json_check "$workdir/tenant.json" "sorted(d['domain'] for d in doc['domains']) == sorted(['$D2', 'exo$$x1.test'])"
grep -q "onmicrosoft.com domain left out" "$workdir/tenant.err" || fail "--tenant says what it left out: $(cat "$workdir/tenant.err")"
expect_status 2 mx check --tenant "$D2" >/dev/null 2>&1
MX_CONFIG=$PLAIN
expect_status 2 mx check --tenant >"$workdir/notenant.log" 2>&1
grep -q "needs an \[exchange\] section" "$workdir/notenant.log" || fail "--tenant without [exchange]: $(cat "$workdir/notenant.log")"
# Without [exchange] nothing changes: no exchange checks, the target is given.
expect_status 0 mx --json check "$D" --target-mx "$T" >"$workdir/plain.json" 2>/dev/null
json_check "$workdir/plain.json" "not any(c['id'].startswith('exchange.') for c in doc['domains'][0]['checks'])"
MX_CONFIG=$workdir/secret.conf

# 4. Credentials: a wrong secret, a certificate, an unregistered certificate, a secret from
#    the environment.
D1=exo$$x1.test
MX_CONFIG=$workdir/badsecret.conf
expect_status 1 mx --json check "$D1" >"$workdir/bad.json" 2>"$workdir/bad.err"
json_check "$workdir/bad.json" "st('$D1','exchange.access') == 'fail'"
json_check "$workdir/bad.json" "'the client secret of app app-0001 was refused by tenant tenant-e2e.onmicrosoft.com (HTTP 401, AADSTS7000215)' in check('$D1','exchange.access')['summary']"
json_check "$workdir/bad.json" "st('$D1','exchange.dnssec') == 'skip'"
MX_CONFIG=$workdir/cert.conf
exo '{"clear_calls": true}' >/dev/null
expect_status 0 mx --json check "$D1" >"$workdir/cert.json" 2>"$workdir/cert.err"
json_check "$workdir/cert.json" "st('$D1','exchange.access') == 'pass' and st('$D1','exchange.dnssec') == 'pass'"
exo '{}' | grep -q '"credentials": \["certificate"' || fail "the certificate credential was used: $(exo '{}')"
MX_CONFIG=$workdir/othercert.conf
expect_status 1 mx --json check "$D1" >"$workdir/othercert.json" 2>/dev/null
json_check "$workdir/othercert.json" "'the certificate of app app-0001 was refused' in check('$D1','exchange.access')['summary']"
MX_CONFIG=$workdir/envsecret.conf
MX_E2E_EXO_SECRET=$SECRET expect_status 0 mx check "$D1" >/dev/null 2>&1
MX_CONFIG=$workdir/secret.conf

# 5. The API's refusals, each with its fix; 429 with Retry-After and 5xx are retried; an
#    expired token is renewed.
exo '{"permission": false}' >/dev/null
expect_status 1 mx --json check "$D1" >"$workdir/perm.json" 2>/dev/null
json_check "$workdir/perm.json" "'Exchange.ManageAsApp' in check('$D1','exchange.access')['summary']"
exo '{"permission": true, "role": "none"}' >/dev/null
expect_status 1 mx --json check "$D1" >"$workdir/role.json" 2>/dev/null
json_check "$workdir/role.json" "'may not run Get-DnssecStatusForVerifiedDomain' in check('$D1','exchange.access')['summary'] and 'Exchange role' in check('$D1','exchange.access')['summary']"
exo '{"role": "admin"}' >/dev/null
fresh
expect_status 1 mx --json check "$D" >"$workdir/notaccepted.json" 2>/dev/null
json_check "$workdir/notaccepted.json" "st('$D','exchange.access') == 'pass' and 'is not an accepted domain of tenant tenant-e2e.onmicrosoft.com' in check('$D','exchange.dnssec')['summary']"
exo '{"unavailable": ["Get-DnssecStatusForVerifiedDomain"]}' >/dev/null
expect_status 1 mx --json check "$D1" >"$workdir/unavail.json" 2>/dev/null
json_check "$workdir/unavail.json" "'cmdlet Get-DnssecStatusForVerifiedDomain is not available in tenant' in check('$D1','exchange.dnssec')['summary']"
exo '{"unavailable": []}' >/dev/null
exo '{"token_lifetime": 1}' >/dev/null
exo '{"inject": [{"method": "POST", "path": "InvokeCommand", "status": 429, "retry_after": 1, "times": 1},
	{"method": "POST", "path": "InvokeCommand", "status": 503, "times": 1}]}' >/dev/null
before=$(exo '{}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens_issued"])')
expect_status 0 mx --json check "$D1" >"$workdir/retry.json" 2>"$workdir/retry.err"
json_check "$workdir/retry.json" "st('$D1','exchange.dnssec') == 'pass'"
issued() { exo '{}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens_issued"])'; }
[ "$(issued)" -gt "$before" ] || fail "a token that expired within the command was renewed"
# A token revoked in the middle of a command is renewed once, and the command goes on.
exo '{"token_lifetime": 3599, "expire_after_calls": 1}' >/dev/null
before=$(issued)
expect_status 0 mx --json check "$D1" >"$workdir/renew.json" 2>/dev/null
json_check "$workdir/renew.json" "st('$D1','exchange.dnssec') == 'pass' and check('$D1','exchange.dnssec')['detail']['smtp_dane_status'] == 'Disabled'"
[ "$(issued)" -eq $((before + 2)) ] || fail "one renewal after the token expired: $before → $(issued)"

# 6. outbound --apply: the connector is read, set to the modes every partner can take, and
#    journaled; rollback --outbound restores what it found.
C="To partners"
exo "{\"connector\": {\"Identity\": \"$C\", \"SmtpDaneMode\": \"Opportunistic\", \"MtaStsMode\": \"None\"}}" >/dev/null
connector() { exo '{}' | python3 -c "import json,sys; c=json.load(sys.stdin)['connectors']['$C']; print(c['SmtpDaneMode'], c['MtaStsMode'])"; }
expect_status 2 mx outbound --apply "$C" dane-ok.test </dev/null >"$workdir/noyes.log" 2>&1
grep -q -- "--yes" "$workdir/noyes.log" || fail "outbound --apply without a terminal asks for --yes"
expect_status 0 mx --json outbound --apply "$C" --yes dane-ok.test >"$workdir/apply.json" 2>"$workdir/apply.err"
python3 - "$workdir/apply.json" <<'PY' || fail "outbound --apply JSON: $(cat "$workdir/apply.json")"
import json, sys
doc = json.load(open(sys.argv[1]))
a = doc["apply"]
assert doc["domains"][0]["smtp_dane_mode"] == "Mandatory"
assert a["changed"] and a["before"] == {"SmtpDaneMode": "Opportunistic", "MtaStsMode": "None"}
assert a["after"] == {"SmtpDaneMode": "Mandatory", "MtaStsMode": "Opportunistic"}, a
PY
[ "$(connector)" = "Mandatory Opportunistic" ] || fail "connector after --apply: $(connector)"
[ "$(sqlite3 "$workdir/state.db" "SELECT state || ' ' || before FROM connector_changes")" = \
	'applied {"MtaStsMode":"None","SmtpDaneMode":"Opportunistic"}' ] ||
	fail "the change is journaled: $(sqlite3 "$workdir/state.db" 'SELECT * FROM connector_changes')"
grep -q "SmtpDaneMode Opportunistic → Mandatory" "$workdir/apply.err" || fail "apply says what changed: $(cat "$workdir/apply.err")"
# Applying again changes nothing; a partner that cannot take DANE pulls the connector to None.
expect_status 0 mx outbound --apply "$C" --yes dane-ok.test >"$workdir/again.log" 2>&1
grep -q "already has these modes" "$workdir/again.log" || fail "apply again: $(tail -3 "$workdir/again.log")"
expect_status 0 mx outbound --apply "$C" --yes dane-ok.test dane-wrong.test >"$workdir/mixed.log" 2>&1
[ "$(connector)" = "None Opportunistic" ] || fail "connector for a mixed set: $(connector)"
# Rollbacks unwind: first to Mandatory (what the second apply found), then to the original.
expect_status 2 mx rollback --outbound "$C" </dev/null >/dev/null 2>&1
expect_status 0 mx rollback --outbound "$C" --yes >"$workdir/rb1.log" 2>&1
[ "$(connector)" = "Mandatory Opportunistic" ] || fail "first rollback: $(connector) ($(cat "$workdir/rb1.log"))"
expect_status 0 mx --json rollback --outbound "$C" --yes >"$workdir/rb2.json" 2>"$workdir/rb2.err"
[ "$(connector)" = "Opportunistic None" ] || fail "second rollback: $(connector) ($(cat "$workdir/rb2.err"))"
json_check "$workdir/rb2.json" "doc['smtp_dane_mode'] == 'Opportunistic' and doc['mta_sts_mode'] == 'None'"
expect_status 2 mx rollback --outbound "$C" --yes >"$workdir/rb3.log" 2>&1
tail -1 "$workdir/rb3.log" | grep -q "nothing to roll back" || fail "third rollback: $(cat "$workdir/rb3.log")"
# A connector changed behind our back is not overwritten by a rollback.
expect_status 0 mx outbound --apply "$C" --yes dane-ok.test >/dev/null 2>&1
exo "{\"connector\": {\"Identity\": \"$C\", \"SmtpDaneMode\": \"None\", \"MtaStsMode\": \"None\"}}" >/dev/null
expect_status 3 mx rollback --outbound "$C" --yes >"$workdir/rb4.log" 2>&1
tail -1 "$workdir/rb4.log" | grep -q "someone changed it" || fail "rollback over a foreign change: $(cat "$workdir/rb4.log")"
[ "$(connector)" = "None None" ] || fail "the foreign change stays: $(connector)"
# Unknown connector; no [exchange].
expect_status 2 mx outbound --apply "No such" --yes dane-ok.test >/dev/null 2>"$workdir/nosuch.log"
tail -1 "$workdir/nosuch.log" | grep -q 'outbound connector "No such" was not found' || fail "unknown connector: $(tail -1 "$workdir/nosuch.log")"
MX_CONFIG=$PLAIN
expect_status 2 mx outbound --apply "$C" --yes dane-ok.test >/dev/null 2>"$workdir/plainapply.log"
tail -1 "$workdir/plainapply.log" | grep -q "needs an \[exchange\] section" || fail "--apply without [exchange]: $(tail -1 "$workdir/plainapply.log")"
MX_CONFIG=$workdir/secret.conf

# 7. A slow admin API: every InvokeCommand held 0.5 s. check --tenant's Exchange checks (two
#    calls a domain) overlap, at most 8 at once: for 10 domains one after another they alone
#    would take 10 s or more.
for i in 1 2 3 4 5 6 7 8; do exo "{\"domain\": \"slowexo$$x$i.test\"}" >/dev/null; done
exo '{"inject": [{"method": "POST", "path": "InvokeCommand", "delay": 0.5, "times": 1000}]}' >/dev/null
t0=$(date +%s%N)
expect_status 1 mx --json check --tenant >"$workdir/slowtenant.json" 2>"$workdir/slowtenant.err"
took=$((($(date +%s%N) - t0) / 1000000))
exo '{"clear_inject": true}' >/dev/null
json_check "$workdir/slowtenant.json" "len(doc['domains']) >= 10 and all(st(d['domain'], 'exchange.access') == 'pass' for d in doc['domains'])"
((took < 6000)) || fail "check --tenant of 10 domains with every admin API call held 0.5 s took $took ms: the Exchange checks did not overlap"
echo "check --tenant, 10 domains, every InvokeCommand held 0.5 s: $took ms"

# 8. Secrets and tokens: in no output, no message, not in the state database.
sqlite3 "$workdir/state.db" .dump >"$workdir/dump.sql"
exo '{"list_tokens": true}' | python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)["tokens"]))' >"$workdir/tokens.txt"
[ -s "$workdir/tokens.txt" ] || fail "the fake issued tokens"
for f in "$workdir"/*.json "$workdir"/*.log "$workdir"/*.err "$workdir/dump.sql"; do
	grep -qF "$SECRET" "$f" && fail "the client secret is in $f"
	grep -qF -f "$workdir/tokens.txt" "$f" && fail "an access token is in $f"
	grep -q "BEGIN PRIVATE KEY\|client_assertion" "$f" && fail "the certificate key or assertion is in $f"
done

finish
