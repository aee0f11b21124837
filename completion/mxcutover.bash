# SPDX-License-Identifier: MIT
# completion/mxcutover.bash — bash completion for mxcutover: commands, each command's options,
# --format and --color values, provider names from the config and domains from the state
# database. The words come from the program itself (`mxcutover __complete WHAT`), so they
# follow its --config and --state and never go stale. Installed by `cmake --install` into
# share/bash-completion/completions/.

# _mxcutover_words WHAT... — the program's words for WHAT that start with $cur (bin, paths and
# cur are the caller's).
_mxcutover_words() {
	local IFS=$'\n'
	# shellcheck disable=SC2207
	COMPREPLY=($(compgen -W "$("$bin" "${paths[@]}" __complete "$@" 2>/dev/null)" -- "$cur"))
}

_mxcutover() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev= bin=${COMP_WORDS[0]} cmd= i w
	local -a paths=()

	[ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD - 1]}
	# "--color=al": bash splits at "=" (COMP_WORDBREAKS), unless "=" was taken out of it.
	if [[ $cur == --*=* ]]; then
		prev=${cur%%=*}
		cur=${cur#*=}
	elif [ "$cur" = "=" ]; then
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		cur=
	elif [ "$prev" = "=" ] && [ "$COMP_CWORD" -gt 1 ]; then
		prev=${COMP_WORDS[COMP_CWORD - 2]}
	fi
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--state | --config)
			paths+=("$w" "${COMP_WORDS[i + 1]}")
			((i++))
			;;
		--resolver-conf | --cacert | --target-mx | --provider | --file | --format | --plan | \
			-o | --output | --connector | --smtp-port | --apply | --outbound | --color)
			((i++))
			[ "${COMP_WORDS[i]}" = "=" ] && ((i++))
			;;
		-* | =) ;;
		*) [ -z "$cmd" ] && cmd=$w ;;
		esac
	done
	case $prev in
	--provider)
		_mxcutover_words providers
		return
		;;
	--format)
		_mxcutover_words formats
		return
		;;
	--color)
		_mxcutover_words colors
		return
		;;
	--state | --config | --resolver-conf | --cacert | --file | --plan | -o | --output)
		compopt -o filenames 2>/dev/null
		# shellcheck disable=SC2207
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--target-mx | --connector | --smtp-port | --apply | --outbound)
		return
		;;
	esac
	if [[ $cur == -* ]]; then
		_mxcutover_words flags $cmd
	elif [ -z "$cmd" ]; then
		_mxcutover_words commands
	else
		case $cmd in
		check | plan | run | resume | rollback | status | tui)
			_mxcutover_words domains
			;;
		esac
	fi
}

complete -F _mxcutover mxcutover
