# SPDX-License-Identifier: MIT
# tests/exo_lib.sh — sourced after e2e_lib.sh by the tests of [exchange]: starts the local
# stand-in of the Exchange Online admin API and its token endpoint (tests/fakes/exo_api.py)
# for tenant tenant-e2e.onmicrosoft.com and app app-0001 (a client secret and a certificate
# it knows, one it does not), and gives `exo JSON` (its control endpoint), `calls` (the
# cmdlets called, in order) and `conf NAME CREDENTIAL-LINE` (a config with [exchange]).
FAKES=$MX_SOURCE_DIR/tests/fakes
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; [ -n "${MX_E2E_KEEP:-}" ] || rm -rf "$workdir"' EXIT

umask 077
SECRET='exo-secret~with&odd=chars'
printf '%s\n' "$SECRET" >"$workdir/exo.secret"
printf 'not-the-exo-secret\n' >"$workdir/exo-bad.secret"
# The app's certificate: key + certificate in one private file; the fake knows the cert.
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=mxcutover-app -days 2 \
	-keyout "$workdir/app.key" -out "$workdir/app.crt" 2>/dev/null || fail "openssl req"
cat "$workdir/app.key" "$workdir/app.crt" >"$workdir/app.pem"
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=other-app -days 2 \
	-keyout "$workdir/other.key" -out "$workdir/other.crt" 2>/dev/null || fail "openssl req"
cat "$workdir/other.key" "$workdir/other.crt" >"$workdir/other.pem"
python3 "$FAKES/exo_api.py" --port-file "$workdir/exo.port" tenant-e2e.onmicrosoft.com \
	app-0001 "$workdir/exo.secret" "$workdir/app.crt" 2>"$workdir/exo-fake.log" &
pids+=($!)
for _ in $(seq 1 100); do
	[ -s "$workdir/exo.port" ] && break
	sleep 0.05
done
EXO=http://127.0.0.1:$(cat "$workdir/exo.port")
exo() { python3 "$FAKES/exo_api.py" --ctl "$EXO" "$1"; }
calls() { exo '{}' | python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)["calls"]))'; }

# conf NAME CREDENTIAL-LINE — a config with [exchange] signing in with that credential.
conf() {
	cat "$MX_CONFIG" >"$workdir/$1.conf"
	cat >>"$workdir/$1.conf" <<EOF
[exchange]
tenant_id = tenant-e2e.onmicrosoft.com
client_id = app-0001
$2
exo_url = $EXO
login_url = $EXO/
EOF
}
