#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/e2e_run.sh — the cutover engine against the sandbox: complete runs through the
# powerdns, rfc2136 and manual providers, under a monitor that asks every authoritative
# server every 50 ms; status; rollback after completion; three domains in one run; the lock;
# drift; a reviewed plan; secrets never in the state database.
. "$(dirname "$0")/e2e_lib.sh"
Z() { python3 "$MX_SOURCE_DIR/tests/zonetool.py" "$@"; }
export MXCUTOVER_CLOCK=warp
n=0
fresh() { # fresh [mkzone options] → sets D (domain) and T (target)
	n=$((n + 1))
	D=run$$x$n.test
	T=$("$MX_SANDBOX_TOOLS/mkzone" "$D" "$@") || fail "mkzone $D"
}
final_mx() { echo "$D. MX 3600 0 $T."; }
mxline() { Z dump "$D" | grep "^$D\. MX "; }
others() { Z dump "$D" | grep -v -E "^($D\. MX|_mta-sts\.$D\. TXT) "; }

# ctrl_c_when_waiting LIST N — `run --file $workdir/LIST` on the real clock in the background
# (state LIST.db, output LIST.out and LIST.err); Ctrl-C once N of its runs wait. Sets rc.
ctrl_c_when_waiting() {
	local p
	(MXCUTOVER_CLOCK= exec "$MXCUTOVER" --config "$MX_CONFIG" --resolver-conf \
		"$MX_RESOLVER_CONF" --cacert "$MX_CACERT" --state "$workdir/$1.db" run --file \
		"$workdir/$1" --provider pdns --yes </dev/null >"$workdir/$1.out" 2>"$workdir/$1.err") &
	p=$!
	for _ in $(seq 1 200); do
		[ "$(mx --state "$workdir/$1.db" --json status 2>/dev/null | grep -c '"state": "waiting"')" -eq "$2" ] && break
		sleep 0.1
	done
	kill -INT $p
	wait $p
	rc=$?
}

# completes_again LIST — the same `run --file $workdir/LIST --yes` (state LIST.db) again
# finishes every domain listed ("DOMAIN TARGET" lines).
completes_again() {
	expect_status 0 mx --state "$workdir/$1.db" run --file "$workdir/$1" --provider pdns --yes \
		</dev/null >"$workdir/$1.again" 2>&1
	while read -r D T; do
		[ "$(mxline </dev/null)" = "$(final_mx)" ] || fail "the same command again ($1): $D: $(mxline </dev/null)"
	done <"$workdir/$1"
}

# 1. PowerDNS, with MTA-STS: the staged policy is published (as a person would) before the
#    run reaches its gate; a monitor watches both servers throughout.
fresh --mtasts enforce
before_others=$(others)
mx plan "$D" --target-mx "$T" --provider pdns --format json -o "$workdir/plan.json" ||
	fail "plan for $D"
python3 - "$workdir/plan.json" "$MX_SANDBOX_WWW/mta-sts.$D/.well-known/mta-sts.txt" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
st = {s["key"]: s for s in p["steps"]}
open(sys.argv[2], "w").write(st["mtasts_stage"]["policy"])
PY
rm -f "$workdir/stop"
Z monitor "$D" "$workdir/stop" >"$workdir/monitor.log" &
mon=$!
expect_status 1 mx run "$D" --target-mx "$T" --provider pdns --yes --plan "$workdir/plan.json" \
	>"$workdir/run1.log" 2>&1
grep -q 'ACTION NEEDED' "$workdir/run1.log" || fail "the final MTA-STS gate is printed"
# The final policy is not up yet: the run stops, resumable, at mtasts_finalize (exit 1).
mx --json status "$D" >"$workdir/st.json"
python3 -c '
import json,sys; d=json.load(open(sys.argv[1]))["runs"][0]
assert d["state"]=="gate" and d["step"]=="mtasts_finalize", d' "$workdir/st.json" ||
	fail "run waits at mtasts_finalize until the final policy is published"
[ "$(mxline)" = "$(final_mx)" ] || fail "MX after the swap: $(mxline)"
python3 - "$workdir/plan.json" "$MX_SANDBOX_WWW/mta-sts.$D/.well-known/mta-sts.txt" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
st = {s["key"]: s for s in p["steps"]}
open(sys.argv[2], "w").write(st["mtasts_finalize"]["policy"])
PY
expect_status 0 mx resume "$D" --yes >>"$workdir/run1.log" 2>&1
touch "$workdir/stop"
wait "$mon" || fail "monitor: $(cat "$workdir/monitor.log")"
mx --json status "$D" >"$workdir/st.json"
python3 -c '
import json,sys; d=json.load(open(sys.argv[1]))["runs"][0]
assert d["state"]=="done" and d["next_at"] is None and d["target"]==sys.argv[2], d' \
	"$workdir/st.json" "$T" || fail "status done"
