#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/e2e_errors.sh — how every command ends when it fails, against the sandbox: the last
# stderr line is the reason with the fix (one line in all for usage and config errors), with
# and without --json, for each class of failure (usage, config, runtime, blockers); a domain
# paired with a provider that does not hold its zone is a config error naming the providers;
# --json everywhere (plan prints the plan document); no message repeats its prefix.
. "$(dirname "$0")/e2e_lib.sh"
export MXCUTOVER_CLOCK=warp
D=errs$$.test
T=$("$MX_SANDBOX_TOOLS/mkzone" "$D") || fail "mkzone $D"

# run CMD... → $out, $err, $rc (stdin from /dev/null)
run() {
	"$@" >"$workdir/out" 2>"$workdir/err" </dev/null
	rc=$?
}
last() { tail -n 1 "$workdir/err"; }
# expect RC LINES-OR-'-' REGEX WHAT — exit status, stderr line count ('-': any), last line.
expect() {
	[ "$rc" = "$1" ] || fail "$4: exit $rc, want $1 (stderr: $(cat "$workdir/err"))"
	[ "$2" = - ] || [ "$(wc -l <"$workdir/err")" -eq "$2" ] ||
		fail "$4: $(wc -l <"$workdir/err") stderr lines, want $2: $(cat "$workdir/err")"
	last | grep -Eq -- "$3" || fail "$4: last stderr line \"$(last)\" does not match /$3/"
	! grep -Eq '([a-z0-9.-]+): \1:|\[provider\.[a-z]+\]: \[provider' "$workdir/err" "$workdir/out" ||
		fail "$4: a doubled prefix: $(grep -E '([a-z0-9.-]+): \1:' "$workdir/err" "$workdir/out")"
}

umask 077
printf 'wrong-key\n' >"$workdir/bad.key"
cp "$MX_CONFIG" "$workdir/mx.conf"
cat >>"$workdir/mx.conf" <<CONF
[provider.pdnsbad]
type = powerdns
url = http://127.0.0.1:8081
api_key_file = $workdir/bad.key
CONF
MX_CONFIG=$workdir/mx.conf
printf '[cutover]\nlow_ttl = 5\n' >"$workdir/bad.conf"

for json in "" --json; do
	# Usage: one line, exit 2, on every command.
	for cmd in check plan run resume rollback status outbound tui; do
		run mx $json "$cmd" --no-such-option
		expect 2 1 "(unknown or incomplete option|has no --json).*--help" "$cmd $json usage"
	done
	# Config: one line naming the file and line, exit 2.
	for cmd in "check $D" "plan $D --target-mx $T --provider pdns" \
		"run $D --target-mx $T --provider pdns --yes" "resume --yes" "rollback $D --yes" \
		"outbound $D" "status" "status $D"; do
		# shellcheck disable=SC2086
		run "$MXCUTOVER" --config "$workdir/bad.conf" --state "$workdir/c.db" $json $cmd
		expect 2 1 "bad.conf line 2: low_ttl" "${cmd%% *} $json config"
	done
	# An unknown provider is a config error too.
	for cmd in "check $D --provider nope" "plan $D --target-mx $T --provider nope" \
		"run $D --target-mx $T --provider nope --yes"; do
		# shellcheck disable=SC2086
		run mx $json $cmd
		expect 2 1 "no \[provider\.nope\]; it has pdns, bind, manual" "${cmd%% *} $json provider"
	done

	# Runtime: a credential the provider refuses, exit 3, the reason last on stderr.
	run mx $json plan "$D" --target-mx "$T" --provider pdnsbad
	expect 3 - "powerdns: the API key was refused \(HTTP 401\).*pdnsbad" "plan $json runtime"
	run mx $json run "$D" --target-mx "$T" --provider pdnsbad --yes
	expect 3 - "powerdns: the API key was refused \(HTTP 401\).*pdnsbad" "run $json runtime"
	mx rollback "$D" --yes >/dev/null 2>&1 # forget the failed run: the zone is unchanged
	mkdir -p "$workdir/dir"
	for cmd in "check --file" "outbound --file"; do
		# shellcheck disable=SC2086
		run mx $json $cmd "$workdir/dir"
		expect 3 1 "--file $workdir/dir: read error" "${cmd%% *} $json runtime"
	done
	run mx $json run "$D" --target-mx "$T" --provider pdns --yes --plan "$workdir/no-such-plan.json"
	expect 2 1 "^mxcutover: --plan $workdir/no-such-plan.json: No such file or directory; give the file \`mxcutover plan DOMAIN --format json -o FILE\` wrote$" \
		"run $json --plan missing"
	for cmd in status "resume --yes" "rollback $D --yes"; do
		# shellcheck disable=SC2086
		run "$MXCUTOVER" $json --config "$MX_CONFIG" --state "$workdir/dir" $cmd
		expect 3 1 "$workdir/dir" "${cmd%% *} $json runtime"
	done

	# Blockers: exit 1 with the reason last.
	run mx $json check "$D" --target-mx "x.example.com"
	expect 1 - "1 of 1 domain is not ready \($D\); fix the failing checks" "check $json blockers"
	run mx $json plan "$D" --target-mx "x.example.com" --provider pdns
	expect 1 - "check\(s\) fail for $D; the run would stop at preflight" "plan $json blockers"
	run mx $json run "$D" --target-mx "x.example.com" --provider pdns --yes
	expect 1 - "^mxcutover: $D: preflight found blockers — mx.target: target x.example.com is not under mx.microsoft.test" \
		"run $json blockers"
	grep -q "$D: stopped: $D" "$workdir/out" && fail "run $json: the stop line repeats the domain"
	mx rollback "$D" --yes >/dev/null 2>&1
