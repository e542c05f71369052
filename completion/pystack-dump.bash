# bash completion for pystack-dump(1). Self-contained: uses bash-completion's helpers only when
# they are loaded (a command's own completion after `--`), so sourcing this file alone works too.
# Keep the option lists in step with usage_text() in src/cli/options.cc.

_pystack_dump_dump_options='--format= --locals --native --native-all --locks --exceptions --tasks --tasks=
  --attach-timeout= --subprocesses --all --core= --executable= --sysroot= --timeout=
  --kill-after= --output= -h --help -V --version'
_pystack_dump_record_options='--rate= --duration= -o --output= --format= --idle --gil --blocking
  --no-lines --native --native-all --subprocesses --attach-timeout= -q --quiet'
_pystack_dump_top_options='--rate= --duration= --idle --gil --blocking --no-lines --native
  --native-all --subprocesses --attach-timeout= -q --quiet'

# The pids of the running processes.
_pystack_dump_pids() {
  local dir pids=()
  for dir in /proc/[0-9]*; do pids+=("${dir#/proc/}"); done
  printf '%s\n' "${pids[@]}"
}

# Adds to COMPREPLY the words of the list $2 (split on blanks) that start with $1.
_pystack_dump_add() {
  local word
  while IFS= read -r word; do COMPREPLY+=("$word"); done < <(compgen -W "$2" -- "$1")
}

# Adds the lines of the output of a compgen call ($@), taken as they are (file and command names
# may hold any character but a newline).
_pystack_dump_add_lines() {
  local line
  while IFS= read -r line; do COMPREPLY+=("$line"); done < <("$@")
}

# Adds the values of the option $2 (for the dump or record/top: $1) that start with $3.
_pystack_dump_values() {
  local mode=$1 option=$2 value=$3
  case $option in
    --format)
      if [[ $mode == dump ]]; then
        _pystack_dump_add "$value" 'faulthandler traceback json'
      else
        _pystack_dump_add "$value" 'folded speedscope svg pprof'
      fi ;;
    --tasks) _pystack_dump_add "$value" 'table tree' ;;
    --core|--executable|--output|-o)
      _pystack_dump_add_lines compgen -f -- "$value"
      compopt -o filenames 2>/dev/null ;;
    --sysroot)
      _pystack_dump_add_lines compgen -d -- "$value"
      compopt -o filenames 2>/dev/null ;;
    *) ;;  # a number (seconds, a rate): nothing to offer
  esac
}

# Completes the command that starts at words[$1] (COMP_WORDS[$2]): its name, then what its own
# completion offers when bash-completion is loaded, else file names. Reads _pystack_dump's cword
# and cur (bash's locals are seen by the functions called).
_pystack_dump_command() {
  local start=$1 comp_start=$2
  if declare -F _command_offset >/dev/null; then
    _command_offset "$comp_start"
  elif ((cword == start)); then
    _pystack_dump_add_lines compgen -c -- "$cur"
  else
    _pystack_dump_add_lines compgen -f -- "$cur"
    compopt -o filenames 2>/dev/null
  fi
}

_pystack_dump() {
  COMPREPLY=()
  # bash splits "--format=js" into "--format", "=", "js" when '=' is in COMP_WORDBREAKS (the
  # default): put such words back together, remembering where each began in COMP_WORDS and
  # whether the current one was split (then bash replaces only the part after '=', so the values
  # are offered alone).
  local words=() starts=() i word split=0
  for ((i = 0; i <= COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    if ((i > 0)) && [[ $word == = && ${words[-1]} == -* && ${words[-1]} != *=* ]]; then
      words[-1]+==
      ((i == COMP_CWORD)) && split=1
    elif ((i > 1)) && [[ ${COMP_WORDS[i - 1]} == = && ${words[-1]} == -*= ]]; then
      words[-1]+=$word
      ((i == COMP_CWORD)) && split=1
    else
      words+=("$word")
      starts+=("$i")
    fi
  done
  local cword=$((${#words[@]} - 1))
  local cur=${words[cword]}

  # What the words before the current one say: record or top, a PID given, --all or --core, a
  # command (after `--`, or the first plain word after --timeout, as with timeout(1)).
  local mode=dump first=1 pid=0 timeout=0 target=0 expects_value=''
  if [[ ${words[1]-} == record || ${words[1]-} == top ]] && ((cword > 1)); then
    mode=${words[1]}
    first=2
  fi
  for ((i = first; i < cword; i++)); do
    word=${words[i]}
    if [[ -n $expects_value ]]; then
      expects_value=''
      continue
    fi
    case $word in
      --)
        _pystack_dump_command $((i + 1)) $((starts[i] + 1))
        return 0 ;;
      --format|--core|--executable|--sysroot|--timeout|--kill-after|--output|-o|--rate|\
      --duration|--attach-timeout)
        [[ $word == --timeout ]] && timeout=1
        [[ $word == --core ]] && target=1
        expects_value=$word ;;
      --timeout=*) timeout=1 ;;
      --all|--core=*) target=1 ;;
      -*) ;;
      *)
        if ((timeout)) && [[ $mode == dump ]]; then
          _pystack_dump_command "$i" "${starts[i]}"
          return 0
        fi
        pid=1 ;;
    esac
  done

  # The value of an option: after "--name", or "--name=VALUE" in one word.
  if [[ -n $expects_value ]]; then
    _pystack_dump_values "$mode" "$expects_value" "$cur"
    return 0
  fi
  if [[ $cur == -*=* ]]; then
    local option=${cur%%=*}
    _pystack_dump_values "$mode" "$option" "${cur#*=}"
    # Unsplit, bash replaces the whole word: give the values with their option in front.
    if ((!split)); then
      for i in "${!COMPREPLY[@]}"; do COMPREPLY[i]="$option=${COMPREPLY[i]}"; done
    fi
    return 0
  fi

  if [[ $cur == -* ]]; then
    local options
    case $mode in
      dump) options=$_pystack_dump_dump_options ;;
      record) options=$_pystack_dump_record_options ;;
      top) options=$_pystack_dump_top_options ;;
    esac
    _pystack_dump_add "$cur" "$options"
    # "--format=" waits for its value: no space after it.
    [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
    return 0
  fi

  if ((timeout)) && [[ $mode == dump ]]; then
    _pystack_dump_command "$cword" "${starts[cword]}"
    return 0
  fi
  ((cword == 1)) && _pystack_dump_add "$cur" 'record top'
  # A PID where none was given yet (none goes with --all or --core).
  if ((!pid && !target)); then
    _pystack_dump_add "$cur" "$(_pystack_dump_pids)"
  fi
  return 0
}

complete -F _pystack_dump pystack-dump
