#!/usr/bin/env bash
# bench/collector: ingest cost of strata-collector next to VictoriaMetrics.
# Sends the same pre-built Prometheus remote-write stream (1000 series x 10
# samples per request) over thousands of keep-alive connections to
# strata-collector (publishing to the embedded broker, strata-broker) and to
# victoria-metrics, and Loki-push logs to the collector; measures samples (and
# log MB) accepted per CPU-second of the receiving process. See README.md.
#
#   bench/collector/run.sh [--connections N] [--inflight N] [--duration S]
#                          [--warmup S] [--build DIR] [--keep DIR]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

CONNECTIONS=10000
INFLIGHT=32
DURATION=15
WARMUP=3
KEEP=""
BUILD=${STRATA_BUILD_DIR:-$ROOT/build-bench}
VICTORIA=${VICTORIA:-/usr/bin/victoria-metrics}

usage() {
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --connections) CONNECTIONS=${2:?}; shift 2 ;;
    --inflight) INFLIGHT=${2:?}; shift 2 ;;
    --duration) DURATION=${2:?}; shift 2 ;;
    --warmup) WARMUP=${2:?}; shift 2 ;;
    --build) BUILD=${2:?}; shift 2 ;;
    --keep) KEEP=${2:?}; shift 2 ;;
    -h|--help) usage ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
for v in "$CONNECTIONS" "$INFLIGHT" "$DURATION" "$WARMUP"; do
  [[ $v =~ ^[0-9]+$ ]] || { echo "run.sh: expected a whole number, got '$v'" >&2; exit 2; }
done

T_START=$(date +%s)
# shellcheck source=../lib/processes.sh
. "$HERE/../lib/processes.sh"

if [ -n "$KEEP" ]; then
  mkdir -p "$KEEP"
  WORK=$(cd "$KEEP" && pwd)
else
  WORK=$(mktemp -d /tmp/strata-bench-collector.XXXXXX)
fi
LOGS=$WORK/logs
mkdir -p "$LOGS"

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_all
  [ -z "$KEEP" ] && rm -rf "$WORK/vm-data" 2>/dev/null
  [ $rc -ne 0 ] && log "FAILED (exit $rc); logs are in $LOGS"
  exit $rc
}
trap cleanup EXIT INT TERM

# Every connection is a descriptor in the load generator and in the server
# (both inherit this limit).
need_fds=$((CONNECTIONS + 1000))
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge "$need_fds" ] ||
  die "open-files limit $(ulimit -n) (hard $(ulimit -Hn)) is below the $need_fds that $CONNECTIONS connections need"

# ---------------------------------------------------------------------------
# Build (Release)

BROKER_BIN=$BUILD/allinone/strata-broker
COLLECTOR_BIN=$BUILD/collector/strata-collector
LOADGEN=$BUILD/bench/collector/strata-bench-collector-load
[ -x "$VICTORIA" ] || die "$VICTORIA not found: run scripts/setup.sh (it installs victoria-metrics)"
log "building strata-broker strata-collector strata-bench-collector-load in $BUILD (Release, -j${BUILD_JOBS:-2})"
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >"$LOGS/cmake.log" 2>&1 ||
    die "cmake configure failed; see $LOGS/cmake.log"
fi
cmake --build "$BUILD" -j "${BUILD_JOBS:-2}" --target strata-broker strata-collector strata-bench-collector-load \
  >"$LOGS/build.log" 2>&1 || die "build failed; see $LOGS/build.log"
grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$BUILD/CMakeCache.txt" ||
  log "WARNING: $BUILD is not a Release build; figures will be low"

# loadgen NAME PID PORT KIND PING_PATH CONNS_METRIC: runs the generator
# against PORT, measuring PID;
# its key=value output goes to $WORK/NAME.env.
loadgen() {
  local name=$1 pid=$2 port=$3 kind=$4 ping=$5 conns_metric=$6
  log "$name: $kind over $CONNECTIONS connections, $INFLIGHT in flight, ${WARMUP}s warm-up + ${DURATION}s measured"
  "$LOADGEN" --target "127.0.0.1:$port" --pid "$pid" --kind "$kind" --connections "$CONNECTIONS" \
    --inflight "$INFLIGHT" --warmup "$WARMUP" --duration "$DURATION" \
    --ping-path "$ping" --conns-metric "$conns_metric" \
    >"$WORK/$name.env" 2>"$LOGS/$name.err" || { cat "$LOGS/$name.err" >&2; die "load generator failed ($name)"; }
  alive_or_die "$pid" "$LOGS/$name.server.log"
  sed 's/^/    /' "$WORK/$name.env" >&2
}
get() { sed -n "s/^$2=//p" "$WORK/$1.env" | head -n 1; }

# ---------------------------------------------------------------------------
# Strata: strata-broker (embedded Kafka) + strata-collector

