#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/e2e_check.sh — `mxcutover check` against the sandbox: every check in every state,
# the contract JSON, exit statuses, and the text output.
. "$(dirname "$0")/e2e_lib.sh"

J=$workdir/check.json
T=contoso-test.o-v1.mx.microsoft.test

# The demo domain: everything passes except coverage by the enforce policy (listing only the
# legacy pattern) — exactly what the run's mtasts_stage step fixes.
expect_status 1 mx --json check contoso.test --target-mx "$T" >"$J"
json_check "$J" 'dom("contoso.test")["ready"] is False'
json_check "$J" 'st("contoso.test","zone.dnssec")=="pass" and check("contoso.test","zone.dnssec")["detail"]["state"]=="secure"'
json_check "$J" 'st("contoso.test","ns.consistency")=="pass" and len(check("contoso.test","ns.consistency")["detail"]["servers"])==2'
json_check "$J" 'st("contoso.test","mx.current")=="pass"'
json_check "$J" 'st("contoso.test","mx.target")=="pass"'
json_check "$J" 'st("contoso.test","mx.target.tlsa")=="pass"'
json_check "$J" 'st("contoso.test","mtasts.record")=="pass" and check("contoso.test","mtasts.record")["detail"]["id"]=="20260101T000000"'
json_check "$J" 'st("contoso.test","mtasts.policy")=="pass" and check("contoso.test","mtasts.policy")["detail"]["mode"]=="enforce"'
json_check "$J" 'st("contoso.test","mtasts.covers_target")=="fail"'
json_check "$J" 'st("contoso.test","tlsrpt")=="pass"'
json_check "$J" 'st("contoso.test","spf")=="pass"'
json_check "$J" '"provider.access" not in [c["id"] for c in dom("contoso.test")["checks"]]'
json_check "$J" 'all(set(c)=={"id","status","summary","detail"} for c in dom("contoso.test")["checks"])'

# A policy that lists the target: ready.
expect_status 0 mx --json check sts-covers.test --target-mx "$T" >"$J"
json_check "$J" 'dom("sts-covers.test")["ready"] is True and st("sts-covers.test","mtasts.covers_target")=="pass"'

# Without a target the target checks are skipped and say where the value comes from.
expect_status 0 mx --json check fabrikam.test >"$J"
json_check "$J" 'st("fabrikam.test","mx.target")=="skip" and "DnssecMxValue" in check("fabrikam.test","mx.target")["summary"]'
json_check "$J" 'st("fabrikam.test","zone.dnssec")=="warn" and check("fabrikam.test","zone.dnssec")["detail"]["state"]=="insecure"'

# Bogus (DS mismatch) and expired signatures: fail, with why_bogus.
expect_status 1 mx --json check bogus.test expired.test >"$J"
json_check "$J" 'st("bogus.test","zone.dnssec")=="fail" and check("bogus.test","zone.dnssec")["detail"]["state"]=="bogus" and check("bogus.test","zone.dnssec")["detail"]["why_bogus"]'
json_check "$J" 'st("expired.test","zone.dnssec")=="fail" and "expired" in check("expired.test","zone.dnssec")["detail"]["why_bogus"]'

# MTA-STS in every state.
expect_status 1 mx --json check sts-testing.test sts-none.test sts-nocover.test sts-redirect.test \
	sts-404.test sts-big.test sts-ctype.test sts-badcert.test sts-badtxt.test \
	--file /dev/null >"$J"
