# SPDX-License-Identifier: MIT
# tests/faults/faults_lib.sh — shared by the fault scripts (tests/faults/e2e_faults_*.sh): the
# fault proxy in front of a provider API, a batch of fresh zones with their plans, a run that
# is resumed until it is done (bounded), and the checks that every zone ends exactly as its
# plan says with no record lost or duplicated and no intent left open.
. "$(dirname "${BASH_SOURCE[0]}")/../e2e_lib.sh"
Z() { python3 "$MX_SOURCE_DIR/tests/zonetool.py" "$@"; }
FAKES=$MX_SOURCE_DIR/tests/fakes
PROXY=$MX_SOURCE_DIR/tests/faults/faultproxy.py
export MXCUTOVER_CLOCK=warp
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; [ -n "${MX_E2E_KEEP:-}" ] || rm -rf "$workdir"' EXIT
# Faults in the engine that the scripts find but do not fail on (they are reported as
# "KNOWN:" lines) unless MX_FAULTS_STRICT=1.
known() {
	if [ -n "${MX_FAULTS_STRICT:-}" ]; then fail "$*"; else echo "KNOWN: $*" >&2; fi
}
figure() { echo "FIGURE: $*" | tee -a "$workdir/figures" >&2; }

# ctrl_c PID OUT TEXT — Ctrl-C while a provider call is under way: waits (at most 30 s) until
# the file OUT shows TEXT (the step whose write is held), a second more, then sends SIGINT to
# PID and waits for it. Sets RC (its exit status) and INT_MS (from the signal to its end).
ctrl_c() {
	local pid=$1 out=$2 text=$3 t0
	for _ in $(seq 1 300); do
		grep -q "$text" "$out" 2>/dev/null && break
		sleep 0.1
	done
	sleep 1
	t0=$(date +%s%N)
	kill -INT "$pid"
	wait "$pid"
	RC=$?
	INT_MS=$((($(date +%s%N) - t0) / 1000000))
}

# wait_port FILE — waits for a server to write its port.
wait_port() {
	for _ in $(seq 1 200); do
		[ -s "$1" ] && break
		sleep 0.05
	done
	cat "$1" 2>/dev/null || fail "no port in $1"
}

# start_proxy NAME UPSTREAM [faultproxy options] — sets PROXY_PORT; the log is
# $workdir/NAME.plog, the rate file $workdir/NAME.rate.
start_proxy() {
	local name=$1 up=$2
	shift 2
	rm -f "$workdir/$name.pport"
	python3 "$PROXY" --upstream "$up" --port-file "$workdir/$name.pport" \
		--log "$workdir/$name.plog" --rate-file "$workdir/$name.rate" "$@" \
		2>"$workdir/$name.proxy.err" &
	pids+=($!)
	PROXY_PORT=$(wait_port "$workdir/$name.pport")
}

# start_rules_proxy NAME UPSTREAM — start_proxy with no random faults, only the rules in
# $RULES (none at first); `rules JSON` replaces them (a new file: its counts start over).
RULES=$workdir/rules.json
start_rules_proxy() {
	echo '[]' >"$RULES"
	start_proxy "$1" "$2" --rate 0 --rules-file "$RULES"
}
rules() { printf '%s\n' "$1" >"$RULES.tmp" && mv "$RULES.tmp" "$RULES"; }
# pdns_rules_batch LABEL N — the sandbox's PowerDNS behind a rules-only fault proxy
# ($workdir/pdns.conf, provider pdns) and N fresh zones with their plans ($workdir/LABEL.list).
pdns_rules_batch() {
	start_rules_proxy pdns http://127.0.0.1:8081
	pdns_conf pdns "$PROXY_PORT" >"$workdir/pdns.conf"
	make_zones "$1" "$2"
	plan_all "$1" "$MX_CONFIG" pdns
}

# cutover_conf — the [cutover] section of the sandbox's config.
cutover_conf() { sed -n '/^\[cutover\]/,/^$/p' "$MX_CONFIG"; }

# pdns_conf NAME PORT — that section and [provider.NAME]: the sandbox's PowerDNS API at
# 127.0.0.1:PORT (the fault proxy's port).
pdns_conf() {
	cutover_conf
	printf '[provider.%s]\ntype = powerdns\nurl = http://127.0.0.1:%s\n' "$1" "$2"
	printf 'server_id = localhost\napi_key_file = %s\n' "$PDNS_API_KEY_FILE"
}

# make_zones LABEL N — N fresh zones (no MTA-STS, MX TTL 60); $workdir/LABEL.list holds
# "DOMAIN TARGET" lines.
make_zones() {
	"$MX_SANDBOX_TOOLS/mkzone" --bulk "$2" "f$1$$x" --mtasts none --mx-ttl 60 >"$workdir/$1.zones" ||
		fail "mkzone --bulk $2"
	while read -r z; do echo "$z ${z//./-}.o-v1.mx.microsoft.test"; done \
		<"$workdir/$1.zones" >"$workdir/$1.list"
}

