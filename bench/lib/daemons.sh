# Sourced by the benchmarks: what they start, they stop, also when interrupted; and they refuse to
# run beside a CloudBridge daemon left over from an earlier run (it would be measured too).

# The pids of running CloudBridge daemons ('cloudbridge run|relay|up', whoever started them).
cloudbridge_daemons() {
  pgrep -f 'io\.cloudbridge\.boot\.Launcher (run|relay|up)( |$)' || true
}

# Exits with a message naming them if any CloudBridge daemon is running (ALLOW_OTHER_DAEMONS=1 to go on).
refuse_if_daemons_running() {
  local found
  found=$(cloudbridge_daemons | paste -sd ' ')
  [ -z "$found" ] && return 0
  echo "CloudBridge daemons are running (pid $found): a benchmark beside them measures them too." >&2
  ps -o pid=,etime=,args= -p "${found// /,}" 2>/dev/null | cut -c1-160 >&2 || true
  if [ -n "${ALLOW_OTHER_DAEMONS:-}" ]; then
    echo "going on anyway (ALLOW_OTHER_DAEMONS is set)" >&2
  else
    echo "stop them first (or set ALLOW_OTHER_DAEMONS=1)" >&2
    exit 1
  fi
}

# Whether pid $1 runs: exists and is no zombie (an orphan's zombie stays until its new parent reaps it).
bench_running() {
  local stat
  kill -0 "$1" 2>/dev/null && read -r stat < "/proc/$1/stat" 2>/dev/null || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

# Stops the given pids and every process whose command line names the folder $BENCH_WORK (the
# benchmark's temporary folder: its daemons' --config): TERM, up to 10 s to go, then KILL.
stop_all() {
  local pids=("$@") p left=() killed=()
  if [ -n "${BENCH_WORK:-}" ]; then
    # (the folder's name as a literal in pgrep's extended regular expression)
    while read -r p; do [ -n "$p" ] && [ "$p" != $$ ] && pids+=("$p"); done \
      < <(pgrep -f -- "$(printf '%s/' "$BENCH_WORK" | sed 's/[][\.*^$+?(){}|]/\\&/g')" || true)
  fi
  [ ${#pids[@]} -eq 0 ] && return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 100); do
    left=()
    for p in "${pids[@]}"; do bench_running "$p" && left+=("$p"); done
    [ ${#left[@]} -eq 0 ] && break
    sleep 0.1
  done
  for p in "${left[@]}"; do
    if bench_running "$p"; then
      echo "pid $p did not stop within 10 s of TERM: killed" >&2; kill -KILL "$p" 2>/dev/null || true; killed+=("$p")
    fi
  done
  # KILL takes a moment too: up to 1 s more, so that what runs next finds them gone.
  for _ in $(seq 20); do
    left=()
    for p in "${killed[@]}"; do bench_running "$p" && left+=("$p"); done
    [ ${#left[@]} -eq 0 ] && break
    sleep 0.05
  done
  # Reaps those that are this shell's children (and hides the shell's "Terminated" notices). Only
  # them: a bare wait would also wait for any other background job, however long it runs.
  wait "${pids[@]}" 2>/dev/null || true
}

# The usual exit handling: cleanup on EXIT, and INT/TERM turned into an exit (so EXIT runs once).
# The cleanup itself runs to its end: a second INT or TERM during it is ignored.
trap_cleanup() { # function
  trap "trap '' INT TERM; $1" EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