rm -f "$WORK/broker.addr"
start strata-broker "$LOGS/strata-broker.log" "$BROKER_BIN" --broker.address_file="$WORK/broker.addr"
B_PID=$LAST_PID
for _ in $(seq 1 300); do [ -s "$WORK/broker.addr" ] && break; alive_or_die "$B_PID" "$LOGS/strata-broker.log"; sleep 0.1; done
[ -s "$WORK/broker.addr" ] || die "strata-broker wrote no $WORK/broker.addr within 30 s"
BROKERS=$(head -n 1 "$WORK/broker.addr")

C_PORT=$(free_port)
start strata-collector "$LOGS/collector.server.log" "$COLLECTOR_BIN" --kafka.brokers="$BROKERS" \
  --collector.listen="127.0.0.1:$C_PORT" --log.level=warn
C_PID=$LAST_PID
ln -sf collector.server.log "$LOGS/collector-rw.server.log"
ln -sf collector.server.log "$LOGS/collector-loki.server.log"
wait_http "$C_PID" "$LOGS/collector.server.log" "http://127.0.0.1:$C_PORT/readyz" 60
loadgen collector-rw "$C_PID" "$C_PORT" remote_write /healthz strata_http_open_connections
loadgen collector-loki "$C_PID" "$C_PORT" loki /healthz strata_http_open_connections
stop "$C_PID"
stop "$B_PID"

# ---------------------------------------------------------------------------
# VictoriaMetrics, single node, same remote-write stream

V_PORT=$(free_port)
mkdir -p "$WORK/vm-data"
start victoria-metrics "$LOGS/vm.server.log" "$VICTORIA" -httpListenAddr="127.0.0.1:$V_PORT" \
  -storageDataPath="$WORK/vm-data" -loggerLevel=WARN
V_PID=$LAST_PID
ln -sf vm.server.log "$LOGS/vm-rw.server.log"
wait_http "$V_PID" "$LOGS/vm.server.log" "http://127.0.0.1:$V_PORT/health" 60
loadgen vm-rw "$V_PID" "$V_PORT" remote_write /health vm_tcplistener_conns
stop "$V_PID"

# ---------------------------------------------------------------------------
# Report

pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo '?'; }
fmt_int() { LC_ALL=C printf "%'d" "${1%.*}" 2>/dev/null || echo "$1"; }
mb() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1e6}'; }
echo
echo "collector ingest benchmark ($(nproc) cpus; $(date -u +%Y-%m-%dT%H:%MZ); victoria-metrics $(pkg_version victoria-metrics))"
echo "remote-write: $(get collector-rw units_per_request) samples per request ($(get collector-rw body_bytes) bytes snappy), $CONNECTIONS connections, $INFLIGHT in flight, ${DURATION}s measured"
echo
printf '%-44s %18s %18s\n' "" "strata-collector" "victoria-metrics"
printf '%-44s %18s %18s\n' "remote-write samples / server CPU-second" \
  "$(fmt_int "$(get collector-rw units_per_cpu_s)")" "$(fmt_int "$(get vm-rw units_per_cpu_s)")"
printf '%-44s %18s %18s\n' "remote-write samples / s (wall)" \
  "$(fmt_int "$(get collector-rw units_per_s)")" "$(fmt_int "$(get vm-rw units_per_s)")"
printf '%-44s %18s %18s\n' "server CPU cores busy" "$(get collector-rw server_cpu_cores)" "$(get vm-rw server_cpu_cores)"
printf '%-44s %18s %18s\n' "connections held (client side)" "$(get collector-rw connections_held)" "$(get vm-rw connections_held)"
printf '%-44s %18s %18s\n' "open connections reported by the server" \
  "$(get collector-rw server_open_connections)" "$(get vm-rw server_open_connections)"
printf '%-44s %18s %18s\n' "connections the server closed (reopened)" "$(get collector-rw reconnects)" "$(get vm-rw reconnects)"
printf '%-44s %18s %18s\n' "requests 2xx / 429 / 503 / other" \
  "$(get collector-rw requests_ok)/$(get collector-rw requests_429)/$(get collector-rw requests_503)/$(get collector-rw requests_other)" \
  "$(get vm-rw requests_ok)/$(get vm-rw requests_429)/$(get vm-rw requests_503)/$(get vm-rw requests_other)"
printf '%-44s %18s %18s\n' "server RSS at the end (MiB)" "$(get collector-rw server_rss_mib)" "$(get vm-rw server_rss_mib)"
printf '%-44s %18s %18s\n' "Loki push log MB / server CPU-second" "$(mb "$(get collector-loki units_per_cpu_s)")" "-"
printf '%-44s %18s %18s\n' "Loki push log MB / s (wall)" "$(mb "$(get collector-loki units_per_s)")" "-"
printf '%-44s %18s %18s\n' "Loki connections held" "$(get collector-loki connections_held)" "-"
echo
echo "raw figures: $WORK/*.env; logs: $LOGS"
