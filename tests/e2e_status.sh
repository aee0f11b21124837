#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/e2e_status.sh — `status` against the sandbox: a --state that does not exist shows no
# runs and creates nothing; an unfinished run is either live (held by a running process,
# named with pid, host and since) or stopped (with how to continue); the run's history comes
# from the journal with every step's title, rollback steps included; a finished run reads
# "done" once; the contract fields of `status --json` stay; several runs end with their counts.
. "$(dirname "$0")/e2e_lib.sh"
n=0
fresh() { # fresh [mkzone options] → sets D (domain) and T (target)
	n=$((n + 1))
	D=st$$x$n.test
	T=$("$MX_SANDBOX_TOOLS/mkzone" "$D" "$@") || fail "mkzone $D"
}
# pyjson FILE EXPR — asserts EXPR with `doc` the document and `r` its first run.
pyjson() {
	python3 - "$1" "$2" <<'PY' || fail "$2 (in $1: $(cat "$1"))"
import json, sys
doc = json.load(open(sys.argv[1]))
r = doc["runs"][0] if doc["runs"] else None
assert eval(sys.argv[2])
PY
}

# 1. No database: no runs, nothing created, also with a domain and with --json.
none=$workdir/none/deeper/state.db
out=$("$MXCUTOVER" --state "$none" status 2>&1) || fail "status without a database exits 0"
echo "$out" | grep -q "^no runs" || fail "status without a database says no runs: $out"
"$MXCUTOVER" --state "$none" status contoso.test | grep -q "contoso.test has no run" ||
	fail "status DOMAIN without a database"
"$MXCUTOVER" --json --state "$none" status >"$workdir/none.json" || fail "status --json exit"
pyjson "$workdir/none.json" 'doc == {"runs": []}'
[ -e "$workdir/none" ] && fail "status created $(find "$workdir/none")"

# 2. A live run: waiting for the old TTL in real time (no warp), held by its process.
fresh --mtasts none
"$MXCUTOVER" --config "$MX_CONFIG" --resolver-conf "$MX_RESOLVER_CONF" --cacert "$MX_CACERT" \
	--state "$workdir/state.db" run "$D" --target-mx "$T" --provider pdns --yes \
	>"$workdir/live.log" 2>&1 &
runner=$!
for _ in $(seq 1 300); do
	mx --json status "$D" >"$workdir/live.json" 2>/dev/null &&
		grep -q '"step": "wait_old_ttl"' "$workdir/live.json" && break
	sleep 0.2
done
pyjson "$workdir/live.json" 'r["state"] == "waiting" and r["step"] == "wait_old_ttl" and r["live"] is True'
pyjson "$workdir/live.json" "r['owner']['pid'] == $runner and r['owner']['host'] and r['owner']['since'].endswith('Z')"
pyjson "$workdir/live.json" '[h["step"] for h in r["history"]][:4] == ["preflight", "snapshot", "mtasts_stage", "lower_ttl"]'
pyjson "$workdir/live.json" 'all(h["title"] for h in r["history"]) and r["history"][-1]["state"] == "active"'
pyjson "$workdir/live.json" 'all(k in r for k in ("domain", "state", "step", "next_at", "waiting_for", "target"))'
mx status "$D" >"$workdir/live.txt" 2>&1
grep -q "live: held by mxcutover pid $runner on .* since 20" "$workdir/live.txt" ||
	fail "status names the live owner: $(cat "$workdir/live.txt")"
grep -q "history:" "$workdir/live.txt" && grep -q "done .*preflight .*Check the prerequisites" "$workdir/live.txt" ||
	fail "status DOMAIN shows the history: $(cat "$workdir/live.txt")"
kill -TERM "$runner"
wait "$runner"

# 3. The same run once its process is gone: stopped, with how to continue.
mx --json status "$D" >"$workdir/stopped.json"
pyjson "$workdir/stopped.json" 'r["live"] is False and r["owner"] is None and r["state"] == "waiting"'
mx status "$D" >"$workdir/stopped.txt" 2>&1
grep -q "stopped: no process runs it; continue with \`mxcutover resume $D\`" "$workdir/stopped.txt" ||
	fail "status says the run is stopped: $(cat "$workdir/stopped.txt")"

# 4. Finished: "done" once; rolled back: every rollback step has its title.
MXCUTOVER_CLOCK=warp mx resume "$D" --yes >"$workdir/resume.log" 2>&1
mx status >"$workdir/all.txt" 2>&1
grep -q "^$D .*done .*cutover complete" "$workdir/all.txt" || fail "done run: $(cat "$workdir/all.txt")"
grep -q "done *done" "$workdir/all.txt" && fail "status prints done twice: $(cat "$workdir/all.txt")"
grep -q "stopped:" "$workdir/all.txt" && fail "a finished run is not 'stopped'"
# Disable-SmtpDaneInbound, as Microsoft does: the rollback waits for the TLSA to go.
python3 "$MX_SOURCE_DIR/tests/zonetool.py" dane-off "$T"
MXCUTOVER_CLOCK=warp mx rollback "$D" --yes >"$workdir/rb.log" 2>&1 || fail "rollback: $(tail -2 "$workdir/rb.log")"
mx --json status "$D" >"$workdir/rb.json"
pyjson "$workdir/rb.json" 'r["state"] == "rolled_back" and any(h["step"].startswith("rb_") for h in r["history"])'
pyjson "$workdir/rb.json" 'all(h["title"] for h in r["history"])'
mx status "$D" >"$workdir/rb.txt"
grep -E "rb_[a-z_]+ *$" "$workdir/rb.txt" && fail "a rollback step without its title"
grep -q "rb_readd_legacy .*Prefer the legacy MX again" "$workdir/rb.txt" ||
	fail "rollback history: $(cat "$workdir/rb.txt")"

# 5. Several runs: the last line counts them by state, and those no process runs.
fresh --mtasts none
MXCUTOVER_CLOCK=warp MXCUTOVER_CRASH_AT=add_target:done mx run "$D" --target-mx "$T" \
	--provider pdns --yes >"$workdir/crash.log" 2>&1
mx status >"$workdir/all2.txt" 2>&1
tail -1 "$workdir/all2.txt" | grep -q "^2 runs: 1 running, 1 rolled_back (1 with no process: \`mxcutover resume\` continues it)$" ||
	fail "status of two runs, last line: $(tail -1 "$workdir/all2.txt")"
mx status "$D" | grep -q " runs: " && fail "status DOMAIN counts runs"

finish
