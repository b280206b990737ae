#!/usr/bin/env bash
# bench/tsdb_vs_peers: records a real scrape dataset (node exporter + Prometheus
# self-metrics), loads the same samples into Strata, Prometheus 2.42 and
# VictoriaMetrics 1.79, and prints disk, CPU and memory side by side.
# See README.md next to this file. Not a CTest test.
#
#   bench/tsdb_vs_peers/run.sh [--minutes N] [--keep DIR] [--dataset FILE]
#                              [--build DIR] [--time-mapping prometheus|jitter|scale]
#                              [--record-only]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

MINUTES=6.5
KEEP=""
DATASET_IN=""
RECORD_ONLY=""
BUILD=${STRATA_BUILD_DIR:-$ROOT/build-bench}
TIME_MAPPING=prometheus
CHUNK_SAMPLES=60      # samples per series chunk (60 x 15 s = 15 min of dataset time)
REQUEST_SAMPLES=2000  # samples per remote-write request
PROMETHEUS=${PROMETHEUS:-/usr/bin/prometheus}
PROMTOOL=${PROMTOOL:-/usr/bin/promtool}
VICTORIA=${VICTORIA:-/usr/bin/victoria-metrics}
NODE_EXPORTER=${NODE_EXPORTER:-/usr/bin/prometheus-node-exporter}

usage() {
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) MINUTES=${2:?--minutes needs a value}; shift 2 ;;
    --minutes=*) MINUTES=${1#*=}; shift ;;
    --keep) KEEP=${2:?--keep needs a directory}; shift 2 ;;
    --keep=*) KEEP=${1#*=}; shift ;;
    --dataset) DATASET_IN=${2:?--dataset needs a file}; shift 2 ;;
    --dataset=*) DATASET_IN=${1#*=}; shift ;;
    --build) BUILD=${2:?--build needs a directory}; shift 2 ;;
    --build=*) BUILD=${1#*=}; shift ;;
    --time-mapping) TIME_MAPPING=${2:?}; shift 2 ;;
    --time-mapping=*) TIME_MAPPING=${1#*=}; shift ;;
    --record-only) RECORD_ONLY=1; shift ;;
    -h|--help) usage ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