[ "$(mxline)" = "$(final_mx)" ] || fail "final MX: $(mxline)"
Z dump "$D" | grep -q "^_mta-sts.$D. TXT 3600 \"v=STSv1; id=" || fail "_mta-sts id bumped"
[ "$(others)" = "$before_others" ] || fail "records other than MX/_mta-sts changed"

# Rollback after completion restores the snapshot exactly (values, preference, TTL, TXT),
# once the original policy is back.
# The rollback asks for the policy that was served when the run started (here the staged
# one, published before the run, as an admin may do).
python3 - "$workdir/plan.json" "$MX_SANDBOX_WWW/mta-sts.$D/.well-known/mta-sts.txt" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
st = {s["key"]: s for s in p["steps"]}
open(sys.argv[2], "w").write(st["mtasts_stage"]["policy"])
PY
# Inbound DANE was enabled: the rollback waits until the TLSA is withdrawn (it never goes on
# unverified); with --yes it stops resumable at gate_timeout, exit 1, still rolling back.
sed 's/^gate_timeout.*$//; s/^\[cutover\]$/[cutover]\ngate_timeout = 60/' "$MX_CONFIG" >"$workdir/short.conf"
expect_status 1 "$MXCUTOVER" --config "$workdir/short.conf" --resolver-conf "$MX_RESOLVER_CONF" \
	--cacert "$MX_CACERT" --state "$workdir/state.db" rollback "$D" --yes >"$workdir/rb.log" 2>&1
grep -q 'Disable-SmtpDaneInbound -DomainName' "$workdir/rb.log" || fail "rollback names the DANE cmdlet"
tail -1 "$workdir/rb.log" | grep -q 'still published after gate_timeout' ||
	fail "the DANE gate stops the rollback: $(tail -1 "$workdir/rb.log")"
[ "$(mxline)" = "$(final_mx)" ] || fail "the MX stays while DANE is on: $(mxline)"
mx --json status "$D" >"$workdir/st.json"
python3 -c '
import json,sys; d=json.load(open(sys.argv[1]))["runs"][0]
assert d["state"]=="gate" and d["step"]=="rb_dane", d' "$workdir/st.json" ||
	fail "the rollback waits at rb_dane: $(cat "$workdir/st.json")"
# Microsoft withdraws the TLSA; `resume` continues the rollback (never the forward run).
Z dane-off "$T"
expect_status 0 mx resume "$D" --yes >>"$workdir/rb.log" 2>&1
grep -q 'rolled back to the snapshot' "$workdir/rb.log" || fail "resume finished the rollback"
[ "$(mxline)" = "$D. MX 3600 0 ${D//./-}.mail.protection.outlook.test." ] ||
	fail "rolled back MX: $(mxline)"
Z dump "$D" | grep -q "^_mta-sts.$D. TXT 3600 \"v=STSv1; id=20260101T000000;\"" ||
	fail "rolled back _mta-sts TXT"
[ "$(others)" = "$before_others" ] || fail "rollback touched other records"
mx --json status "$D" | grep -q '"state": "rolled_back"' || fail "status rolled_back"

# 2. RFC 2136 (BIND, TSIG, compare-and-swap): northwind.test, then rolled back.
NW=northwind.test
NWT=northwind-test.o-v1.mx.microsoft.test
printf '%s' "$(mx plan $NW --target-mx $NWT --provider bind --format json | python3 -c '
import json,sys; p=json.load(sys.stdin); print({s["key"]:s for s in p["steps"]}.get("mtasts_stage",{}).get("policy",""))')" \
	>"$workdir/nw-staged"
if [ -s "$workdir/nw-staged" ]; then
	mkdir -p "$MX_SANDBOX_WWW/mta-sts.$NW/.well-known"
	cp "$MX_SANDBOX_WWW/mta-sts.$NW/.well-known/mta-sts.txt" "$workdir/nw-orig" 2>/dev/null
	cp "$workdir/nw-staged" "$MX_SANDBOX_WWW/mta-sts.$NW/.well-known/mta-sts.txt"
fi
MXCUTOVER_ENGINE_BUDGET_MS=20 mx run $NW --target-mx $NWT --provider bind --yes \
	>"$workdir/nw.log" 2>"$workdir/nw.err"
cat "$workdir/nw.err" >>"$workdir/nw.log"
# The engine's timing, asked for: one line, counted units, before the reason (the last line).
timing=$(grep "engine: .* units of work" "$workdir/nw.err")
[[ $timing =~ engine:\ ([0-9]+)\ units\ of\ work,\ ([0-9]+)\ over\ 20\ ms,\ the\ longest\ [0-9.]+\ ms\ \(([a-z_]+)\) ]] ||
	fail "engine timing line: '$timing'"
