#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/faults/e2e_faults_partial.sh — a provider that writes an RRset record by record
# (Cloudflare: no atomic replacement) and fails halfway through a change. The fault proxy
# (tests/faults/faultproxy.py, --rules-file) refuses one record call in the middle of a
# change, so the zone holds an MX RRset that is neither the step's `before` nor its `after`:
#  - swap: the run stops with exit 3; resume sees its own half-made change, finishes it and
#    the run ends exactly as planned;
#  - swap, then someone adds a record of their own: resume refuses ("changed behind our
#    back", exit 3) and writes nothing; once the record is gone, resume finishes;
#  - the first write of a rollback: resume finishes the rollback, the snapshot restored.
. "$(dirname "$0")/faults_lib.sh"
umask 077
printf 'cf-edit-token-0123456789\n' >"$workdir/cf.token"
python3 "$FAKES/cloudflare_api.py" --port-file "$workdir/cf.port" 2>"$workdir/cf-fake.log" &
pids+=($!)
CF=http://127.0.0.1:$(wait_port "$workdir/cf.port")
python3 "$FAKES/cloudflare_api.py" --ctl "$CF" '{"token": "cf-edit-token-0123456789"}' >/dev/null
start_rules_proxy cf "$CF"
CFP=http://127.0.0.1:$PROXY_PORT
conf() { # conf FILE CF_URL
	{
		cutover_conf
		printf '[provider.cf]\ntype = cloudflare\nbase_url = %s/client/v4\n' "$2"
		printf 'api_token_file = %s\n' "$workdir/cf.token"
	} >"$1"
}
conf "$workdir/direct.conf" "$CF"
conf "$workdir/faulty.conf" "$CFP"

# mxline DOMAIN — the apex MX RRset as the name servers' PowerDNS holds it.
mxline() { Z dump "$1" | grep "^$1\. MX " || echo "(no MX)"; }
# cfmx DOMAIN add|del VALUE — adds or deletes an MX record in the Cloudflare stand-in, behind
# mxcutover's back (VALUE "PREF HOST").
cfmx() {
	python3 - "$CF" "$@" <<'PY'
import json, sys, urllib.request
base, d, op, value = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
h = {"Authorization": "Bearer cf-edit-token-0123456789", "Content-Type": "application/json"}
def call(method, path, body=None):
    req = urllib.request.Request(base + "/client/v4" + path, method=method, headers=h,
                                 data=json.dumps(body).encode() if body is not None else None)
    return json.load(urllib.request.urlopen(req, timeout=10))
zid = call("GET", "/zones?name=" + d)["result"][0]["id"]
pref, host = value.split()
if op == "add":
    call("POST", "/zones/%s/dns_records" % zid,
         {"type": "MX", "name": d, "content": host, "priority": int(pref), "ttl": 300})
else:
    for r in call("GET", "/zones/%s/dns_records?type=MX&per_page=5000" % zid)["result"]:
        if r["content"] == host and r["priority"] == int(pref):
            call("DELETE", "/zones/%s/dns_records/%s" % (zid, r["id"]))
PY
}
# run_state DOMAIN — "state step" of the domain's run.
run_state() {
	mxc "$workdir/direct.conf" --json status "$1" 2>/dev/null | python3 -c '
import json, sys
r = json.load(sys.stdin)["runs"][0]
print(r["state"], r["step"])'
}
# plan_mx LABEL DOMAIN STEP — the MX line the plan's STEP leaves (STEP "final": the last).
plan_mx() {
	python3 - "$workdir/$1.plans/$2.json" "$2" "$3" <<'PY'
import json, sys
p, d, step = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
last = None
for s in p["steps"]:
    a = s.get("after")
    if a and a["type"] == "MX" and a["name"] == d:
        last = a
        if s.get("key", s.get("step")) == step:
            break
print("%s. MX %d %s" % (d, last["ttl"], " | ".join(sorted(v + "." for v in last["values"]))))
PY
}
open_intents() { sqlite3 "$STATE" "SELECT count(*) FROM intents WHERE done_at IS NULL"; }

make_zones pw 3
while read -r d _; do
	python3 "$FAKES/cloudflare_api.py" --ctl "$CF" "{\"zone\": \"$d\"}" >/dev/null
done <"$workdir/pw.list"
plan_all pw "$workdir/direct.conf" cf
read -r D1 T1 < <(sed -n 1p "$workdir/pw.list")
read -r D2 T2 < <(sed -n 2p "$workdir/pw.list")
read -r D3 T3 < <(sed -n 3p "$workdir/pw.list")
python3 -c 'import json,sys; json.load(open(sys.argv[1]))["steps"][0]' "$workdir/pw.plans/$D1.json" ||
	fail "the plan has no steps"
before_swap=$(plan_mx pw "$D1" add_target)
after_swap=$(plan_mx pw "$D1" swap)
final=$(plan_mx pw "$D1" final)
[ "$before_swap" != "$after_swap" ] || fail "the plan's swap changes nothing: $after_swap"