[[ $MINUTES =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "run.sh: --minutes expects a number, got '$MINUTES'" >&2; exit 2; }

T_START=$(date +%s)
# shellcheck source=../lib/processes.sh
. "$HERE/../lib/processes.sh"

# ---------------------------------------------------------------------------
# Work directory, processes, cleanup

if [ -n "$KEEP" ]; then
  mkdir -p "$KEEP"
  WORK=$(cd "$KEEP" && pwd)
else
  WORK=$(mktemp -d /tmp/strata-bench-tsdb-vs-peers.XXXXXX)
fi
LOGS=$WORK/logs
mkdir -p "$LOGS"
RESULTS=$WORK/results.env
: >"$RESULTS"

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_all
  if [ -z "$KEEP" ]; then
    # Keep the small things (results, logs); drop data dirs and datasets.
    rm -rf "$WORK"/data "$WORK"/*.txt.tmp "$WORK"/dataset.txt "$WORK"/dataset.om 2>/dev/null || true
  fi
  if [ $rc -ne 0 ]; then
    log "FAILED (exit $rc); logs are in $LOGS"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

CLK_TCK=$(getconf CLK_TCK)
# utime+stime of PID in clock ticks (fields 14 and 15 of /proc/PID/stat,
# counted after the parenthesised command name, which may hold spaces).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
ticks_to_s() { awk -v t="$1" -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", t / hz}'; }
now_s() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }
# Sum of the sizes of the regular files in (or among) the arguments, in bytes;
# 0 for none. Directory entries (4 KiB each in du -b) are not counted: VM
# keeps many more directories than the others.
bytes_of() {
  if [ $# -eq 0 ]; then echo 0; return; fi
  find "$@" -type f -printf '%s\n' | awk '{s += $1} END {printf "%.0f\n", s}'
}
put() { echo "$1=$2" >>"$RESULTS"; }
json_field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# ---------------------------------------------------------------------------
# Binaries

BROKER_BIN=$BUILD/allinone/strata-broker
TSDB_BIN=$BUILD/tsdb/strata-tsdb
LOADER=$BUILD/bench/tsdb_vs_peers/strata-bench-tsdb-loader
CODEC_BENCH=$BUILD/bench/chunk_codec/strata-bench-chunk-codec
for b in "$PROMETHEUS" "$PROMTOOL" "$VICTORIA" "$NODE_EXPORTER"; do
  [ -x "$b" ] || die "$b not found: run scripts/setup.sh (it installs prometheus, victoria-metrics, prometheus-node-exporter)"
done
if [ -z "$RECORD_ONLY" ] && { [ ! -x "$BROKER_BIN" ] || [ ! -x "$TSDB_BIN" ] || [ ! -x "$LOADER" ] || [ ! -x "$CODEC_BENCH" ]; }; then
  log "building strata-broker strata-tsdb strata-bench-tsdb-loader strata-bench-chunk-codec in $BUILD (-j${BUILD_JOBS:-1})"
  if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATA_SANITIZE=OFF >"$LOGS/cmake.log" 2>&1 ||
      die "cmake configure failed; see $LOGS/cmake.log"
  fi
  cmake --build "$BUILD" -j "${BUILD_JOBS:-1}" --target strata-broker strata-tsdb strata-bench-tsdb-loader strata-bench-chunk-codec \
    >"$LOGS/build.log" 2>&1 || die "build failed; see $LOGS/build.log"
fi

log "work dir $WORK"
mkdir -p "$WORK/data"
put run_work_dir "$WORK"
put run_host "$(hostname) $(nproc) cpus, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo '?'; }
put run_versions "prometheus $(pkg_version prometheus), victoria-metrics $(pkg_version victoria-metrics), prometheus-node-exporter $(pkg_version prometheus-node-exporter), strata $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?') (+ working tree)"

# ---------------------------------------------------------------------------
# 1. Record the dataset

DATASET=$WORK/dataset.txt
# Extra collectors (beyond node exporter's defaults) so that node exporter +
# Prometheus give > 1000 series. slabinfo and perf are left out: slabinfo
# alone adds ~1000 mostly constant series that would flatter every store.
NE_COLLECTORS=(--collector.interrupts --collector.zoneinfo --collector.buddyinfo --collector.processes
  --collector.tcpstat --collector.cpu.info --collector.ksmd --collector.meminfo_numa --collector.lnstat
  --collector.mountstats --collector.softnet)
if [ -n "$DATASET_IN" ]; then
  [ -f "$DATASET_IN" ] || die "--dataset $DATASET_IN: no such file"
  DATASET=$(cd "$(dirname "$DATASET_IN")" && pwd)/$(basename "$DATASET_IN")
  log "using the existing dataset $DATASET (no recording)"
  put ds_source "existing file $DATASET"
else
  NE_PORT=$(free_port)
  start node-exporter "$LOGS/node-exporter.log" "$NODE_EXPORTER" --web.listen-address="127.0.0.1:$NE_PORT" "${NE_COLLECTORS[@]}"
  NE_PID=$LAST_PID
  wait_http "$NE_PID" "$LOGS/node-exporter.log" "http://127.0.0.1:$NE_PORT/metrics" 30

  PR_PORT=$(free_port)
  mkdir -p "$WORK/data/prom-recorder"
  cat >"$WORK/prom-recorder.yml" <<EOF
# The recording Prometheus scrapes itself (and nothing else) so that its own
# metrics move as in a live server.
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['127.0.0.1:$PR_PORT']
EOF
  start prometheus-recorder "$LOGS/prometheus-recorder.log" "$PROMETHEUS" --config.file="$WORK/prom-recorder.yml" \
    --storage.tsdb.path="$WORK/data/prom-recorder" --web.listen-address="127.0.0.1:$PR_PORT"
  PR_PID=$LAST_PID
  wait_http "$PR_PID" "$LOGS/prometheus-recorder.log" "http://127.0.0.1:$PR_PORT/-/ready" 60
  sleep 3  # let it scrape itself a few times

  SECONDS_TO_RECORD=$(awk -v m="$MINUTES" 'BEGIN {printf "%.1f", m * 60}')
  log "recording for $MINUTES min: node exporter (127.0.0.1:$NE_PORT) + Prometheus (127.0.0.1:$PR_PORT) every 250 ms"
  python3 "$HERE/record.py" --target "node=http://127.0.0.1:$NE_PORT/metrics" \
    --target "prometheus=http://127.0.0.1:$PR_PORT/metrics" --interval 0.25 --seconds "$SECONDS_TO_RECORD" \
    --scaled-interval 15 --time-mapping "$TIME_MAPPING" --spool "$WORK/spool.bin" --out "$DATASET" \
    --stats "$WORK/record_stats.json" >"$LOGS/record.log" 2>"$LOGS/record.err" ||
    { cat "$LOGS/record.err" >&2; die "recording failed; see $LOGS/record.err"; }
  stop "$PR_PID"
  stop "$NE_PID"
  rm -rf "$WORK/data/prom-recorder"
  python3 - "$WORK/record_stats.json" >>"$RESULTS" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"ds_source=recorded: node exporter (default collectors + interrupts, zoneinfo, buddyinfo, processes, tcpstat, cpu.info, ksmd, meminfo_numa, lnstat, mountstats, softnet) and Prometheus 2.42 self-metrics, every 250 ms")
for k in ("scrape_slots", "ticks", "skipped_slots", "series", "samples", "nan_samples", "dataset_hours", "time_mapping", "dataset_bytes"):
    print(f"ds_{k}={s[k]}")
print(f"ds_scrapes={json.dumps(s['scrapes'])}")
for k, v in s.items():
    if k.startswith("scrape_ms_"):
        print(f"ds_{k}={json.dumps(v)}")
EOF
  log "recorded: $(grep -E '^ds_(ticks|series|samples|dataset_hours)=' "$RESULTS" | tr '\n' ' ')"
fi

if [ -n "$RECORD_ONLY" ]; then
  log "--record-only: dataset in $DATASET"
  exit 0
fi

STATS=$("$LOADER" --dataset "$DATASET" --target stats) || die "loader could not read $DATASET"
SAMPLES=$(json_field "$STATS" samples)
SERIES=$(json_field "$STATS" series)
put ds_loaded_samples "$SAMPLES"
put ds_loaded_series "$SERIES"
put ds_nan_skipped "$(json_field "$STATS" nan_skipped)"
put ds_hours "$(awk -v a="$(json_field "$STATS" min_ts)" -v b="$(json_field "$STATS" max_ts)" 'BEGIN {printf "%.2f", (b - a) / 3600000}')"
log "dataset: $SAMPLES samples (NaN skipped: $(json_field "$STATS" nan_skipped)), $SERIES series"
[ "$SERIES" -ge 1000 ] || log "WARNING: only $SERIES series (< 1000)"
HOURS=$(grep '^ds_hours=' "$RESULTS" | cut -d= -f2)
awk -v h="$HOURS" 'BEGIN {exit !(h < 6)}' && log "WARNING: dataset spans only $HOURS h (< 6 h); record longer (--minutes)"

# ---------------------------------------------------------------------------
# 2. Prometheus: remote write into a live server, then promtool blocks

# load_into NAME PID LOG TARGET URL: measures CPU and RSS of PID around the
# loader run. The server has absorbed a sample once its remote-write request
# was answered 2xx (Prometheus: appended to the head and WAL; VM: in its
# in-memory buffers).
load_rw() {
  local key=$1 pid=$2 logf=$3 target=$4 url=$5 c0 c1 t0 t1 out
  sleep 2
  alive_or_die "$pid" "$logf"
  put "${key}_rss0_kb" "$(rss_kb "$pid")"
  c0=$(cpu_ticks "$pid")
  LOAD_C0=$c0
  t0=$(now_s)
  out=$("$LOADER" --dataset "$DATASET" --target "$target" --url "$url" --chunk-samples "$CHUNK_SAMPLES" \
    --request-samples "$REQUEST_SAMPLES" 2>"$LOGS/loader-$key.err") ||
    { cat "$LOGS/loader-$key.err" >&2; die "loader --target $target failed; see $LOGS/loader-$key.err and $logf"; }
  t1=$(now_s)
  c1=$(cpu_ticks "$pid")
  put "${key}_rss1_kb" "$(rss_kb "$pid")"
  put "${key}_cpu_s" "$(ticks_to_s $((c1 - c0)))"
  put "${key}_wall_s" "$(elapsed "$t0" "$t1")"
  put "${key}_samples" "$(json_field "$out" samples)"
  put "${key}_series" "$(json_field "$out" series)"
  put "${key}_x_requests" "$(json_field "$out" requests)"
  put "${key}_x_wire_bytes" "$(json_field "$out" payload_bytes)"
  log "$key: loaded $(json_field "$out" samples) samples in $(elapsed "$t0" "$t1") s, server CPU $(ticks_to_s $((c1 - c0))) s"
}

# block_stats DIR: prints "chunk_bytes total_bytes samples blocks" over DIR/*/meta.json blocks.
block_stats() {
  local dir=$1 chunks=() blocks=() samples=0 m
  for m in "$dir"/*/meta.json; do
    [ -f "$m" ] || continue
    blocks+=("$(dirname "$m")")
    chunks+=("$(dirname "$m")/chunks")
    samples=$((samples + $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stats"]["numSamples"])' "$m")))
  done
  echo "$(bytes_of "${chunks[@]}") $(bytes_of "${blocks[@]}") $samples ${#blocks[@]}"
}

log "== Prometheus: remote write =="
P_PORT=$(free_port)
mkdir -p "$WORK/data/prom-rw"
printf 'global:\n  scrape_interval: 15s\nscrape_configs: []\n' >"$WORK/prom-empty.yml"
start prometheus "$LOGS/prometheus.log" "$PROMETHEUS" --config.file="$WORK/prom-empty.yml" \
  --storage.tsdb.path="$WORK/data/prom-rw" --web.listen-address="127.0.0.1:$P_PORT" --web.enable-remote-write-receiver
P_PID=$LAST_PID
wait_http "$P_PID" "$LOGS/prometheus.log" "http://127.0.0.1:$P_PORT/-/ready" 60
load_rw prom "$P_PID" "$LOGS/prometheus.log" prometheus-rw "http://127.0.0.1:$P_PORT/api/v1/write"
head_appended=$(curl -fsS --max-time 10 "http://127.0.0.1:$P_PORT/metrics" |
  awk '$1 == "prometheus_tsdb_head_samples_appended_total" || index($1, "prometheus_tsdb_head_samples_appended_total{") == 1 {s += $2} END {printf "%.0f", s}')
put prom_x_head_samples_appended "$head_appended"
[ "$head_appended" = "$SAMPLES" ] || log "WARNING: Prometheus counts $head_appended appended samples, the loader sent $SAMPLES"
# Blocks the head cut by itself while loading (it keeps the newest ~1.5 x 2 h in memory).
sleep 5
read -r rw_chunks rw_total rw_samples rw_blocks < <(block_stats "$WORK/data/prom-rw")
put prom_x_rw_blocks_cut "$rw_blocks"
put prom_x_rw_blocks_samples "$rw_samples"
put prom_x_rw_blocks_bytes_per_sample_chunks "$(awk -v a="$rw_chunks" -v b="$rw_samples" 'BEGIN {if (b) printf "%.3f", a / b; else print "n/a"}')"
put prom_x_rw_blocks_bytes_per_sample_total "$(awk -v a="$rw_total" -v b="$rw_samples" 'BEGIN {if (b) printf "%.3f", a / b; else print "n/a"}')"
put prom_x_rw_storage_dir_bytes "$(bytes_of "$WORK/data/prom-rw")"
stop "$P_PID"

log "== Prometheus: promtool tsdb create-blocks-from openmetrics =="
"$LOADER" --dataset "$DATASET" --target openmetrics --out "$WORK/dataset.om" >/dev/null 2>"$LOGS/loader-openmetrics.err" ||
  die "OpenMetrics export failed; see $LOGS/loader-openmetrics.err"
mkdir -p "$WORK/data/prom-blocks"
"$PROMTOOL" tsdb create-blocks-from openmetrics "$WORK/dataset.om" "$WORK/data/prom-blocks" >"$LOGS/promtool.log" 2>&1 ||
  { tail -n 20 "$LOGS/promtool.log" >&2; die "promtool create-blocks-from openmetrics failed; see $LOGS/promtool.log"; }
rm -f "$WORK/dataset.om"
read -r pt_chunks pt_total pt_samples pt_blocks < <(block_stats "$WORK/data/prom-blocks")
[ "$pt_samples" = "$SAMPLES" ] || log "WARNING: promtool blocks hold $pt_samples samples, the dataset $SAMPLES"
put prom_x_promtool_blocks "$pt_blocks"
put prom_x_promtool_bytes_per_sample_chunks "$(awk -v a="$pt_chunks" -v b="$pt_samples" 'BEGIN {if (b) printf "%.3f", a / b}')"
put prom_x_promtool_bytes_per_sample_total "$(awk -v a="$pt_total" -v b="$pt_samples" 'BEGIN {if (b) printf "%.3f", a / b}')"

# Prometheus' own compaction would not merge these blocks: its planner only
# merges a 6 h range whose blocks span it exactly (head-cut blocks end on the
# range boundary; promtool's end at their last sample + 1 ms) or that lies
# before the newest block, and 2.42 has no API or promtool command to force
# it. Merging copies chunks unchanged, so "chunks alone" would not move;
# the index (one per block) would shrink.
put prom_disk_method "promtool tsdb create-blocks-from openmetrics (same samples; ${pt_blocks} blocks of <= 2 h, not merged into 6 h blocks: Prometheus 2.42 cannot be made to compact them); chunks = blocks/*/chunks, everything = whole block dirs. The remote-write server itself had cut only ${rw_blocks} blocks"
put prom_disk_samples "$pt_samples"
put prom_chunk_bytes "$pt_chunks"
put prom_total_bytes "$pt_total"

# ---------------------------------------------------------------------------
# 3. VictoriaMetrics

log "== VictoriaMetrics: remote write =="
V_PORT=$(free_port)
mkdir -p "$WORK/data/vm"
start victoria-metrics "$LOGS/victoria-metrics.log" "$VICTORIA" -storageDataPath="$WORK/data/vm" \
  -httpListenAddr="127.0.0.1:$V_PORT" -retentionPeriod=100y
V_PID=$LAST_PID
wait_http "$V_PID" "$LOGS/victoria-metrics.log" "http://127.0.0.1:$V_PORT/health" 60
load_rw vm "$V_PID" "$LOGS/victoria-metrics.log" vm-rw "http://127.0.0.1:$V_PORT/api/v1/write"

vm_metric() {  # sum of the values of every line of VM's /metrics starting with $1
  curl -fsS --max-time 10 "http://127.0.0.1:$V_PORT/metrics" | awk -v p="$1" 'index($0, p) == 1 {s += $NF} END {printf "%.0f", s}'
}
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 60 "http://127.0.0.1:$V_PORT/internal/force_flush" || true)
log "vm: /internal/force_flush -> $code"
put vm_x_force_flush_status "$code"
# Wait until every sample is in a part on disk (vm_rows counts rows in parts).
deadline=$(($(date +%s) + 180))
while :; do
  rows=$(vm_metric 'vm_rows{type="storage/')
  [ "$rows" -ge "$SAMPLES" ] && break
  [ "$(date +%s)" -ge "$deadline" ] && die "victoria-metrics holds $rows rows in parts, want $SAMPLES, after 180 s; see $LOGS/victoria-metrics.log"
  alive_or_die "$V_PID" "$LOGS/victoria-metrics.log"
  sleep 1
done
put vm_disk_samples "$rows"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 60 "http://127.0.0.1:$V_PORT/internal/force_merge" || true)
log "vm: /internal/force_merge -> $code; waiting for merges to finish"
put vm_x_force_merge_status "$code"
# Merges are done when no merge is active and the part count stays put for 10 s.
deadline=$(($(date +%s) + 300))
stable=0
last=""
while :; do
  sleep 1
  active=$(vm_metric 'vm_active_merges')
  fmerges=$(vm_metric 'vm_active_force_merges')
  parts=$(vm_metric 'vm_parts{')
  if [ "$active" = 0 ] && [ "$fmerges" = 0 ] && [ "$parts" = "$last" ]; then
    stable=$((stable + 1))
  else
    stable=0
  fi
  last=$parts
  [ "$stable" -ge 10 ] && break
  [ "$(date +%s)" -ge "$deadline" ] && { log "WARNING: VM merges still running after 300 s (active $active, parts $parts); measuring anyway"; break; }