[ "${BASH_REMATCH[1]}" -gt 10 ] || fail "engine timing counted ${BASH_REMATCH[1]} units"
[ "${BASH_REMATCH[2]}" -le "${BASH_REMATCH[1]}" ] || fail "engine timing: $timing"
tail -1 "$workdir/nw.err" | grep -q "engine:" && fail "the timing line is the last stderr line"
# Every call of the RFC 2136 adapter (its reads from the primary, its TSIG-signed UPDATEs over
# TCP) and the DANE gate's lookup ran in fibers on the engine's loop, none on a worker thread.
[[ $timing =~ calls:\ ([0-9]+)\ on\ the\ engine.s\ loop.*,\ ([0-9]+)\ on\ workers ]] ||
	fail "no count of where the calls ran: '$timing'"
[ "${BASH_REMATCH[1]}" -ge 5 ] && [ "${BASH_REMATCH[2]}" -eq 0 ] ||
	fail "the RFC 2136 run's calls did not all run on the engine's loop: '$timing'"
for s in 127.0.4.2 127.0.4.3; do
	got=$(dig +short +norec @$s $NW MX)
	[ "$got" = "0 $NWT." ] || fail "northwind on $s: $got ($(tail -3 "$workdir/nw.log"))"
done
# It stopped at mtasts_finalize (the final policy is not up): roll back from there; the
# policy served (the staged one) covers every host the MX holds again. DANE was enabled: the
# TLSA is withdrawn first (and put back afterwards: other tests share the sandbox).
nwtlsa=$(Z dump mx.microsoft.test | grep "^_25._tcp.$NWT. TLSA " | cut -d' ' -f3-)
Z dane-off $NWT
expect_status 0 mx rollback $NW --yes >>"$workdir/nw.log" 2>&1
Z set mx.microsoft.test "_25._tcp.$NWT." TLSA "${nwtlsa%% *}" "${nwtlsa#* }"
[ -f "$workdir/nw-orig" ] && cp "$workdir/nw-orig" "$MX_SANDBOX_WWW/mta-sts.$NW/.well-known/mta-sts.txt"
[ "$(dig +short +norec @127.0.4.2 $NW MX)" = "0 northwind-test.mail.protection.outlook.test." ] ||
	fail "northwind rolled back: $(dig +short +norec @127.0.4.2 $NW MX)"

# 3. manual: the test applies each record set the run asks for, as a person would.
fresh --mtasts none
printf '[cutover]\nendpoint_suffix = mx.microsoft.test\nlegacy_suffixes = mail.protection.outlook.test\nspf_include = spf.protection.outlook.test\ngate_timeout = 100000\n[provider.hand]\ntype = manual\n' >"$workdir/manual.conf"
MXCUTOVER_ENGINE_BUDGET_MS=20 "$MXCUTOVER" --config "$workdir/manual.conf" \
	--resolver-conf "$MX_RESOLVER_CONF" --cacert "$MX_CACERT" --state "$workdir/state.db" \
	run "$D" --target-mx "$T" --provider hand --yes >"$workdir/manual.log" 2>&1 &
