# bench/lib/processes.sh: what the benchmark scripts share to run servers --
# logging, starting processes in the background, waiting for them to answer
# HTTP, stopping them (newest first, so a consumer stops before the broker it
# reads from). Source it after setting T_START; every process started with
# `start` is stopped by `stop_all` (call it from the script's EXIT trap).

log() { printf '[%s +%4ss] %s\n' "$(date +%H:%M:%S)" "$(($(date +%s) - T_START))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

declare -A PROC_NAME=()
PIDS=()  # in start order

# start NAME LOGFILE CMD...: runs CMD in the background; its pid goes to $LAST_PID.
start() {
  local name=$1 logf=$2
  shift 2
  "$@" >"$logf" 2>&1 &
  LAST_PID=$!
  PROC_NAME[$LAST_PID]=$name
  PIDS+=("$LAST_PID")
  log "started $name (pid $LAST_PID, log $logf)"
}

# stop PID [TIMEOUT_S=30]: SIGTERM, wait, then SIGKILL.
stop() {
  local pid=$1 timeout=${2:-30} name=${PROC_NAME[$1]:-?}
  kill -0 "$pid" 2>/dev/null || { unset "PROC_NAME[$pid]"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 $((timeout * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name (pid $pid) ignored SIGTERM for $timeout s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  unset "PROC_NAME[$pid]"
}

# stop_all: every process still running, newest first, 10 s each.
stop_all() {
  local i pid
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    pid=${PIDS[$i]}
    # Only ours: a pid stopped earlier may since belong to someone else.
    [ -n "${PROC_NAME[$pid]+set}" ] && stop "$pid" 10
  done
  return 0
}

alive_or_die() {  # PID LOG
  kill -0 "$1" 2>/dev/null && return 0
  tail -n 20 "$2" >&2 || true
  die "${PROC_NAME[$1]:-process $1} exited unexpectedly; see $2"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_http PID LOG URL TIMEOUT_S [EXPECTED_STATUS=200]
wait_http() {
  local pid=$1 logf=$2 url=$3 timeout=$4 want=${5:-200} code
  local deadline=$(($(date +%s) + timeout))
  while :; do
    alive_or_die "$pid" "$logf"
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url" || true)
    [ "$code" = "$want" ] && return 0
    if [ "$(date +%s)" -ge "$deadline" ]; then
      tail -n 20 "$logf" >&2 || true
      die "${PROC_NAME[$pid]} not ready: $url answered '$code' (want $want) after ${timeout}s; see $logf"
    fi
    sleep 0.2
  done
}
