#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/e2e_plan.sh — `mxcutover plan` against the sandbox: a dry run in every format that
# reads live state through the provider and DNS and changes nothing.
. "$(dirname "$0")/e2e_lib.sh"

T=contoso-test.o-v1.mx.microsoft.test
serials() { for s in 127.0.3.1 127.0.3.2; do dig +short +norec @"$s" contoso.test SOA; done; }
mxset() { dig +short +norec @127.0.3.1 contoso.test MX | sort; }
before_soa=$(serials)
before_mx=$(mxset)

for p in pdns manual; do
	J=$workdir/plan-$p.json
	expect_status 0 mx plan contoso.test --target-mx "$T" --provider "$p" --format json -o "$J"
	python3 - "$J" "$T" <<'PY' || fail "plan json ($p)"
import json, sys
p = json.load(open(sys.argv[1])); t = sys.argv[2]
assert p["version"] == 2 and p["domain"] == "contoso.test" and p["target"] == t
assert p["snapshot"]["mx"] == {"name": "contoso.test", "type": "MX", "ttl": 3600,
    "values": ["0 contoso-test.mail.protection.outlook.test"]}, p["snapshot"]["mx"]
assert p["snapshot"]["checksum"].startswith("sha256:") and len(p["snapshot"]["checksum"]) == 71
assert p["snapshot"]["observed_ttl"] == 3600
keys = [s["key"] for s in p["steps"]]
assert keys == ["preflight", "snapshot", "mtasts_stage", "lower_ttl", "wait_old_ttl",
    "add_target", "verify_target", "swap", "wait_low_ttl", "remove_legacy", "raise_ttl",
    "dane_enable", "mtasts_finalize"], keys
st = {s["key"]: s for s in p["steps"]}
legacy = "contoso-test.mail.protection.outlook.test"
assert st["lower_ttl"]["after"]["ttl"] == 30
assert st["wait_old_ttl"]["wait_seconds"] == 3600
assert sorted(st["add_target"]["after"]["values"]) == sorted(["0 " + legacy, "20 " + t])
assert sorted(st["swap"]["after"]["values"]) == sorted(["30 " + legacy, "0 " + t])
assert st["wait_low_ttl"]["wait_seconds"] == 30
assert st["remove_legacy"]["after"]["values"] == ["0 " + t]
assert st["raise_ttl"]["after"] == {"name": "contoso.test", "type": "MX", "ttl": 3600, "values": ["0 " + t]}
assert "Enable-SmtpDaneInbound -DomainName contoso.test" in st["dane_enable"]["gate"]
# Every MX RRset the plan publishes is non-empty; the target is never preferred before verify.
for s in p["steps"]:
    if s.get("after", {}).get("type") == "MX":
        assert s["after"]["values"], s["key"]
assert "mx: " + t in st["mtasts_stage"]["policy"] and "mail.protection" in st["mtasts_stage"]["policy"]
assert "mail.protection" not in st["mtasts_finalize"]["policy"] and t in st["mtasts_finalize"]["policy"]
assert st["mtasts_stage"]["after"]["values"][0] != st["mtasts_finalize"]["after"]["values"][0]
rb = p["rollback"]
assert rb[0]["action"] == "gate" and "Disable-SmtpDaneInbound" in rb[0]["text"]
rbk = {s["key"]: s for s in rb}
assert [s["key"] for s in rb] == ["rb_dane", "rb_mtasts_cover", "rb_readd_legacy", "rb_wait",
    "rb_remove_target", "rb_restore_ttl", "rb_mtasts"], [s["key"] for s in rb]
assert sorted(rbk["rb_readd_legacy"]["after"]["values"]) == sorted(["0 " + legacy, "30 " + t])
assert rb[-2]["after"] == p["snapshot"]["mx"] or rb[-1]["after"] == p["snapshot"]["mx"]
assert p["blockers"] == []
PY
done