done
put vm_x_parts_after_merge "$parts"
put vm_x_cpu_s_incl_flush_merge "$(ticks_to_s $(($(cpu_ticks "$V_PID") - LOAD_C0)))"
put vm_disk_method "force_flush + force_merge, then du: chunks = storageDataPath/data (small+big parts), everything = whole storageDataPath (data + indexdb + metadata), measured while running, before VM persists its caches at shutdown"
put vm_chunk_bytes "$(bytes_of "$WORK/data/vm/data")"
put vm_total_bytes "$(bytes_of "$WORK/data/vm")"
stop "$V_PID"
# VM persists its caches (cache/) on shutdown; not counted above, shown here.
put vm_x_storage_dir_bytes_after_stop "$(bytes_of "$WORK/data/vm")"

# ---------------------------------------------------------------------------
# 4. Strata

log "== Strata: Kafka (embedded broker) -> strata-tsdb =="
rm -f "$WORK/broker.addr"
start strata-broker "$LOGS/strata-broker.log" "$BROKER_BIN" --broker.address_file="$WORK/broker.addr"
B_PID=$LAST_PID
for _ in $(seq 1 300); do [ -s "$WORK/broker.addr" ] && break; alive_or_die "$B_PID" "$LOGS/strata-broker.log"; sleep 0.1; done
[ -s "$WORK/broker.addr" ] || die "strata-broker wrote no $WORK/broker.addr within 30 s; see $LOGS/strata-broker.log"
BROKERS=$(head -n 1 "$WORK/broker.addr")

