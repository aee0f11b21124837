#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/e2e_exchange_run.sh — a cutover and its rollback driven through the Exchange Online
# admin API ([exchange]), against the local stand-in (tests/fakes/exo_api.py): no
# --target-mx (the run provisions the endpoint and takes Exchange's host), the MX confirmed
# with MxValidation, inbound DANE switched on by the run and off by its rollback before the
# legacy MX returns; plan without --target-mx shows every call; a given target that differs
# from Exchange's stops the run before DNS changes; without [exchange] a target is required.
. "$(dirname "$0")/e2e_lib.sh"
. "$(dirname "$0")/exo_lib.sh"
PLAIN=$MX_CONFIG
conf secret "client_secret_file = $workdir/exo.secret"
MX_CONFIG=$workdir/secret.conf
export MXCUTOVER_CLOCK=warp

n=0
fresh() { # fresh → D, T (the host Exchange will assign), L (legacy host); DNSSEC not enabled yet
	n=$((n + 1))
	D=exorun$$x$n.test
	T=$("$MX_SANDBOX_TOOLS/mkzone" "$D" --mtasts none) || fail "mkzone $D"
	L=${D//./-}.mail.protection.outlook.test
	exo "{\"domain\": \"$D\", \"dnssec\": \"Disabled\", \"dane\": \"Disabled\"}" >/dev/null
}
mxset() { dig +short +norec @127.0.3.1 "$1" MX | sort | tr '\n' ' ' | sed 's/ $//'; }
tlsa() { dig +short +norec @127.0.3.1 "_25._tcp.$1" TLSA; }

# 1. plan before the endpoint exists: nothing to plan with yet (exit 1), nothing called.
fresh
exo '{"clear_calls": true}' >/dev/null
expect_status 1 mx plan "$D" --provider pdns >"$workdir/p0.out" 2>"$workdir/p0.err"
tail -1 "$workdir/p0.err" | grep -q "has not provisioned the DNSSEC endpoint yet" ||
	fail "plan before provisioning: $(cat "$workdir/p0.err")"
calls | grep -q "^Enable-" && fail "plan changed the tenant: $(calls)"

# 2. run without --target-mx: provisioned, validated, DANE on, done.
exo '{"clear_calls": true}' >/dev/null
before=$(mxset "$D")
[ "$before" = "0 $L." ] || fail "the zone starts on the legacy host: $before"
[ -z "$(tlsa "$T")" ] || fail "no TLSA before Enable-SmtpDaneInbound"
MXCUTOVER_ENGINE_BUDGET_MS=1000 expect_status 0 mx run "$D" --provider pdns --yes >"$workdir/run.log" 2>&1
[ "$(mxset "$D")" = "0 $T." ] || fail "after the run the MX is $(mxset "$D") ($(tail -3 "$workdir/run.log"))"
# The admin API's calls ran on the engine's own loop, like the provider's (at least
# Enable-DnssecForVerifiedDomain, one Get-DnssecStatusForVerifiedDomain, Enable-SmtpDaneInbound).
grep -Eq "calls: [0-9]+ on the engine's loop \(at most [0-9]+ at once; ([3-9]|[1-9][0-9]+) to Exchange Online\)" \
	"$workdir/run.log" || fail "the admin API's calls did not run on the engine's loop: $(grep 'engine:' "$workdir/run.log")"
[ -n "$(tlsa "$T")" ] || fail "the TLSA appears after Enable-SmtpDaneInbound"
mx --json status "$D" >"$workdir/st.json"
python3 - "$workdir/st.json" "$T" <<'PY' || fail "status: $(cat "$workdir/st.json")"
import json, sys
r = json.load(open(sys.argv[1]))["runs"][0]
assert r["state"] == "done" and r["target"] == sys.argv[2], r
keys = [h["step"] for h in r["history"]]
assert keys.index("exo_provision") < keys.index("preflight"), keys
assert keys.index("raise_ttl") < keys.index("exo_mx_validation") < keys.index("dane_enable"), keys
PY
calls >"$workdir/calls1"
python3 - "$workdir/calls1" <<'PY' || fail "the run's calls: $(cat "$workdir/calls1")"
import sys
c = [l.split()[0] for l in open(sys.argv[1]) if l.strip()]
first = lambda n: c.index(n)
assert first("Enable-DnssecForVerifiedDomain") < first("Get-DnssecStatusForVerifiedDomain") \
    < first("Enable-SmtpDaneInbound"), c
assert "Disable-SmtpDaneInbound" not in c and "Disable-DnssecForVerifiedDomain" not in c, c
PY
grep -q "Exchange Online provisioned the DNSSEC endpoint: the new MX host is $T" "$workdir/run.log" ||
	fail "the run names the host Exchange assigned"
grep -q "EX003" "$workdir/run.log" || fail "preference 0 vs 10 is explained: $(grep -i valid "$workdir/run.log")"

# 3. The rollback switches DANE off first, then the legacy MX returns.
exo '{"clear_calls": true}' >/dev/null
expect_status 0 mx rollback "$D" --yes >"$workdir/rb.log" 2>&1
[ "$(mxset "$D")" = "0 $L." ] || fail "after the rollback the MX is $(mxset "$D") ($(tail -3 "$workdir/rb.log"))"
[ -z "$(tlsa "$T")" ] || fail "the TLSA is withdrawn after the rollback"
calls | grep -q "^Disable-SmtpDaneInbound" || fail "the rollback called Disable-SmtpDaneInbound: $(calls)"
calls | grep -q "^Disable-DnssecForVerifiedDomain" && fail "Disable-DnssecForVerifiedDomain is never called"
mx --json status "$D" | grep -q '"state": "rolled_back"' || fail "the run is rolled back"

# 4. plan once provisioned: the target from Exchange and every call, in every format.
expect_status 0 mx plan "$D" --provider pdns --format json -o "$workdir/p.json" >/dev/null 2>&1
python3 - "$workdir/p.json" "$T" "$D" <<'PY' || fail "the plan with [exchange]: $(head -c 600 "$workdir/p.json")"
import json, sys
p = json.load(open(sys.argv[1]))
t, d = sys.argv[2], sys.argv[3]
assert p["target"] == t and p["exchange"] is True
steps = {s["key"]: s for s in p["steps"]}
assert steps["exo_provision"]["exchange_call"] == "Enable-DnssecForVerifiedDomain -DomainName " + d
assert steps["exo_mx_validation"]["exchange_call"].startswith("Get-DnssecStatusForVerifiedDomain")
assert steps["dane_enable"]["exchange_call"] == "Enable-SmtpDaneInbound -DomainName " + d
rb = {r["key"]: r for r in p["rollback"]}
assert rb["rb_dane"]["exchange_call"] == "Disable-SmtpDaneInbound -DomainName " + d
PY
mx plan "$D" --provider pdns >"$workdir/p.txt" 2>&1
grep -q "calls (Exchange Online admin API): Enable-SmtpDaneInbound -DomainName $D" "$workdir/p.txt" ||
	fail "the text plan shows the calls"
mx plan "$D" --provider pdns --format powershell >"$workdir/p.ps1" 2>&1
grep -q "mxcutover itself calls these cmdlets" "$workdir/p.ps1" || fail "the PowerShell plan says who runs the cmdlets"
# A reviewed plan is the run: the same run with --plan goes through.
expect_status 0 mx run "$D" --provider pdns --yes --plan "$workdir/p.json" >"$workdir/run2.log" 2>&1
[ "$(mxset "$D")" = "0 $T." ] || fail "the planned run: $(tail -3 "$workdir/run2.log")"

# 5. A given target that differs from Exchange's: exit 2 naming both, DNS untouched.
fresh
expect_status 2 mx run "$D" --target-mx "wrong-${D//./-}.o-v1.mx.microsoft.test" --provider pdns \
	--yes >"$workdir/wrong.out" 2>"$workdir/wrong.err"
tail -1 "$workdir/wrong.err" | grep -q "assigned $T as the new MX host (DnssecMxValue), not wrong-" ||
	fail "the wrong target: $(cat "$workdir/wrong.err")"
[ "$(mxset "$D")" = "0 $L." ] || fail "a refused target changed DNS"
# ... and the right one is accepted.
expect_status 0 mx run "$D" --target-mx "$T" --provider pdns --yes >"$workdir/right.log" 2>&1
[ "$(mxset "$D")" = "0 $T." ] || fail "the right target: $(tail -3 "$workdir/right.log")"

# 6. Without [exchange] the target is required.
fresh
MX_CONFIG=$PLAIN expect_status 2 mx run "$D" --provider pdns --yes >/dev/null 2>"$workdir/plain.err"
tail -1 "$workdir/plain.err" | grep -q "has no target host; pass --target-mx" ||
	fail "no target without [exchange]: $(cat "$workdir/plain.err")"

# 7. Exchange Online's passing failures in a run are the engine's deadlines (skipped here by
#    the warp clock), never pauses on a worker: a 500 from the sign-in endpoint, two 503 and a
#    429 (Retry-After 3) from the admin API; the run completes.
fresh
exo '{"clear_calls": true, "inject": [{"method": "POST", "path": "oauth2", "status": 500, "times": 1},
	{"method": "POST", "path": "InvokeCommand", "status": 503, "times": 2},
	{"method": "POST", "path": "InvokeCommand", "status": 429, "retry_after": 3, "times": 1}]}' >/dev/null