# Text, markdown, nsupdate, powershell.
expect_status 0 mx plan contoso.test --target-mx "$T" --provider pdns >"$workdir/plan.txt"
grep -q 'wait 1 h' "$workdir/plan.txt" || fail "text plan shows the wait"
grep -q 'Rollback' "$workdir/plan.txt" || fail "text plan shows the rollback"
expect_status 0 mx plan contoso.test --target-mx "$T" --provider pdns --format markdown >"$workdir/plan.md"
grep -q '^# Change: move the MX of contoso.test' "$workdir/plan.md" || fail "markdown title"
grep -q '^## Rollback' "$workdir/plan.md" || fail "markdown rollback"
expect_status 0 mx plan contoso.test --target-mx "$T" --provider pdns --format powershell >"$workdir/plan.ps1"
for c in Enable-DnssecForVerifiedDomain Get-DnssecStatusForVerifiedDomain; do
	grep -q "^$c -DomainName contoso.test" "$workdir/plan.ps1" || fail "powershell lacks $c"
done
# Run whole, the file must not enable DANE before the cutover: that line is for later, by hand.
grep -q "^# Enable-SmtpDaneInbound -DomainName contoso.test" "$workdir/plan.ps1" ||
	fail "powershell: Enable-SmtpDaneInbound is a comment"
grep -q '^# Disable-SmtpDaneInbound' "$workdir/plan.ps1" || fail "powershell rollback comment"

# nsupdate: nsupdate commands, comments, and the guard lines in capitals that stop the file
# from being run whole (tests/e2e_export.sh runs it).
expect_status 0 mx plan northwind.test --target-mx northwind-test.o-v1.mx.microsoft.test \
	--provider bind --format nsupdate >"$workdir/plan.nsupdate"
grep -vE '^(;|$|server |zone |update (add|delete) |send$|(STOP|WAIT|GATE|NEXT|ROLLBACK): )' "$workdir/plan.nsupdate" &&
	fail "nsupdate script has lines nsupdate would not accept"
grep -q '^server 127.0.4.2 53$' "$workdir/plan.nsupdate" || fail "nsupdate server line"
grep -q '^update add northwind.test. 30 MX 20 northwind-test.o-v1.mx.microsoft.test.$' \
	"$workdir/plan.nsupdate" || fail "nsupdate add_target line"

# Blockers: a bogus zone still gets a plan, but exit 1 says the run would stop.
expect_status 1 mx plan fallback.test --target-mx "$T" --provider manual --format json \
	-o "$workdir/fb.json" 2>/dev/null
json_check "$workdir/fb.json" 'any("mx.current" in b for b in doc["blockers"])' 2>/dev/null ||
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert any("mx.current" in b for b in d["blockers"])' "$workdir/fb.json" ||
	fail "blockers listed in the plan"

# Usage errors, and -o leaves nothing behind on failure.
expect_status 2 mx plan contoso.test --provider pdns 2>/dev/null
expect_status 2 mx plan contoso.test --target-mx "$T" --provider nosuch 2>/dev/null
expect_status 2 mx plan contoso.test --target-mx "$T" --provider pdns --format yaml 2>/dev/null
expect_status 3 mx plan contoso.test --target-mx "$T" --provider pdns -o /nonexistent/dir/p.json 2>/dev/null
ls /nonexistent/dir 2>/dev/null && fail "a half-written plan file"

# A domain already on the new endpoint has nothing to plan: exit 1, the verdict's line.
expect_status 1 mx plan migrated.test --target-mx migrated-test.o-v1.mx.microsoft.test \
	--provider pdns >"$workdir/migrated.out" 2>"$workdir/migrated.err"
tail -1 "$workdir/migrated.err" | grep -q "^mxcutover: migrated.test: already migrated: the MX is migrated-test.o-v1.mx.microsoft.test; nothing to move" ||
	fail "plan of a migrated domain: $(cat "$workdir/migrated.err")"
[ -s "$workdir/migrated.out" ] && fail "plan of a migrated domain printed a plan"
expect_status 1 mx --json plan migrated.test --target-mx migrated-test.o-v1.mx.microsoft.test \
	--provider pdns >"$workdir/migrated.json" 2>/dev/null
json_check "$workdir/migrated.json" 'doc["verdict"] == "migrated" and doc["steps"] == [] and "already migrated" in doc["verdict_text"]'

# Nothing changed in DNS.
[ "$(serials)" = "$before_soa" ] || fail "plan changed the SOA serial"
[ "$(mxset)" = "$before_mx" ] || fail "plan changed the MX RRset"

finish
