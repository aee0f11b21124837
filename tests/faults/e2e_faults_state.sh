#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/faults/e2e_faults_state.sh — the state database on a read-only file system and on a
# full one (a small tmpfs in a private mount namespace), through the real binary: each gets
# one clear stderr line and exit 3, the zone is not touched by a run that cannot journal,
# and once the file system is writable or has room again, resume finishes the run exactly
# as planned. Damaged, foreign and newer databases: exit 3, 2 and 2, the file unchanged.
. "$(dirname "$0")/faults_lib.sh"

# Damaged, foreign, newer: through the binary (the unit test covers the details).
printf 'not a database at all\n' >"$workdir/garbage.db"
"$MXCUTOVER" --state "$workdir/garbage.db" status >"$workdir/o" 2>"$workdir/e"
[ $? -eq 3 ] || fail "a damaged state file: exit 3"
grep -q "restore it from a backup" "$workdir/e" || fail "damaged: $(cat "$workdir/e")"
[ "$(cat "$workdir/garbage.db")" = "not a database at all" ] || fail "the damaged file was changed"
sqlite3 "$workdir/other.db" "CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('Ada');"
sum=$(sha256sum <"$workdir/other.db")
"$MXCUTOVER" --state "$workdir/other.db" status >"$workdir/o" 2>"$workdir/e"
[ $? -eq 2 ] || fail "another application's database: exit 2"
grep -q "another application" "$workdir/e" || fail "foreign: $(cat "$workdir/e")"
[ "$(sha256sum <"$workdir/other.db")" = "$sum" ] || fail "the foreign database was changed"
"$MXCUTOVER" --state "$workdir/newer.db" status >/dev/null 2>&1
sqlite3 "$workdir/newer.db" "PRAGMA user_version = 42"
"$MXCUTOVER" --state "$workdir/newer.db" status >"$workdir/o" 2>"$workdir/e"
[ $? -eq 2 ] || fail "a newer schema: exit 2"
grep -q "upgrade mxcutover" "$workdir/e" || fail "newer: $(cat "$workdir/e")"

# A private mount namespace for the tmpfs: as root, or as root of a new user namespace.
if unshare -m true 2>/dev/null; then
	US=(unshare -m)
elif unshare -Urm true 2>/dev/null; then
	US=(unshare -Urm)
else
	echo "no mount namespace here: the read-only and full file system cases are skipped"
	finish
fi

make_zones st 2
plan_all st "$MX_CONFIG" pdns
read -r D1 T1 < <(sed -n 1p "$workdir/st.list")
read -r D2 T2 < <(sed -n 2p "$workdir/st.list")
mkdir -p "$workdir/mnt"
# Everything inside one namespace; the script's findings come back as FAIL/OK lines.
"${US[@]}" bash -s "$workdir" "$D1" "$T1" "$D2" "$T2" >"$workdir/ns.log" 2>&1 <<'NS'
W=$1 D1=$2 T1=$3 D2=$4 T2=$5
M=$W/mnt
mount -t tmpfs -o size=1m tmpfs "$M" || { echo "SKIP: cannot mount a tmpfs"; exit 0; }
mxs() {
	"$MXCUTOVER" --config "$MX_CONFIG" --resolver-conf "$MX_RESOLVER_CONF" --cacert "$MX_CACERT" \
		--state "$M/state/state.db" "$@"
}
mxline() { python3 "$MX_SOURCE_DIR/tests/zonetool.py" dump "$1" | grep "^$1\. MX "; }
# 1. A read-only file system: a new run is refused before it writes DNS.
mxs status >/dev/null 2>&1 || echo "FAIL: status on a fresh tmpfs"
before=$(mxline "$D1")
mount -o remount,ro "$M"
mxs run "$D1" --target-mx "$T1" --provider pdns --yes >"$W/ro.out" 2>"$W/ro.err"
rc=$?
[ $rc -eq 3 ] || echo "FAIL: read-only: exit $rc, want 3"
echo "RO-LAST: $(tail -1 "$W/ro.err")"
tail -1 "$W/ro.err" | grep -q "writable" || echo "FAIL: read-only: last line: $(tail -1 "$W/ro.err")"
[ "$(mxline "$D1")" = "$before" ] || echo "FAIL: read-only: the run changed DNS"
mount -o remount,rw "$M"
mxs run "$D1" --target-mx "$T1" --provider pdns --yes >"$W/ro2.out" 2>&1 ||
	echo "FAIL: once writable, the run: exit $? ($(tail -1 "$W/ro2.out"))"
# 2. A full file system in the middle of a run: stop with exit 3, then resume after
#    space is freed. The filler leaves a little room so that the run starts.
dd if=/dev/zero of="$M/filler" bs=4k 2>/dev/null
rm -f "$M/filler"
avail=$(df -B1 --output=avail "$M" | tail -1)
dd if=/dev/zero of="$M/filler" bs=1 count=0 seek=$((avail - 24576)) 2>/dev/null
fallocate -l $((avail - 24576)) "$M/filler" 2>/dev/null
mxs run "$D2" --target-mx "$T2" --provider pdns --yes >"$W/full.out" 2>"$W/full.err"
rc=$?
echo "FULL-EXIT: $rc"
echo "FULL-LAST: $(tail -1 "$W/full.err")"
rm -f "$M/filler"
# Stopped at the open (nothing was started: run it again) or in the middle (resume it).
if [ "$rc" -ne 0 ] && ! mxs --json status "$D2" 2>/dev/null | grep -q '"state"'; then
	echo "FULL-AT: open"
	mxs run "$D2" --target-mx "$T2" --provider pdns --yes >>"$W/full2.out" 2>&1
fi
for i in 1 2 3; do
	mxs resume --yes >>"$W/full2.out" 2>&1 && break
done
sqlite3 "$M/state/state.db" "SELECT count(*) FROM intents WHERE done_at IS NULL" >"$W/full-open" 2>&1
sqlite3 "$M/state/state.db" ".backup '$W/state.db'" || echo "FAIL: cannot copy the state database out"
umount "$M"
NS
grep -q "^SKIP" "$workdir/ns.log" && { echo "$(cat "$workdir/ns.log")"; finish; }
grep "^FAIL" "$workdir/ns.log" | while read -r l; do echo "$l" >&2; done
fails=$((fails + $(grep -c "^FAIL" "$workdir/ns.log")))
rc=$(sed -n 's/^FULL-EXIT: //p' "$workdir/ns.log")
last=$(sed -n 's/^FULL-LAST: //p' "$workdir/ns.log")
figure "state database on a read-only file system: $(sed -n 's/^RO-LAST: //p' "$workdir/ns.log")"
figure "state database filling up: exit $rc ($(grep -q '^FULL-AT: open' "$workdir/ns.log" && echo "at the open" || echo "during the run")), last line: $last"
case $rc in
0) ;; # the room left was enough
3) echo "$last" | grep -q "free space" || known "a full disk mid-run: exit 3 but the last stderr line does not say so: '$last'" ;;
*) fail "a full disk mid-run: exit $rc ($last)" ;;
esac
[ "$(cat "$workdir/full-open")" = 0 ] || fail "full disk: intents left open: $(cat "$workdir/full-open")"
verify st
finish