S_PORT=$(free_port)
S_ARGS=(--kafka.brokers="$BROKERS" --tsdb.listen="127.0.0.1:$S_PORT")
S_DISK=0
if "$TSDB_BIN" --help 2>&1 | grep -q -- '--tsdb.data_dir'; then
  S_DISK=1
  mkdir -p "$WORK/data/strata"
  S_ARGS+=(--tsdb.data_dir="$WORK/data/strata")
else
  log "strata-tsdb has no --tsdb.data_dir yet: in-memory store, disk sizes n/a"
fi
start strata-tsdb "$LOGS/strata-tsdb.log" "$TSDB_BIN" "${S_ARGS[@]}"
S_PID=$LAST_PID
wait_http "$S_PID" "$LOGS/strata-tsdb.log" "http://127.0.0.1:$S_PORT/readyz" 60

strata_metric() {
  curl -fsS --max-time 10 "http://127.0.0.1:$S_PORT/metrics" | awk -v n="$1" '$1 == n {printf "%.0f", $2; f = 1} END {if (!f) print 0}'
}
sleep 2
put strata_rss0_kb "$(rss_kb "$S_PID")"
c0=$(cpu_ticks "$S_PID")
t0=$(now_s)
out=$("$LOADER" --dataset "$DATASET" --target strata-kafka --brokers "$BROKERS" --chunk-samples "$CHUNK_SAMPLES" \
  2>"$LOGS/loader-strata.err") ||
  { cat "$LOGS/loader-strata.err" >&2; die "loader --target strata-kafka failed; see $LOGS/loader-strata.err, $LOGS/strata-broker.log"; }