json_check "$J" 'check("sts-testing.test","mtasts.policy")["detail"]["mode"]=="testing"'
json_check "$J" 'st("sts-none.test","mtasts.record")=="skip" and st("sts-none.test","mtasts.policy")=="skip"'
json_check "$J" 'st("sts-redirect.test","mtasts.policy")=="fail" and "redirect" in check("sts-redirect.test","mtasts.policy")["summary"]'
json_check "$J" 'st("sts-404.test","mtasts.policy")=="fail" and check("sts-404.test","mtasts.policy")["detail"]["http_status"]==404'
json_check "$J" 'st("sts-big.test","mtasts.policy")=="fail" and "64 KiB" in check("sts-big.test","mtasts.policy")["summary"]'
json_check "$J" 'st("sts-ctype.test","mtasts.policy")=="fail" and "text/plain" in check("sts-ctype.test","mtasts.policy")["summary"]'
json_check "$J" 'st("sts-badcert.test","mtasts.policy")=="fail" and "certificate" in check("sts-badcert.test","mtasts.policy")["summary"]'
json_check "$J" 'st("sts-badtxt.test","mtasts.record")=="fail"'

# Coverage: '*.mx.microsoft.test' does not cover x.o-v1.mx.microsoft.test; enforce → fail,
# testing → warn.
expect_status 1 mx --json check sts-nocover.test --target-mx "$T" >"$J"
json_check "$J" 'st("sts-nocover.test","mtasts.covers_target")=="fail" and check("sts-nocover.test","mtasts.covers_target")["detail"]["covered"] is False'
expect_status 0 mx --json check sts-testing.test --target-mx "$T" >"$J"
json_check "$J" 'st("sts-testing.test","mtasts.covers_target")=="warn"'

# TLS-RPT absent / malformed, SPF without the include, fallback MX, preference 20.
expect_status 1 mx --json check tlsrpt-absent.test tlsrpt-bad.test nospf.test fallback.test \
	pref20.test >"$J"
json_check "$J" 'st("tlsrpt-absent.test","tlsrpt")=="warn"'
json_check "$J" 'st("tlsrpt-bad.test","tlsrpt")=="fail" and "ftp:" in check("tlsrpt-bad.test","tlsrpt")["summary"]'
json_check "$J" 'st("nospf.test","spf")=="warn" and check("nospf.test","spf")["detail"]["state"]=="missing"'
json_check "$J" 'st("fallback.test","mx.current")=="fail" and "fallback" in check("fallback.test","mx.current")["summary"]'
json_check "$J" 'st("pref20.test","mx.current")=="fail" and "preference 20" in check("pref20.test","mx.current")["summary"]'

# Targets: outside the suffix, without TLSA.
expect_status 1 mx --json check fabrikam.test --target-mx mx.elsewhere.test >"$J"
json_check "$J" 'st("fabrikam.test","mx.target")=="fail" and "not under mx.microsoft.test" in check("fabrikam.test","mx.target")["summary"]'
expect_status 0 mx --json check sts-none.test --target-mx notlsa-test.o-v1.mx.microsoft.test >"$J"
json_check "$J" 'st("sts-none.test","mx.target.tlsa")=="warn" and "Enable-SmtpDaneInbound" in check("sts-none.test","mx.target.tlsa")["summary"]'

# The target as typed, judged like the wizard does (one judgement, tgt_judge): another
# domain's value warns; a legacy host is refused; for a domain whose MX is not Exchange
# Online no cutover applies, and no TLSA is "due after Enable-SmtpDaneInbound".
json_check "$J" 'st("sts-none.test","mx.target")=="warn" and "start with sts-none-test" in check("sts-none.test","mx.target")["summary"]'
json_check "$J" '[f["level"] for f in check("sts-none.test","mx.target")["detail"]["findings"]]==["ok","ok","warn"]'
expect_status 0 mx --json check sts-none.test --target-mx sts-none-test.o-v1.mx.microsoft.test >"$J"
json_check "$J" 'st("sts-none.test","mx.target")=="pass"'
expect_status 1 mx --json check contoso.test --target-mx contoso-test.mail.protection.outlook.test >"$J"
json_check "$J" 'st("contoso.test","mx.target")=="fail" and "legacy Exchange Online host" in check("contoso.test","mx.target")["summary"]'
G=gw$$.test
"$MX_SANDBOX_TOOLS/mkzone" "$G" --mtasts none >/dev/null || fail "mkzone $G"
python3 "$MX_SOURCE_DIR/tests/zonetool.py" set "$G" "$G." MX 300 "10 mx.elsewhere.test."
expect_status 1 mx --json check "$G" --target-mx notlsa-test.o-v1.mx.microsoft.test >"$J"
json_check "$J" "st('$G','mx.current')=='fail' and dom('$G')['blocked_by']==['mx.current']"
json_check "$J" "'not at Exchange Online' in check('$G','mx.target')['summary'] and st('$G','mx.target.tlsa')=='skip' and 'Enable-SmtpDaneInbound' not in check('$G','mx.target.tlsa')['summary']"

