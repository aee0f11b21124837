#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/e2e_dane.sh — DANE on the wire against the sandbox's SMTP servers: `outbound` for the
# partner domains (3 1 1, 2 1 1 with its chain, a wrong digest, no STARTTLS, expired
# certificates under 3 1 1 and 2 1 1, only usages 0/1, a host that does not answer), the
# MTA-STS side of the verdict, the contract JSON, and `check`'s mx.target.dane.
. "$(dirname "$0")/e2e_lib.sh"

J=$workdir/out.json
PKI=$MX_SANDBOX_DIR/pki
host0() { echo "dom(\"$1\")[\"hosts\"][0]"; }

# ---- partners on port 25 ----
t0=$(date +%s%N)
expect_status 0 mx --json outbound dane-ok.test dane-ta.test dane-wrong.test \
	dane-nostarttls.test dane-expired311.test dane-expired211.test dane-unusable.test \
	dane-down.test >"$J" 2>"$workdir/err"
elapsed_ms=$((($(date +%s%N) - t0) / 1000000))
echo "outbound: 8 partner domains in ${elapsed_ms} ms"
[ "$elapsed_ms" -lt 10000 ] || fail "8 partners took ${elapsed_ms} ms (probes must run side by side)"

# The contract shape.
json_check "$J" 'all(set(["domain","smtp_dane_mode","mta_sts_mode","reason","hosts"]) <= set(d) for d in doc["domains"])'
json_check "$J" 'all(set(["host","mx_secure","address_secure","tlsa","probe"]) <= set(h) for d in doc["domains"] for h in d["hosts"])'
json_check "$J" 'all(d["smtp_dane_mode"] in ("Mandatory","Opportunistic","None") and d["mta_sts_mode"] in ("Opportunistic","None") for d in doc["domains"])'
json_check "$J" 'all(h["tlsa"] in ("usable","unusable","absent","insecure","bogus") and h["probe"] in ("verified","mismatch","no-starttls","unreachable","skipped") for d in doc["domains"] for h in d["hosts"])'
json_check "$J" '[d["domain"] for d in doc["domains"]][0]=="dane-ok.test"'

# 3 1 1 matching: verified, Mandatory, the matched record and the expiry reported.
H=$(host0 dane-ok.test)
json_check "$J" 'dom("dane-ok.test")["smtp_dane_mode"]=="Mandatory" and dom("dane-ok.test")["warning"] is False'
json_check "$J" "$H[\"mx_secure\"] and $H[\"address_secure\"] and $H[\"tlsa\"]==\"usable\" and $H[\"probe\"]==\"verified\""
json_check "$J" "$H[\"probe_detail\"][\"addresses\"][0][\"matched\"]=={\"usage\":3,\"selector\":1,\"matching_type\":1,\"depth\":0}"
json_check "$J" "$H[\"probe_detail\"][\"addresses\"][0][\"days_left\"] > 700 and $H[\"probe_detail\"][\"addresses\"][0][\"starttls\"]"
json_check "$J" "$H[\"probe_detail\"][\"rollover_ready\"] is False and $H[\"probe_detail\"][\"usable_tlsa\"]==1"
json_check "$J" '"-SmtpDaneMode Mandatory -MtaStsMode Opportunistic" in dom("dane-ok.test")["command"]'

# A wrong digest: mismatch → None, with the loud warning (also on stderr).
H=$(host0 dane-wrong.test)
json_check "$J" "$H[\"probe\"]==\"mismatch\" and \"does not match\" in $H[\"probe_detail\"][\"addresses\"][0][\"error\"]"
json_check "$J" 'dom("dane-wrong.test")["smtp_dane_mode"]=="None" and dom("dane-wrong.test")["warning"] is True and "24 h" in dom("dane-wrong.test")["reason"]'
grep -q 'WARNING dane-wrong.test' "$workdir/err" || fail "no warning on stderr for dane-wrong.test"