expect_status 0 mx run "$D" --provider pdns --yes >"$workdir/faults.log" 2>&1
[ "$(mxset "$D")" = "0 $T." ] || fail "the run through Exchange's failures: $(tail -3 "$workdir/faults.log")"
grep -q "exchange: the Microsoft sign-in endpoint (signing in for Enable-DnssecForVerifiedDomain) failed with HTTP 500" \
	"$workdir/faults.log" || fail "the sign-in's 500 is said: $(grep -i exchange "$workdir/faults.log")"
grep -q "exchange: Exchange Online's admin API (Enable-DnssecForVerifiedDomain) failed with HTTP 503" \
	"$workdir/faults.log" || fail "the API's 503 is said: $(grep -i exchange "$workdir/faults.log")"
grep -q "asked us to wait 3 s (HTTP 429)" "$workdir/faults.log" ||
	fail "the API's 429 is said: $(grep -i exchange "$workdir/faults.log")"
grep -q "waiting for Exchange Online's rate limit (3 s)" "$workdir/faults.log" ||
	fail "the wait names Exchange Online: $(grep -i waiting "$workdir/faults.log")"
grep -q "the step runs again in" "$workdir/faults.log" || fail "the engine waits: $(cat "$workdir/faults.log")"
# 503 every time: the run stops resumable after its tries, naming the cmdlet and the status.
fresh
exo '{"inject": [{"method": "POST", "path": "InvokeCommand", "status": 503, "times": 100}]}' >/dev/null
expect_status 3 mx run "$D" --provider pdns --yes >"$workdir/down.out" 2>"$workdir/down.err"
tail -1 "$workdir/down.err" | grep -q "after [0-9]* tries: exchange: Exchange Online's admin API (Enable-DnssecForVerifiedDomain) failed with HTTP 503" ||
	fail "Exchange down: $(tail -3 "$workdir/down.err")"
