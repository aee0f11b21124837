#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/e2e_tui.sh — the wizard (mxcutover tui) driven in tmux against the sandbox, the way a
# person would: a complete cutover (checks, target typed and judged, plan review, export, the
# start and inbound-test confirmations), a rollback with its DANE gate, a resume after the
# wizard is killed during a wait, a resize below 80x24 and back while a run waits, Ctrl-C
# during a run, help, NO_COLOR, 80x24 and 120 columns, the demo and MXCUTOVER_CLOCK in the
# command line; a migrated domain that cannot start a run (the readiness verdict's line); a
# rollback stopped at its DANE gate, the wizard quit and started again, resumed as the
# rollback; tenant mode ([exchange]: the accepted domains and their targets from the local
# stand-in of the Exchange Online admin API, a cutover that calls Exchange itself); many
# domains started at once (S) and their inbound-test questions answered at once (Y); the
# title's counts, / and !; a check's rows arriving one by one while a domain hangs; a run
# another process drives, shown as such and taken over once that process has ended; a run
# another process starts while the wizard is open, listed within seconds.
# Every step asserts what the screen shows and, for the runs,
# the MX records the zone's servers serve. MX_TUI_CAPTURES=DIR keeps a capture per screen
# (docs/wizard.md is made from them).
. "$(dirname "$0")/e2e_lib.sh"
command -v tmux >/dev/null || {
	echo "skipped: no tmux"
	exit 77
}
sock=$workdir/tmux.sock
caps=${MX_TUI_CAPTURES:-}
tm() { tmux -S "$sock" -f /dev/null "$@"; }
trap 'tm kill-server 2>/dev/null; [ -n "${MX_E2E_KEEP:-}" ] || rm -rf "$workdir"' EXIT

