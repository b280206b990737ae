#!/usr/bin/env bash
# bench/alerting: 1,000 alerting rules (10 groups of 100) at a 15 s interval
# against strata-tsdb holding a node_exporter-shaped dataset, fed fresh
# samples through the collector while strata-alerting runs; reports CPU per
# evaluation round and evaluation duration and lag. See README.md. Not a
# CTest test.
#
#   bench/alerting/run.sh [--build DIR] [--servers DIR] [--hosts N]
#                         [--rounds R] [--out DIR]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${STRATA_BUILD_DIR:-$ROOT/build-bench}
SERVERS=""   # where tsdb/strata-tsdb, collector/strata-collector, allinone/strata-broker are; default BUILD
HOSTS=100
ROUNDS=8
INTERVAL=15
OUT=""
usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD=$2; shift 2 ;;
    --servers) SERVERS=$2; shift 2 ;;
    --hosts) HOSTS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
SERVERS=${SERVERS:-$BUILD}
OUT=${OUT:-$(mktemp -d /tmp/strata-bench-alerting.XXXXXX)}
mkdir -p "$OUT/logs"
T_START=$(date +%s)
# shellcheck source=../lib/processes.sh
source "$ROOT/bench/lib/processes.sh"
trap stop_all EXIT

for b in "$SERVERS/allinone/strata-broker" "$SERVERS/tsdb/strata-tsdb" \
         "$SERVERS/collector/strata-collector" "$BUILD/alerting/strata-alerting"; do
  [ -x "$b" ] || die "missing $b (build it, or pass --build / --servers)"
done

log "output in $OUT"
start broker "$OUT/logs/broker.log" "$SERVERS/allinone/strata-broker" \
  --broker.address_file="$OUT/broker.addr" --broker.partitions=4
for _ in $(seq 1 200); do [ -s "$OUT/broker.addr" ] && break; sleep 0.1; done
BROKERS=$(cat "$OUT/broker.addr")
TSDB_PORT=$(free_port)
COLL_PORT=$(free_port)
ALERT_PORT=$(free_port)
HOOK_PORT=$(free_port)
start tsdb "$OUT/logs/tsdb.log" "$SERVERS/tsdb/strata-tsdb" --kafka.brokers="$BROKERS" \
  --tsdb.listen=127.0.0.1:$TSDB_PORT --tsdb.data_dir="$OUT/tsdb"
TSDB_PID=$LAST_PID
wait_http "$TSDB_PID" "$OUT/logs/tsdb.log" "http://127.0.0.1:$TSDB_PORT/readyz" 60
start collector "$OUT/logs/collector.log" "$SERVERS/collector/strata-collector" \
  --kafka.brokers="$BROKERS" --collector.listen=127.0.0.1:$COLL_PORT
wait_http "$LAST_PID" "$OUT/logs/collector.log" "http://127.0.0.1:$COLL_PORT/readyz" 60

log "loading $HOSTS hosts (30 min of history at 15 s)"
python3 "$HERE/bench.py" load --collector "http://127.0.0.1:$COLL_PORT" --hosts "$HOSTS" --history-min 30
python3 "$HERE/bench.py" rules --out "$OUT/rules" --rules 1000 --groups 10 --interval "$INTERVAL"
# Wait until the tsdb has ingested the last pushed samples.
for _ in $(seq 1 300); do
  n=$(curl -s "http://127.0.0.1:$TSDB_PORT/api/v1/query?query=count(node_load1)" |
      python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)')
  [ "$n" = "$HOSTS" ] && break
  sleep 1
done
log "tsdb holds node_load1 for $n hosts"

start alerting "$OUT/logs/alerting.log" "$BUILD/alerting/strata-alerting" \
  --alerting.listen=127.0.0.1:$ALERT_PORT --alerting.rule_files="$OUT/rules/*.yml" \
  --alerting.query_url=http://127.0.0.1:$TSDB_PORT --alerting.data_dir="$OUT/alerting" \
  --alerting.webhook_urls=http://127.0.0.1:$HOOK_PORT/hook --log.level=warn
ALERT_PID=$LAST_PID
wait_http "$ALERT_PID" "$OUT/logs/alerting.log" "http://127.0.0.1:$ALERT_PORT/readyz" 60
log "measuring $ROUNDS rounds"
python3 "$HERE/bench.py" run --collector "http://127.0.0.1:$COLL_PORT" \
  --alerting "http://127.0.0.1:$ALERT_PORT" --pid "$ALERT_PID" --tsdb-pid "$TSDB_PID" \
  --rounds "$ROUNDS" --interval "$INTERVAL" --hosts "$HOSTS" --out "$OUT" --hook-port "$HOOK_PORT"
{
  echo "strata-alerting: $BUILD/alerting/strata-alerting ($(grep -E '^CMAKE_BUILD_TYPE|^STRATA_SANITIZE' "$BUILD/CMakeCache.txt" 2>/dev/null | tr '\n' ' '))"
  echo "servers: $SERVERS ($(grep -E '^CMAKE_BUILD_TYPE|^STRATA_SANITIZE' "$SERVERS/CMakeCache.txt" 2>/dev/null | tr '\n' ' '))"
  echo "host: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee -a "$OUT/table.txt"