# No STARTTLS with a TLSA published: no-starttls → None.
H=$(host0 dane-nostarttls.test)
json_check "$J" "$H[\"probe\"]==\"no-starttls\" and $H[\"probe_detail\"][\"addresses\"][0][\"connected\"] and not $H[\"probe_detail\"][\"addresses\"][0][\"starttls\"]"
json_check "$J" 'dom("dane-nostarttls.test")["smtp_dane_mode"]=="None"'

# Expired certificate under 3 1 1: DANE-EE ignores expiry (RFC 7672 §3.1.1) → verified.
H=$(host0 dane-expired311.test)
json_check "$J" "$H[\"probe\"]==\"verified\" and $H[\"probe_detail\"][\"addresses\"][0][\"days_left\"] < 0"
json_check "$J" 'dom("dane-expired311.test")["smtp_dane_mode"]=="Mandatory"'

# Only usages 0/1: unusable, nothing to verify → Opportunistic, no warning.
H=$(host0 dane-unusable.test)
json_check "$J" "$H[\"tlsa\"]==\"unusable\" and $H[\"probe\"]==\"skipped\" and len($H[\"tlsa_records\"])==2"
json_check "$J" 'dom("dane-unusable.test")["smtp_dane_mode"]=="Opportunistic" and not dom("dane-unusable.test")["warning"]'

# A host that does not answer: unreachable, "not verifiable from here" → Opportunistic.
H=$(host0 dane-down.test)
json_check "$J" "$H[\"probe\"]==\"unreachable\" and \"not verifiable from here\" in $H[\"probe_detail\"][\"addresses\"][0][\"error\"]"
json_check "$J" 'dom("dane-down.test")["smtp_dane_mode"]=="Opportunistic" and not dom("dane-down.test")["warning"] and dom("dane-down.test")["reason"].count("from here")==1'

# The sandbox's 2 1 1 servers send only their leaf certificate: RFC 7672 §3.2.2 wants the
# trust anchor in the chain, so real senders fail, and the probe says exactly that.
for d in dane-ta.test dane-expired211.test; do
	H=$(host0 $d)
	json_check "$J" "$H[\"probe\"]==\"mismatch\" and \"trust-anchor certificate in its chain\" in $H[\"probe_detail\"][\"addresses\"][0][\"error\"]"
	json_check "$J" "dom(\"$d\")[\"smtp_dane_mode\"]==\"None\""
done

# ---- 2 1 1 with the chain: the same keys behind servers that send leaf + CA ----
P2=2525
for n in ta expired211; do cat "$PKI/partner-$n.pem" "$PKI/ca.pem" >"$workdir/$n.chain.pem"; done
cat >"$workdir/smtp.json" <<EOF
{"listeners": [
 {"ip": "127.0.6.12", "port": $P2, "host": "mx-ta.partners.test", "cert": "$workdir/ta.chain.pem",
  "key": "$PKI/partner-ta.key", "starttls": true},
 {"ip": "127.0.6.16", "port": $P2, "host": "mx-expired211.partners.test",
  "cert": "$workdir/expired211.chain.pem", "key": "$PKI/partner-expired211.key", "starttls": true}]}
EOF
python3 "$MX_SANDBOX_TOOLS/smtp_server.py" "$workdir/smtp.json" 2>"$workdir/smtp.log" &
smtp_pid=$!
trap 'kill $smtp_pid 2>/dev/null; wait $smtp_pid 2>/dev/null; rm -rf "$workdir"' EXIT
for _ in $(seq 50); do
	grep -q listening "$workdir/smtp.log" && break
	sleep 0.1
done
expect_status 0 mx --json outbound --smtp-port $P2 dane-ta.test dane-expired211.test >"$J"
H=$(host0 dane-ta.test)
json_check "$J" "$H[\"probe\"]==\"verified\" and $H[\"probe_detail\"][\"addresses\"][0][\"matched\"]=={\"usage\":2,\"selector\":1,\"matching_type\":1,\"depth\":1}"
json_check "$J" 'dom("dane-ta.test")["smtp_dane_mode"]=="Mandatory"'
# Expired under 2 1 1: DANE-TA validates the chain at the current time → fails.
H=$(host0 dane-expired211.test)
json_check "$J" "$H[\"probe\"]==\"mismatch\" and \"expired\" in $H[\"probe_detail\"][\"addresses\"][0][\"error\"]"
json_check "$J" 'dom("dane-expired211.test")["smtp_dane_mode"]=="None" and dom("dane-expired211.test")["warning"]'

