# bash completion for kdpctl                                -*- shell-script -*-
# Installed as share/bash-completion/completions/kdpctl; to try it without
# installing: source tools/kdpctl/kdpctl.bash
#
# Completes the commands, their subcommands and options, -o wide, --proto
# values and file names after -f. Keep in step with the command table in
# tools/kdpctl/kdpctl.c (tests/cli/test_kdpctl_cli.sh checks both).

_kdpctl_subcommands() {
	case $1 in
		node) echo "list put delete" ;;
		endpoint) echo "list put delete" ;;
		service) echo "list get put delete" ;;
		route | neigh | ct | nat) echo "list" ;;
		ipmasq) echo "list get put delete" ;;
		lrp) echo "list get put delete" ;;
	esac
}

# _kdpctl_options COMMAND SUBCOMMAND: the options the command takes.
_kdpctl_options() {
	local common="-s --socket --json -h --help"
	case "$1 $2" in
		"status "*) echo "$common -o --output" ;;
		"endpoint list" | "service list" | "route list" | "ipmasq list" | "metrics "*)
			echo "$common -o --output" ;;
		"ct list" | "nat list") echo "$common -o --output --proto --ip" ;;
		"stats "*) echo "$common --all" ;;
		"monitor "*) echo "$common --pod --ip --protocol --verdict -n" ;;
		*" put" | "apply "*) echo "$common -f --file" ;;
		"raw "*) echo "$common -f --file" ;;
		"upgrade "*) echo "$common --force" ;;
		*) echo "$common" ;;
	esac
}

_kdpctl() {
	local cur prev words cword
	if declare -F _init_completion >/dev/null; then
		_init_completion || return
	else
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	fi

	local commands="status node endpoint service route neigh ct nat ipmasq lrp stats metrics monitor apply upgrade raw"

	case $prev in
		-s | --socket | -f | --file)
			COMPREPLY=($(compgen -f -- "$cur"))
			return
			;;
		-o | --output)
			COMPREPLY=($(compgen -W "wide" -- "$cur"))
			return
			;;
		--proto | --protocol)
			COMPREPLY=($(compgen -W "tcp udp icmp icmpv6" -- "$cur"))
			return
			;;
		--ip | --pod | --verdict | -n)
			return
			;;
	esac

	# the command and subcommand words typed so far (options skipped)
	local i w cmd='' sub=''
	for ((i = 1; i < cword; i++)); do
		w=${words[i]}
		case $w in
			-s | --socket | -f | --file | -o | --output | --proto | --protocol | --ip | --pod | --verdict | -n)
				((i++))
				continue
				;;
			-*) continue ;;
		esac
		if [[ -z $cmd ]]; then
			cmd=$w
		elif [[ -z $sub ]]; then
			sub=$w
		fi
	done

	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_kdpctl_options "$cmd" "$sub")" -- "$cur"))
	elif [[ -z $cmd ]]; then
		COMPREPLY=($(compgen -W "$commands" -- "$cur"))
	elif [[ -z $sub && -n $(_kdpctl_subcommands "$cmd") ]]; then
		COMPREPLY=($(compgen -W "$(_kdpctl_subcommands "$cmd")" -- "$cur"))
	elif [[ $cmd == raw && -z $sub ]]; then
		COMPREPLY=($(compgen -W "GET PUT DELETE" -- "$cur"))
	fi
}
complete -F _kdpctl kdpctl