done

# A gate a --yes run cannot pass (the staged MTA-STS policy is never published): run and
# resume stop with exit 1, the gate's reason last on stderr.
G=gate$$.test
"$MX_SANDBOX_TOOLS/mkzone" "$G" --mtasts enforce >/dev/null || fail "mkzone $G"
GT=${G//./-}.o-v1.mx.microsoft.test
run mx run "$G" --target-mx "$GT" --provider pdns --yes
expect 1 - "^mxcutover: $G: .*(policy|MTA-STS)" "run stopped at a gate"
run mx --json resume "$G" --yes
expect 1 - "^mxcutover: $G: .*(policy|MTA-STS)" "resume --json stopped at a gate"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["runs"][0]["state"]=="gate"' \
	"$workdir/out" || fail "resume --json: the status document on stdout"

# A domain the provider does not hold: exit 2, the provider's zones or how to list them,
# and the config's providers.
run mx plan "$D" --target-mx "$T" --provider bind
expect 2 1 "rfc2136: 127.0.4.2@53 does not hold zone $D \(REFUSED.*named.conf.*\(providers in the config: pdns, bind, manual, pdnsbad\)" \
	"plan with a provider that does not hold the zone"
run mx run "$D" --target-mx "$T" --provider bind --yes
expect 2 - "$D: rfc2136: 127.0.4.2@53 does not hold zone $D .*providers in the config: pdns, bind" \
	"run with a provider that does not hold the zone"
mx rollback "$D" --yes >/dev/null 2>&1
run mx check "$D" --target-mx "$T" --provider bind
expect 1 - "1 of 1 domain is not ready \($D\)" "check with a provider that does not hold the zone"
grep -q "provider.access .*does not hold zone $D" "$workdir/out" || fail "check names the provider that does not hold the zone: $(cat "$workdir/out")"

# A wrong TSIG secret: the RFC 2136 adapter reads without its key, so the run's preflight
# proves write access first (provider.access) and stops with exit 3 — before any gate asks
# for anything, nothing written, no run left behind, the secret nowhere.
bad_secret=$(printf 'not-the-sandbox-secret-but-32-bytes!' | base64)
{
	cat "$MX_CONFIG"
	printf '[provider.bindbad]\ntype = rfc2136\nserver = 127.0.4.2@53\ntsig_name = %s\n' \
		"$(sed -n 's/^tsig_name = //p' "$MX_CONFIG" | head -1)"
	printf 'tsig_alg = hmac-sha256\ntsig_secret_env = MX_TEST_BAD_TSIG\n'
} >"$workdir/tsig.conf"
MX_TEST_BAD_TSIG=$bad_secret run "$MXCUTOVER" --config "$workdir/tsig.conf" \
	--resolver-conf "$MX_RESOLVER_CONF" --cacert "$MX_CACERT" --state "$workdir/tsig.db" \
	run northwind.test --target-mx northwind-test.o-v1.mx.microsoft.test --provider bindbad --yes
expect 3 - "northwind.test: preflight refused \(provider.access\): rfc2136: .*(BADSIG|BADKEY)" \
	"run with a wrong TSIG secret"
! grep -q "MTA-STS\|mta-sts" "$workdir/err" "$workdir/out" ||
	fail "a wrong TSIG secret: a gate asked something first: $(cat "$workdir/out" "$workdir/err")"
[ "$(sqlite3 "$workdir/tsig.db" "SELECT COUNT(*) FROM runs")" = 0 ] ||
	fail "a wrong TSIG secret left a run behind"
! grep -aq "$bad_secret" "$workdir/tsig.db" "$workdir/out" "$workdir/err" ||
	fail "the TSIG secret reached the state database or the output"

# --json: one document on stdout for every command that has one.
run mx --json plan "$D" --target-mx "$T" --provider pdns
[ "$rc" = 0 ] || fail "plan --json: exit $rc ($(cat "$workdir/err"))"
mx plan "$D" --target-mx "$T" --provider pdns --format json >"$workdir/plan.json" 2>/dev/null
python3 - "$workdir/out" "$workdir/plan.json" <<'PY' || fail "plan --json is the plan document"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
# Made a second apart: the staged _mta-sts ids and the time may differ, nothing else.
keys = lambda p: [(s["key"], s.get("title"), s.get("wait_seconds")) for s in p["steps"]]
rbkeys = lambda p: [(r["key"], r.get("action"), r.get("wait_seconds")) for r in p["rollback"]]
assert a["snapshot"] == b["snapshot"] and keys(a) == keys(b) and rbkeys(a) == rbkeys(b)
assert a["domain"] == b["domain"] and a["steps"], a
PY
run mx --json plan "$D" --target-mx "$T" --provider pdns --format markdown
expect 2 1 "--json prints the plan document, not --format markdown" "plan --json --format markdown"
run mx --json plan "$D" --target-mx "$T" --provider pdns --format markdown -o "$workdir/p.md"
[ "$rc" = 0 ] && grep -q '^# Change: move the MX' "$workdir/p.md" &&
	python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["steps"]' "$workdir/out" ||
	fail "plan --json -o: markdown in the file, the document on stdout"
run "$MXCUTOVER" --json --state "$workdir/empty.db" --config "$MX_CONFIG" resume --yes
[ "$rc" = 0 ] && python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))=={"runs":[]}' \
	"$workdir/out" || fail "resume --json with nothing to resume prints {\"runs\": []}"
run mx --json tui
expect 2 1 "the wizard .* has no --json" "tui --json"

finish