log "strata: loader produced $(json_field "$out" samples) samples in $(json_field "$out" send_seconds) s; waiting for strata-tsdb to append them"
deadline=$(($(date +%s) + 600))
last=-1
last_change=$(date +%s)
while :; do
  appended=$(strata_metric strata_tsdb_appended_samples_total)
  [ "$appended" -ge "$SAMPLES" ] && break
  alive_or_die "$S_PID" "$LOGS/strata-tsdb.log"
  if [ "$appended" != "$last" ]; then last=$appended; last_change=$(date +%s); fi
  if [ $(($(date +%s) - last_change)) -ge 60 ] || [ "$(date +%s)" -ge "$deadline" ]; then
    curl -fsS "http://127.0.0.1:$S_PORT/metrics" | grep -E '^strata_tsdb_(ingest|appended|duplicate|conflict)' >&2 || true
    die "strata-tsdb appended $appended of $SAMPLES samples and stopped making progress; see $LOGS/strata-tsdb.log"
  fi
  sleep 0.2
done
t1=$(now_s)
c1=$(cpu_ticks "$S_PID")
put strata_rss1_kb "$(rss_kb "$S_PID")"
put strata_cpu_s "$(ticks_to_s $((c1 - c0)))"
put strata_wall_s "$(elapsed "$t0" "$t1")"
put strata_samples "$appended"
put strata_series "$(json_field "$out" series)"
put strata_x_kafka_messages_bytes "$(json_field "$out" payload_bytes)"
put strata_x_kafka_sends "$(json_field "$out" requests)"
log "strata: appended $appended samples in $(elapsed "$t0" "$t1") s, strata-tsdb CPU $(ticks_to_s $((c1 - c0))) s"