exo '{"clear_inject": true}' >/dev/null
[ "$(mxset "$D")" = "0 $L." ] || fail "a run that could not provision changed DNS"
# A server error that is the cmdlet's own failure (not rolled out to this tenant) is said at
# once, not retried as a passing one.
fresh
exo '{"inject": [{"method": "POST", "path": "InvokeCommand", "status": 500, "times": 1, "body":
	{"error": {"code": "CommandNotFoundException", "message": "The term Enable-DnssecForVerifiedDomain is not recognized"}}}]}' >/dev/null
expect_status 2 mx run "$D" --provider pdns --yes >"$workdir/nocmd.out" 2>"$workdir/nocmd.err"
tail -1 "$workdir/nocmd.err" | grep -q "cmdlet Enable-DnssecForVerifiedDomain is not available in tenant" ||
	fail "a missing cmdlet: $(tail -3 "$workdir/nocmd.err")"
grep -q "tries" "$workdir/nocmd.err" && fail "a missing cmdlet is not retried: $(cat "$workdir/nocmd.err")"
exo '{"clear_inject": true}' >/dev/null

# Secrets and tokens never reach the state database or the logs.
grep -a -q -- "$SECRET" "$workdir/state.db" "$workdir"/*.log "$workdir"/*.err 2>/dev/null &&
	fail "the client secret leaked"

finish