runpid=$!
applied=0
for _ in $(seq 1 600); do
	kill -0 $runpid 2>/dev/null || break
	want=$(grep -o "manual: set $D MX to .* (TTL [0-9]*)" "$workdir/manual.log" | tail -1)
	if [ -n "$want" ] && [ "$want" != "${last:-}" ]; then
		last=$want
		ttl=${want##*(TTL }
		ttl=${ttl%)}
		vals=${want#manual: set $D MX to }
		vals=${vals% (TTL*}
		IFS=',' read -ra parts <<<"$vals"
		args=()
		for p in "${parts[@]}"; do
			p=${p# }
			args+=("${p% *} ${p#* }.")
		done
		Z set "$D" "$D" MX "$ttl" "${args[@]}"
		applied=$((applied + 1))
	fi
	sleep 0.1
done
wait $runpid
rc=$?
[ "$rc" -eq 0 ] || fail "manual run exit $rc: $(tail -5 "$workdir/manual.log")"
[ "$applied" -ge 4 ] || fail "manual run asked for $applied changes, want ≥ 4"
# The manual provider's reads from each authoritative server ran on the engine's loop.
timing=$(grep "engine: .* units of work" "$workdir/manual.log")
[[ $timing =~ calls:\ ([0-9]+)\ on\ the\ engine.s\ loop.*,\ ([0-9]+)\ on\ workers ]] &&
	[ "${BASH_REMATCH[1]}" -ge 4 ] && [ "${BASH_REMATCH[2]}" -eq 0 ] ||
	fail "the manual run's reads did not all run on the engine's loop: '$timing'"
[ "$(mxline)" = "$(final_mx)" ] || fail "manual final MX: $(mxline)"
# One intent per change asked for, each completed (the run polls every few seconds).
q="SELECT COUNT(*), COUNT(done_at) FROM intents WHERE run_id = (SELECT MAX(id) FROM runs WHERE domain = '$D')"
[ "$(sqlite3 "$workdir/state.db" "$q")" = "$applied|$applied" ] ||
	fail "manual run intents (all|done): $(sqlite3 "$workdir/state.db" "$q"), want $applied|$applied"

# 4. Three domains in one run (--file), each its own run; a domain listed twice runs once.
: >"$workdir/three"
for i in 1 2 3; do
	fresh --mtasts none
	echo "$D $T" >>"$workdir/three"
	three[$i]=$D
done
# The first domain again, spelt otherwise: one run of it, not a second run refused.
T=${three[1]//./-}.o-v1.mx.microsoft.test
echo "${three[1]^^}. ${T^^}" >>"$workdir/three"
expect_status 0 mx --json run --file "$workdir/three" --provider pdns --yes \
	>"$workdir/three.json" 2>/dev/null
python3 -c '
import json, sys
runs = json.load(open(sys.argv[1]))["runs"]
assert len(runs) == 3 and all(r["state"] == "done" and r["next_at"] is None for r in runs), runs' \
	"$workdir/three.json" || fail "run --json: the status document of the three runs"
for i in 1 2 3; do
	D=${three[$i]}
	T=${D//./-}.o-v1.mx.microsoft.test
	[ "$(mxline)" = "$(final_mx)" ] || fail "three-domain run: $D: $(mxline)"
done

# 4b. One domain's failure does not stop the others: a blocked domain (fallback MX) next to
#     a ready one; the ready one completes, the exit status reports the blocked one.
fresh --mtasts none
printf '%s %s\nfallback.test fallback-test.o-v1.mx.microsoft.test\n' "$D" "$T" >"$workdir/mixed"
expect_status 1 mx run --file "$workdir/mixed" --provider pdns --yes >"$workdir/mixed.log" 2>&1
[ "$(mxline)" = "$(final_mx)" ] || fail "the ready domain next to a blocked one: $(mxline)"
grep -q 'fallback.test: stopped: .*preflight found blockers' "$workdir/mixed.log" ||
	fail "the blocked domain says why: $(grep fallback "$workdir/mixed.log" | tail -2)"

# 4c. Ctrl-C while several runs wait (real clock): exit 1, each is safe where it is, and the
#     last line counts them and says that one `resume` continues them all; it does; then
#     `rollback --file` of the same list rolls both back.
: >"$workdir/intr"
intr=()
for i in 1 2; do
	fresh --mtasts none
	echo "$D $T" >>"$workdir/intr"
	intr+=("$D")
done
ctrl_c_when_waiting intr 2
[ $rc -eq 1 ] || fail "Ctrl-C of two waiting runs: exit $rc, want 1 ($(tail -1 "$workdir/intr.err"))"
tail -1 "$workdir/intr.err" | grep -q "2 of 2 domains did not finish (.*; \`mxcutover resume\` continues them all); " ||
	fail "Ctrl-C of two runs: last line: $(tail -1 "$workdir/intr.err")"
expect_status 0 mx --state "$workdir/intr.db" resume --yes </dev/null >"$workdir/intr2.out" 2>&1
for D in "${intr[@]}"; do
	T=${D//./-}.o-v1.mx.microsoft.test
	[ "$(mxline)" = "$(final_mx)" ] || fail "resumed after Ctrl-C: $D: $(mxline)"
done
# The same list rolls back at once (`rollback --file`, the run's list, targets and all),
# each domain through its own DANE gate (Microsoft has withdrawn both TLSA records).
for D in "${intr[@]}"; do Z dane-off "${D//./-}.o-v1.mx.microsoft.test"; done
expect_status 0 mx --state "$workdir/intr.db" rollback --file "$workdir/intr" --yes \
	</dev/null >"$workdir/intr3.out" 2>&1
for D in "${intr[@]}"; do
	[ "$(mxline)" = "$D. MX 3600 0 ${D//./-}.mail.protection.outlook.test." ] ||
		fail "rollback --file: $D: $(mxline)"
done
mx --state "$workdir/intr.db" status | tail -1 | grep -q "^2 runs: 2 rolled_back$" ||
	fail "rollback --file: status: $(mx --state "$workdir/intr.db" status | tail -1)"
# A list with nothing to roll back for one domain: that one says so, the other is not held up.
expect_status 2 mx --state "$workdir/intr.db" rollback "${intr[0]}" nothing$$.test --yes \
	</dev/null >"$workdir/intr4.out" 2>&1
tail -1 "$workdir/intr4.out" | grep -q "2 of 2 domains did not finish" ||
	fail "rollback of two with nothing to do: $(tail -2 "$workdir/intr4.out")"

# 4c'. Ctrl-C next to a run that had already stopped for its own reason (a blocked preflight):
#      that one keeps its reason (it has no run to resume), only the two waiting ones are
#      "safe where it is", and the last line counts those two.
: >"$workdir/intr5"
for i in 1 2; do
	fresh --mtasts none
	echo "$D $T" >>"$workdir/intr5"
done
echo "fallback.test fallback-test.o-v1.mx.microsoft.test" >>"$workdir/intr5"
ctrl_c_when_waiting intr5 2
[ $rc -eq 1 ] || fail "Ctrl-C next to a blocked run: exit $rc, want 1 ($(tail -1 "$workdir/intr5.err"))"
grep -q 'safe where it is.*fallback.test' "$workdir/intr5.err" &&
	fail "the blocked run is not called resumable: $(grep fallback "$workdir/intr5.err")"
grep -q 'fallback.test: .*preflight found blockers' "$workdir/intr5.err" ||
	fail "the blocked run keeps its reason: $(cat "$workdir/intr5.err")"
tail -1 "$workdir/intr5.err" | grep -q "3 of 3 domains did not finish (.*; \`mxcutover resume\` continues the 2 stopped by the signal); .*safe where it is" ||
	fail "Ctrl-C next to a blocked run: last line: $(tail -1 "$workdir/intr5.err")"

# 4d. On a terminal, several runs share one countdown line: how many have ended, then the
#     nearest wait, cut to the terminal's width (60 columns here) so it redraws in place.
: >"$workdir/tty"
for i in 1 2; do
	fresh --mtasts none
	echo "$D $T" >>"$workdir/tty"
done
cmd="$MXCUTOVER --config $MX_CONFIG --resolver-conf $MX_RESOLVER_CONF --cacert $MX_CACERT"
cmd="$cmd --state $workdir/state.db run --file $workdir/tty --provider pdns --yes"
script -qec "stty cols 60; $cmd </dev/null >$workdir/tty.out" /dev/null >"$workdir/tty.err" 2>&1 ||
	fail "run --file on a terminal: $(tail -3 "$workdir/tty.err")"
python3 - "$workdir/tty.err" <<'PY' || fail "the countdown line of two runs: $(od -c "$workdir/tty.err" | head -8)"
import re, sys
raw = open(sys.argv[1], "rb").read().decode()
lines = [p.split("\r")[0] for p in raw.split("\x1b[K")[1:]]
drawn = [l for l in lines if l.startswith("[")]
assert drawn, raw
for l in drawn:
    assert re.match(r"\[[0-2]/2 ended\] ", l), l
    assert len(l) <= 59, l
PY

# 4e. Ctrl-C while runs are still being started: on a terminal without --yes, the first run
#     is started and Ctrl-C comes at the second domain's question. Exit 1, the last line
#     counts what was not reached, no zone changed; the same command started again
#     completes both (the first run, which changed nothing, is superseded).
: >"$workdir/half"
half=() half_mx=()
for i in 1 2; do
	fresh --mtasts none
	echo "$D $T" >>"$workdir/half"
	half+=("$D")
	half_mx+=("$(mxline)")
done
python3 - "$workdir/half.out" "$MXCUTOVER" --config "$MX_CONFIG" --resolver-conf \
	"$MX_RESOLVER_CONF" --cacert "$MX_CACERT" --state "$workdir/half.db" run --file \
	"$workdir/half" --provider pdns <<'PY' || fail "Ctrl-C at the second start question: $(tail -c 600 "$workdir/half.out")"
import os, pty, sys, time
out, argv = sys.argv[1], sys.argv[2:]
os.environ["MXCUTOVER_CLOCK"] = ""
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
buf = b""
def until(pat, secs=30):
    global buf
    end = time.time() + secs
    while pat not in buf and time.time() < end:
        try:
            buf += os.read(fd, 4096)
        except OSError:
            break
    return pat in buf
assert until(b"[y/N] "), "no first question"
os.write(fd, b"y\n")
buf = buf.replace(b"[y/N] ", b"[answered] ", 1)
assert until(b"[y/N] "), "no second question"
os.write(fd, b"\x03")
until(b"\0", 20)
_, st = os.waitpid(pid, 0)
open(out, "wb").write(buf)
text = buf.decode(errors="replace").replace("\r", "")
last = [l for l in text.split("\n") if l.strip()][-1]
assert os.WIFEXITED(st) and os.WEXITSTATUS(st) == 1, ("status", st, last)
assert "run interrupted: 1 of 2 domains were not reached (the first: %s) and 1 run stopped before its first step; nothing was changed — run the same command again" % open(sys.argv[-3]).read().split()[2] in last, last
PY
for i in 0 1; do
	D=${half[$i]}
	[ "$(mxline)" = "${half_mx[$i]}" ] || fail "Ctrl-C while starting changed $D: $(mxline)"
done
[ "$(mx --state "$workdir/half.db" --json status | grep -c '"domain"')" -eq 1 ] ||
	fail "Ctrl-C while starting: one run journaled: $(mx --state "$workdir/half.db" status)"
completes_again half

# 4e'. A kill while a list's runs are being started (SIGKILL right after the second of three
#      is journaled): with --yes the list is journaled in one transaction, so no run is left
#      for some domains and none for others; the same command then starts all three.
: >"$workdir/kill"
killed=()
for i in 1 2 3; do
	fresh --mtasts none
	echo "$D $T" >>"$workdir/kill"
	killed+=("$D")
done
MXCUTOVER_CRASH_AT=start:${killed[1]} mx --state "$workdir/kill.db" run --file "$workdir/kill" \
	--provider pdns --yes </dev/null >"$workdir/kill.out" 2>&1
rc=$?
[ $rc -eq 137 ] || fail "killed while starting: exit $rc, want 137 (SIGKILL)"
[ "$(mx --state "$workdir/kill.db" --json status | grep -c '"domain"')" -eq 0 ] ||
	fail "killed while starting: runs left for some domains: $(mx --state "$workdir/kill.db" status)"
completes_again kill

# 4f. Ctrl-C while 60 runs are in preflight, their lookups in flight (real clock), at seven
#     moments: never a crash (a stopped run's lookups used to be answered
#     into freed memory), exit 1, the last line says why.
bulk=$("$MX_SANDBOX_TOOLS/mkzone" --bulk 420 "pf$$x" --mtasts none --mx-ttl 30 |
	awk '{ t = $1; gsub(/\./, "-", t); print $1, t ".o-v1.mx.microsoft.test" }')
k=0
for delay in 0.5 0.6 0.7 0.8 0.9 1.0 1.2; do
	k=$((k + 1))
	echo "$bulk" | sed -n "$((k * 60 - 59)),$((k * 60))p" >"$workdir/pf$k"
	(MXCUTOVER_CLOCK= exec "$MXCUTOVER" --config "$MX_CONFIG" --resolver-conf "$MX_RESOLVER_CONF" \
		--cacert "$MX_CACERT" --state "$workdir/pf$k.db" run --file "$workdir/pf$k" \
		--provider pdns --yes </dev/null >"$workdir/pf$k.out" 2>"$workdir/pf$k.err") &
	p=$!
	sleep "$delay"
	kill -INT $p
	wait $p
	rc=$?
	[ $rc -eq 1 ] || fail "Ctrl-C after ${delay} s of 60 runs: exit $rc, want 1 ($(tail -1 "$workdir/pf$k.err"))"
	tail -1 "$workdir/pf$k.err" | grep -q -E "(did not finish|interrupted).*(resume|run the same command again)" ||
		fail "Ctrl-C after ${delay} s of 60 runs: last line: $(tail -1 "$workdir/pf$k.err")"
done

# 5. The lock: a run waiting for the old TTL (real clock) holds it; a second process gets 4;
#    after kill -9 the lock is taken over by resume.
fresh --mtasts none
MXCUTOVER_CLOCK= "$MXCUTOVER" --config "$MX_CONFIG" --resolver-conf "$MX_RESOLVER_CONF" \
	--cacert "$MX_CACERT" --state "$workdir/state.db" run "$D" --target-mx "$T" \
	--provider pdns --yes >"$workdir/lock.log" 2>&1 &
holder=$!
for _ in $(seq 1 100); do
	mx --json status "$D" 2>/dev/null | grep -q '"state": "waiting"' && break
	sleep 0.1
done
expect_status 4 mx resume "$D" --yes >"$workdir/lock2.log" 2>&1
grep -q "another mxcutover (pid $holder" "$workdir/lock2.log" || fail "lock message names the pid: $(cat "$workdir/lock2.log")"
# A second `run` of a domain a live process holds is exit 4 naming the owner, like resume.
expect_status 4 mx run "$D" --target-mx "$T" --provider pdns --yes >"$workdir/lock3.log" 2>&1
grep -q "another mxcutover (pid $holder" "$workdir/lock3.log" || fail "run's lock message names the pid: $(cat "$workdir/lock3.log")"
kill -9 $holder
wait $holder 2>/dev/null
expect_status 0 mx resume "$D" --yes 2>/dev/null
[ "$(mxline)" = "$(final_mx)" ] || fail "after takeover: $(mxline)"
sqlite3 "$workdir/state.db" "SELECT COUNT(*) FROM audit WHERE event='lock_takeover'" | grep -qx 1 ||
	fail "lock takeover audited"

# 6. Drift: the MX changed behind our back stops the run with what changed.
fresh --mtasts none
MXCUTOVER_CRASH_AT=add_target:done mx run "$D" --target-mx "$T" --provider pdns --yes 2>/dev/null
Z set "$D" "$D" MX 30 "0 ${D//./-}.mail.protection.outlook.test." "5 intruder.elsewhere.test."
expect_status 3 mx resume "$D" --yes >"$workdir/drift.log" 2>&1
grep -q 'changed behind our back' "$workdir/drift.log" || fail "drift message: $(cat "$workdir/drift.log")"
grep -q 'intruder.elsewhere.test' "$workdir/drift.log" || fail "drift message says what changed"

# 6b. PowerDNS keeps disabled records in an RRset (served never): every write of the run and
# of its rollback keeps them, so the rollback restores the RRset exactly.
fresh --mtasts none
Z disable "$D" "$D" MX "10 backup.elsewhere.test."
start_mx=$(mxline)
MXCUTOVER_CRASH_AT=swap:done mx run "$D" --target-mx "$T" --provider pdns --yes 2>/dev/null
[ "$(Z disabled "$D" "$D" MX)" = "10 backup.elsewhere.test." ] ||
	fail "the run's writes dropped a disabled record: '$(Z disabled "$D" "$D" MX)'"
expect_status 0 mx rollback "$D" --yes >"$workdir/dis.log" 2>&1
[ "$(mxline)" = "$start_mx" ] || fail "rollback with a disabled record: $(mxline)"
[ "$(Z disabled "$D" "$D" MX)" = "10 backup.elsewhere.test." ] ||
	fail "the rollback dropped a disabled record: '$(Z disabled "$D" "$D" MX)'"
expect_status 0 mx run "$D" --target-mx "$T" --provider pdns --yes >"$workdir/dis2.log" 2>&1
[ "$(mxline)" = "$(final_mx)" ] || fail "run with a disabled record: $(mxline)"
[ "$(Z disabled "$D" "$D" MX)" = "10 backup.elsewhere.test." ] ||
	fail "a complete run dropped a disabled record: '$(Z disabled "$D" "$D" MX)'"

# 7. A reviewed plan whose zone changed since is refused.
fresh --mtasts none
mx plan "$D" --target-mx "$T" --provider pdns --format json -o "$workdir/p2.json"
Z set "$D" "$D" MX 600 "0 ${D//./-}.mail.protection.outlook.test."
expect_status 3 mx run "$D" --target-mx "$T" --provider pdns --yes --plan "$workdir/p2.json" \
	>"$workdir/p2.log" 2>&1
grep -q 'no longer matches the reviewed plan' "$workdir/p2.log" || fail "plan mismatch message"
[ "$(mxline)" = "$D. MX 600 0 ${D//./-}.mail.protection.outlook.test." ] || fail "refused run wrote DNS"

# 8. --yes never prompts; without it and without a terminal: a usage error, nothing started.
fresh --mtasts none
expect_status 2 mx run "$D" --target-mx "$T" --provider pdns </dev/null 2>/dev/null

# 8b. On a terminal without --yes: asked to start and to confirm the inbound test.
fresh --mtasts none
sock=$workdir/tmux.sock
tmux -S "$sock" new-session -d -x 160 -y 40 "MXCUTOVER_CLOCK=warp $MXCUTOVER --config $MX_CONFIG \
	--resolver-conf $MX_RESOLVER_CONF --cacert $MX_CACERT --state $workdir/state.db run $D \
	--target-mx $T --provider pdns; echo EXIT=\$?; sleep 30"
screen_has() { # screen_has TEXT → waits up to 30 s for TEXT on the screen (wrapped lines joined)
	for _ in $(seq 1 300); do
		tmux -S "$sock" capture-pane -p -J -S - | grep -qF "$1" && return 0
		sleep 0.1
	done
	fail "screen lacks \"$1\": $(tmux -S "$sock" capture-pane -p | grep -v '^$' | tail -3)"
	return 1
}
screen_has "Start the cutover of $D" && tmux -S "$sock" send-keys y Enter
screen_has "Remote Connectivity Analyzer" && tmux -S "$sock" send-keys y Enter
screen_has "EXIT=0"
tmux -S "$sock" kill-server
[ "$(mxline)" = "$(final_mx)" ] || fail "interactive run: $(mxline)"

# 9. A target whose certificate does not match its TLSA is never preferred: the run stops
#    (exit 1) before any write, naming the DANE check.
fresh --mtasts none
expect_status 1 mx run "$D" --target-mx badtlsa-test.o-v1.mx.microsoft.test --provider pdns \
	--yes >"$workdir/badtlsa.log" 2>&1
grep -q 'mx.target.dane' "$workdir/badtlsa.log" || fail "DANE mismatch named: $(tail -2 "$workdir/badtlsa.log")"
[ "$(mxline)" = "$D. MX 3600 0 ${D//./-}.mail.protection.outlook.test." ] || fail "a blocked run wrote DNS"

# 9b. The certificate stops matching the TLSA after preflight: verify_target's own STARTTLS
#     probe (on the engine's loop) stops the run at exit 1 before the swap, and once the TLSA
#     matches again resume finishes.
fresh --mtasts none
MXCUTOVER_CRASH_AT=add_target:done mx run "$D" --target-mx "$T" --provider pdns --yes \
	>"$workdir/tlsa9b.log" 2>&1
good=$(Z dump mx.microsoft.test | grep "^_25._tcp.$T. TLSA " | cut -d' ' -f3-)
[ -n "$good" ] || fail "no TLSA for $T in the sandbox"
Z set mx.microsoft.test "_25._tcp.$T." TLSA "${good%% *}" \
	"3 1 1 0000000000000000000000000000000000000000000000000000000000000000"
expect_status 1 mx resume "$D" --yes >"$workdir/tlsa9b.log" 2>"$workdir/tlsa9b.err"
tail -1 "$workdir/tlsa9b.err" | grep -q "presents a certificate that its TLSA does not match" ||
	fail "verify_target's probe named: $(tail -1 "$workdir/tlsa9b.err")"
[ "$(mxline)" = "$D. MX 30 0 ${D//./-}.mail.protection.outlook.test. | 20 $T." ] ||
	fail "a mismatching target was preferred: $(mxline)"
Z set mx.microsoft.test "_25._tcp.$T." TLSA "${good%% *}" "${good#* }"
expect_status 0 mx resume "$D" --yes >>"$workdir/tlsa9b.log" 2>&1
[ "$(mxline)" = "$(final_mx)" ] || fail "resumed after the TLSA matched again: $(mxline)"

# 10. A domain already on the new endpoint is not migrated again (nothing written).
before_migrated=$(dig +short +norec @127.0.3.1 migrated.test MX)
expect_status 1 mx run migrated.test --target-mx migrated-test.o-v1.mx.microsoft.test \
	--provider pdns --yes >"$workdir/migrated.log" 2>&1
grep -q 'already migrated: the MX is migrated-test.o-v1.mx.microsoft.test' "$workdir/migrated.log" ||
	fail "an already migrated domain says so: $(tail -2 "$workdir/migrated.log")"
[ "$(dig +short +norec @127.0.3.1 migrated.test MX)" = "$before_migrated" ] ||
	fail "a refused run changed migrated.test"

# 11. The MTA-STS gate judges a policy as senders do: served as text/html it does not pass
#     (check says why), whatever its content; served as text/plain it does.
fresh --mtasts enforce
www=$MX_SANDBOX_WWW/mta-sts.$D
txt_before=$(Z dump "$D" | grep "^_mta-sts\.$D\. TXT ")
MXCUTOVER_CRASH_AT=snapshot:done mx run "$D" --target-mx "$T" --provider pdns --yes \
	>"$workdir/html0.log" 2>&1
mx plan "$D" --target-mx "$T" --provider pdns --format json 2>/dev/null | python3 -c '
import json,sys; p=json.load(sys.stdin); print({s["key"]:s for s in p["steps"]}["mtasts_stage"]["policy"], end="")' \
	>"$workdir/staged.txt"
[ -s "$workdir/staged.txt" ] || fail "the staged policy of $D"
cp "$workdir/staged.txt" "$www/.well-known/mta-sts.txt"
printf 'text/html; charset=utf-8' >"$www/.content-type"
expect_status 1 "$MXCUTOVER" --config "$workdir/short.conf" --resolver-conf "$MX_RESOLVER_CONF" \
	--cacert "$MX_CACERT" --state "$workdir/state.db" resume "$D" --yes >"$workdir/html.log" 2>&1
mx --json status "$D" | grep -q '"step": "mtasts_stage"' ||
	fail "a text/html policy stops the run at mtasts_stage: $(tail -2 "$workdir/html.log")"
grep -qi "text/html" "$workdir/html.log" || fail "the gate says the Content-Type is wrong: $(tail -3 "$workdir/html.log")"
[ "$(Z dump "$D" | grep "^_mta-sts\.$D\. TXT ")" = "$txt_before" ] ||
	fail "the _mta-sts id changed for a policy senders reject"
expect_status 1 mx check "$D" --target-mx "$T" >"$workdir/html-check.out" 2>&1
grep -E "FAIL +mtasts.policy" "$workdir/html-check.out" | grep -qi "text/html" ||
	fail "check rejects the text/html policy: $(grep mtasts "$workdir/html-check.out")"
rm -f "$www/.content-type"
MXCUTOVER_CRASH_AT=mtasts_stage:done mx resume "$D" --yes >"$workdir/html2.log" 2>&1
mx --json status "$D" | grep -q '"step": "lower_ttl"' ||
	fail "served as text/plain the same policy passes: $(tail -3 "$workdir/html2.log")"

# Secrets never reach the state database.
key=$(cat "$PDNS_API_KEY_FILE" | tr -d '\n')
tsig=$(cat "$TSIG_KEYFILE" | tr -d '\n')
sqlite3 "$workdir/state.db" .dump >"$workdir/dump.sql"
grep -qF "$key" "$workdir/dump.sql" && fail "the PowerDNS API key is in the state database"
grep -qF "$tsig" "$workdir/dump.sql" && fail "the TSIG secret is in the state database"
[ "$(stat -c %a "$workdir/state.db")" = 600 ] || fail "state database mode"

finish
