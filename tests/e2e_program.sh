#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/e2e_program.sh — the plan is the run. For every forward step k, the zone every
# authoritative server serves once the run has done k equals, RRset by RRset (values and
# TTL), the plan's `zone` of step k; and for a rollback started right after every step k, the
# zone after each rollback step equals the plan's rollback of step k. The waits the run
# announces equal the plan's `wait_seconds`. The run is stopped after each step with the
# MXCUTOVER_CRASH_AT seam and continued with `resume`.
. "$(dirname "$0")/e2e_lib.sh"
Z() { python3 "$MX_SOURCE_DIR/tests/zonetool.py" "$@"; }
export MXCUTOVER_CLOCK=warp
n=0

# served D → "MX TTL v1|v2 ;; TXT TTL v" as the first authoritative server serves it (the
# run itself waits until every server serves each write).
served() {
	python3 - "$1" <<'PY'
import subprocess, sys
d = sys.argv[1]
def get(name, rtype):
    out = subprocess.run(["dig", "+norec", "+noall", "+answer", "@127.0.3.1", name, rtype],
                         capture_output=True, text=True).stdout.splitlines()
    rows = [l.split(None, 4) for l in out if l.strip()]
    rows = [r for r in rows if r[3] == rtype]
    if not rows:
        return "-"
    ttl = rows[0][1]
    vals = sorted(r[4].rstrip(".").strip('"') if rtype == "TXT" else
                  r[4].split()[0] + " " + r[4].split()[1].rstrip(".").lower() for r in rows)
    return ttl + " " + "|".join(vals)
print(get(d, "MX") + " ;; " + get("_mta-sts." + d, "TXT"))
PY
}

# planned PLAN PATH → the same line for the plan's zone at PATH (a python expression on p).
planned() {
	python3 - "$1" "$2" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
z = eval(sys.argv[2])
def fmt(s):
    if not s["values"]:
        return "-"
    return "%d %s" % (s["ttl"], "|".join(sorted(s["values"])))
print(fmt(z["mx"]) + " ;; " + fmt(z["mta_sts_txt"]))
PY
}

policy() { # policy KEY → publish the plan's policy of step KEY
	python3 - "$P" "$MX_SANDBOX_WWW/mta-sts.$D/.well-known/mta-sts.txt" "$1" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
open(sys.argv[2], "w").write({s["key"]: s for s in p["steps"]}[sys.argv[3]]["policy"])
PY
}

fresh() {
	n=$((n + 1))
	D=prog$$x$n.test
	T=$("$MX_SANDBOX_TOOLS/mkzone" "$D" --mtasts enforce) || fail "mkzone $D"
	P=$workdir/$D.plan
	mx plan "$D" --target-mx "$T" --provider pdns --format json -o "$P" >/dev/null ||
		fail "plan $D"
	policy mtasts_stage
}

# 1. Forward: stop after every step, compare, continue.
fresh
keys=$(python3 -c 'import json,sys; print(" ".join(s["key"] for s in json.load(open(sys.argv[1]))["steps"]))' "$P")
first=1
for k in $keys; do
	[ "$k" = mtasts_finalize ] && policy mtasts_finalize
	if [ $first = 1 ]; then
		# The reviewed plan alone names the domain, the target and the provider.
		MXCUTOVER_CRASH_AT=$k:done mx run --plan "$P" --yes >>"$workdir/fwd.log" 2>&1
		first=0
	else
		MXCUTOVER_CRASH_AT=$k:done mx resume "$D" --yes >>"$workdir/fwd.log" 2>&1
	fi
	got=$(served "$D")
	want=$(planned "$P" "next(s for s in p['steps'] if s['key'] == '$k')['zone']")
	[ "$got" = "$want" ] || fail "after $k: served $got, plan $want"
done
mx resume "$D" --yes >>"$workdir/fwd.log" 2>&1
mx --json status "$D" | grep -q '"state": "done"' || fail "forward run not done: $(tail -3 "$workdir/fwd.log")"
# The waits the run announced are the plan's.
python3 - "$P" "$workdir/fwd.log" <<'PY' || fail "the run's waits differ from the plan's"
import json, re, sys
p = json.load(open(sys.argv[1]))
log = open(sys.argv[2]).read()
want = {s["key"]: s["wait_seconds"] for s in p["steps"] if s["wait"]}
got = {"wait_old_ttl": int(re.search(r"old MX TTL \((\d+) s\)", log).group(1)),
       "wait_low_ttl": int(re.search(r"low MX TTL \((\d+) s\)", log).group(1))}
assert got == want, (got, want)
PY

