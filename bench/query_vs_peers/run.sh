#!/usr/bin/env bash
# bench/query_vs_peers: times a fixed set of Grafana-dashboard PromQL queries
# against Strata, Prometheus 2.42 and VictoriaMetrics 1.79 over the same data
# and prints median latencies side by side. See README.md. Not a CTest test.
#
#   bench/query_vs_peers/run.sh [--from DIR] [--build DIR] [--repeat N]
#                               [--out DIR] [--dataset FILE]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

FROM=""
OUT=""
DATASET_IN=""
REPEAT=20
BUILD=${STRATA_BUILD_DIR:-$ROOT/build-bench}
PROMETHEUS=${PROMETHEUS:-/usr/bin/prometheus}
VICTORIA=${VICTORIA:-/usr/bin/victoria-metrics}

usage() {
  sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --from) FROM=${2:?--from needs a directory}; shift 2 ;;
    --from=*) FROM=${1#*=}; shift ;;
    --build) BUILD=${2:?--build needs a directory}; shift 2 ;;
    --build=*) BUILD=${1#*=}; shift ;;
    --repeat) REPEAT=${2:?--repeat needs a number}; shift 2 ;;
    --repeat=*) REPEAT=${1#*=}; shift ;;
    --out) OUT=${2:?--out needs a directory}; shift 2 ;;
    --out=*) OUT=${1#*=}; shift ;;
    --dataset) DATASET_IN=${2:?--dataset needs a file}; shift 2 ;;
    --dataset=*) DATASET_IN=${1#*=}; shift ;;
    -h|--help) usage ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --repeat expects a positive integer, got '$REPEAT'" >&2; exit 2; }
BUILD=$(mkdir -p "$BUILD" && cd "$BUILD" && pwd)

T_START=$(date +%s)
# shellcheck source=../lib/processes.sh
. "$HERE/../lib/processes.sh"

# ---------------------------------------------------------------------------
# Work directory, processes, cleanup

if [ -n "$OUT" ]; then
  mkdir -p "$OUT"
  WORK=$(cd "$OUT" && pwd)
else
  WORK=$(mktemp -d /tmp/strata-bench-query-vs-peers.XXXXXX)
fi
LOGS=$WORK/logs
COPIES=$WORK/data-copies
mkdir -p "$LOGS"

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_all
  # The copies are scratch; the source dirs (--from) were never touched.
  rm -rf "$COPIES" 2>/dev/null || true
  if [ $rc -ne 0 ]; then
    log "FAILED (exit $rc); logs are in $LOGS"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM


# ---------------------------------------------------------------------------
# Binaries

BROKER_BIN=$BUILD/allinone/strata-broker
TSDB_BIN=$BUILD/tsdb/strata-tsdb
for b in "$PROMETHEUS" "$VICTORIA"; do
  [ -x "$b" ] || die "$b not found: run scripts/setup.sh (it installs prometheus and victoria-metrics)"
done
if [ ! -x "$BROKER_BIN" ] || [ ! -x "$TSDB_BIN" ]; then
  log "building strata-broker strata-tsdb in $BUILD (-j${BUILD_JOBS:-1})"
  if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATA_SANITIZE=OFF >"$LOGS/cmake.log" 2>&1 ||
      die "cmake configure failed; see $LOGS/cmake.log"
  fi
  cmake --build "$BUILD" -j "${BUILD_JOBS:-1}" --target strata-broker strata-tsdb >"$LOGS/build.log" 2>&1 ||
    die "build failed; see $LOGS/build.log"
fi
"$TSDB_BIN" --help 2>&1 | grep -q -- '--tsdb.query\.' ||
  log "WARNING: $TSDB_BIN lists no --tsdb.query.* options: it may predate the PromQL engine; rebuild it (cmake --build $BUILD --target strata-tsdb)"

# ---------------------------------------------------------------------------
# 1. The data: a tsdb_vs_peers work dir (--from), or make one now

if [ -n "$FROM" ]; then
  [ -d "$FROM" ] || die "--from $FROM: no such directory"
  SRC=$(cd "$FROM" && pwd)
  log "reusing the tsdb_vs_peers work dir $SRC"
else
  SRC=$WORK/peers
  args=(--keep "$SRC" --build "$BUILD")
  [ -n "$DATASET_IN" ] && args+=(--dataset "$DATASET_IN")
  log "no --from: running bench/tsdb_vs_peers/run.sh ${args[*]} (records for 6.5 min unless --dataset)"
  "$ROOT/bench/tsdb_vs_peers/run.sh" "${args[@]}" >"$LOGS/tsdb_vs_peers.out" 2>"$LOGS/tsdb_vs_peers.err" ||
    { tail -n 20 "$LOGS/tsdb_vs_peers.err" >&2; die "bench/tsdb_vs_peers/run.sh failed; see $LOGS/tsdb_vs_peers.err"; }
fi
for d in strata prom-blocks vm; do
  [ -d "$SRC/data/$d" ] || die "$SRC/data/$d is missing: not a finished 'tsdb_vs_peers/run.sh --keep' dir"