n=0
fresh() { # → D (domain), T (target host), L (legacy host)
	n=$((n + 1))
	D=tui$$x$n.test
	T=$("$MX_SANDBOX_TOOLS/mkzone" "$D" --mtasts none) || fail "mkzone $D"
	L=${D//./-}.mail.protection.outlook.test
}
mxrr() { dig +short +norec @"$1" "$2" MX; }
both_mx() { # both_mx DOMAIN WANT — what both authoritative servers serve
	local s got
	for s in 127.0.3.1 127.0.3.2; do
		got=$(mxrr $s "$1")
		[ "$got" = "$2" ] || fail "$1 MX on $s: '$got', want '$2'"
	done
}

# start SESSION ENV... -- TUI-ARGS...: the wizard (state database $STATE, else the test's
# own; config $MX_CONFIG) in a 100x30 tmux window; the inner shell
# writes its pid (it execs the binary) and the outer one prints EXIT=status when it ends.
start() {
	local s=$1 envs=() args=() q
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	shift
	args=("$@")
	printf -v q '%q ' env LC_ALL=C.UTF-8 TERM=screen-256color "${envs[@]}" "$MXCUTOVER" \
		--config "$MX_CONFIG" --resolver-conf "$MX_RESOLVER_CONF" --cacert "$MX_CACERT" \
		--state "${STATE:-$workdir/state.db}" tui "${args[@]}"
	rm -f "$workdir/$s.pid"
	tm new-session -d -x 100 -y 30 -s "$s" -c "$workdir" \
		"sh -c 'echo \$\$ >$workdir/$s.pid; exec $q'; echo EXIT=\$?; sleep 600"
}
# -J joins lines the terminal wrapped (what is printed after the wizard exits wraps at 100
# columns, and domain names differ in length from run to run).
screen() { tm capture-pane -p -J -t "$1"; }
# on_loop SESSION WHAT: the wizard made WHAT (its checks', plans' and Exchange Online's calls)
# in fibers on its one loop, so it has no thread of a worker pool (named mx-worker).
on_loop() {
	local pid t
	pid=$(cat "$workdir/$1.pid") || fail "no pid of the wizard in session $1"
	for t in /proc/"$pid"/task/*/comm; do
		[ "$(cat "$t" 2>/dev/null)" != mx-worker ] ||
			fail "$2 started a thread of a worker pool in the wizard: they belong on its loop"
	done
}
# wait_for SESSION REGEX [SECONDS]: until the screen matches; a timeout fails with the screen.
wait_for() {
	local s=$1 re=$2 limit=${3:-20} i
	for ((i = 0; i < limit * 10; i++)); do
		screen "$s" | grep -Eq -- "$re" && return 0
		sleep 0.1
	done
	fail "screen of $s never showed /$re/ within ${limit}s; it shows:"
	screen "$s" >&2
	return 1
}
# at_step CMD DOMAIN STEP SECONDS: waits until `CMD --json status DOMAIN` (a function running
# the binary on some state database) shows the run at STEP, at most SECONDS.
at_step() {
	local end=$((SECONDS + $4))
	while ((SECONDS < end)); do
		"$1" --json status "$2" 2>/dev/null | grep -q "\"step\": \"$3\"" && return 0
		sleep 0.5
	done
	return 1
}
# elsewhere CLOCK DOMAIN TARGET LOG: `mxcutover run DOMAIN` in another process, in the
# background, on the state database $STATE ($! is that process, not a subshell around it).
elsewhere() {
	MXCUTOVER_CLOCK=$1 "$MXCUTOVER" --config "$MX_CONFIG" --resolver-conf "$MX_RESOLVER_CONF" \
		--cacert "$MX_CACERT" --state "$STATE" run "$2" --target-mx "$3" --provider pdns --yes \
		>"$4" 2>&1 &
}
keys() {
	tm send-keys -t "$1" "${@:2}"
	sleep 0.15
}
cap() { # cap SESSION NAME: keeps the screen for the docs
	[ -n "$caps" ] && screen "$1" >"$caps/$2.txt"
	return 0
}

# 1. A complete cutover, then the rollback, in one session (TTL waits warped to 3 s).
fresh
A=$D AT=$T AL=$L
echo "$A $AT" >"$workdir/list"
start a MXCUTOVER_CLOCK=warp:3 -- --file "$workdir/list" contoso.test fabrikam.test bogus.test \
	--provider pdns
wait_for a "^ $A +secure +0 ${AL:0:12}.* none +ok " 30
wait_for a "^ fabrikam.test +insecure" 30
wait_for a "^ bogus.test +bogus" 30
screen a | grep -q "^ ready for the cutover" || fail "the selected domain is ready"
cap a domains
# 120 columns: the current MX whole.
tm resize-window -t a -x 120 -y 30
wait_for a "^ $A +secure +0 $AL +none +ok "
# 80x24, the minimum: the key bar whole, the help framed and whole.
tm resize-window -t a -x 80 -y 24
wait_for a "^ $A +secure +0 ${AL:0:8}"
screen a | tail -1 | grep -q "? help  q quit" || fail "80x24: the key bar is whole"
keys a '?'
wait_for a "Keys \(like htop and tig\)"
screen a | grep -q "│ *Press any key to close this help\. *│" || fail "80x24: the help is whole"
screen a | grep -q "└─*┘" || fail "80x24: the help has a frame"
cap a help-80x24
keys a x
tm resize-window -t a -x 100 -y 30
wait_for a "^ $A +secure"
keys a '?'
wait_for a "Keys \(like htop and tig\)"
cap a help
keys a x
keys a Enter
wait_for a "mxcutover — Checks"
wait_for a "PASS +zone.dnssec +the zone is signed"
screen a | grep -q "PASS  mx.target.tlsa" || fail "checks show mx.target.tlsa"
cap a checks
keys a Enter
wait_for a "The new MX host for $A"
# Judged as typed: a legacy host is refused, the pasted value accepted.
keys a C-u
keys a -l "x.mail.protection.outlook.test"
wait_for a "✗ not under mx.microsoft.test"
screen a | grep -q "✗ this is a legacy host" || fail "a legacy host is called legacy"
cap a target-bad
keys a C-u
keys a -l "$AT"
wait_for a "✓ under mx.microsoft.test"
screen a | grep -q "Enter builds the plan" || fail "a valid target can go on"
cap a target
keys a Enter
wait_for a "mxcutover — Plan review"
wait_for a "\+ 20 $AT" 20
screen a | grep -q "TTL 3600 → 30" || fail "the plan shows the TTL change"
on_loop a "the checks and the plan's provider reads"
cap a plan
keys a G
wait_for a "Enable-SmtpDaneInbound -DomainName $A"
cap a plan-powershell
keys a p
wait_for a "Export the plan"
keys a Enter
wait_for a "plan of $A written to /.*/$A-plan.md \(markdown\)"
f=$(screen a | grep -o "written to /[^ ]*" | cut -d' ' -f3)
grep -q "Enable-SmtpDaneInbound" "$f" || fail "the exported plan $f holds the cmdlets"
keys a Enter
wait_for a "Start the cutover"
cap a confirm-start
keys a y
wait_for a "▸ Wait for the old TTL to expire +[0-9:]+ left" 20
screen a | grep -Eq "waiting for old MX TTL \(3600 s\) to expire: [0-9:]+ left" ||
	fail "the countdown names what it waits for"
cap a run-wait
[ "$(dig +norec +noall +answer @127.0.3.1 "$A" MX | awk '{print $2}')" = 30 ] ||
	fail "the MX TTL is lowered during the wait"
wait_for a "Did it pass\?" 30
cap a gate-confirm
keys a y
wait_for a "Cutover complete: $A receives mail at $AT" 60
cap a run-done
both_mx "$A" "0 $AT."
# Rollback from the run screen, through the DANE gate.
keys a r
wait_for a "Roll $A back to its snapshot"
keys a y
wait_for a "Disable-SmtpDaneInbound" 20
cap a rollback-gate
# The gate is verified, not answered: the rollback goes on once Microsoft has withdrawn the
# target's TLSA (here the test withdraws it, as Disable-SmtpDaneInbound would).
python3 "$MX_SOURCE_DIR/tests/zonetool.py" dane-off "$AT"
wait_for a "Rolled back: the MX of $A is exactly as it was" 60
cap a rollback-done
both_mx "$A" "0 $AL."
[ "$(dig +norec +noall +answer @127.0.3.1 "$A" MX | awk '{print $2}')" = 3600 ] ||
	fail "the rollback restores the TTL"
keys a Escape
wait_for a "^ $A .*rolled back"
# A domain that is not ready: its checks say what fails and how to fix it.
keys a G
wait_for a "^ bogus.test .*"
keys a c
wait_for a "FAIL +zone.dnssec"
wait_for a "fix: +Sign the zone at the DNS host"
cap a checks-fail
keys a Escape
# Colour is on (SGR colour codes in the pane).
tm capture-pane -e -p -t a >"$workdir/a.ansi"
grep -Eq $'\e\\[([0-9]+;)*3[1-7]m' "$workdir/a.ansi" || fail "colours are used: $(head -c 300 "$workdir/a.ansi" | od -c | head -5)"
keys a q
wait_for a "^EXIT=0$"

# 2. Killed during a wait; the journal holds the run; a resize while it waits; resumed.
fresh
B=$D BT=$T BL=$L
echo "$B $BT" >"$workdir/listb"
start b MXCUTOVER_CLOCK=warp:40 -- --file "$workdir/listb" --provider pdns
wait_for b "^ $B +secure" 30
keys b Enter
wait_for b "PASS +zone.dnssec"
keys b Enter
wait_for b "✓ under mx.microsoft.test"
keys b Enter
wait_for b "\+ 20 $BT" 20
keys b Enter
wait_for b "Start the cutover"
keys b y
wait_for b "▸ Wait for the old TTL to expire +[0-9:]+ left" 20
# 80x24: the header keeps the target and the state apart; the steps and the countdown show.
tm resize-window -t b -x 80 -y 24
wait_for b "^ $B → $BT +waiting *\$"
wait_for b "▸ Wait for the old TTL to expire +[0-9:]+ left"
cap b run-80x24
tm resize-window -t b -x 70 -y 20
wait_for b "needs a terminal of at least 80×24; this one is 70×20"
cap b too-small
tm resize-window -t b -x 100 -y 30
wait_for b "▸ Wait for the old TTL to expire +[0-9:]+ left"
kill -9 "$(cat "$workdir/b.pid")"
wait_for b "EXIT=137$"
mx --json status "$B" >"$workdir/b.json"
python3 -c '
import json,sys; r=json.load(open(sys.argv[1]))["runs"][0]
assert r["state"]=="waiting" and r["step"]=="wait_old_ttl", r' "$workdir/b.json" ||
	fail "the killed run waits at wait_old_ttl in the journal"
both_mx "$B" "0 $BL."
# The wizard again, without arguments: the unfinished run comes from the state database.
start b2 MXCUTOVER_CLOCK=warp:3 --
wait_for b2 "Stopped, resumable: Enter resumes here; later: mxcutover resume $B" 20
cap b2 resume
keys b2 Enter
wait_for b2 "Did it pass\?" 60
keys b2 y
wait_for b2 "Cutover complete: $B receives mail at $BT" 60
both_mx "$B" "0 $BT."
keys b2 Escape
keys b2 q
wait_for b2 "^EXIT=0$"

# 3. Ctrl-C during a run: the terminal comes back and says how to resume. NO_COLOR is obeyed.
fresh
C=$D CT=$T
echo "$C $CT" >"$workdir/listc"
start c MXCUTOVER_CLOCK=warp:40 NO_COLOR=1 -- --file "$workdir/listc" --provider pdns
wait_for c "^ $C +secure" 30
tm capture-pane -e -p -t c | grep -Eq $'\e\\[([0-9]+;)*3[1-7]m' && fail "NO_COLOR: no colour codes"
keys c Enter
wait_for c "PASS +zone.dnssec"
keys c Enter
wait_for c "✓ under"
keys c Enter
wait_for c "\+ 20 $CT" 20
keys c Enter
wait_for c "Start the cutover"
keys c y
wait_for c "▸ Wait for the old TTL to expire +[0-9:]+ left" 20
keys c C-c
wait_for c "mxcutover: $C stopped at wait_old_ttl \(waiting\) and is safe where it is"
wait_for c "mxcutover resume $C" 5 || fail "Ctrl-C says how to resume"
wait_for c "^EXIT=1$"
mx --json status "$C" | grep -q '"state": "waiting"' || fail "Ctrl-C leaves the run resumable"

# 4. The command line reads MXCUTOVER_CLOCK with the wizard's parser, warp:N included; the
# demo says plainly that it starts over when it ends with a run unfinished.
fresh
E=$D ET=$T
demo_db=$MX_SANDBOX_DIR/demo-state.db
mxd() { "$MXCUTOVER" --config "$MX_CONFIG" --resolver-conf "$MX_RESOLVER_CONF" \
	--cacert "$MX_CACERT" --state "$demo_db" "$@"; }
MXCUTOVER_CLOCK=warp:x mxd resume "$E" --yes >/dev/null 2>"$workdir/e.err"
rc=$?
[ $rc -eq 2 ] || fail "MXCUTOVER_CLOCK=warp:x: exit $rc, want 2 (usage)"
tail -1 "$workdir/e.err" | grep -q "MXCUTOVER_CLOCK=warp:x is not understood; use warp or warp:SECONDS" ||
	fail "the clock's error names the variable: $(cat "$workdir/e.err")"
# warp:600: the hour's wait would last ten minutes; SIGTERM stops the run while it waits (a
# background job of a script ignores SIGINT).
MXCUTOVER_CLOCK=warp:600 "$MXCUTOVER" --config "$MX_CONFIG" --resolver-conf "$MX_RESOLVER_CONF" \
	--cacert "$MX_CACERT" --state "$demo_db" run "$E" --target-mx "$ET" --provider pdns --yes \
	>"$workdir/e.log" 2>&1 &
epid=$!
at_step mxd "$E" wait_old_ttl 120
kill -TERM $epid
for ((i = 0; i < 60 && $(kill -0 $epid 2>/dev/null && echo 1 || echo 0); i++)); do
	sleep 0.5
done
kill -KILL $epid 2>/dev/null && fail "the run did not stop on SIGTERM"
wait $epid
rc=$?
[ $rc -eq 1 ] || fail "run stopped by SIGTERM during its wait: exit $rc, want 1"
mxd --json status "$E" | grep -q '"step": "wait_old_ttl"' || fail "the run waits at wait_old_ttl"
tm new-session -d -x 100 -y 30 -s d -c "$workdir" \
	"env LC_ALL=C.UTF-8 TERM=screen-256color MXCUTOVER=$MXCUTOVER $MX_SOURCE_DIR/tests/sandbox/demo; echo EXIT=\$?; sleep 600"
wait_for d "the next .\./quickstart demo. starts over with fresh zones and no runs" 60
keys d Enter
wait_for d "Stopped, resumable: Enter resumes here; later: mxcutover resume $E" 30
keys d Escape
wait_for d "^ contoso.test "
keys d q
wait_for d "The demo stopped with a run unfinished: $E \(at wait_old_ttl\)\." 20
screen d | grep -q "starts over. With your own DNS host" || fail "the demo says it starts over"
screen d | grep -q "safe where it is" && fail "the demo does not promise a resume it cannot keep"
wait_for d "^EXIT=0$"

# 5. An already migrated domain cannot start a run: the readiness verdict's line says why,
# on the domains, checks and plan screens. Then a rollback stopped at its DANE gate (the
# wizard quit while it waits) is, in a new wizard, shown and resumed as the rollback.
fresh
F=$D FT=$T FL=$L
STATE=$workdir/rollback.db
MXCUTOVER_CLOCK=warp "$MXCUTOVER" --config "$MX_CONFIG" --resolver-conf "$MX_RESOLVER_CONF" \
	--cacert "$MX_CACERT" --state "$STATE" run "$F" --target-mx "$FT" --provider pdns --yes \
	>"$workdir/f.log" 2>&1 || fail "the cutover of $F: $(tail -3 "$workdir/f.log")"
both_mx "$F" "0 $FT."
migrated="already migrated: the MX is $FT; nothing to move"
start f MXCUTOVER_CLOCK=warp:10 -- "$F" --provider pdns
wait_for f "^ $F +secure +0 ${FT:0:12}.* done" 30
wait_for f "^ $migrated"
keys f Enter
wait_for f "mxcutover — Checks"
wait_for f "^ $migrated"
keys f Enter
wait_for f "✓ under mx.microsoft.test"
keys f Enter
wait_for f "No plan:" 20
wait_for f "^    $migrated"
cap f plan-migrated
keys f Enter
wait_for f "^ $F: already migrated: the MX is $FT"
screen f | grep -q "Start the cutover" && fail "a migrated domain offers no run"
keys f Escape
keys f Escape
keys f Escape
wait_for f "^ $F .* done"
keys f r
wait_for f "Roll $F back to its snapshot"
keys f y
wait_for f "Disable-SmtpDaneInbound" 20
keys f Escape
keys f q
wait_for f "A run is active"
keys f y
wait_for f "^EXIT=1$" 20
screen f | grep -q "$F stopped at rb_dane (gate)" || fail "the way out names the rollback's step"
# warp:10: the gate polls Microsoft's TLSA every 30 s and gives up after gate_timeout (60 s);
# ten real seconds a poll leave time to see the resumed gate before the TLSA goes.
start f2 MXCUTOVER_CLOCK=warp:10 --
wait_for f2 "mxcutover — Rollback" 20
wait_for f2 "Stopped, resumable: Enter resumes the rollback"
wait_for f2 "^  ! Disable inbound DANE first"
screen f2 | grep -q "Wait for the old TTL" && fail "the stopped rollback shows the forward steps"
cap f2 rollback-stopped
keys f2 Enter
wait_for f2 "^ $F → $FT +gate *\$" 20
wait_for f2 "waiting for .*TLSA.*Disable-SmtpDaneInbound"
screen f2 | grep -q "Wait for the old TTL" && fail "the resumed rollback shows the forward steps"
python3 "$MX_SOURCE_DIR/tests/zonetool.py" dane-off "$FT"
wait_for f2 "Rolled back: the MX of $F is exactly as it was" 60
wait_for f2 "^  – Publish an MTA-STS policy listing both hosts +skipped"
both_mx "$F" "0 $FL."
[ "$(dig +norec +noall +answer @127.0.3.1 "$F" MX | awk '{print $2}')" = 3600 ] ||
	fail "the resumed rollback restores the TTL"
keys f2 Escape
keys f2 q
wait_for f2 "^EXIT=0$"

# 6. Tenant mode: with [exchange] the list is the tenant's accepted domains (the
# *.onmicrosoft.com one shown as unsupported), each target comes from Exchange, and the run
# calls Exchange itself (provisioning, MxValidation, Enable-SmtpDaneInbound), as does its
# rollback (Disable-SmtpDaneInbound); a domain Exchange has not provisioned yet (no target,
# no plan) is provisioned by its run's first step.
. "$(dirname "$0")/exo_lib.sh"
trap 'tm kill-server 2>/dev/null; for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; [ -n "${MX_E2E_KEEP:-}" ] || rm -rf "$workdir"' EXIT
conf tenant "client_secret_file = $workdir/exo.secret"
fresh
G=$D GT=$T
exo "{\"domain\": \"$G\", \"dnssec\": \"Enabled\"}" >/dev/null
STATE=$workdir/tenant.db
plain_config=$MX_CONFIG
MX_CONFIG=$workdir/tenant.conf
start g MXCUTOVER_CLOCK=warp:3 -- --provider pdns
wait_for g "mxcutover — Domains of tenant tenant-e2e.onmicrosoft.com" 20
wait_for g "^ $G +secure +0 " 30
wait_for g "^ tenant-e2e\.onmicrosoft.* +\*\.onmicrosoft\.com: unsupported"
wait_for g "^ target: $GT \(from Exchange Online\)"
cap g tenant-domains
calls | grep -q "^Get-AcceptedDomain" || fail "the list comes from Get-AcceptedDomain: $(calls)"
calls | grep -q "^Enable-" && fail "listing and checking changed the tenant: $(calls)"
keys g Enter
wait_for g "PASS +exchange.access"
wait_for g "PASS +exchange.dnssec"
keys g Enter
wait_for g "From Exchange Online: tenant tenant-e2e.onmicrosoft.com assigned this host"
wait_for g "^  > $GT"
wait_for g "✓ the host Exchange Online assigned"
on_loop g "the tenant's accepted domains and the Exchange checks"
cap g tenant-target
# Another host is refused; ^U brings Exchange's back.
keys g BSpace
wait_for g "✗ not the host Exchange Online assigned"
keys g C-u
wait_for g "✓ the host Exchange Online assigned"
keys g Enter
wait_for g "Provision the DNSSEC endpoint in Exchange Online" 20
wait_for g "\+ 20 $GT"
keys g Enter
wait_for g "Start the cutover"
keys g y
wait_for g "Did it pass\?|Cutover complete" 60
keys g y
wait_for g "Cutover complete: $G receives mail at $GT" 60
both_mx "$G" "0 $GT."
calls | grep -q "^Enable-SmtpDaneInbound DomainName=$G" || fail "the run enabled DANE itself: $(calls)"
# The rollback switches inbound DANE off itself before the legacy MX returns.
keys g r
wait_for g "Inbound DANE goes off first: the rollback calls Disable-SmtpDaneInbound itself"
keys g y
wait_for g "Rolled back: the MX of $G is exactly as it was" 60
both_mx "$G" "0 ${G//./-}.mail.protection.outlook.test."
calls | grep -q "^Disable-SmtpDaneInbound DomainName=$G" || fail "the rollback disabled DANE itself: $(calls)"
keys g Escape
# A domain whose endpoint Exchange has not provisioned: no target, no plan; Enter asks, and
# the run's first step provisions it and takes the host Exchange assigns.
fresh
H=$D HT=$T
exo "{\"domain\": \"$H\", \"dnssec\": \"Disabled\"}" >/dev/null
keys g R
wait_for g "^ $H +secure +0 " 30
keys g G
wait_for g "^ target: \(not provisioned in Exchange Online yet\)"
keys g Enter
wait_for g "PASS +exchange.access"
wait_for g "WARN +exchange.dnssec"
keys g Enter
wait_for g "Exchange Online has not provisioned this domain's endpoint yet"
wait_for g "Enter goes on without a host: the run provisions the endpoint first"
keys g Enter
wait_for g "No plan:" 20
wait_for g "Exchange Online has not provisioned the DNSSEC endpoint of $H yet"
keys g Enter
wait_for g "Provision and start the cutover"
keys g y
wait_for g "Did it pass\?|Cutover complete" 60
keys g y
wait_for g "Cutover complete: $H receives mail at $HT" 60
both_mx "$H" "0 $HT."
calls | grep -q "^Enable-DnssecForVerifiedDomain DomainName=$H" || fail "the run provisioned $H: $(calls)"
keys g Escape
# The *.onmicrosoft.com domain (second in the list) is never checked nor planned.
keys g g
keys g j
wait_for g "^ a \*\.onmicrosoft\.com domain: Microsoft manages its MX"
keys g Enter
wait_for g "tenant-e2e.onmicrosoft.com is a \*\.onmicrosoft\.com domain: Microsoft manages its MX"
keys g q
wait_for g "^EXIT=0$"
MX_CONFIG=$plain_config
STATE=

# 7. Many domains at once: S starts every ready domain after one confirmation (a domain that
# is not ready is counted and left alone), Y answers every waiting inbound-test question after
# one confirmation naming the runs; every run ends as its own cutover; the title counts the
# domains by state all along.
STATE=$workdir/batch.db
: >"$workdir/batch"
batch=()
for i in 1 2 3; do
	fresh
	batch+=("$D")
	echo "$D $T" >>"$workdir/batch"
	eval "BT$i=\$T"
done
start m MXCUTOVER_CLOCK=warp:3 -- --file "$workdir/batch" fabrikam.test --provider pdns
tm resize-window -t m -x 120 -y 30
keys m Y
wait_for m "no run waits for an answer"
for D in "${batch[@]}"; do wait_for m "^ $D +secure +0 .* none +ok " 30; done
wait_for m "^ fabrikam.test +insecure" 30
screen m | tail -1 | grep -q "S start all  Y yes to all  ? help  q quit" ||
	fail "120 columns: the key bar has S and Y"
keys m S
wait_for m "Start every ready domain"
wait_for m "Start the cutover of 3 domain\(s\): ${batch[0]}, ${batch[1]}, ${batch[2]},"
screen m | grep -q "1 other domain(s) are left alone" || fail "the dialog counts fabrikam.test out"
cap m confirm-start-all
keys m y
wait_for m "3 run\(s\) started"
for D in "${batch[@]}"; do wait_for m "^ $D .* asks at verify_target" 60; done
# The current MX is what the run wrote (the target added at preference 20: "+"), not what the
# check saw before the run.
wait_for m "^ ${batch[0]} +secure +0 ${batch[0]//./-}\.mail\.protection\.outlook\.test \+ +none +ok +asks"
# The title counts the list by what it waits for, a person's answer first.
wait_for m "mxcutover — Domains \(4\): 3 asking, 1 no target "
screen m | grep -q "^ fabrikam.test .* -$" || fail "fabrikam.test (not ready) has no run"
# ! selects the next domain that needs a person (after the selected one), / finds by part of
# the name, n finds again; nothing found is said.
keys m g
keys m '!'
wait_for m "^ ${batch[1]}: asking"
screen m | grep -q "^ ${batch[1]} *\$" || fail "! selects ${batch[1]}"
keys m /
wait_for m "Find a domain"
keys m -l "FABRIK"
keys m Enter
wait_for m "^ fabrikam.test *\$"
keys m n
wait_for m "^ fabrikam.test *\$"
keys m /
keys m -l "nowhere"
keys m Enter
wait_for m "no domain's name holds \"nowhere\""
screen m | grep -q "^ fabrikam.test *\$" || fail "a search that finds nothing keeps the selection"
keys m '!'
wait_for m "^ ${batch[0]}: asking"
keys m Y
wait_for m "Answer yes for the 3 run\(s\) waiting at the inbound test"
screen m | grep -q "testconnectivity.microsoft.com" || fail "the dialog names the inbound test"
keys m y
wait_for m "answered yes for 3 run\(s\)"
# Below the list, the selected domain's run says where it is and what it waits for (the
# checks' verdict is from before the run).
wait_for m "^ the run waits at [a-z_]+ for .*; Enter opens it"
screen m | grep -q "^ ready for the cutover" && fail "the verdict from before the run is shown during it"
for D in "${batch[@]}"; do wait_for m "^ $D .* done" 60; done
wait_for m "mxcutover — Domains \(4\): 1 no target, 3 done "
keys m '!'
wait_for m "no domain needs you now"
both_mx "${batch[0]}" "0 $BT1."
both_mx "${batch[1]}" "0 $BT2."
both_mx "${batch[2]}" "0 $BT3."
# Nothing left to start: the done ones are migrated, fabrikam.test is not ready.
keys m S
wait_for m "no domain to start: every domain is either not ready"
keys m q
wait_for m "^EXIT=0$"
STATE=

# 8. A check's results reach the list as each domain completes: a domain whose name servers
# never answer stays "checking…" while the others of its batch already show their badges.
SLOW=slowtui$$.test
blackhole_zone "$SLOW"
pids+=("$BH_PID")
STATE=$workdir/slow.db
start s -- "$SLOW" contoso.test fabrikam.test
wait_for s "^ contoso.test +secure" 8
wait_for s "^ fabrikam.test +insecure" 8
screen s | grep -Eq "^ $SLOW +checking…" || fail "the black-holed domain is still being checked: $(screen s | head -6)"
screen s | grep -q "mxcutover — Domains (3): 1 checking, " || fail "the title counts the one still checking"
keys s q
wait_for s "^EXIT=0$"
STATE=

# 9. A run another process drives (here `mxcutover run`, waiting out the old TTL) is shown
# from the journal as run elsewhere, never as stopped: Enter and r refuse, naming that
# process. Once it has ended (SIGTERM: resumable), the wizard sees it stopped within a few
# seconds and Enter takes it over.
fresh
H=$D HT=$T
STATE=$workdir/held.db
mxh() { "$MXCUTOVER" --config "$MX_CONFIG" --resolver-conf "$MX_RESOLVER_CONF" \
	--cacert "$MX_CACERT" --state "$STATE" "$@"; }
elsewhere warp:600 "$H" "$HT" "$workdir/h.log"
hpid=$!
at_step mxh "$H" wait_old_ttl 60
start h MXCUTOVER_CLOCK=warp:3 -- "$H" --provider pdns
wait_for h "Run by another mxcutover \(pid $hpid on .* since [0-9:]+ UTC\)" 30
wait_for h "waiting \(another process\)"
screen h | grep -q "Stopped, resumable" && fail "a run another process drives is shown as stopped"
cap h held
keys h Enter
wait_for h "$H: another mxcutover \(pid $hpid\) runs it; resume it once it has ended"
keys h r
wait_for h "$H: another mxcutover \(pid $hpid\) runs it; roll it back once it has ended"
mxh --json status "$H" | grep -q '"step": "wait_old_ttl"' || fail "the wizard left the other process's run alone"
kill -TERM $hpid
wait $hpid
wait_for h "Stopped, resumable: Enter resumes here; later: mxcutover resume $H" 10
keys h Enter
wait_for h "Did it pass\?" 60
keys h y
wait_for h "Cutover complete: $H receives mail at $HT" 60
both_mx "$H" "0 $HT."
keys h Escape
keys h q
wait_for h "^EXIT=0$"
STATE=

# 10. A run another process starts while the wizard is open, on a domain the wizard was not
# given: within a few seconds the wizard lists it as run elsewhere (the run locks are read
# every 2 s), and once that process has ended it shows the run stopped, resumable here.
fresh
G=$D GT=$T
STATE=$workdir/later.db
start l MXCUTOVER_CLOCK=warp:3 -- contoso.test
wait_for l "^ contoso.test +secure" 8
elsewhere warp:600 "$G" "$GT" "$workdir/g.log"
gpid=$!
at_step mxh "$G" wait_old_ttl 60 || fail "the run of $G never reached wait_old_ttl: $(cat "$workdir/g.log")"
wait_for l "^ $G .* elsewhere wait_" 8
screen l | grep -q "mxcutover — Domains (2): 1 running" || fail "the title does not count the run started elsewhere: $(screen l | head -2)"
keys l Down
keys l Enter
wait_for l "Run by another mxcutover \(pid $gpid on .* since [0-9:]+ UTC\)" 8
# A second run elsewhere, on the warped clock (each wait about 6 s): the wizard follows it
# from its journal, step by step, to its end.
fresh
G2=$D G2T=$T
elsewhere warp:6 "$G2" "$G2T" "$workdir/g2.log"
g2pid=$!
keys l Escape
wait_for l "^ $G2 .* elsewhere wait_" 30
keys l G
keys l Enter
wait_for l "^ $G2 → $G2T +waiting \(another process\)"
wait_for l "▸ Wait for the old TTL to expire"
wait_for l "▸ Wait for the low TTL to expire" 30
wait_for l "Cutover complete: $G2 receives mail at $G2T" 40
wait $g2pid || fail "the run of $G2 elsewhere: $(tail -1 "$workdir/g2.log")"
both_mx "$G2" "0 $G2T."
keys l Escape
wait_for l "^ $G2 .* done"
keys l g
keys l j
keys l Enter
wait_for l "Run by another mxcutover \(pid $gpid on .* since [0-9:]+ UTC\)" 8
kill -TERM $gpid
wait $gpid
wait_for l "Stopped, resumable: Enter resumes here; later: mxcutover resume $G" 10
mxh --json status "$G" | grep -q '"step": "wait_old_ttl"' || fail "the wizard touched the run it only watched"
keys l Escape
wait_for l "^ $G .* stopped wait_" 4
keys l q
wait_for l "^mxcutover: $G stopped at wait_old_ttl \(waiting\) and is safe where it is"
wait_for l "^EXIT=1$"
STATE=

# 11. At 80 columns a domain with more than one MX host keeps the " +" of its CURRENT MX cell
# when the first host is cut to fit.
STATE=$workdir/w80.db
start w80 -- fallback.test
tm resize-window -t w80 -x 80 -y 24
# The first host is the first of the answer, whose order the servers choose.
wait_for w80 "^ fallback.test +secure +(0|10) [a-z.-]+… \+ +enforce " 30
keys w80 q
wait_for w80 "^EXIT=0$"
STATE=

tm kill-server 2>/dev/null
finish