# mxc CONFIG ARGS... — the binary with another config and the state database $STATE (one
# per batch, so that resume takes up only that batch's runs).
STATE=$workdir/state.db
mxc() {
	local conf=$1
	shift
	"$MXCUTOVER" --config "$conf" --resolver-conf "$MX_RESOLVER_CONF" --cacert "$MX_CACERT" \
		--state "$STATE" "$@"
}

# plan_all LABEL CONFIG PROVIDER — the JSON plan (made without faults) of the first zone of
# the list and of the last; the zones of one batch are alike (mkzone --bulk), so the others'
# plans are the first one's with the names replaced (checked on the last). And every zone's
# records besides its MX, as they are before the run.
plan_all() {
	local first last d t
	mkdir -p "$workdir/$1.plans" "$workdir/$1.before"
	first=$(head -1 "$workdir/$1.list")
	last=$(tail -1 "$workdir/$1.list")
	for d in "${first%% *}" "${last%% *}"; do
		t=$(grep "^$d " "$workdir/$1.list" | cut -d' ' -f2)
		mxc "$2" plan "$d" --target-mx "$t" --provider "$3" --format json \
			-o "$workdir/$1.plans/$d.json" >/dev/null 2>"$workdir/$1.plan.err" ||
			fail "plan $d: $(cat "$workdir/$1.plan.err")"
	done
	python3 - "$workdir/$1.plans" "$workdir/$1.list" <<'PY' || fail "$1: the plans of the batch differ in more than the names"
import json, os, sys
plans, lst = sys.argv[1], [l.split()[0] for l in open(sys.argv[2]) if l.strip()]
def final(p):
    last = {}
    for s in p["steps"]:
        if s.get("after"):
            last[(s["after"]["name"], s["after"]["type"])] = s["after"]
    return last
def rename(text, a, b):
    return text.replace(a.replace(".", "-"), b.replace(".", "-")).replace(a, b)
first = open(os.path.join(plans, lst[0] + ".json")).read()
want_last = rename(first, lst[0], lst[-1])
if final(json.loads(want_last)) != final(json.load(open(os.path.join(plans, lst[-1] + ".json")))):
    sys.exit(1)
for d in lst[1:-1]:
    open(os.path.join(plans, d + ".json"), "w").write(rename(first, lst[0], d))
PY
	python3 - "$workdir" "$1" <<'PY' || fail "$1: cannot read the zones before the run"
import os, sys
sys.path.insert(0, os.environ["MX_SANDBOX_TOOLS"])
import sbxlib as L
w, label = sys.argv[1], sys.argv[2]
api = L.api_from_env(L.load_env(os.environ["MX_SANDBOX_ENV"]), "child")
for line in open("%s/%s.list" % (w, label)):
    d = line.split()[0]
    z = api.req("GET", "/zones/" + L.fqdn(d))
    out = []
    for rs in sorted(z["rrsets"], key=lambda r: (r["name"], r["type"])):
        if rs["type"] in ("SOA", "RRSIG", "NSEC", "NSEC3", "DNSKEY", "NSEC3PARAM", "MX") and \
                (rs["type"] != "MX" or rs["name"] == d + "."):
            continue
        vals = sorted(r["content"] for r in rs["records"] if not r["disabled"])
        out.append("%s %s %s %s\n" % (rs["name"], rs["type"], rs["ttl"], " | ".join(vals)))
    open("%s/%s.before/%s" % (w, label, d), "w").write("".join(out))
PY
}

# storm LABEL CONFIG PROVIDER [MAX_RESUMES] — runs every zone of the list (--yes), then
# resumes while the command fails, at most MAX_RESUMES (15) times. Each attempt must end 0
# or 3; a 3 must say why on its last stderr line (never empty, never the generic line of a
# command that gave no reason).
storm() {
	local label=$1 conf=$2 prov=$3 max=${4:-15} rc i=0
	mxc "$conf" run --file "$workdir/$label.list" --provider "$prov" --yes \
		>"$workdir/$label.run0.out" 2>"$workdir/$label.run0.err"
	rc=$?
	STORM_FIRST=$rc
	check_exit "$label" "$rc" "$workdir/$label.run0"
	while [ "$rc" -ne 0 ] && [ "$i" -lt "$max" ]; do
		i=$((i + 1))
		mxc "$conf" resume --yes >"$workdir/$label.res$i.out" 2>"$workdir/$label.res$i.err"
		rc=$?
		check_exit "$label" "$rc" "$workdir/$label.res$i"
	done
	STORM_RESUMES=$i
	[ "$rc" -eq 0 ] || fail "$label: not done after $max resumes (exit $rc: $(tail -1 "$workdir/$label.res$i.err"))"
}

