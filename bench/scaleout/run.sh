#!/usr/bin/env bash
# bench/scaleout: ingest samples per tsdb CPU-second and query latency with
# 1, 2 and 3 strata-tsdb shards (one Kafka consumer group) behind
# strata-query, on this machine; plus the same queries against the single
# shard directly (fan-out overhead). See README.md. Not a CTest test.
#
#   bench/scaleout/run.sh [--build DIR] [--series N] [--samples N] [--runs N]
#                         [--shards "1 2 3"] [--keep DIR]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

SERIES=20000
SAMPLES=120
STEP_MS=15000
RUNS=10
SHARD_COUNTS="1 2 3"
PARTITIONS=12
CONNECTIONS=4
KEEP=""
BUILD=${STRATA_BUILD_DIR:-$ROOT/build-bench}

usage() {
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD=${2:?--build needs a directory}; shift 2 ;;
    --build=*) BUILD=${1#*=}; shift ;;
    --series) SERIES=${2:?}; shift 2 ;;
    --series=*) SERIES=${1#*=}; shift ;;
    --samples) SAMPLES=${2:?}; shift 2 ;;
    --samples=*) SAMPLES=${1#*=}; shift ;;
    --runs) RUNS=${2:?}; shift 2 ;;
    --runs=*) RUNS=${1#*=}; shift ;;
    --shards) SHARD_COUNTS=${2:?}; shift 2 ;;
    --shards=*) SHARD_COUNTS=${1#*=}; shift ;;
    --keep) KEEP=${2:?--keep needs a directory}; shift 2 ;;
    --keep=*) KEEP=${1#*=}; shift ;;
    -h|--help) usage ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
for v in "$SERIES" "$SAMPLES" "$RUNS" $SHARD_COUNTS; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: expected a positive whole number, got '$v'" >&2; exit 2; }
done

T_START=$(date +%s)
# shellcheck source=../lib/processes.sh
. "$HERE/../lib/processes.sh"

if [ -n "$KEEP" ]; then
  mkdir -p "$KEEP"
  WORK=$(cd "$KEEP" && pwd)
else
  WORK=$(mktemp -d /tmp/strata-bench-scaleout.XXXXXX)
fi
LOGS=$WORK/logs
mkdir -p "$LOGS"
RESULTS=$WORK/results.env
: >"$RESULTS"

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_all
  [ -z "$KEEP" ] && rm -rf "$WORK"/data 2>/dev/null
  [ $rc -ne 0 ] && log "FAILED (exit $rc); logs are in $LOGS"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

CLK_TCK=$(getconf CLK_TCK)
# utime+stime of PID in clock ticks (fields 14 and 15 of /proc/PID/stat).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
ticks_to_s() { awk -v t="$1" -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", t / hz}'; }
now_s() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }
# busy and total jiffies of the whole machine (every CPU), from /proc/stat.
machine_jiffies() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }
put() { echo "$1=$2" >>"$RESULTS"; }
get() { sed -n "s/^$1=//p" "$RESULTS" | tail -n 1; }
kv() { sed -n "s/^$2=//p" "$1" | head -n 1; }  # FILE KEY
metric() {  # PORT NAME: the value of an unlabelled metric of a tsdb node, 0 if absent
  curl -fsS --max-time 10 "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n {printf "%.0f", $2; f = 1} END {if (!f) print 0}'
}
# count_samples PORT RANGE_S TIME_S: samples of the dataset's metrics (node_*,
# up) the node at PORT holds, counted metric by metric (count_over_time drops
# the metric name, so one expression over all names would collide).
count_samples() {
  python3 - "$@" <<'PY'
import json, re, sys, urllib.parse, urllib.request
port, rng, t = sys.argv[1:4]
base = f"http://127.0.0.1:{port}/api/v1"
names = json.load(urllib.request.urlopen(f"{base}/label/__name__/values", timeout=60))["data"]
total = 0
for n in names:
    if not re.fullmatch(r"node_.+|up", n):
        continue
    q = urllib.parse.urlencode({"query": f"sum(count_over_time({n}[{rng}s]))", "time": t})
    r = json.load(urllib.request.urlopen(f"{base}/query?{q}", timeout=120))["data"]["result"]
    total += int(float(r[0]["value"][1])) if r else 0
print(total)
PY
}

# ---------------------------------------------------------------------------
# Build (Release)

BROKER_BIN=$BUILD/allinone/strata-broker
QUERY_BIN=$BUILD/allinone/strata-query
COLLECTOR_BIN=$BUILD/collector/strata-collector
TSDB_BIN=$BUILD/tsdb/strata-tsdb
LOADER=$BUILD/bench/scaleout/strata-bench-scaleout-loader
log "building strata-broker strata-collector strata-tsdb strata-query strata-bench-scaleout-loader in $BUILD (Release, -j${BUILD_JOBS:-2})"
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATA_SANITIZE=OFF >"$LOGS/cmake.log" 2>&1 ||
    die "cmake configure failed; see $LOGS/cmake.log"