# 1. The swap updates two records (target to the final preference, legacy to 30); the
#    second update is refused. (The zones' MX TTL is Cloudflare's minimum already, so
#    lower_ttl writes nothing; add_target creates a record.)
for d in "$D1" "$D2"; do
	rules '[{"method": "PATCH", "skip": 1, "times": 1, "kind": "403"}]'
	t=$(grep "^$d " "$workdir/pw.list" | cut -d' ' -f2)
	mxc "$workdir/faulty.conf" run "$d" --target-mx "$t" --provider cf --yes \
		>"$workdir/$d.run.out" 2>"$workdir/$d.run.err"
	rc=$?
	[ $rc -eq 3 ] || fail "$d: a change refused halfway: exit $rc, want 3 ($(tail -1 "$workdir/$d.run.err"))"
	[ -n "$(tail -1 "$workdir/$d.run.err")" ] || fail "$d: exit 3 with an empty last stderr line"
	[ "$(run_state "$d")" = "failed swap" ] || fail "$d: stopped at '$(run_state "$d")', want 'failed swap'"
	half=$(mxline "$d")
	want_b=$(plan_mx pw "$d" add_target)
	want_a=$(plan_mx pw "$d" swap)
	if [ "$half" = "$want_b" ] || [ "$half" = "$want_a" ]; then
		fail "$d: the refused record call left a whole RRset ($half); the test needs a half-made one"
	fi
	echo "$d: half-made swap: $half"
done
figure "a swap refused halfway leaves: $(mxline "$D1")"

# 1a. Resume finishes it.
rules '[]'
mxc "$workdir/faulty.conf" resume "$D1" --yes >"$workdir/res1.out" 2>"$workdir/res1.err"
rc=$?
[ $rc -eq 0 ] || fail "resume after a half-made swap: exit $rc ($(tail -1 "$workdir/res1.err"))"
grep -q "made halfway" "$workdir/res1.out" "$workdir/res1.err" ||
	fail "resume does not say it finishes its own half-made change: $(cat "$workdir/res1.out")"
grep -q "changed behind our back" "$workdir/res1.out" "$workdir/res1.err" &&
	fail "resume calls its own half-made change someone else's"
[ "$(run_state "$D1")" = "done done" ] || fail "$D1: '$(run_state "$D1")' after resume, want done"
[ "$(mxline "$D1")" = "$final" ] || fail "$D1: MX $(mxline "$D1"), the plan says $final"

# 1b. A record that is neither before nor after: still someone else's change.
cfmx "$D2" add "5 intruder.$D2"
intruded=$(mxline "$D2")
mxc "$workdir/faulty.conf" resume "$D2" --yes >"$workdir/res2.out" 2>"$workdir/res2.err"
rc=$?
last=$(tail -1 "$workdir/res2.err")
[ $rc -eq 3 ] || fail "resume with a foreign record in the RRset: exit $rc, want 3 ($last)"
case $last in *"changed behind our back"*) ;; *) fail "foreign record: last stderr line: $last" ;; esac
[ "$(mxline "$D2")" = "$intruded" ] || fail "$D2: the refused resume changed the zone: $(mxline "$D2")"
figure "a foreign record next to a half-made swap: exit $rc, $last"
cfmx "$D2" del "5 intruder.$D2"
mxc "$workdir/faulty.conf" resume "$D2" --yes >"$workdir/res3.out" 2>"$workdir/res3.err"
rc=$?
[ $rc -eq 0 ] || fail "resume once the foreign record is gone: exit $rc ($(tail -1 "$workdir/res3.err"))"
[ "$(mxline "$D2")" = "$(plan_mx pw "$D2" final)" ] ||
	fail "$D2: MX $(mxline "$D2"), the plan says $(plan_mx pw "$D2" final)"

# 2. A rollback whose first write (the legacy host back at 0: one create, then the target's
#    update to 30) has its update refused.
snap=$(mxline "$D3")
mxc "$workdir/direct.conf" run "$D3" --target-mx "$T3" --provider cf --yes >"$workdir/r3.out" 2>&1 ||
	fail "$D3: the run without faults: $(tail -1 "$workdir/r3.out")"
# Microsoft withdraws the TLSA after Disable-SmtpDaneInbound (the rollback's first gate).
Z dane-off "$T3"
rules '[{"method": "PATCH", "times": 1, "kind": "403"}]'
mxc "$workdir/faulty.conf" rollback "$D3" --yes >"$workdir/rb.out" 2>"$workdir/rb.err"
rc=$?
[ $rc -eq 3 ] || fail "$D3: a rollback refused halfway: exit $rc, want 3 ($(tail -1 "$workdir/rb.err"))"
rbhalf=$(mxline "$D3")
echo "$D3: half-made rollback write: $rbhalf"
rules '[]'
mxc "$workdir/faulty.conf" resume "$D3" --yes >"$workdir/rb2.out" 2>"$workdir/rb2.err"
rc=$?
[ $rc -eq 0 ] || fail "resume of a rollback stopped halfway: exit $rc ($(tail -1 "$workdir/rb2.err"))"
[ "$(run_state "$D3" | cut -d' ' -f1)" = rolled_back ] || fail "$D3: '$(run_state "$D3")', want rolled_back"
[ "$(mxline "$D3")" = "$snap" ] || fail "$D3: MX $(mxline "$D3") after the rollback, the snapshot was $snap"
figure "a rollback write refused halfway leaves: $rbhalf; resume restores $snap"

[ "$(open_intents)" = 0 ] || fail "$(open_intents) intent(s) left open"
finish