check_exit() { # check_exit LABEL RC PREFIX
	case $2 in
	0) ;;
	3)
		STOPS=$((${STOPS:-0} + 1))
		local last
		last=$(tail -1 "$3.err")
		case $last in
		"") fail "$1: exit 3 with nothing on stderr ($(grep -c ': stopped: ' "$3.out") runs stopped)" ;;
		*"without a message"*) fail "$1: exit 3 without a reason: $last" ;;
		esac
		;;
	*) fail "$1: exit $2 ($(tail -1 "$3.err"))" ;;
	esac
}

# verify LABEL — every run done; every zone's MX exactly its plan's last MX (values and TTL),
# every other record as it was; no intent without a completion. (One Python process for the
# whole batch: the zones are read through the sandbox's PowerDNS API.)
verify() {
	local label=$1 out
	mxc "$MX_CONFIG" --json status >"$workdir/$label.status.json" 2>/dev/null
	out=$(python3 - "$workdir" "$label" <<'PY'
import json, os, sys
sys.path.insert(0, os.environ["MX_SANDBOX_TOOLS"])
import sbxlib as L
w, label = sys.argv[1], sys.argv[2]
api = L.api_from_env(L.load_env(os.environ["MX_SANDBOX_ENV"]), "child")
runs = {r["domain"]: r for r in json.load(open("%s/%s.status.json" % (w, label)))["runs"]}
def dump(d):
    z = api.req("GET", "/zones/" + L.fqdn(d))
    lines = []
    for rs in sorted(z["rrsets"], key=lambda r: (r["name"], r["type"])):
        if rs["type"] in ("SOA", "RRSIG", "NSEC", "NSEC3", "DNSKEY", "NSEC3PARAM"):
            continue
        vals = sorted(r["content"] for r in rs["records"] if not r["disabled"])
        lines.append("%s %s %s %s" % (rs["name"], rs["type"], rs["ttl"], " | ".join(vals)))
    return lines
ok = 0
for line in open("%s/%s.list" % (w, label)):
    d = line.split()[0]
    r = runs.get(d)
    if not r or r["state"] != "done":
        print("FAIL: %s: %s: run %s" % (label, d, r and (r["state"], r["step"], r.get("error"))))
        continue
    p = json.load(open("%s/%s.plans/%s.json" % (w, label, d)))
    last = {}
    for s in p["steps"]:
        if s.get("after"):
            last[(s["after"]["name"], s["after"]["type"])] = s["after"]
    a = last[(d, "MX")]
    want = "%s. MX %d %s" % (d, a["ttl"], " | ".join(sorted(v + "." for v in a["values"])))
    lines = dump(d)
    got = [l for l in lines if l.startswith(d + ". MX ")]
    rest = [l for l in lines if not l.startswith(d + ". MX ")]
    before = open("%s/%s.before/%s" % (w, label, d)).read().splitlines()
    if got != [want]:
        print("FAIL: %s: %s MX is %r, the plan says %r" % (label, d, got, want))
    elif rest != before:
        print("FAIL: %s: %s: records other than the MX changed: %r" % (label, d, sorted(set(rest) ^ set(before))))
    else:
        ok += 1
print("VERIFIED %d" % ok)
PY
)
	VERIFIED=$(echo "$out" | sed -n 's/^VERIFIED //p')
	while read -r l; do
		case $l in FAIL:*) fail "${l#FAIL: }" ;; esac
	done <<<"$out"
	[ -n "$VERIFIED" ] || fail "$label: the check of the zones did not run: $out"
	open=$(sqlite3 "$STATE" "SELECT count(*) FROM intents WHERE done_at IS NULL" 2>/dev/null)
	[ "${open:-x}" = 0 ] || fail "$label: $open intent(s) left open"
}

# lost_writes LABEL PLOG ZONE_RE — of the writes the proxy forwarded but whose answer it
# dropped (lost, lost502), how many were followed, for the same zone, by a read before any
# other write (reconciled) and how many by a write (replayed without reading). ZONE_RE
# extracts the zone's key from a path (Python regex, group 1).
lost_writes() {
	python3 - "$2" "$3" <<'PY'
import json, re, sys
# In the order of arrival: a forwarded request is logged once the upstream answered.
rows = sorted((json.loads(l) for l in open(sys.argv[1])), key=lambda r: r["n"])
key = re.compile(sys.argv[2])
def zone(r):
    m = key.search(r["path"])
    return m.group(1) if m else None
lost = rec = replay = 0
for i, r in enumerate(rows):
    if r["fault"] not in ("lost", "lost502") or r["method"] == "GET":
        continue
    z = zone(r)
    if z is None:
        continue
    lost += 1
    for s in rows[i + 1:]:
        if zone(s) != z:
            continue
        if s["method"] == "GET":
            rec += 1
        else:
            replay += 1
        break
print(lost, rec, replay)
PY
}