# Two name servers serving different serials.
expect_status 1 mx --json check split.test >"$J"
json_check "$J" 'st("split.test","ns.consistency")=="fail" and len(set(s.get("serial") for s in check("split.test","ns.consistency")["detail"]["servers"]))==2'

# One readiness verdict per domain (extension fields next to the contract's).
expect_status 1 mx --json check contoso.test --target-mx "$T" >"$J"
json_check "$J" 'dom("contoso.test")["verdict"]=="blocked" and dom("contoso.test")["runnable"] is True and dom("contoso.test")["blocked_by"]==["mtasts.covers_target"]'
json_check "$J" '"mtasts_stage" in dom("contoso.test")["verdict_text"]'
expect_status 0 mx --json check sts-covers.test --target-mx "$T" >"$J"
json_check "$J" 'dom("sts-covers.test")["verdict"]=="ready" and dom("sts-covers.test")["verdict_text"].startswith("ready for the cutover")'

# A broken DS is one root cause: the checks whose answers are bogus with it are not judged
# (skip, naming zone.dnssec) instead of failing with fixes that are wrong for that cause.
expect_status 1 mx --json check bogus.test nonexist.test --file /dev/null >"$J"
json_check "$J" 'dom("bogus.test")["ready"] is False and dom("bogus.test")["verdict"]=="blocked" and dom("bogus.test")["blocked_by"]==["zone.dnssec"]'
json_check "$J" 'dom("bogus.test")["verdict_text"].startswith("blocked by zone.dnssec: DNSSEC validation fails")'
json_check "$J" '[c["id"] for c in dom("bogus.test")["checks"] if c["status"]=="fail"]==["zone.dnssec"]'
json_check "$J" 'all(st("bogus.test",i)=="skip" and "zone.dnssec" in check("bogus.test",i)["summary"] for i in ("mx.current","mtasts.record","mtasts.policy","tlsrpt","spf","mtasts.covers_current"))'
json_check "$J" 'check("bogus.test","spf")["detail"]["not_judged_because"]=="zone.dnssec" and "include" not in check("bogus.test","spf")["summary"]'
json_check "$J" 'dom("nonexist.test")["blocked_by"]==["zone.dnssec"] and "does not exist" in dom("nonexist.test")["verdict_text"]'
out=$(mx check bogus.test 2>&1)
[ "$(echo "$out" | grep -c '  FAIL  ')" -eq 1 ] || fail "bogus.test: more than one FAIL: $out"
echo "$out" | grep -q '^  verdict: blocked by zone.dnssec: ' || fail "bogus.test verdict line: $out"

# Already migrated: one line, exit 0, nothing else; the JSON keeps its contract.
expect_status 0 mx --json check migrated.test >"$J"
json_check "$J" 'dom("migrated.test")["ready"] is True and dom("migrated.test")["verdict"]=="migrated"'
json_check "$J" 'dom("migrated.test")["verdict_text"]=="already migrated: the MX is migrated-test.o-v1.mx.microsoft.test; nothing to move"'
json_check "$J" 'st("migrated.test","mx.current")=="pass" and len(dom("migrated.test")["checks"])>5'
out=$(mx check migrated.test 2>&1)
st=$?
[ "$st" -eq 0 ] || fail "check migrated.test exits $st"
[ "$out" = "migrated.test  already migrated: the MX is migrated-test.o-v1.mx.microsoft.test; nothing to move" ] ||
	fail "migrated text output: $out"

