#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/faults/e2e_faults_ratelimit.sh — the PowerDNS API asks the run to wait: 429 and 503
# with Retry-After (the fault proxy's --rules-file in front of the sandbox's PowerDNS API),
# on a write and on a read. The run must wait for what the server asked, as a deadline of
# the engine (a wait line naming the seconds), then go on and end exactly as planned — never
# stop with exit 3 — and never send a change twice.
. "$(dirname "$0")/faults_lib.sh"
pdns_rules_batch rl 3
read -r D1 T1 < <(sed -n 1p "$workdir/rl.list")
read -r D2 T2 < <(sed -n 2p "$workdir/rl.list")
read -r D3 T3 < <(sed -n 3p "$workdir/rl.list")
writes=$(python3 -c '
import json, sys
print(sum(1 for s in json.load(open(sys.argv[1]))["steps"] if s.get("after")))' \
	"$workdir/rl.plans/$D1.json")

# The rules, one list for the three zones (each rule names its zone in the path):
# D1: its first change answered 429, Retry-After: 5.
# D2: a read of its MX answered 503, Retry-After: 4; its second change 503, Retry-After: 3.
# D3: its first change answered 429, Retry-After: 2, six times in a row (more than the
#     adapter's own tries: the engine keeps waiting).
cat >"$RULES" <<EOF
[{"method": "PATCH", "path": "/zones/$D1.", "times": 1, "kind": "429", "retry_after": 5},
 {"method": "GET", "path": "/zones/$D2.?rrsets", "skip": 2, "times": 1, "kind": "503", "retry_after": 4},
 {"method": "PATCH", "path": "/zones/$D2.", "skip": 1, "times": 1, "kind": "503", "retry_after": 3},
 {"method": "PATCH", "path": "/zones/$D3.", "times": 6, "kind": "429", "retry_after": 2}]
EOF
for d in "$D1" "$D2" "$D3"; do
	t=$(grep "^$d " "$workdir/rl.list" | cut -d' ' -f2)
	mxc "$workdir/pdns.conf" run "$d" --target-mx "$t" --provider pdns --yes \
		>"$workdir/$d.out" 2>"$workdir/$d.err"
	rc=$?
	[ $rc -eq 0 ] || fail "$d: a run told to wait: exit $rc ($(tail -1 "$workdir/$d.err"))"
done

# waits DOMAIN SECONDS — how many wait lines of the domain's run name that many seconds.
waits() { grep -c "^$1: .*wait $2 s.*(until " "$workdir/$1.out" "$workdir/$1.err" | awk -F: '{s += $NF} END {print s + 0}'; }
[ "$(waits "$D1" 5)" -ge 1 ] || fail "$D1: no wait of 5 s after a 429 with Retry-After: 5: $(cat "$workdir/$D1.out")"
[ "$(waits "$D2" 4)" -ge 1 ] || fail "$D2: no wait of 4 s after a read's 503 with Retry-After: 4"
[ "$(waits "$D2" 3)" -ge 1 ] || fail "$D2: no wait of 3 s after a write's 503 with Retry-After: 3"
[ "$(waits "$D3" 2)" -ge 1 ] || fail "$D3: no wait of 2 s after 429s with Retry-After: 2"
figure "powerdns asking to wait: $(grep -h "wait 5 s" "$workdir/$D1.out" "$workdir/$D1.err" | head -1)"

# Every rule was met, and each zone got exactly the plan's changes (a refused one is sent
# again; none is sent twice once accepted).
python3 - "$workdir/pdns.plog" "$writes" "$D1" "$D2" "$D3" <<'PY' || fail "the proxy's log: see above"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
writes, domains = int(sys.argv[2]), sys.argv[3:]
want_faults = {domains[0]: 1, domains[1]: 2, domains[2]: 6}
bad = False
for d in domains:
    mine = [r for r in rows if "/zones/%s." % d in r["path"]]
    faults = sum(1 for r in mine if r["fault"])
    # Accepted: forwarded and answered 2xx (a busy PowerDNS may refuse one with a 500).
    ok_patches = sum(1 for r in mine if r["method"] == "PATCH" and not r["fault"]
                     and 200 <= r.get("status", 0) < 300)
    if faults != want_faults[d]:
        print("%s: %d faults met, want %d" % (d, faults, want_faults[d])); bad = True
    if ok_patches != writes:
        print("%s: %d changes accepted, the plan has %d" % (d, ok_patches, writes)); bad = True
sys.exit(1 if bad else 0)
PY
verify rl
finish