code=$(curl -s -o "$LOGS/strata-compact.out" -w '%{http_code}' --max-time 600 -X POST \
  "http://127.0.0.1:$S_PORT/api/v1/admin/tsdb/compact" || true)
put strata_x_compact_status "$code"
log "strata: POST /api/v1/admin/tsdb/compact -> $code"
if [ "$S_DISK" = 1 ] && [[ $code == 2* ]]; then
  shopt -s nullglob
  chunk_files=("$WORK"/data/strata/blocks/*/chunks*)
  shopt -u nullglob
  read -r st_chunks st_total st_samples st_blocks < <(block_stats "$WORK/data/strata/blocks")
  put strata_disk_method "POST /api/v1/admin/tsdb/compact ($st_blocks blocks holding $st_samples samples), then du: chunks = DIR/blocks/*/chunks*, everything = whole --tsdb.data_dir (blocks + WAL left + lock)"
  put strata_disk_samples "$appended"
  put strata_chunk_bytes "$(bytes_of "${chunk_files[@]}")"
  put strata_total_bytes "$(bytes_of "$WORK/data/strata")"
  put strata_x_blocks "$st_blocks"
  put strata_x_blocks_samples "$st_samples"
  put strata_x_block_dirs_bytes "$st_total"
  put strata_x_wal_bytes "$(bytes_of "$WORK/data/strata/wal")"
  put strata_x_metrics_after_compact "$(curl -fsS --max-time 10 "http://127.0.0.1:$S_PORT/metrics" | grep -E '^strata_tsdb_(head_series|head_samples|blocks|compactions|wal_written_bytes|wal_fsyncs) ' | tr '\n' ' ')"
  [ "$st_samples" = "$appended" ] || log "WARNING: Strata blocks hold $st_samples samples after compaction, $appended were appended (the rest is still in the head)"
elif [ "$S_DISK" = 1 ]; then
  put strata_disk_method "n/a: compact endpoint answered $code"
else
  put strata_disk_method "n/a: strata-tsdb has no --tsdb.data_dir (in-memory store only)"
fi
stop "$S_PID"
stop "$B_PID"

# ---------------------------------------------------------------------------
# 5. Chunk codec micro-benchmark, report

if [ -x "$CODEC_BENCH" ]; then
  log "== chunk codec: $CODEC_BENCH =="
  "$CODEC_BENCH" --benchmark_min_time=0.2 >"$WORK/chunk_codec.txt" 2>"$LOGS/chunk_codec.err" ||
    log "WARNING: $CODEC_BENCH failed; see $LOGS/chunk_codec.err"
else
  echo "chunk encode/decode: $CODEC_BENCH is missing (not built yet); skipped" >"$WORK/chunk_codec.txt"
fi

put run_seconds "$(($(date +%s) - T_START))"
echo
echo "== tsdb_vs_peers: $SAMPLES samples, $SERIES series, $(grep '^ds_hours=' "$RESULTS" | cut -d= -f2) h of dataset time =="
python3 "$HERE/report.py" "$RESULTS" "$WORK"
echo
echo "chunk encode/decode speed:"
cat "$WORK/chunk_codec.txt"
echo
echo "results: $WORK/table.txt, $WORK/results.json (raw: $RESULTS; logs: $LOGS)"
log "done in $(($(date +%s) - T_START)) s"