# mtasts.covers_current: the served policy must cover every host of the MX senders see now
# (the state a rollback could leave behind: MX back on the legacy host, policy listing only
# the new one).
Z() { python3 "$MX_SOURCE_DIR/tests/zonetool.py" "$@"; }
policy() { # policy DOMAIN MODE PATTERN... — serves a new policy for DOMAIN
	local d=$1 mode=$2 f
	shift 2
	f=$MX_SANDBOX_WWW/mta-sts.$d/.well-known/mta-sts.txt
	{
		printf 'version: STSv1\r\nmode: %s\r\n' "$mode"
		for m in "$@"; do printf 'mx: %s\r\n' "$m"; done
		printf 'max_age: 86400\r\n'
	} >"$f"
}
D=cc$$.test
DT=$("$MX_SANDBOX_TOOLS/mkzone" "$D" --mtasts enforce) || fail "mkzone $D"
expect_status 0 mx --json check "$D" >"$J"
json_check "$J" "st('$D','mtasts.covers_current')=='pass' and check('$D','mtasts.covers_current')['detail']['hosts'][0]['covered'] is True"
policy "$D" enforce "$DT"
expect_status 1 mx --json check "$D" >"$J"
json_check "$J" "st('$D','mtasts.covers_current')=='fail' and check('$D','mtasts.covers_current')['detail']['hosts'][0]['covered'] is False"
json_check "$J" "'refuse' in check('$D','mtasts.covers_current')['summary'] and dom('$D')['blocked_by']==['mtasts.covers_current'] and dom('$D')['runnable'] is False"
# the senders' rule: '*.' covers one label only
policy "$D" enforce "*.outlook.test"
expect_status 1 mx --json check "$D" >"$J"
json_check "$J" "st('$D','mtasts.covers_current')=='fail'"
policy "$D" testing "$DT"
expect_status 0 mx --json check "$D" >"$J"
json_check "$J" "st('$D','mtasts.covers_current')=='warn'"
policy "$D" none "$DT"
expect_status 0 mx --json check "$D" >"$J"
json_check "$J" "st('$D','mtasts.covers_current')=='skip'"
# A cutover in progress (legacy and new host both in the MX): blocked, pointing at status;
# every host must be covered.
L=$(echo "$D" | tr . -).mail.protection.outlook.test
policy "$D" enforce "$L"
Z set "$D" "$D." MX 30 "0 $L." "20 $DT."
expect_status 1 mx --json check "$D" --target-mx "$DT" >"$J"
json_check "$J" "dom('$D')['verdict']=='blocked' and st('$D','mx.current')=='fail' and 'in progress' in dom('$D')['verdict_text'] and 'mxcutover status $D' in dom('$D')['verdict_text']"
json_check "$J" "st('$D','mtasts.covers_current')=='fail' and [h['covered'] for h in check('$D','mtasts.covers_current')['detail']['hosts']].count(False)==1"
policy "$D" enforce "$L" "$DT"
expect_status 1 mx --json check "$D" --target-mx "$DT" >"$J"
json_check "$J" "st('$D','mtasts.covers_current')=='pass' and dom('$D')['blocked_by']==['mx.current']"

