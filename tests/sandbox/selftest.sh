#!/usr/bin/env bash
# Sandbox self-test. Run under the sandbox:
#   tests/sandbox/sandbox exec -- tests/sandbox/selftest.sh
# Checks that every server answers its zones on port 53, that the DNSSEC chain validates as
# designed (through libunbound with $MX_RESOLVER_CONF, when cc + libunbound-dev are present),
# that the HTTPS (MTA-STS) and SMTP (STARTTLS) servers behave, RFC 2136 on BIND, and mkzone.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${MX_SANDBOX_DIR:?run me under tests/sandbox/sandbox exec}"
D=$MX_SANDBOX_DIR
PASS=0 FAIL=0
ok() { PASS=$((PASS + 1)); [[ -n ${VERBOSE:-} ]] && echo "ok   $*"; return 0; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL $*"; }
check() { # description, command...
  local desc=$1; shift
  if "$@" >/dev/null 2>&1; then ok "$desc"; else bad "$desc"; fi
}
dq() { dig +norec +time=2 +tries=1 "$@"; }

# ---- authoritative answers on port 53
aa_soa() { # server zone
  local out; out=$(dq @"$1" "$2" SOA)
  grep -q 'status: NOERROR' <<<"$out" && grep -q 'flags: qr aa' <<<"$out"
}
check "root SOA @127.0.1.1" aa_soa 127.0.1.1 .
check "test. SOA @127.0.2.1" aa_soa 127.0.2.1 test
check "test. SOA @127.0.2.2" aa_soa 127.0.2.2 test
CHILD_ZONES="contoso.test fabrikam.test bogus.test sts-testing.test sts-none.test sts-nocover.test
  sts-covers.test sts-redirect.test sts-404.test sts-big.test sts-ctype.test sts-badcert.test
  sts-badtxt.test tlsrpt-absent.test tlsrpt-bad.test nospf.test fallback.test pref20.test pref10.test
  migrated.test split.test outlook.test mx.microsoft.test elsewhere.test partners.test
  dane-ok.test dane-ta.test dane-wrong.test dane-nostarttls.test dane-expired311.test
  dane-expired211.test dane-unusable.test dane-down.test"
for z in $CHILD_ZONES; do
  check "$z SOA @127.0.3.1" aa_soa 127.0.3.1 "$z"
  [[ $z == split.test ]] || check "$z SOA @127.0.3.2" aa_soa 127.0.3.2 "$z"
done
check "expired.test SOA @127.0.4.1" aa_soa 127.0.4.1 expired.test
check "northwind.test SOA @127.0.4.2" aa_soa 127.0.4.2 northwind.test
check "northwind.test SOA @127.0.4.3" aa_soa 127.0.4.3 northwind.test
check "split.test SOA @127.0.4.4" aa_soa 127.0.4.4 split.test

referral() { # server name expect-ds(1/0)
  local out; out=$(dq +dnssec @"$1" "$2" SOA)
  grep -q 'flags: qr;' <<<"$out" || return 1
  grep -qE "^$2\.[[:space:]].*IN[[:space:]]+NS" <<<"$out" || return 1
  if [[ $3 == 1 ]]; then grep -qE "IN[[:space:]]+DS[[:space:]]" <<<"$out"; else ! grep -qE "IN[[:space:]]+DS[[:space:]]" <<<"$out"; fi
}
check "root refers test. with DS" referral 127.0.1.1 test 1
check "test. refers contoso.test with DS" referral 127.0.2.1 contoso.test 1
check "test. refers fabrikam.test without DS" referral 127.0.2.1 fabrikam.test 0
check "test. refers northwind.test with DS" referral 127.0.2.1 northwind.test 1
check "test. refers expired.test with DS" referral 127.0.2.1 expired.test 1
check "child does not answer test." bash -c "! dig +norec @127.0.3.1 test SOA | grep -q 'flags: qr aa'"

serial() { dq +short @"$1" "$2" SOA | awk '{print $3}'; }
s1=$(serial 127.0.3.1 split.test) s2=$(serial 127.0.4.4 split.test)
if [[ -n $s1 && -n $s2 && $s1 != "$s2" ]]; then ok "split.test serials differ ($s1/$s2)"; else bad "split.test serials ($s1/$s2)"; fi

# ---- DNSSEC through libunbound with the product's resolver config
UB=$D/ubcheck
if [[ ! -x $UB ]] && command -v cc >/dev/null && [[ -f /usr/include/unbound.h ]]; then
  cc -O1 -o "$UB" "$HERE/ubcheck.c" -lunbound 2>/dev/null || true
fi
if [[ -x $UB ]]; then
  expect() { # status name type
    local line; line=$("$UB" "$MX_RESOLVER_CONF" "$2" "$3" 2>&1)
    if [[ $line == "$2 $3 $1 "* ]]; then ok "validate $2 $3 = $1"; else bad "validate $2 $3: want $1, got: $line"; fi
  }
  expect secure contoso.test MX
  expect secure contoso.test DNSKEY
  expect secure _mta-sts.contoso.test TXT
  expect secure _smtp._tls.contoso.test TXT
  expect secure mta-sts.contoso.test A
  expect insecure fabrikam.test MX
  expect bogus bogus.test MX
  expect bogus expired.test MX
  expect secure northwind.test MX
  expect secure split.test MX
  expect secure migrated.test MX
  expect secure contoso-test.o-v1.mx.microsoft.test A
  expect secure _25._tcp.contoso-test.o-v1.mx.microsoft.test TLSA
  expect secure notlsa-test.o-v1.mx.microsoft.test A
  expect secure _25._tcp.notlsa-test.o-v1.mx.microsoft.test TLSA  # secure NXDOMAIN
  expect secure badtlsa-test.o-v1.mx.microsoft.test A
  expect secure _25._tcp.down-test.o-v1.mx.microsoft.test TLSA
  expect secure contoso-test.mail.protection.outlook.test A
  expect secure spf.protection.outlook.test TXT
  expect secure mx.elsewhere.test A
  for p in ok ta wrong nostarttls expired311 expired211 unusable down; do
    expect secure dane-$p.test MX
    expect secure mx-$p.partners.test A
    expect secure _25._tcp.mx-$p.partners.test TLSA
  done
  expect secure nonexistent.test A
else
  echo "note: no cc/libunbound-dev: skipping libunbound validation checks"
fi

# ---- HTTPS (MTA-STS)
fetch() { # host -> prints "code ctype size"
  curl -s -o /dev/null --max-time 5 --cacert "$MX_CACERT" --resolve "$1:443:127.0.5.1" \
    -w '%{http_code} %{content_type} %{size_download}' "https://$1/.well-known/mta-sts.txt"
}
want_fetch() { # host pattern
  local r; r=$(fetch "$1")
  if [[ $r == $2 ]]; then ok "https $1 -> $r"; else bad "https $1: got '$r', want '$2'"; fi
}
want_fetch mta-sts.contoso.test '200 text/plain *'
want_fetch mta-sts.sts-testing.test '200 text/plain *'
want_fetch mta-sts.sts-none.test '404 *'
want_fetch mta-sts.sts-redirect.test '301 *'
want_fetch mta-sts.sts-404.test '404 *'
want_fetch mta-sts.sts-ctype.test '200 text/html*'
r=$(fetch mta-sts.sts-big.test); sz=${r##* }
if [[ $r == 200* && $sz -gt 65536 ]]; then ok "https sts-big $sz bytes"; else bad "https sts-big: $r"; fi
if curl -s -o /dev/null --max-time 5 --cacert "$MX_CACERT" --resolve mta-sts.sts-badcert.test:443:127.0.5.1 \
  https://mta-sts.sts-badcert.test/.well-known/mta-sts.txt; then bad "sts-badcert accepted"; else ok "sts-badcert rejected"; fi
body=$(curl -s --max-time 5 --cacert "$MX_CACERT" --resolve mta-sts.contoso.test:443:127.0.5.1 https://mta-sts.contoso.test/.well-known/mta-sts.txt)
if grep -q 'mode: enforce' <<<"$body"; then ok "contoso policy body"; else bad "contoso policy body: $body"; fi

# ---- SMTP STARTTLS
starttls() { # ip servername -> prints the verify result line
  timeout 5 openssl s_client -brief -starttls smtp -connect "$1:25" -servername "$2" -CAfile "$MX_CACERT" \
    -verify_hostname "$2" </dev/null 2>&1
}
spki() { openssl x509 -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | awk '{print toupper($1)}'; }
smtp_ok() { starttls "$1" "$2" | grep -q 'Verification: OK'; }
check "smtp target 127.0.6.1 STARTTLS verifies" smtp_ok 127.0.6.1 contoso-test.o-v1.mx.microsoft.test
check "smtp legacy 127.0.6.2 STARTTLS verifies" smtp_ok 127.0.6.2 contoso-test.mail.protection.outlook.test
check "smtp mx-ok STARTTLS" smtp_ok 127.0.6.11 mx-ok.partners.test
check "smtp mx-ta STARTTLS" smtp_ok 127.0.6.12 mx-ta.partners.test
got=$(timeout 5 openssl s_client -starttls smtp -connect 127.0.6.1:25 </dev/null 2>/dev/null | spki)
tl=$(dig +short @127.0.3.1 _25._tcp.contoso-test.o-v1.mx.microsoft.test TLSA | awk '{print toupper($4 $5)}')
if [[ -n $got && $got == "$tl" ]]; then ok "target cert matches TLSA 3 1 1"; else bad "target TLSA: cert $got dns $tl"; fi
got=$(timeout 5 openssl s_client -starttls smtp -connect 127.0.6.15:25 </dev/null 2>/dev/null | spki)
tl=$(dig +short @127.0.3.1 _25._tcp.mx-expired311.partners.test TLSA | awk '{print toupper($4 $5)}')
if [[ -n $got && $got == "$tl" ]]; then ok "expired311 cert matches TLSA"; else bad "expired311 TLSA: cert $got dns $tl"; fi
if starttls 127.0.6.16 mx-expired211.partners.test | grep -q 'expired'; then ok "expired211 cert is expired"; else bad "expired211 not expired"; fi
banner=$(printf 'EHLO x\r\nQUIT\r\n' | timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.6.14/25; cat >&3; cat <&3')
if grep -q '^250' <<<"$banner" && ! grep -q STARTTLS <<<"$banner"; then ok "nostarttls offers no STARTTLS"; else bad "nostarttls: $banner"; fi
if (exec 3<>/dev/tcp/127.0.6.99/25) 2>/dev/null; then bad "127.0.6.99:25 answers"; else ok "127.0.6.99:25 refused"; fi

# ---- RFC 2136 on BIND (TSIG) and re-signing
secret=$(cat "$TSIG_KEYFILE")
nsupdate -y "$TSIG_ALG:$TSIG_NAME:$secret" <<EOF >/dev/null 2>&1
server $BIND_SERVER 53
zone northwind.test
update add selftest.northwind.test 60 TXT "hello"
send
EOF
sleep 0.3
if dq +dnssec @"$BIND_SERVER" selftest.northwind.test TXT | grep -q 'RRSIG.*TXT 13'; then ok "nsupdate add signed"; else bad "nsupdate add"; fi
[[ -x $UB ]] && expect secure selftest.northwind.test TXT
nsupdate -y "$TSIG_ALG:$TSIG_NAME:$secret" <<EOF >/dev/null 2>&1
server $BIND_SERVER 53
zone northwind.test
update delete selftest.northwind.test TXT
send
EOF
if nsupdate -y "$TSIG_ALG:$TSIG_NAME:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" <<EOF >/dev/null 2>&1
server $BIND_SERVER 53
zone northwind.test
update add bad.northwind.test 60 TXT "x"
send
EOF
then bad "nsupdate with wrong key accepted"; else ok "nsupdate with wrong key refused"; fi

# ---- PowerDNS API + mkzone
if curl -sf -H "X-API-Key: $(cat "$PDNS_API_KEY_FILE")" "$PDNS_API_URL/api/v1/servers/localhost/zones/contoso.test." >/dev/null; then ok "pdns API"; else bad "pdns API"; fi
n=st$RANDOM$RANDOM.test
t0=$(date +%s%N)
tgt=$("$HERE/mkzone" "$n")
ms=$((($(date +%s%N) - t0) / 1000000))
if [[ $tgt == "${n//./-}.o-v1.mx.microsoft.test" ]] && ((ms < 2000)); then ok "mkzone $n in ${ms} ms"; else bad "mkzone $n: '$tgt' ${ms} ms"; fi
if [[ -x $UB ]]; then expect secure "$n" MX; expect secure "_25._tcp.$tgt" TLSA; fi
want_fetch "mta-sts.$n" '200 text/plain *'

echo "selftest: $PASS passed, $FAIL failed"
((FAIL == 0))