fi
cmake --build "$BUILD" -j "${BUILD_JOBS:-2}" --target strata-broker strata-collector strata-tsdb strata-query \
  strata-bench-scaleout-loader >"$LOGS/build.log" 2>&1 || die "build failed; see $LOGS/build.log"
BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD/CMakeCache.txt")
[ "$BUILD_TYPE" = Release ] || log "WARNING: $BUILD is a '$BUILD_TYPE' build, not Release; figures will be off"

log "work dir $WORK"
put run_host "$(hostname) $(nproc) cpus, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
put run_build "$BUILD ($BUILD_TYPE)"
put run_load_before "$(cut -d' ' -f1-3 /proc/loadavg)"

# The dataset's time range: SAMPLES samples every STEP_MS ending about a
# minute ago, on a 15 s grid; the same for every shard count.
START_MS=$(python3 -c "import time; s=$STEP_MS; n=$SAMPLES; now=int(time.time()*1000)//s*s; print(now - 60000 - (n-1)*s)")
END_MS=$((START_MS + (SAMPLES - 1) * STEP_MS + 1000))  # + 1 s: every instance's scrape offset (< 1 s)
END_S=$(awk -v t="$END_MS" 'BEGIN {printf "%.3f", t / 1000}')
RANGE_S=$(((SAMPLES - 1) * STEP_MS / 1000 + 60))
put ds_start_ms "$START_MS"
put ds_end_ms "$END_MS"

# The queries (name|instant or range|expr). Range queries cover the hour
# before END at a 60 s step.
QUERIES=$WORK/queries.txt
cat >"$QUERIES" <<'EOF'
one_series|instant|node_load1{instance="10.0.0.1:9100"}
sum_rate|instant|sum(rate(node_cpu_seconds_total[5m]))
sum_by_job|instant|sum by (job) (rate(node_network_receive_bytes_total[5m]))
topk|instant|topk(5, rate(node_disk_read_bytes_total[5m]))
regex|instant|count by (device) ({__name__=~"node_(network|disk)_.+_total", device=~"eth.+|sd.+|nvme.+"})
range_1h|range|sum by (job) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))
EOF
QUERY_NAMES=$(grep -v '^#' "$QUERIES" | cut -d'|' -f1 | tr '\n' ' ')

# ---------------------------------------------------------------------------
# One setup: broker, collector, N shards, query node; push; queries.