# A name inside a zone (an accepted subdomain whose MX lives in the parent's zone) is not an
# apex: zone.dnssec fails naming the enclosing zone, ns.consistency is not judged (its
# advice, "check the delegation", would be wrong), the rest is judged as usual.
Z set "$D" "eu.$D." MX 3600 "0 $L."
expect_status 1 mx --json check "eu.$D" >"$J"
json_check "$J" "st('eu.$D','zone.dnssec')=='fail' and check('eu.$D','zone.dnssec')['detail']['zone']=='$D' and 'not a zone of its own' in check('eu.$D','zone.dnssec')['summary']"
json_check "$J" "st('eu.$D','ns.consistency')=='skip' and check('eu.$D','ns.consistency')['detail']['not_judged_because']=='zone.dnssec'"
json_check "$J" "st('eu.$D','mx.current')=='pass' and dom('eu.$D')['blocked_by']==['zone.dnssec']"
expect_status 1 mx --json check "$D" >"$J"
json_check "$J" "st('$D','zone.dnssec')=='pass' and 'zone' not in check('$D','zone.dnssec')['detail']"

# --file with targets and comments; --target-mx with several domains is a usage error.
printf '# tenant\ncontoso.test %s\nfabrikam.test  # no target\n' "$T" >"$workdir/list"
expect_status 1 mx --json check --file "$workdir/list" >"$J"
json_check "$J" 'sorted(d["domain"] for d in doc["domains"])==["contoso.test","fabrikam.test"]'
json_check "$J" 'st("contoso.test","mx.target")=="pass" and st("fabrikam.test","mx.target")=="skip"'
# The same list as a Windows editor saves it: a byte order mark and CRLF line ends.
printf '\xef\xbb\xbf# tenant\r\ncontoso.test %s\r\nfabrikam.test\r\n' "$T" >"$workdir/list.win"
expect_status 1 mx --json check --file "$workdir/list.win" >"$J"
json_check "$J" 'sorted(d["domain"] for d in doc["domains"])==["contoso.test","fabrikam.test"]'
expect_status 2 mx check contoso.test fabrikam.test --target-mx "$T" 2>/dev/null
expect_status 2 mx check 'bad..name' 2>/dev/null
expect_status 2 mx check 2>/dev/null
expect_status 2 mx check contoso.test --provider nosuch 2>/dev/null

# Text output: a verdict per domain, no colour when not a terminal, JSON nowhere.
out=$(mx check contoso.test sts-covers.test 2>&1)
echo "$out" | grep -q '^contoso.test  ready' || fail "text verdict missing: $out"
echo "$out" | grep -q $'\033' && fail "colour codes without a terminal"
# On a terminal: colour, unless NO_COLOR is set.
sock=$workdir/tmux.sock
for nc in "" 1; do
	tmux -S "$sock" new-session -d -x 150 -y 50 "NO_COLOR=$nc $MXCUTOVER --config $MX_CONFIG \
		--resolver-conf $MX_RESOLVER_CONF --cacert $MX_CACERT check fabrikam.test; sleep 30"
	for _ in $(seq 1 50); do
		tmux -S "$sock" capture-pane -p | grep -q 'verdict:' && break
		sleep 0.1
	done
	if [ -z "$nc" ]; then
		tmux -S "$sock" capture-pane -p -e | grep -q $'\033\\[' || fail "no colour on a terminal"
	else
		tmux -S "$sock" capture-pane -p -e | grep -q $'\033\\[3' && fail "colour despite NO_COLOR"
	fi
	tmux -S "$sock" kill-server
done

# provider.access proves write permission without changing the zone: RFC 2136 with a TSIG-signed
# UPDATE whose prerequisite fails by construction; a wrong secret is refused (BADSIG) first.
nw_before=$(dig +short +norec @127.0.4.2 northwind.test SOA; dig +short +norec @127.0.4.2 northwind.test MX)
expect_status 0 mx --json check northwind.test --provider bind >"$J"
json_check "$J" 'st("northwind.test","provider.access")=="pass" and "NXDOMAIN" in check("northwind.test","provider.access")["detail"]["proved"] and check("northwind.test","provider.access")["detail"]["not_proved"]'
(umask 077; echo 'c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=' >"$workdir/wrong.secret")
sed "s#^tsig_keyfile = .*#tsig_keyfile = $workdir/wrong.secret#" "$MX_CONFIG" >"$workdir/wrong.conf"
"$MXCUTOVER" --config "$workdir/wrong.conf" --resolver-conf "$MX_RESOLVER_CONF" --cacert "$MX_CACERT" \
	--json check northwind.test --provider bind >"$J" 2>/dev/null
