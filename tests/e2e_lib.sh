# SPDX-License-Identifier: MIT
# tests/e2e_lib.sh — shared by the end-to-end scripts: sandbox detection, the binary with the
# sandbox's config/resolver/CA, and JSON assertions (python3's json module).
if [ -z "${MX_SANDBOX_ENV:-}" ]; then
	echo "skipped: no sandbox (run under tests/sandbox/sandbox exec)"
	exit 77
fi
set -u
MXCUTOVER=${MXCUTOVER:?MXCUTOVER names the binary}
fails=0
workdir=$(mktemp -d /tmp/mxe2e.XXXXXX)
[ -n "${MX_E2E_KEEP:-}" ] || trap 'rm -rf "$workdir"' EXIT

mx() {
	"$MXCUTOVER" --config "$MX_CONFIG" --resolver-conf "$MX_RESOLVER_CONF" \
		--cacert "$MX_CACERT" --state "$workdir/state.db" "$@"
}

fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}

# expect_status WANT CMD... — runs CMD, compares its exit status.
expect_status() {
	local want=$1 got
	shift
	"$@"
	got=$?
	[ "$got" -eq "$want" ] || fail "exit status $got, want $want: $*"
}

# json_check FILE PYTHON-EXPR — evaluates the expression with `doc` bound to the document
# and `check(d, id)` giving the check object of domain d with that id.
json_check() {
	python3 - "$1" "$2" <<'PY' || fail "$2 (in $1)"
import json, sys
doc = json.load(open(sys.argv[1]))
def dom(d):
    return next(x for x in doc["domains"] if x["domain"] == d)
def check(d, cid):
    return next(c for c in dom(d)["checks"] if c["id"] == cid)
def st(d, cid):
    return check(d, cid)["status"]
ok = eval(sys.argv[2])
if not ok:
    print("assertion false:", sys.argv[2], file=sys.stderr)
    sys.exit(1)
PY
}

# blackhole_zone NAME — a fresh unsigned zone NAME whose name servers never answer: a UDP
# socket on a random 127.0.99.x:53 that reads every query and answers none. Sets BH_PID
# (the caller kills it).
blackhole_zone() {
	local ip=127.0.99.$((RANDOM % 200 + 20))
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
open(sys.argv[2], "w").close()
while True:
    s.recv(4096)' "$ip" "$workdir/bh.$1.ready" &
	BH_PID=$!
	for _ in $(seq 100); do [ -e "$workdir/bh.$1.ready" ] && break; sleep 0.1; done
	"$MX_SANDBOX_TOOLS/mkzone" "$1" --insecure --ns-ip "$ip" >/dev/null || fail "mkzone $1 failed"
}

finish() {
	if [ "$fails" -gt 0 ]; then
		echo "$fails assertion(s) failed"
		exit 1
	fi
	echo "all assertions passed"
	exit 0
}
