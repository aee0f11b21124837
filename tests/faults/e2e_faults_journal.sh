#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/faults/e2e_faults_journal.sh — the state database fails in the middle of a run
# (the journal's test seam MXCUTOVER_JNL_FAULT: from its N-th write on, every write and sync
# of the process fails, as on a disk that fills up or fails). For many N, spread over the
# whole run: the run stops with exit 3 and a last stderr line that names the state database
# and says to resume; the zone holds nothing the journal does not know (every DNS write has
# its intent: the zone's MX is the last intent's before or after, or the MX from before the
# run when there is none); and, without the fault, resume (or run, when the run was never
# recorded) finishes exactly as planned with no intent left open. Through the PowerDNS
# adapter, with `run --file` of several domains for some N.
. "$(dirname "$0")/faults_lib.sh"
# N for single-domain runs (the first few land while the database is opened) and for runs of
# three domains together; write:N (a full disk) and ioerr:N (a failing disk) alternate.
# (A fresh database takes about 46 writes to open; a run of one domain about 250 more. With
# 48, the three runs' start fails: `run --file --yes` journals them in one transaction.)
NS_ONE=${MX_JNL_FAULT_NS:-"1 11 40 50 60 72 85 100 117 136 157 180 205 232 262"}
NS_MANY=${MX_JNL_FAULT_NS_MANY:-"48 70 200 380 560"}
set -- $NS_ONE
n_one=$#
set -- $NS_MANY
n_many=$#
make_zones jf $((n_one + 3 * n_many))
plan_all jf "$MX_CONFIG" pdns
# The MX of every zone before any run, as the name servers' PowerDNS holds it.
while read -r d _; do Z dump "$d" | grep "^$d\. MX " >"$workdir/$d.mx0"; done <"$workdir/jf.list"

# known DB DOMAIN... — each domain's MX is one the journal knows (see the top); prints one
# line per domain: "DOMAIN OK|FAIL why".
known_to_journal() {
	local db=$1
	shift
	python3 - "$db" "$workdir" "$@" <<'PY'
import json, os, sqlite3, sys
sys.path.insert(0, os.environ["MX_SANDBOX_TOOLS"])
import sbxlib as L
db, w, domains = sys.argv[1], sys.argv[2], sys.argv[3:]
api = L.api_from_env(L.load_env(os.environ["MX_SANDBOX_ENV"]), "child")
con = sqlite3.connect(db) if os.path.exists(db) else None
def zone_mx(d):
    z = api.req("GET", "/zones/" + L.fqdn(d))
    for rs in z["rrsets"]:
        if rs["type"] == "MX" and rs["name"] == d + ".":
            return (rs["ttl"], tuple(sorted(r["content"].rstrip(".").lower()
                                            for r in rs["records"] if not r["disabled"])))
    return (0, ())
def rr(text):
    j = json.loads(text)
    return (j["ttl"] if j["values"] else 0, tuple(sorted(v.lower() for v in j["values"])))
for d in domains:
    got = zone_mx(d)
    rows = []
    if con:
        try:
            rows = con.execute("SELECT i.before, i.after, i.done_at, i.outcome FROM intents i "
                               "JOIN runs r ON r.id = i.run_id WHERE r.domain = ? AND "
                               "i.rrtype = 'MX' ORDER BY i.id", (d,)).fetchall()
        except sqlite3.Error:
            rows = []
    line = open(os.path.join(w, d + ".mx0")).read().split()
    # "NAME. MX TTL v1 | v2": the values are the fields after the TTL, split on "|".
    vals = " ".join(line[3:]).split(" | ")
    orig = (int(line[2]), tuple(sorted(v.rstrip(".").lower() for v in vals)))
    if not rows:
        ok = got == orig
        why = "no intent, and the MX is %r, not the one from before the run %r" % (got, orig)
    else:
        before, after, done_at, outcome = rows[-1]
        allowed = [rr(after)] if outcome == "applied" else [rr(before), rr(after)]
        ok = got in allowed
        why = "the MX is %r; the last intent (%s) allows %r" % (got, outcome or "open", allowed)
    print("%s %s %s" % (d, "OK" if ok else "FAIL", "" if ok else why))
PY
}