# ---- MTA-STS side, DNSSEC failures, names that do not exist ----
expect_status 0 mx --json outbound contoso.test sts-nocover.test sts-testing.test \
	migrated.test fabrikam.test bogus.test nosuch-partner.test --connector Partners >"$J" 2>/dev/null
# enforce policy listing the legacy host, certificate valid for MTA-STS → Opportunistic.
json_check "$J" 'dom("contoso.test")["mta_sts_mode"]=="Opportunistic" and dom("contoso.test")["mta_sts"]["mode"]=="enforce" and dom("contoso.test")["hosts"][0]["mta_sts_covered"] is True'
json_check "$J" 'dom("contoso.test")["hosts"][0]["tlsa"]=="absent" and dom("contoso.test")["smtp_dane_mode"]=="Opportunistic"'
json_check "$J" 'dom("contoso.test")["hosts"][0]["probe_detail"]["addresses"][0]["pkix_valid"] is True'
# enforce policy that does not list the MX host → MtaStsMode None, loudly.
json_check "$J" 'dom("sts-nocover.test")["mta_sts_mode"]=="None" and dom("sts-nocover.test")["warning"] and dom("sts-nocover.test")["hosts"][0]["mta_sts_covered"] is False'
json_check "$J" 'dom("sts-testing.test")["mta_sts_mode"]=="Opportunistic" and "testing" in dom("sts-testing.test")["reason"]'
# Already on mx.microsoft: DANE verified and covered by the policy.
json_check "$J" 'dom("migrated.test")["smtp_dane_mode"]=="Mandatory" and dom("migrated.test")["mta_sts_mode"]=="Opportunistic"'
# Unsigned zone: the MX is insecure, DANE does not apply.
json_check "$J" 'dom("fabrikam.test")["hosts"][0]["mx_secure"] is False and dom("fabrikam.test")["smtp_dane_mode"]=="Opportunistic"'
# Bogus chain → None with the resolver's reason.
json_check "$J" 'dom("bogus.test")["smtp_dane_mode"]=="None" and dom("bogus.test")["warning"] and dom("bogus.test")["mx"]["dnssec"]=="bogus" and "bogus" in dom("bogus.test")["reason"]'
json_check "$J" 'dom("nosuch-partner.test")["mx"]["state"]=="nxdomain" and dom("nosuch-partner.test")["hosts"]==[]'
json_check "$J" 'dom("migrated.test")["command"]=="Set-OutboundConnector -Identity \"Partners\" -SmtpDaneMode Mandatory -MtaStsMode Opportunistic"'

# ---- text output, --file, usage errors ----
printf '# partners\ndane-ok.test\ndane-wrong.test  # broken TLSA\n' >"$workdir/list"
out=$(mx outbound --file "$workdir/list" 2>&1)
echo "$out" | grep -q '^dane-ok.test  SmtpDaneMode Mandatory' || fail "text verdict missing: $out"
echo "$out" | grep -q 'WARNING: DANE: mx-wrong.partners.test publishes usable TLSA' || fail "text warning missing: $out"
echo "$out" | grep -q 'Set-OutboundConnector -Identity "<connector to dane-wrong.test>" -SmtpDaneMode None' ||
	fail "cmdlet line missing: $out"
echo "$out" | grep -q '2 partners: 1 Mandatory, 0 Opportunistic, 1 None' || fail "summary missing: $out"
echo "$out" | grep -q $'\033' && fail "colour codes without a terminal"
printf 'dane-ok.test mx-ok.partners.test\n' >"$workdir/list2"
expect_status 2 mx outbound --file "$workdir/list2" 2>/dev/null
expect_status 2 mx outbound 2>/dev/null
expect_status 2 mx outbound 'bad..name' 2>/dev/null
expect_status 2 mx outbound --smtp-port 70000 dane-ok.test 2>/dev/null
# A resolver config that cannot be read is a config error, as for check.
expect_status 2 mx --resolver-conf /nonexistent/unbound.conf outbound dane-ok.test 2>/dev/null
mx outbound --help | grep -q 'SmtpDaneMode' || fail "outbound --help says nothing about SmtpDaneMode"