# fault_counts PLOG — "N faults in M requests (kind:count ...)".
fault_counts() {
	python3 - "$1" <<'PY'
import collections, json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
c = collections.Counter(r["fault"] for r in rows if r["fault"])
print("%d faults in %d requests (%s)" % (sum(c.values()), len(rows),
      " ".join("%s:%d" % kv for kv in sorted(c.items()))))
PY
}

# ---- the sandbox's one BIND zone that takes updates (the RFC 2136 scripts) ----
NW=northwind.test
NWT=northwind-test.o-v1.mx.microsoft.test
POLICY=$MX_SANDBOX_WWW/mta-sts.$NW/.well-known/mta-sts.txt
dig_mx() { dig +short +norec @"$1" $NW MX | sort | tr '\n' ' '; }

# nw_prepare — keeps what northwind.test serves (mx_before), its MTA-STS policy and its
# target's TLSA (restore puts them back); makes the plan without faults, straight to the
# primary; writes its policies to $workdir/staged and $workdir/final, sets want_mx (the
# plan's last MX as `dig +short` shows it: sorted, one space after each) and publishes the
# staged policy.
nw_prepare() {
	mx_before=$(dig_mx 127.0.4.2)
	cp "$POLICY" "$workdir/policy.orig" || fail "no MTA-STS policy for $NW in the sandbox"
	tlsa=$(Z dump mx.microsoft.test | grep "^_25._tcp.$NWT. TLSA " | cut -d' ' -f3-)
	[ -n "$tlsa" ] || fail "no TLSA for $NWT in the sandbox"
	mxc "$MX_CONFIG" plan $NW --target-mx $NWT --provider bind --format json \
		-o "$workdir/plan.json" || fail "plan for $NW"
	want_mx=$(python3 - "$workdir/plan.json" "$workdir" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
st = {s["key"]: s for s in p["steps"]}
last = [s["after"] for s in p["steps"] if s.get("after") and s["after"]["type"] == "MX"][-1]
open(sys.argv[2] + "/staged", "w").write(st["mtasts_stage"]["policy"])
open(sys.argv[2] + "/final", "w").write(st["mtasts_finalize"]["policy"])
print("".join(v + ". " for v in sorted(last["values"])), end="")
PY
	)
	[ -n "$want_mx" ] || fail "no final MX in the plan"
	cp "$workdir/staged" "$POLICY"
}
restore() {
	cp "$workdir/policy.orig" "$POLICY"
	Z set mx.microsoft.test "_25._tcp.$NWT." TLSA "${tlsa%% *}" "${tlsa#* }" >/dev/null
}

# nw_proxy NAME [faultproxy options] — the fault proxy in --dns mode in front of the BIND
# primary (log $workdir/bind.plog) and $workdir/NAME.conf: [cutover] and [provider.NAME],
# the sandbox's [provider.bind] sending to the proxy.
nw_proxy() {
	local name=$1 port
	shift
	rm -f "$workdir/bind.pport"
	python3 "$PROXY" --dns 127.0.4.2:53 --listen 127.0.0.1:0 --port-file "$workdir/bind.pport" \
		--log "$workdir/bind.plog" "$@" 2>"$workdir/bind.proxy.err" &
	pids+=($!)
	port=$(wait_port "$workdir/bind.pport")
	{
		cutover_conf
		sed -n '/^\[provider\.bind\]/,/^$/p' "$MX_CONFIG" |
			sed "s/^\[provider\.bind\]/[provider.$name]/; s/^server *=.*/server = 127.0.0.1@$port/"
	} >"$workdir/$name.conf"
	grep -q "^server = 127.0.0.1@$port" "$workdir/$name.conf" || fail "no proxied provider config"
}

# nw_served WANT WHEN WHAT — both BIND servers serve WANT as northwind's MX (dig_mx form), and
# no intent is left open; WHEN names the moment, WHAT what WANT is, in the failure.
nw_served() {
	local s got open
	for s in 127.0.4.2 127.0.4.3; do
		got=$(dig_mx $s)
		[ "$got" = "$1" ] || fail "$NW on $s after the $2: '$got', $3 '$1'"
	done
	open=$(sqlite3 "$STATE" "SELECT count(*) FROM intents WHERE done_at IS NULL")
	[ "$open" = 0 ] || fail "$open intent(s) left open after the $2"
}