done
ls "$SRC"/data/prom-blocks/*/meta.json >/dev/null 2>&1 || die "$SRC/data/prom-blocks holds no blocks"

# The dataset's time range, from the Prometheus blocks (promtool wrote them
# from the same samples every system holds): [minTime, maxTime) in ms.
read -r MIN_MS MAX_MS < <(python3 - "$SRC"/data/prom-blocks/*/meta.json <<'EOF'
import json, sys
m = [json.load(open(p)) for p in sys.argv[1:]]
print(min(x["minTime"] for x in m), max(x["maxTime"] for x in m) - 1)
EOF
)
log "data spans $(( (MAX_MS - MIN_MS) / 60000 )) min: $(date -u -d @$((MIN_MS / 1000)) +%FT%TZ) .. $(date -u -d @$((MAX_MS / 1000)) +%FT%TZ)"

log "copying the data dirs to $COPIES (the originals stay untouched)"
rm -rf "$COPIES"
mkdir -p "$COPIES"
cp -a "$SRC/data/strata" "$COPIES/strata"
cp -a "$SRC/data/prom-blocks" "$COPIES/prom"
cp -a "$SRC/data/vm" "$COPIES/vm"
rm -f "$COPIES/strata/lock" "$COPIES/vm/flock.lock"

# ---------------------------------------------------------------------------
# 2. Servers: all three run at once; bench.py queries them one request at a time.

log "== Strata: strata-broker + strata-tsdb =="
rm -f "$WORK/broker.addr"
start strata-broker "$LOGS/strata-broker.log" "$BROKER_BIN" --broker.address_file="$WORK/broker.addr"
B_PID=$LAST_PID
for _ in $(seq 1 300); do [ -s "$WORK/broker.addr" ] && break; alive_or_die "$B_PID" "$LOGS/strata-broker.log"; sleep 0.1; done
[ -s "$WORK/broker.addr" ] || die "strata-broker wrote no $WORK/broker.addr within 30 s; see $LOGS/strata-broker.log"
S_PORT=$(free_port)
start strata-tsdb "$LOGS/strata-tsdb.log" "$TSDB_BIN" --kafka.brokers="$(head -n 1 "$WORK/broker.addr")" \
  --tsdb.listen="127.0.0.1:$S_PORT" --tsdb.data_dir="$COPIES/strata"
S_PID=$LAST_PID

log "== Prometheus =="
P_PORT=$(free_port)
printf 'global:\n  scrape_interval: 15s\nscrape_configs: []\n' >"$WORK/prom-empty.yml"
start prometheus "$LOGS/prometheus.log" "$PROMETHEUS" --config.file="$WORK/prom-empty.yml" \
  --storage.tsdb.path="$COPIES/prom" --web.listen-address="127.0.0.1:$P_PORT"
P_PID=$LAST_PID

log "== VictoriaMetrics =="
V_PORT=$(free_port)
# -search.disableCache: no rollup result cache (VM's response cache), so
# repeats are evaluated again; -search.latencyOffset=0s: no hiding of recent points.
start victoria-metrics "$LOGS/victoria-metrics.log" "$VICTORIA" -storageDataPath="$COPIES/vm" \
  -httpListenAddr="127.0.0.1:$V_PORT" -retentionPeriod=100y -search.latencyOffset=0s -search.disableCache
V_PID=$LAST_PID

wait_http "$S_PID" "$LOGS/strata-tsdb.log" "http://127.0.0.1:$S_PORT/api/v1/query?query=1" 120
wait_http "$P_PID" "$LOGS/prometheus.log" "http://127.0.0.1:$P_PORT/api/v1/query?query=1" 120
wait_http "$V_PID" "$LOGS/victoria-metrics.log" "http://127.0.0.1:$V_PORT/api/v1/query?query=1" 120
log "all three answer /api/v1/query?query=1; settling 5 s (startup work: WAL replay, block loading)"
sleep 5

# ---------------------------------------------------------------------------
# 3. Queries, report

pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo '?'; }
log "== queries: 1 warm-up + $REPEAT timed requests per server per query =="
python3 "$HERE/bench.py" \
  --server "strata=http://127.0.0.1:$S_PORT=$S_PID" \
  --server "prometheus=http://127.0.0.1:$P_PORT=$P_PID" \
  --server "vm=http://127.0.0.1:$V_PORT=$V_PID" \
  --min-ms "$MIN_MS" --max-ms "$MAX_MS" --repeat "$REPEAT" --out "$WORK" \
  --meta "source_dir=$SRC" \
  --meta "host=$(hostname) $(nproc) cpus, load average $(cut -d' ' -f1-3 /proc/loadavg) at start" \
  --meta "versions=prometheus $(pkg_version prometheus), victoria-metrics $(pkg_version victoria-metrics), strata $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?') (+ working tree), strata-tsdb built $(date -u -r "$TSDB_BIN" +%FT%TZ)" \
  || die "bench.py failed"

for pid in "$S_PID" "$P_PID" "$V_PID" "$B_PID"; do alive_or_die "$pid" "$LOGS/${PROC_NAME[$pid]}.log"; done
echo
echo "results: $WORK/table.txt, $WORK/results.json (logs: $LOGS)"
log "done in $(($(date +%s) - T_START)) s"