# 2. A rollback started after every step k: stop after every rollback step, compare.
prev=
for k in $keys; do
	fresh
	before=$(Z dump "$D" | grep -v -E "^($D\. MX|_mta-sts\.$D\. TXT) ")
	if [ "$k" = mtasts_finalize ]; then
		# The final policy is published only once the legacy host has gone.
		MXCUTOVER_CRASH_AT=$prev:done mx run "$D" --target-mx "$T" --provider pdns --yes \
			--plan "$P" >>"$workdir/rb-$k.log" 2>&1
		policy mtasts_finalize
		MXCUTOVER_CRASH_AT=$k:done mx resume "$D" --yes >>"$workdir/rb-$k.log" 2>&1
	else
		MXCUTOVER_CRASH_AT=$k:done mx run "$D" --target-mx "$T" --provider pdns --yes \
			--plan "$P" >>"$workdir/rb-$k.log" 2>&1
	fi
	prev=$k
	# The person's side of the rollback's gates: DANE withdrawn, a policy covering both hosts.
	Z dane-off "$T"
	policy mtasts_stage
	rbkeys=$(python3 -c '
import json, sys
p = json.load(open(sys.argv[1]))
print(" ".join(r["key"] for r in next(s for s in p["steps"] if s["key"] == sys.argv[2])["rollback"]))' "$P" "$k")
	cmd=rollback
	for r in $rbkeys; do
		MXCUTOVER_CRASH_AT=$r:done mx $cmd "$D" --yes >>"$workdir/rb-$k.log" 2>&1
		cmd=resume
		got=$(served "$D")
		want=$(planned "$P" "next(r for r in next(s for s in p['steps'] if s['key'] == '$k')['rollback'] if r['key'] == '$r')['zone']")
		[ "$got" = "$want" ] || fail "rollback after $k, after $r: served $got, plan $want"
	done
	mx $cmd "$D" --yes >>"$workdir/rb-$k.log" 2>&1
	mx --json status "$D" | grep -q '"state": "rolled_back"' ||
		fail "rollback after $k not rolled back: $(tail -2 "$workdir/rb-$k.log")"
	got=$(served "$D")
	want=$(planned "$P" "{'mx': p['snapshot']['mx'], 'mta_sts_txt': p['snapshot']['mta_sts_txt']}")
	[ "$got" = "$want" ] || fail "rollback after $k: served $got, snapshot $want"
	[ "$(Z dump "$D" | grep -v -E "^($D\. MX|_mta-sts\.$D\. TXT) ")" = "$before" ] ||
		fail "rollback after $k: other records changed"
	if [ "$k" = wait_old_ttl ]; then
		python3 - "$P" "$workdir/rb-$k.log" "$k" <<'PY' || fail "the rollback's wait differs from the plan's"
import json, re, sys
p = json.load(open(sys.argv[1]))
rb = next(s for s in p["steps"] if s["key"] == sys.argv[3])["rollback"]
want = [r["wait_seconds"] for r in rb if r["key"] == "rb_wait"]
got = [int(x) for x in re.findall(r"the MX TTL \((\d+) s\) to expire before", open(sys.argv[2]).read())]
assert got == want, (got, want)
PY
	fi
done

# 3. A plan made with other settings, or edited, is refused before anything is written.
fresh
# A provider other than the plan's, or the plan of another domain: a usage error.
expect_status 2 mx run --plan "$P" --provider bind --yes >"$workdir/prov.log" 2>&1
grep -q "^mxcutover run: --provider bind is not the provider of the reviewed plan $P (pdns)" \
	"$workdir/prov.log" || fail "another provider named: $(tail -1 "$workdir/prov.log")"
expect_status 2 mx run contoso.test --plan "$P" --yes >"$workdir/dom.log" 2>&1
grep -q "the --plan file is the plan of $D, not of contoso.test" "$workdir/dom.log" ||
	fail "another domain named: $(tail -1 "$workdir/dom.log")"
echo '[1, 2]' >"$workdir/notplan.json"
expect_status 2 mx run --plan "$workdir/notplan.json" --yes >"$workdir/np.log" 2>&1
grep -q "^mxcutover: --plan $workdir/notplan.json is not a plan document" "$workdir/np.log" ||
	fail "not a plan: $(tail -1 "$workdir/np.log")"
mx status "$D" 2>&1 | grep -q "^$D has no run" || fail "a refused plan left a run"
sed 's/^low_ttl.*/low_ttl = 120/' "$MX_CONFIG" >"$workdir/other.conf"
"$MXCUTOVER" --config "$workdir/other.conf" --resolver-conf "$MX_RESOLVER_CONF" \
	--cacert "$MX_CACERT" --state "$workdir/state.db" plan "$D" --target-mx "$T" \
	--provider pdns --format json -o "$workdir/other.plan" >/dev/null
expect_status 3 mx run "$D" --target-mx "$T" --provider pdns --yes --plan "$workdir/other.plan" \
	>"$workdir/other.log" 2>&1
grep -q 'made with other settings' "$workdir/other.log" || fail "other settings named: $(tail -1 "$workdir/other.log")"
python3 - "$P" "$workdir/old.plan" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["program"] = "mxcutover-program-1/0.0.1"
json.dump(p, open(sys.argv[2], "w"))
PY
expect_status 3 mx run "$D" --target-mx "$T" --provider pdns --yes --plan "$workdir/old.plan" \
	>"$workdir/old.log" 2>&1
grep -q 'another version of mxcutover' "$workdir/old.log" || fail "another version named: $(tail -1 "$workdir/old.log")"
[ "$(served "$D")" = "$(planned "$P" "{'mx': p['snapshot']['mx'], 'mta_sts_txt': p['snapshot']['mta_sts_txt']}")" ] ||
	fail "a refused plan wrote DNS"

finish
