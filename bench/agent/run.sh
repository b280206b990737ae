#!/usr/bin/env bash
# bench/agent: what strata-agent costs on a host. Three measurements, one run:
#  1. steady load: tailing 1,000 lines/s and shipping 2,000 scraped series
#     every 15 s (plus its host metrics) -- agent RSS and CPU;
#  2. tail throughput: a large file appears, pinned to one core -- MB/s until
#     every line is acknowledged by the collector stand-in;
#  3. host metrics: the agent collecting and shipping node_* every second
#     next to prometheus-node-exporter serving the same families to a scrape
#     every second -- CPU per collection of each, measured side by side.
# See README.md.
#
#   bench/agent/run.sh [--duration S] [--big-mb N] [--host-duration S]
#                      [--build DIR] [--keep DIR]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

DURATION=120
BIG_MB=1024
HOST_DURATION=60
KEEP=""
BUILD=${STRATA_BUILD_DIR:-$ROOT/build-agent-release}
NODE_EXPORTER=${NODE_EXPORTER:-/usr/bin/prometheus-node-exporter}

usage() {
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION=${2:?}; shift 2 ;;
    --big-mb) BIG_MB=${2:?}; shift 2 ;;
    --host-duration) HOST_DURATION=${2:?}; shift 2 ;;
    --build) BUILD=${2:?}; shift 2 ;;
    --keep) KEEP=${2:?}; shift 2 ;;
    -h|--help) usage ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
for v in "$DURATION" "$BIG_MB" "$HOST_DURATION"; do
  [[ $v =~ ^[0-9]+$ ]] || { echo "run.sh: expected a whole number, got '$v'" >&2; exit 2; }
done

T_START=$(date +%s)
# shellcheck source=../lib/processes.sh
. "$HERE/../lib/processes.sh"

if [ -n "$KEEP" ]; then
  mkdir -p "$KEEP"
  WORK=$(cd "$KEEP" && pwd)
else
  WORK=$(mktemp -d /tmp/strata-bench-agent.XXXXXX)