# ---- check: mx.target.dane ----
C=$workdir/check.json
expect_status 1 mx --json check contoso.test --target-mx contoso-test.o-v1.mx.microsoft.test >"$C"
json_check "$C" 'st("contoso.test","mx.target.dane")=="pass" and check("contoso.test","mx.target.dane")["detail"]["addresses"][0]["matched"]["usage"]==3'
json_check "$C" '[c["id"] for c in dom("contoso.test")["checks"]].index("mx.target.dane")==[c["id"] for c in dom("contoso.test")["checks"]].index("mx.target.tlsa")+1'
expect_status 1 mx --json check contoso.test --target-mx badtlsa-test.o-v1.mx.microsoft.test >"$C"
json_check "$C" 'st("contoso.test","mx.target.dane")=="fail" and "does not match the certificate the server presents" in check("contoso.test","mx.target.dane")["summary"]'
json_check "$C" 'check("contoso.test","mx.target.dane")["detail"]["probe"]=="mismatch"'
expect_status 1 mx --json check contoso.test --target-mx down-test.o-v1.mx.microsoft.test >"$C"
json_check "$C" 'st("contoso.test","mx.target.dane")=="warn" and "not verifiable" in check("contoso.test","mx.target.dane")["summary"]'
expect_status 1 mx --json check contoso.test --target-mx notlsa-test.o-v1.mx.microsoft.test >"$C"
json_check "$C" 'st("contoso.test","mx.target.dane")=="skip"'
expect_status 0 mx --json check fabrikam.test >"$C"
json_check "$C" 'st("fabrikam.test","mx.target.dane")=="skip"'
# smtp_probe = no switches the probe off.
sed 's/^smtp_probe *=.*/smtp_probe = no/' "$MX_CONFIG" >"$workdir/noprobe.conf"
grep -q '^smtp_probe = no' "$workdir/noprobe.conf" || fail "could not switch smtp_probe off"
expect_status 1 mx --config "$workdir/noprobe.conf" --json check contoso.test \
	--target-mx badtlsa-test.o-v1.mx.microsoft.test >"$C"
json_check "$C" 'st("contoso.test","mx.target.dane")=="skip" and "smtp_probe" in check("contoso.test","mx.target.dane")["summary"]'

# Ctrl-C while outbound waits for a partner whose name servers never answer: it stops at
# once, exit 1, its last line says so and that nothing was changed.
BH=obhole$$.test
blackhole_zone "$BH"
(exec "$MXCUTOVER" --config "$MX_CONFIG" --resolver-conf "$MX_RESOLVER_CONF" \
	--cacert "$MX_CACERT" --state "$workdir/state.db" outbound dane-ok.test "$BH" \
	>"$workdir/obint.out" 2>"$workdir/obint.err") &
ob=$!
sleep 3
[ -d /proc/$ob ] || fail "outbound ended within 3 s with a partner that never answers: $(tail -1 "$workdir/obint.err")"
t0=$(date +%s%N)
kill -INT $ob
wait $ob
rc=$?
int_ms=$((($(date +%s%N) - t0) / 1000000))
kill "$BH_PID" 2>/dev/null
[ "$rc" -eq 1 ] || fail "Ctrl-C during outbound: exit $rc, want 1"
tail -1 "$workdir/obint.err" | grep -Eq "^mxcutover: outbound interrupted after [01] of 2 partner domains; nothing was changed" ||
	fail "Ctrl-C during outbound: last line '$(tail -1 "$workdir/obint.err")'"
((int_ms < 2000)) || fail "Ctrl-C during outbound took $int_ms ms"

finish