run_setup() {
  local n=$1 i pids=() ports=() peers="" bpid cpid qpid cport qport brokers
  local dir=$WORK/data/shards$n
  rm -rf "$dir"  # fresh data dirs, also when --keep reuses a work dir
  mkdir -p "$dir"
  log "== $n shard(s) =="
  rm -f "$dir/broker.addr"
  start "broker[$n]" "$LOGS/broker-$n.log" "$BROKER_BIN" --broker.address_file="$dir/broker.addr" \
    --broker.partitions="$PARTITIONS"
  bpid=$LAST_PID
  for _ in $(seq 1 300); do [ -s "$dir/broker.addr" ] && break; alive_or_die "$bpid" "$LOGS/broker-$n.log"; sleep 0.1; done
  [ -s "$dir/broker.addr" ] || die "strata-broker wrote no $dir/broker.addr within 30 s"
  brokers=$(head -n 1 "$dir/broker.addr")

  for ((i = 0; i < n; i++)); do
    ports[i]=$(free_port)
    start "tsdb${i}[$n]" "$LOGS/tsdb$i-$n.log" "$TSDB_BIN" --kafka.brokers="$brokers" \
      --tsdb.listen="127.0.0.1:${ports[i]}" --tsdb.data_dir="$dir/tsdb$i" --tsdb.consumer_group=bench
    pids[i]=$LAST_PID
    peers+="${peers:+,}127.0.0.1:${ports[i]}"
  done
  for ((i = 0; i < n; i++)); do
    wait_http "${pids[i]}" "$LOGS/tsdb$i-$n.log" "http://127.0.0.1:${ports[i]}/readyz" 60
  done
  cport=$(free_port)
  start "collector[$n]" "$LOGS/collector-$n.log" "$COLLECTOR_BIN" --kafka.brokers="$brokers" \
    --collector.listen="127.0.0.1:$cport" --log.level=warn
  cpid=$LAST_PID
  wait_http "$cpid" "$LOGS/collector-$n.log" "http://127.0.0.1:$cport/readyz" 60
  qport=$(free_port)
  start "query[$n]" "$LOGS/query-$n.log" "$QUERY_BIN" --query.listen="127.0.0.1:$qport" \
    --tsdb.query.peers="$peers" --tsdb.query.peer_timeout=30s
  qpid=$LAST_PID
  wait_http "$qpid" "$LOGS/query-$n.log" "http://127.0.0.1:$qport/readyz" 60

  # Warm-up: one sample of 120 series per round until every shard has taken
  # part of two rounds in a row, i.e. the consumer group has settled and each
  # shard owns partitions (a rebalance during the measured push would move
  # partitions and could make a shard consume some samples twice).
  local round=0 stable=0 want=0 grew prev=() cur total deadline
  for ((i = 0; i < n; i++)); do prev[i]=0; done
  deadline=$(($(date +%s) + 120))
  while [ "$stable" -lt 2 ]; do
    round=$((round + 1))
    "$LOADER" warmup --url "http://127.0.0.1:$cport" --ts-ms $((START_MS - 3600000 + round * 1000)) --series 120 ||
      die "warm-up push failed"
    want=$((want + 120))
    while :; do
      total=0
      for ((i = 0; i < n; i++)); do total=$((total + $(metric "${ports[i]}" strata_tsdb_appended_samples_total))); done
      [ "$total" -ge "$want" ] && break
      [ "$(date +%s)" -ge "$deadline" ] && die "warm-up: the shards appended $total of $want samples within 120 s"
      sleep 0.2
    done
    grew=1
    for ((i = 0; i < n; i++)); do
      cur=$(metric "${ports[i]}" strata_tsdb_appended_samples_total)
      [ "$cur" -gt "${prev[i]}" ] || grew=0
      prev[i]=$cur
    done
    if [ "$grew" = 1 ]; then stable=$((stable + 1)); else stable=0; fi
    [ "$(date +%s)" -ge "$deadline" ] && die "warm-up: the consumer group did not settle within 120 s"
  done
  [ "$total" = "$want" ] || log "WARNING: warm-up appended $total samples for $want pushed (a rebalance re-consumed some)"
  log "warm-up: $round rounds; every shard takes part"
  sleep 1

  # Measured push: from the first request until the shards together have
  # appended every sample.
  local base=$total b0 c0 q0 s0 t0 t1 s1 b1 c1 q1 push="$WORK/push-$n.env" appended last=-1 last_change
  local s0_each=() s1_each=()
  local dup0=0 m0busy m0total m1busy m1total
  for ((i = 0; i < n; i++)); do
    s0_each[i]=$(cpu_ticks "${pids[i]}")
    dup0=$((dup0 + $(metric "${ports[i]}" strata_tsdb_duplicate_samples_total)))
  done
  read -r m0busy m0total < <(machine_jiffies)
  b0=$(cpu_ticks "$bpid"); c0=$(cpu_ticks "$cpid"); q0=$(cpu_ticks "$qpid")
  t0=$(now_s)
  "$LOADER" push --url "http://127.0.0.1:$cport" --series "$SERIES" --samples "$SAMPLES" --step-ms "$STEP_MS" \
    --start-ms "$START_MS" --connections "$CONNECTIONS" >"$push" 2>"$LOGS/push-$n.err" ||
    { cat "$LOGS/push-$n.err" >&2; die "push failed; see $LOGS/push-$n.err, $LOGS/collector-$n.log"; }
  local pushed_s
  pushed_s=$(elapsed "$t0" "$(now_s)")
  local samples
  samples=$(kv "$push" samples)
  last_change=$(date +%s)
  while :; do
    appended=0
    for ((i = 0; i < n; i++)); do appended=$((appended + $(metric "${ports[i]}" strata_tsdb_appended_samples_total))); done
    appended=$((appended - base))
    [ "$appended" -ge "$samples" ] && break
    for ((i = 0; i < n; i++)); do alive_or_die "${pids[i]}" "$LOGS/tsdb$i-$n.log"; done
    if [ "$appended" != "$last" ]; then last=$appended; last_change=$(date +%s); fi
    [ $(($(date +%s) - last_change)) -ge 60 ] && die "the shards appended $appended of $samples samples and stopped making progress"
    sleep 0.1
  done
  t1=$(now_s)
  for ((i = 0; i < n; i++)); do s1_each[i]=$(cpu_ticks "${pids[i]}"); done
  read -r m1busy m1total < <(machine_jiffies)
  b1=$(cpu_ticks "$bpid"); c1=$(cpu_ticks "$cpid"); q1=$(cpu_ticks "$qpid")
  local wall
  wall=$(elapsed "$t0" "$t1")
  put "s${n}_samples" "$samples"
  put "s${n}_series" "$(kv "$push" series)"
  put "s${n}_appended" "$appended"
  put "s${n}_wall_s" "$wall"
  put "s${n}_push_s" "$pushed_s"
  s0=0; s1=0
  for ((i = 0; i < n; i++)); do
    s0=$((s0 + s0_each[i])); s1=$((s1 + s1_each[i]))
    put "s${n}_tsdb${i}_cpu_s" "$(ticks_to_s $((s1_each[i] - s0_each[i])))"
  done
  put "s${n}_tsdb_cpu_s" "$(ticks_to_s $((s1 - s0)))"
  put "s${n}_collector_cpu_s" "$(ticks_to_s $((c1 - c0)))"
  put "s${n}_broker_cpu_s" "$(ticks_to_s $((b1 - b0)))"
  put "s${n}_query_idle_cpu_s" "$(ticks_to_s $((q1 - q0)))"
  put "s${n}_loader_cpu_s" "$(kv "$push" push_cpu_s)"
  put "s${n}_requests" "$(kv "$push" requests)"
  put "s${n}_requests_retried" "$(kv "$push" requests_retried)"
  put "s${n}_body_bytes" "$(kv "$push" body_bytes)"
  local per="" msgs=0 dup=0 m
  for ((i = 0; i < n; i++)); do
    m=$(metric "${ports[i]}" strata_tsdb_head_series)
    per+="${per:+/}$m"
    msgs=$((msgs + $(metric "${ports[i]}" strata_tsdb_ingest_messages_total)))
    dup=$((dup + $(metric "${ports[i]}" strata_tsdb_duplicate_samples_total)))
  done
  put "s${n}_head_series_per_shard" "$per"
  put "s${n}_kafka_messages" "$msgs"
  put "s${n}_duplicate_samples" "$((dup - dup0))"
  # Everything the machine did meanwhile, ours or not (the machine is shared).
  put "s${n}_machine_busy_cpu_s" "$(ticks_to_s $((m1busy - m0busy)))"
  put "s${n}_machine_busy_cores" "$(awk -v b=$((m1busy - m0busy)) -v t=$((m1total - m0total)) -v c="$(nproc)" 'BEGIN {printf "%.2f", t ? b / t * c : 0}')"
  log "$n shard(s): $samples samples appended in $wall s (push answered after $pushed_s s); tsdb CPU $(get "s${n}_tsdb_cpu_s") s, collector $(get "s${n}_collector_cpu_s") s, broker $(get "s${n}_broker_cpu_s") s; series per shard $per"

  # Check: the query node sees every sample once.
  local counted
  counted=$(count_samples "$qport" "$RANGE_S" "$END_S") || die "counting the samples through strata-query failed"
  put "s${n}_counted_via_query" "$counted"
  [ "${counted%.*}" = "$samples" ] || log "WARNING: the query node counts $counted samples, $samples were pushed"

  # Queries: through the query node; with one shard also against the shard.
  sleep 2
  "$LOADER" query --url "http://127.0.0.1:$qport" --queries "$QUERIES" --time-ms "$END_MS" --runs "$RUNS" \
    --range-s 3600 --step-s 60 --pids "$qpid,$(IFS=,; echo "${pids[*]}")" --label "query[$n]" \
    >"$WORK/query-$n.env" 2>"$LOGS/query-run-$n.err" ||
    { cat "$LOGS/query-run-$n.err" >&2; die "queries through strata-query failed ($n shards)"; }
  sed "s/^/s${n}_via_query_/" "$WORK/query-$n.env" >>"$RESULTS"
  if [ "$n" = 1 ]; then
    "$LOADER" query --url "http://127.0.0.1:${ports[0]}" --queries "$QUERIES" --time-ms "$END_MS" --runs "$RUNS" \
      --range-s 3600 --step-s 60 --pids "${pids[0]}" --label "tsdb0[1]" \
      >"$WORK/direct-1.env" 2>"$LOGS/direct-run-1.err" ||
      { cat "$LOGS/direct-run-1.err" >&2; die "queries against the shard failed"; }
    sed "s/^/s1_direct_/" "$WORK/direct-1.env" >>"$RESULTS"
  fi
  log "$n shard(s): queries done"
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    [ -n "${PROC_NAME[${PIDS[$i]}]+set}" ] && stop "${PIDS[$i]}" 30
  done
  [ -z "$KEEP" ] && rm -rf "$dir"
  return 0
}

for n in $SHARD_COUNTS; do
  run_setup "$n"
done
put run_seconds "$(($(date +%s) - T_START))"

# ---------------------------------------------------------------------------
# Report

python3 "$HERE/report.py" "$RESULTS" "$QUERY_NAMES" | tee "$WORK/table.txt"
echo
echo "results: $WORK/table.txt (raw: $RESULTS, queries: $QUERIES; logs: $LOGS)"
log "done in $(($(date +%s) - T_START)) s"