st=$?
[ "$st" -eq 1 ] || fail "wrong TSIG secret: exit $st, want 1"
json_check "$J" 'st("northwind.test","provider.access")=="fail" and "BADSIG" in check("northwind.test","provider.access")["summary"] and dom("northwind.test")["blocked_by"]==["provider.access"]'
nw_after=$(dig +short +norec @127.0.4.2 northwind.test SOA; dig +short +norec @127.0.4.2 northwind.test MX)
[ "$nw_before" = "$nw_after" ] || fail "provider.access changed northwind.test: $nw_before / $nw_after"
# PowerDNS: a PATCH that the key may send, refused for its unknown changetype; manual: a person.
pd_before=$(Z dump contoso.test; dig +short +norec @127.0.3.1 contoso.test SOA)
expect_status 0 mx --json check contoso.test --provider pdns >"$J"
json_check "$J" 'st("contoso.test","provider.access")=="pass" and "HTTP 422" in check("contoso.test","provider.access")["summary"]'
[ "$(Z dump contoso.test; dig +short +norec @127.0.3.1 contoso.test SOA)" = "$pd_before" ] ||
	fail "provider.access changed contoso.test"
expect_status 0 mx --json check contoso.test --provider manual >"$J"
json_check "$J" 'st("contoso.test","provider.access")=="pass" and "a person" in check("contoso.test","provider.access")["summary"]'

# A CA bundle that cannot be used is a usage error naming the path, before anything is asked.
for ca in "$workdir/no-such-ca.pem" "$workdir" /dev/null; do
	err=$("$MXCUTOVER" --config "$MX_CONFIG" --resolver-conf "$MX_RESOLVER_CONF" --cacert "$ca" \
		check contoso.test 2>&1 >/dev/null)
	st=$?
	[ "$st" -eq 2 ] || fail "--cacert $ca: exit $st, want 2"
	echo "$err" | tail -n1 | grep -q -- "--cacert $ca " || fail "--cacert $ca: message: $err"
	echo "$err" | grep -q "mta-sts" && fail "--cacert $ca blamed on the web server: $err"
done

# A machine that cannot reach DNS is told so (exit 3) within seconds; no domain is blamed.
sed "s#root-hints: .*#root-hints: \"$workdir/dead.hints\"#" "$MX_RESOLVER_CONF" >"$workdir/dead.conf"
printf '.\t3600000\tNS\ta.root-servers.\na.root-servers.\t3600000\tA\t127.0.9.9\n' >"$workdir/dead.hints"
err=$("$MXCUTOVER" --config "$MX_CONFIG" --resolver-conf "$workdir/dead.conf" --cacert "$MX_CACERT" \
	--json check contoso.test fabrikam.test 2>&1 >"$J")
st=$?
[ "$st" -eq 3 ] || fail "no DNS: exit $st, want 3"
echo "$err" | tail -n1 | grep -q "this machine cannot reach DNS" || fail "no DNS: message: $err"
echo "$err" | grep -q "contoso.test" && fail "no DNS: a domain is blamed: $err"

# Port 25 that cannot be reached is about this machine, not the domain: a warning.
expect_status 0 mx --json check sts-none.test --target-mx down-test.o-v1.mx.microsoft.test >"$J"
json_check "$J" 'st("sts-none.test","mx.target.dane")=="warn" and "this machine" in check("sts-none.test","mx.target.dane")["summary"]'

# --json: the document alone on stdout.
mx --json check fabrikam.test 2>/dev/null | python3 -c 'import json,sys; json.load(sys.stdin)' ||
	fail "stdout is not one JSON document"

finish