fi
LOGS=$WORK/logs
mkdir -p "$LOGS"

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_all
  [ -z "$KEEP" ] && rm -f "$WORK"/*.log "$WORK"/*.tmp 2>/dev/null
  [ $rc -ne 0 ] && log "FAILED (exit $rc); logs are in $LOGS"
  exit $rc
}
trap cleanup EXIT INT TERM

# ---------------------------------------------------------------------------
# Build (Release)

AGENT_BIN=$BUILD/agent/strata-agent
DRIVER=$BUILD/bench/agent/strata-bench-agent-driver
[ -x "$NODE_EXPORTER" ] || die "$NODE_EXPORTER not found: run scripts/setup.sh"
log "building strata-agent strata-bench-agent-driver in $BUILD (Release, -j${BUILD_JOBS:-2})"
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >"$LOGS/cmake.log" 2>&1 ||
    die "cmake configure failed; see $LOGS/cmake.log"
fi
cmake --build "$BUILD" -j "${BUILD_JOBS:-2}" --target strata-agent strata-bench-agent-driver \
  >"$LOGS/build.log" 2>&1 || die "build failed; see $LOGS/build.log"
grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$BUILD/CMakeCache.txt" ||
  log "WARNING: $BUILD is not a Release build; figures will be high"

TCK=$(getconf CLK_TCK)
# cpu_s PID: user+system CPU seconds the process has used so far.
cpu_s() { awk -v t="$TCK" '{printf "%.3f", ($14 + $15) / t}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
# metric URL NAME: the first sample of NAME on a /metrics page (0 if absent).
metric() { curl -s --max-time 5 "$1" | awk -v n="$2" '$1 == n {print $2; f=1; exit} END {if (!f) print 0}'; }
ratio() { awk -v a="$1" -v b="$2" -v s="${3:-1}" 'BEGIN {if (b == 0) print "-"; else printf "%.3f", a * s / b}'; }
OUT=$WORK/results.env
: >"$OUT"
put() { echo "$1=$2" >>"$OUT"; }

D_PORT=$(free_port)
# The collector stand-in stays off cpu 0, where part 2 pins the agent: the
# throughput measured is the agent's, not the two sharing one core.
PIN_DRIVER=()
[ "$(nproc)" -ge 2 ] && PIN_DRIVER=(taskset -c 1-$(($(nproc) - 1)))
start driver "$LOGS/driver.log" "${PIN_DRIVER[@]}" "$DRIVER" serve --listen "127.0.0.1:$D_PORT" --series 2000
D_PID=$LAST_PID
wait_http "$D_PID" "$LOGS/driver.log" "http://127.0.0.1:$D_PORT/stats" 30
SINK=http://127.0.0.1:$D_PORT

# ---------------------------------------------------------------------------
# 1. Steady load

log "1. steady load: 1,000 lines/s + 2,000 scraped series every 15 s, ${DURATION}s"
A_PORT=$(free_port)
: >"$WORK/steady.log"
start strata-agent "$LOGS/agent-steady.log" "$AGENT_BIN" --log.level=warn \
  --agent.listen="127.0.0.1:$A_PORT" --agent.collector_url="$SINK" \
  --agent.files="$WORK/steady.log" --agent.data_dir="$WORK/data-steady" \
  --agent.scrape_configs="bench $SINK/metrics interval=15s" --agent.interval=15s
A_PID=$LAST_PID
wait_http "$A_PID" "$LOGS/agent-steady.log" "http://127.0.0.1:$A_PORT/readyz" 30
start writer "$LOGS/writer.log" "$DRIVER" write --file "$WORK/steady.log" --rate 1000 \
  --seconds $((DURATION + 10)) --line-bytes 120
W_PID=$LAST_PID
sleep 10  # warm-up: first scrape, first batches, buffers at their working size
c0=$(cpu_s "$A_PID"); t0=$(date +%s.%N); rss_max=0; rss_sum=0; n=0
end=$(($(date +%s) + DURATION))
while [ "$(date +%s)" -lt "$end" ]; do
  alive_or_die "$A_PID" "$LOGS/agent-steady.log"
  r=$(rss_kb "$A_PID"); rss_sum=$((rss_sum + r)); n=$((n + 1))
  [ "$r" -gt "$rss_max" ] && rss_max=$r
  sleep 1
done
c1=$(cpu_s "$A_PID"); t1=$(date +%s.%N)
wait "$W_PID" 2>/dev/null || true
sleep 2
shipped=$(metric "http://127.0.0.1:$A_PORT/metrics" strata_agent_log_lines_shipped_total)
samples=$(metric "http://127.0.0.1:$A_PORT/metrics" strata_agent_samples_shipped_total)
read_lines=$(metric "http://127.0.0.1:$A_PORT/metrics" strata_agent_log_lines_read_total)
put steady_cpu_percent "$(awk -v a="$c0" -v b="$c1" -v s="$t0" -v e="$t1" 'BEGIN {printf "%.2f", (b - a) * 100 / (e - s)}')"
put steady_rss_max_mib "$(awk -v k="$rss_max" 'BEGIN {printf "%.1f", k / 1024}')"
put steady_rss_avg_mib "$(awk -v k="$rss_sum" -v n="$n" 'BEGIN {printf "%.1f", k / n / 1024}')"
put steady_rss_hwm_mib "$(awk -v k="$(hwm_kb "$A_PID")" 'BEGIN {printf "%.1f", k / 1024}')"
put steady_lines_read "$read_lines"
put steady_lines_shipped "$shipped"
put steady_samples_shipped "$samples"
stop "$A_PID"

# ---------------------------------------------------------------------------
# 2. Tail throughput on one core

log "2. tail throughput: a ${BIG_MB} MB file appears; agent pinned to cpu 0"
gen=$("$DRIVER" generate --file "$WORK/big.tmp" --bytes $((BIG_MB * 1000 * 1000)) --line-bytes 120)
big_lines=$(echo "$gen" | sed -n 's/^lines=//p')
big_bytes=$(echo "$gen" | sed -n 's/^bytes=//p')
for mode in disk memory; do
  A_PORT=$(free_port)
  extra=()
  [ "$mode" = disk ] && extra=(--agent.data_dir="$WORK/data-tp")
  rm -rf "$WORK/data-tp" "$WORK/big.log"
  start strata-agent "$LOGS/agent-tp-$mode.log" taskset -c 0 "$AGENT_BIN" --log.level=warn \
    --agent.listen="127.0.0.1:$A_PORT" --agent.collector_url="$SINK" \
    --agent.files="$WORK/big.log" --agent.interval=1h "${extra[@]}"
  A_PID=$LAST_PID
  wait_http "$A_PID" "$LOGS/agent-tp-$mode.log" "http://127.0.0.1:$A_PORT/readyz" 30
  sleep 1
  c0=$(cpu_s "$A_PID"); t0=$(date +%s.%N)
  ln "$WORK/big.tmp" "$WORK/big.log"  # appears at once, whole: read from its start
  while :; do
    alive_or_die "$A_PID" "$LOGS/agent-tp-$mode.log"
    s=$(metric "http://127.0.0.1:$A_PORT/metrics" strata_agent_log_lines_shipped_total)
    [ "${s%.*}" -ge "$big_lines" ] && break
    sleep 0.2
  done
  c1=$(cpu_s "$A_PID"); t1=$(date +%s.%N)
  put "tp_${mode}_mb_per_s" "$(awk -v b="$big_bytes" -v s="$t0" -v e="$t1" 'BEGIN {printf "%.1f", b / 1e6 / (e - s)}')"
  put "tp_${mode}_mb_per_cpu_s" "$(awk -v b="$big_bytes" -v a="$c0" -v c="$c1" 'BEGIN {printf "%.1f", b / 1e6 / (c - a)}')"
  put "tp_${mode}_rss_hwm_mib" "$(awk -v k="$(hwm_kb "$A_PID")" 'BEGIN {printf "%.1f", k / 1024}')"
  stop "$A_PID"
done
rm -f "$WORK/big.tmp" "$WORK/big.log"

# ---------------------------------------------------------------------------
# 3. Host metrics: strata-agent vs node_exporter, same families, same time

log "3. host metrics every 1 s for ${HOST_DURATION}s: strata-agent and node_exporter side by side"
A_PORT=$(free_port)
start strata-agent "$LOGS/agent-host.log" "$AGENT_BIN" --log.level=warn \
  --agent.listen="127.0.0.1:$A_PORT" --agent.collector_url="$SINK" --agent.interval=1s
A_PID=$LAST_PID
N_PORT=$(free_port)
start node_exporter "$LOGS/node_exporter.log" "$NODE_EXPORTER" \
  --web.listen-address="127.0.0.1:$N_PORT" --collector.disable-defaults \
  --collector.cpu --collector.loadavg --collector.meminfo --collector.stat \
  --collector.diskstats --collector.filesystem --collector.netdev \
  '--collector.filesystem.mount-points-exclude=^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)' \
  '--collector.netdev.device-exclude=^$'
N_PID=$LAST_PID
wait_http "$A_PID" "$LOGS/agent-host.log" "http://127.0.0.1:$A_PORT/readyz" 30
wait_http "$N_PID" "$LOGS/node_exporter.log" "http://127.0.0.1:$N_PORT/metrics" 30
sleep 3
a0=$(cpu_s "$A_PID"); n0=$(cpu_s "$N_PID")
s0=$(metric "http://127.0.0.1:$A_PORT/metrics" strata_agent_samples_shipped_total)
scrapes=0
end=$(($(date +%s) + HOST_DURATION))
while [ "$(date +%s)" -lt "$end" ]; do
  curl -s --max-time 5 -o /dev/null "http://127.0.0.1:$N_PORT/metrics" && scrapes=$((scrapes + 1))
  sleep 1
done
a1=$(cpu_s "$A_PID"); n1=$(cpu_s "$N_PID")
s1=$(metric "http://127.0.0.1:$A_PORT/metrics" strata_agent_samples_shipped_total)
node_series=$(curl -s "http://127.0.0.1:$N_PORT/metrics" | grep -c '^node_' || true)
agent_series=$(awk -v a="$s0" -v b="$s1" -v d="$HOST_DURATION" 'BEGIN {printf "%.0f", (b - a) / d}')
put host_agent_cpu_ms_per_collection "$(ratio "$(awk -v a="$a0" -v b="$a1" 'BEGIN {print b - a}')" "$HOST_DURATION" 1000)"
put host_node_exporter_cpu_ms_per_scrape "$(ratio "$(awk -v a="$n0" -v b="$n1" 'BEGIN {print b - a}')" "$scrapes" 1000)"
put host_agent_series_per_collection "$agent_series"
put host_node_exporter_node_series "$node_series"
put host_node_exporter_scrapes "$scrapes"
stop "$N_PID"
stop "$A_PID"

# ---------------------------------------------------------------------------
# Report

get() { sed -n "s/^$1=//p" "$OUT" | head -n 1; }
pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo '?'; }
echo
echo "strata-agent benchmark ($(nproc) cpus; $(date -u +%Y-%m-%dT%H:%MZ); prometheus-node-exporter $(pkg_version prometheus-node-exporter))"
echo
printf '%-58s %14s %10s\n' "" "measured" "target"
printf '%-58s %14s %10s\n' "steady: CPU (% of one core)" "$(get steady_cpu_percent)" "<= 1"
printf '%-58s %14s %10s\n' "steady: RSS max / avg / peak (MiB)" \
  "$(get steady_rss_max_mib) / $(get steady_rss_avg_mib) / $(get steady_rss_hwm_mib)" "<= 20"
printf '%-58s %14s %10s\n' "steady: lines read / shipped" "$(get steady_lines_read) / $(get steady_lines_shipped)" ""
printf '%-58s %14s %10s\n' "tail throughput, disk buffer (MB/s wall, 1 core)" "$(get tp_disk_mb_per_s)" ">= 100"
printf '%-58s %14s %10s\n' "tail throughput, disk buffer (MB per CPU-second)" "$(get tp_disk_mb_per_cpu_s)" ""
printf '%-58s %14s %10s\n' "tail throughput, memory queue (MB/s wall, 1 core)" "$(get tp_memory_mb_per_s)" ">= 100"
printf '%-58s %14s %10s\n' "tail throughput: agent peak RSS disk / memory (MiB)" \
  "$(get tp_disk_rss_hwm_mib) / $(get tp_memory_rss_hwm_mib)" ""
printf '%-58s %14s %10s\n' "host metrics: strata-agent CPU ms per collection+ship" "$(get host_agent_cpu_ms_per_collection)" "< n_e"
printf '%-58s %14s %10s\n' "host metrics: node_exporter CPU ms per scrape (same families)" "$(get host_node_exporter_cpu_ms_per_scrape)" ""
printf '%-58s %14s %10s\n' "host metrics: series agent / node_exporter node_*" \
  "$(get host_agent_series_per_collection) / $(get host_node_exporter_node_series)" ""
echo
echo "raw figures: $OUT; logs: $LOGS"
