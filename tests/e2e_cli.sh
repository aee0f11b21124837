#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/e2e_cli.sh — the command line contract without the sandbox: --help for the program
# and every command, --version, exit statuses for usage and config errors, commands that a
# later build brings, XDG default paths.
set -u
MXCUTOVER=${MXCUTOVER:?MXCUTOVER names the binary}
fails=0
work=$(mktemp -d /tmp/mxcli.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
status() { "$@" >"$work/out" 2>"$work/err" </dev/null; echo $?; }

[ "$(status "$MXCUTOVER" --help)" = 0 ] || fail "--help"
grep -q '^Usage: mxcutover' "$work/out" || fail "--help prints the usage"
[ "$(status "$MXCUTOVER" --version)" = 0 ] || fail "--version"
grep -Eq '^mxcutover [0-9]+\.[0-9]+' "$work/out" || fail "--version prints the version"
for cmd in check plan run resume rollback status outbound tui; do
	[ "$(status "$MXCUTOVER" "$cmd" --help)" = 0 ] || fail "$cmd --help exits 0"
	grep -q "^Usage: mxcutover \[global options\] $cmd" "$work/out" || fail "$cmd --help usage"
done

# Usage errors: one line on stderr naming the problem and the fix, exit 2.
[ "$(status "$MXCUTOVER" frobnicate)" = 2 ] || fail "unknown command exits 2"
grep -q 'unknown command "frobnicate"' "$work/err" || fail "unknown command named"
[ "$(status "$MXCUTOVER" --frob)" = 2 ] || fail "unknown global option exits 2"
[ "$(status "$MXCUTOVER" check --frob x.com)" = 2 ] || fail "unknown command option exits 2"
[ "$(wc -l <"$work/err")" -eq 1 ] || fail "a usage error is one line"
[ "$(status "$MXCUTOVER")" = 2 ] || fail "bare mxcutover without a terminal exits 2"
[ "$(wc -l <"$work/err")" -eq 1 ] && grep -q 'name a command' "$work/err" ||
	fail "bare mxcutover without a terminal: one line naming the fix: $(cat "$work/err")"
# Usage errors on every command, --json or not: exactly one stderr line, the reason last.
for cmd in check plan run resume rollback status outbound tui; do
	for json in "" --json; do
		# shellcheck disable=SC2086
		[ "$(status "$MXCUTOVER" $json "$cmd" --frob)" = 2 ] || fail "$cmd $json --frob exits 2"
		[ "$(wc -l <"$work/err")" -eq 1 ] && grep -q -- '--help`$' "$work/err" ||
			fail "$cmd $json --frob: one line ending in the fix: $(cat "$work/err")"
	done
done

# Commands a later build brings (their --help says so) refuse with exit 2, never pretend.
for cmd in check plan run resume rollback status outbound tui; do
	"$MXCUTOVER" "$cmd" --help 2>/dev/null | grep -q 'Not available in this build yet' || continue
	[ "$(status "$MXCUTOVER" "$cmd" contoso.com)" = 2 ] || fail "$cmd exits 2"
	grep -q 'not available in this build yet' "$work/err" || fail "$cmd says it is not there yet"
done

# run/resume/rollback without --yes and without a terminal: nobody can answer, exit 2.
for cmd in "run contoso.com --target-mx x.mx.microsoft --provider p" "resume" "rollback contoso.com"; do
	# shellcheck disable=SC2086
	[ "$(status "$MXCUTOVER" --state "$work/s.db" $cmd)" = 2 ] || fail "$cmd without --yes exits 2"
done
grep -q 'pass --yes' "$work/err" || fail "the refusal names --yes"

# Config errors name file and line; exit 2; a missing --config file too.
printf '[cutover]\nlow_ttl = 5\n' >"$work/bad.conf"
[ "$(status "$MXCUTOVER" --config "$work/bad.conf" check contoso.com)" = 2 ] || fail "bad config exits 2"
grep -q "$work/bad.conf line 2: low_ttl" "$work/err" || fail "bad config names file and line"
[ "$(status "$MXCUTOVER" --config "$work/none.conf" check contoso.com)" = 2 ] || fail "missing --config exits 2"
grep -q "none.conf" "$work/err" || fail "missing config named"

# A malformed domain name is a usage error that says what is wrong.
[ "$(status "$MXCUTOVER" check 'bad..name')" = 2 ] || fail "bad domain exits 2"
grep -q 'empty label' "$work/err" || fail "bad domain explained"

if [ "$fails" -gt 0 ]; then
	echo "$fails assertion(s) failed"
	exit 1
fi
echo "all assertions passed"
