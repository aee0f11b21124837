#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/e2e_crash.sh — kill -9 (SIGKILL from inside, through the MXCUTOVER_CRASH_AT seam) at
# every step boundary and in the middle of every write, then `resume`: the same end state,
# no duplicate and no lost record. Then rollback from every step: the snapshot exactly.
. "$(dirname "$0")/e2e_lib.sh"
Z() { python3 "$MX_SOURCE_DIR/tests/zonetool.py" "$@"; }
export MXCUTOVER_CLOCK=warp
n=0
fresh() {
	n=$((n + 1))
	D=crash$$x$n.test
	T=$("$MX_SANDBOX_TOOLS/mkzone" "$D" "$@") || fail "mkzone $D"
	L=${D//./-}.mail.protection.outlook.test
}
mxline() { Z dump "$D" | grep "^$D\. MX "; }
stsline() { Z dump "$D" | grep "^_mta-sts\.$D\. TXT "; }
others() { Z dump "$D" | grep -v -E "^($D\. MX|_mta-sts\.$D\. TXT) "; }
policy() { # policy KEY → publish the plan's policy for step KEY (or "now")
	python3 - "$workdir/$D.plan" "$MX_SANDBOX_WWW/mta-sts.$D/.well-known/mta-sts.txt" "$1" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
if sys.argv[3] == "now":
    text = p["mta_sts"]["policy_now"]
else:
    text = {s["key"]: s for s in p["steps"]}[sys.argv[3]]["policy"]
open(sys.argv[2], "w").write(text)
PY
}
crash() { # crash STEP:POINT CMD... → expects the process to die by SIGKILL
	MXCUTOVER_CRASH_AT=$1 "$MXCUTOVER" --config "$MX_CONFIG" --resolver-conf "$MX_RESOLVER_CONF" \
		--cacert "$MX_CACERT" --state "$workdir/state.db" "${@:2}" >>"$workdir/log" 2>&1
	local rc=$?
	[ $rc -eq 137 ] || fail "$1: expected death by SIGKILL, exit $rc"
}
settle() { # settle → resume until the run is done (MTA-STS gates publish as a person would)
	local i rc
	for i in 1 2 3 4; do
		mx resume "$D" --yes >>"$workdir/log" 2>&1
		rc=$?
		[ $rc -eq 0 ] && return 0
		if [ $rc -eq 1 ] && [ -s "$workdir/$D.plan" ]; then
			policy mtasts_finalize
			continue
		fi
		fail "resume after $point exit $rc: $(tail -2 "$workdir/log")"
		return 1
	done
}
check_final() {
	[ "$(mxline)" = "$D. MX 3600 0 $T." ] || fail "after $point: MX $(mxline)"
	[ "$(others)" = "$before" ] || fail "after $point: other records changed"
	local open
	open=$(sqlite3 "$workdir/state.db" "SELECT COUNT(*) FROM intents i JOIN runs r ON r.id=i.run_id WHERE r.domain='$D' AND i.done_at IS NULL")
	[ "$open" = 0 ] || fail "after $point: $open intents left open"
	mx --json status "$D" | grep -q '"state": "done"' || fail "after $point: not done"
}

mx_steps="preflight snapshot lower_ttl wait_old_ttl add_target verify_target swap wait_low_ttl remove_legacy raise_ttl dane_enable"
write_steps="lower_ttl add_target swap remove_legacy raise_ttl"
points=()
for s in $mx_steps; do points+=("$s:begin" "$s:done"); done
for s in $write_steps; do points+=("$s:intent" "$s:write"); done

# 1. Crash anywhere in an MX-only run, resume: the same end state.
for point in "${points[@]}"; do
	fresh --mtasts none
	before=$(others)
	crash "$point" run "$D" --target-mx "$T" --provider pdns --yes
	settle && check_final
done

# 2. The same through the MTA-STS steps (the policies are published as a person would).
for point in mtasts_stage:begin mtasts_stage:intent mtasts_stage:write mtasts_stage:done \
	mtasts_finalize:begin mtasts_finalize:intent mtasts_finalize:write mtasts_finalize:done; do
	fresh --mtasts enforce
	before=$(others)
	mx plan "$D" --target-mx "$T" --provider pdns --format json -o "$workdir/$D.plan" >/dev/null
	policy mtasts_stage
	if [ "${point%%:*}" = mtasts_finalize ]; then
		expect_status 1 mx run "$D" --target-mx "$T" --provider pdns --yes >>"$workdir/log" 2>&1
		policy mtasts_finalize
		crash "$point" resume "$D" --yes
	else
		crash "$point" run "$D" --target-mx "$T" --provider pdns --yes
	fi
	settle && check_final
	stsline | grep -q '"v=STSv1; id=20260101T000000;"' && fail "after $point: the id never changed"
done

# 3. Rollback from every step (the run killed right after it), and from the middle of a
#    rollback write: the snapshot exactly, values, preference and TTL.
for point in "${points[@]}" rb_readd_legacy:intent rb_remove_target:write rb_restore_ttl:intent; do
	case $point in *:begin | *:intent | *:write) ;; *) ;; esac
	fresh --mtasts enforce
	before=$(others)
	mx plan "$D" --target-mx "$T" --provider pdns --format json -o "$workdir/$D.plan" >/dev/null
	policy mtasts_stage
	case $point in
	rb_*)
		mx run "$D" --target-mx "$T" --provider pdns --yes >>"$workdir/log" 2>&1
		Z dane-off "$T"
		crash "$point" rollback "$D" --yes
		;;
	*)
		crash "$point" run "$D" --target-mx "$T" --provider pdns --yes
		Z dane-off "$T"
		;;
	esac
	mx rollback "$D" --yes >>"$workdir/log" 2>&1 || mx resume "$D" --yes >>"$workdir/log" 2>&1 ||
		fail "rollback after $point: $(tail -2 "$workdir/log")"
	[ "$(mxline)" = "$D. MX 3600 0 $L." ] || fail "rollback after $point: MX $(mxline)"
	[ "$(stsline)" = "_mta-sts.$D. TXT 3600 \"v=STSv1; id=20260101T000000;\"" ] ||
		fail "rollback after $point: $(stsline)"
	[ "$(others)" = "$before" ] || fail "rollback after $point: other records changed"
	mx --json status "$D" | grep -q '"state": "rolled_back"' || fail "rollback after $point: not rolled_back"
done

echo "$n zones, $(grep -c 'wrote ' "$workdir/log") writes"
finish
