#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/e2e_completion.sh — shell completion and --color, against the sandbox: the bash
# script, sourced as a shell would, completes commands, a command's options, --format values,
# provider names from the config and domains from the state database (without creating one);
# `cmake --install` puts the bash and zsh scripts where the shells look; --color=always and
# never decide over NO_COLOR and the terminal; a wrong --color is a usage error.
. "$(dirname "$0")/e2e_lib.sh"
export MXCUTOVER_CLOCK=warp
mkdir -p "$workdir/bin"
ln -s "$MXCUTOVER" "$workdir/bin/mxcutover"
PATH=$workdir/bin:$PATH
# shellcheck source=/dev/null
. "$MX_SOURCE_DIR/completion/mxcutover.bash"
# comp WORDS... — completes the last word as bash would; the candidates, sorted, on one line.
comp() {
	COMP_WORDS=(mxcutover "$@")
	COMP_CWORD=$#
	COMPREPLY=()
	_mxcutover
	printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}

[ "$(comp ro)" = "rollback" ] || fail "command: $(comp ro)"
[ "$(comp "")" = "check outbound plan resume rollback run status tui" ] || fail "commands: $(comp "")"
[ "$(comp plan contoso.test --f)" = "--format" ] || fail "plan --f: $(comp plan contoso.test --f)"
comp run --t | grep -qw -- --target-mx || fail "run --t: $(comp run --t)"
comp resume --y | grep -qw -- --yes || fail "resume --y"
[ "$(comp plan x --format n)" = "nsupdate" ] || fail "--format n: $(comp plan x --format n)"
[ "$(comp --color = a)" = "always auto" ] || fail "--color=a: $(comp --color = a)"
[ "$(comp --color=n)" = "never" ] || fail "--color=n unsplit: $(comp --color=n)"
[ "$(comp --config "$MX_CONFIG" check x --provider "")" = "bind manual pdns" ] ||
	fail "providers: $(comp --config "$MX_CONFIG" check x --provider "")"
# Domains from the state database; without one, none, and nothing is created.
[ -z "$(comp --state "$workdir/none/state.db" resume "")" ] || fail "domains without a database"
[ -e "$workdir/none" ] && fail "completion created $workdir/none"
# A run stays in the journal (one refused at preflight does not: it changed nothing).
D=comp$$.test
T=$("$MX_SANDBOX_TOOLS/mkzone" "$D" --mtasts none) || fail "mkzone $D"
MXCUTOVER_CLOCK=warp mx run "$D" --target-mx "$T" --provider pdns --yes >/dev/null 2>&1 ||
	fail "run $D"
[ "$(comp --state "$workdir/state.db" status "")" = "$D" ] ||
	fail "domains: $(comp --state "$workdir/state.db" status "")"
[ "$(comp --state "$workdir/state.db" rollback "${D:0:6}")" = "$D" ] || fail "domain prefix"

# cmake --install puts both scripts where bash-completion and zsh look.
if [ -n "${MX_BUILD_DIR:-}" ]; then
	cmake --install "$MX_BUILD_DIR" --prefix "$workdir/inst" >/dev/null || fail "cmake --install"
	cmp -s "$workdir/inst/share/bash-completion/completions/mxcutover" \
		"$MX_SOURCE_DIR/completion/mxcutover.bash" || fail "bash completion installed"
	[ -f "$workdir/inst/share/zsh/site-functions/_mxcutover" ] || fail "zsh completion installed"
fi
if command -v zsh >/dev/null; then
	zsh -n "$MX_SOURCE_DIR/completion/_mxcutover" || fail "zsh completion parses"
fi

# --color: always and never decide; auto follows NO_COLOR and the terminal (not one here).
esc=$'\033'
mx --color=always check "$D" --target-mx x.example.com >"$workdir/c.out" 2>&1
grep -q "$esc\[" "$workdir/c.out" || fail "--color=always colours"
NO_COLOR=1 mx --color=always check "$D" --target-mx x.example.com >"$workdir/c.out" 2>&1
grep -q "$esc\[" "$workdir/c.out" || fail "--color=always wins over NO_COLOR"
mx --color=never check "$D" --target-mx x.example.com >"$workdir/c.out" 2>&1
grep -q "$esc\[" "$workdir/c.out" && fail "--color=never"
mx check "$D" --target-mx x.example.com >"$workdir/c.out" 2>&1
grep -q "$esc\[" "$workdir/c.out" && fail "--color=auto colours a file"
expect_status 2 mx --color=sometimes status 2>"$workdir/c.err"
grep -q -- "--color=sometimes: use auto, always or never" "$workdir/c.err" || fail "bad --color"

finish