# attempt LABEL DB N SPEC DOMAIN... — one faulted run (one domain, or --file of several),
# its checks, then the run finished without the fault.
faulted=0
completed=0
labels=
attempt() {
	local label=$1 db=$2 n=$3 spec=$4 rc last
	shift 4
	local doms=("$@")
	STATE=$db
	labels="$labels $label"
	for d in "${doms[@]}"; do grep "^$d " "$workdir/jf.list"; done >"$workdir/$label.list"
	if [ ${#doms[@]} -eq 1 ]; then
		t=$(grep "^${doms[0]} " "$workdir/jf.list" | cut -d' ' -f2)
		MXCUTOVER_JNL_FAULT=$spec mxc "$MX_CONFIG" run "${doms[0]}" --target-mx "$t" \
			--provider pdns --yes >"$workdir/$label.out" 2>"$workdir/$label.err"
	else
		MXCUTOVER_JNL_FAULT=$spec mxc "$MX_CONFIG" run --file "$workdir/$label.list" \
			--provider pdns --yes >"$workdir/$label.out" 2>"$workdir/$label.err"
	fi
	rc=$?
	last=$(tail -1 "$workdir/$label.err")
	echo "$label ($spec): exit $rc: $last" >>"$workdir/outcomes"
	case $rc in
	0) completed=$((completed + 1)) ;; # N lies beyond the run's last write
	3)
		faulted=$((faulted + 1))
		case $last in
		*"state database"*resume*) ;;
		*) fail "$label ($spec): exit 3, but the last stderr line does not name the state database and say to resume: '$last'" ;;
		esac
		;;
	*) fail "$label ($spec): exit $rc, want 3 (or 0 when N is past the run): '$last'" ;;
	esac
	while read -r d verdict why; do
		[ "$verdict" = OK ] || fail "$label ($spec): $d: a DNS write the journal does not know: $why"
	done < <(known_to_journal "$db" "${doms[@]}")
	# Without the fault: resume what was recorded; run what was never recorded.
	if [ $rc -ne 0 ]; then
		mxc "$MX_CONFIG" resume --yes >"$workdir/$label.res.out" 2>"$workdir/$label.res.err" ||
			fail "$label ($spec): resume without the fault: exit $? ($(tail -1 "$workdir/$label.res.err"))"
		for d in "${doms[@]}"; do
			if ! mxc "$MX_CONFIG" --json status "$d" 2>/dev/null | grep -q '"state": "done"'; then
				t=$(grep "^$d " "$workdir/jf.list" | cut -d' ' -f2)
				mxc "$MX_CONFIG" run "$d" --target-mx "$t" --provider pdns --yes \
					>>"$workdir/$label.res.out" 2>>"$workdir/$label.res.err" ||
					fail "$label ($spec): $d: run without the fault: exit $? ($(tail -1 "$workdir/$label.res.err"))"
			fi
		done
	fi
}

i=0
k=0
mapfile -t all < <(cut -d' ' -f1 "$workdir/jf.list")
for n in $NS_ONE; do
	spec=write:$n
	[ $((k % 2)) -eq 1 ] && spec=ioerr:$n
	k=$((k + 1))
	attempt "one$n" "$workdir/one$n.db" "$n" "$spec" "${all[$i]}"
	i=$((i + 1))
done
for n in $NS_MANY; do
	spec=write:$n
	[ $((k % 2)) -eq 1 ] && spec=ioerr:$n
	k=$((k + 1))
	attempt "many$n" "$workdir/many$n.db" "$n" "$spec" "${all[$i]}" "${all[$((i + 1))]}" "${all[$((i + 2))]}"
	i=$((i + 3))
done
cat "$workdir/outcomes"
[ "$faulted" -ge $(((n_one + n_many) * 2 / 3)) ] ||
	fail "only $faulted of $((n_one + n_many)) runs met the fault: the N are past the runs' writes"

# Every zone exactly as planned, every run done, no intent open (verify of faults_lib, once
# per database: each attempt's list, the batch's plans).
verified=0
for label in $labels; do
	ln -s "$workdir/jf.plans" "$workdir/$label.plans"
	ln -s "$workdir/jf.before" "$workdir/$label.before"
	STATE=$workdir/$label.db
	verify "$label"
	verified=$((verified + ${VERIFIED:-0}))
done
figure "state database failing at its N-th write: $faulted of $((n_one + n_many)) runs stopped (exit 3, the last line naming the state database), $completed were past N; $verified/$(wc -l <"$workdir/jf.list") zones exactly as planned after resume"
finish
