#!/usr/bin/env bash
# bench/logs_vs_peers: grows the loghub samples into a deterministic corpus,
# indexes it into Strata's log store (the strata_logindex library, WAL
# fsync per 10k-line batch) and SQLite FTS5, and runs the same ten searches on
# Strata, FTS5 and ripgrep over the raw files. Prints indexing MB/s per
# CPU-second, stored size / raw, and a query table. See README.md.
# Not a CTest test.
#
#   bench/logs_vs_peers/run.sh [--bytes N] [--seed S] [--reps N] [--keep DIR] [--build DIR]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

BYTES=$((1 << 30))
SEED=42
REPS=5
KEEP=""
BUILD=${STRATA_BUILD_DIR:-$ROOT/build-bench}
RG=${RG:-rg}

usage() {
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --bytes) BYTES=${2:?--bytes needs a value}; shift 2 ;;
    --bytes=*) BYTES=${1#*=}; shift ;;
    --seed) SEED=${2:?}; shift 2 ;;
    --seed=*) SEED=${1#*=}; shift ;;
    --reps) REPS=${2:?}; shift 2 ;;
    --reps=*) REPS=${1#*=}; shift ;;
    --keep) KEEP=${2:?--keep needs a directory}; shift 2 ;;
    --keep=*) KEEP=${1#*=}; shift ;;
    --build) BUILD=${2:?}; shift 2 ;;
    --build=*) BUILD=${1#*=}; shift ;;
    -h|--help) usage ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
[[ $BYTES =~ ^[0-9]+$ ]] || { echo "run.sh: --bytes expects a number of bytes, got '$BYTES'" >&2; exit 2; }

T_START=$(date +%s)
# shellcheck source=../lib/processes.sh
. "$HERE/../lib/processes.sh"

if [ -n "$KEEP" ]; then
  mkdir -p "$KEEP"
  WORK=$(cd "$KEEP" && pwd)
else
  WORK=$(mktemp -d /tmp/strata-bench-logs-vs-peers.XXXXXX)
fi
LOGS=$WORK/logs
mkdir -p "$LOGS"
RESULTS=$WORK/results.env
: >"$RESULTS"
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -z "$KEEP" ]; then
    rm -rf "$WORK/corpus" "$WORK/data" 2>/dev/null || true  # keep results and logs
  fi
  [ $rc -ne 0 ] && log "FAILED (exit $rc); logs are in $LOGS"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

command -v "$RG" >/dev/null || die "ripgrep ($RG) not found: run scripts/setup.sh"
sqlite3 :memory: "create virtual table t using fts5(x)" 2>/dev/null || die "sqlite3 with FTS5 not found: run scripts/setup.sh"

GEN=$BUILD/bench/logs_vs_peers/strata-bench-logs-corpus
IDX=$BUILD/bench/logs_vs_peers/strata-bench-logs-index
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  log "configuring $BUILD (Release)"
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATA_SANITIZE=OFF >"$LOGS/cmake.log" 2>&1 ||
    die "cmake configure failed; see $LOGS/cmake.log"
fi
log "building strata-bench-logs-corpus strata-bench-logs-index in $BUILD (-j${BUILD_JOBS:-2})"
cmake --build "$BUILD" -j "${BUILD_JOBS:-2}" --target strata-bench-logs-corpus strata-bench-logs-index \
  >"$LOGS/build.log" 2>&1 || die "build failed; see $LOGS/build.log"

pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo '?'; }
log "work dir $WORK"
echo "run_host=$(hostname) $(nproc) cpus, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)" >>"$RESULTS"
echo "run_versions=ripgrep $(pkg_version ripgrep), sqlite3 $(pkg_version libsqlite3-0), strata $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?') (+ working tree)" >>"$RESULTS"

# 1. Corpus
mkdir -p "$WORK/corpus"
log "generating a $BYTES-byte corpus (seed $SEED) from $ROOT/tests/data/loghub"
/usr/bin/time -f 'gen_wall_s=%e' -o "$LOGS/gen.time" \
  "$GEN" --src "$ROOT/tests/data/loghub" --out "$WORK/corpus" --bytes "$BYTES" --seed "$SEED" 2>"$LOGS/gen.log" ||
  die "corpus generation failed; see $LOGS/gen.log"
cat "$LOGS/gen.time" >>"$RESULTS"
sed 's/^/corpus_/' "$WORK/corpus/queries.env" >>"$RESULTS"
log "corpus: $(awk -F'\t' 'NR > 1 {l += $3; b += $4} END {printf "%d lines, %.1f MB in 8 files", l, b / 1e6}' "$WORK/corpus/manifest.tsv")"

# 2. Strata, 3. FTS5 (one after the other: two cores, shared)
mkdir -p "$WORK/data"
log "== Strata: LogStore append (10k-line batches, WAL fdatasync per batch), flush =="
"$IDX" strata-ingest --corpus "$WORK/corpus" --data "$WORK/data/strata" >"$WORK/strata_ingest.env" 2>"$LOGS/strata-ingest.log" ||
  { tail -n 20 "$LOGS/strata-ingest.log" >&2; die "strata-ingest failed; see $LOGS/strata-ingest.log"; }
cat "$WORK/strata_ingest.env" >>"$RESULTS"
log "strata: $(grep -E '^strata_(cpu_s|mb_per_cpu_s|disk_ratio)=' "$WORK/strata_ingest.env" | tr '\n' ' ')"

log "== SQLite FTS5: INSERT (10k-row transactions, WAL, synchronous=FULL), optimize =="
"$IDX" fts5-ingest --corpus "$WORK/corpus" --db "$WORK/data/fts5.db" >"$WORK/fts5_ingest.env" 2>"$LOGS/fts5-ingest.log" ||
  { tail -n 20 "$LOGS/fts5-ingest.log" >&2; die "fts5-ingest failed; see $LOGS/fts5-ingest.log"; }
cat "$WORK/fts5_ingest.env" >>"$RESULTS"
log "fts5: $(grep -E '^fts5_(cpu_s|mb_per_cpu_s|disk_ratio)=' "$WORK/fts5_ingest.env" | tr '\n' ' ')"

# 4. Queries (page cache warm for all three: each query runs $REPS times, median)
log "== queries: Strata run_search, FTS5 MATCH, ripgrep; $REPS runs each =="
"$IDX" query --corpus "$WORK/corpus" --data "$WORK/data/strata" --db "$WORK/data/fts5.db" --reps "$REPS" --rg "$RG" \
  >"$WORK/queries.txt" 2>"$LOGS/query.log" || { tail -n 20 "$LOGS/query.log" >&2; die "query failed; see $LOGS/query.log"; }
grep '^query_disagreements=' "$WORK/queries.txt" >>"$RESULTS"
echo "run_seconds=$(($(date +%s) - T_START))" >>"$RESULTS"

# 5. Report
v() { grep "^$1=" "$RESULTS" | tail -n 1 | cut -d= -f2-; }
{
  echo "== logs_vs_peers: $(v strata_lines) lines, $(awk -v b="$(v strata_raw_bytes)" 'BEGIN {printf "%.1f MB", b / 1e6}') raw (seed $SEED), $(v run_host) =="
  echo
  printf '%-34s %14s %14s   %s\n' "" "Strata" "SQLite FTS5" "target"
  printf '%-34s %14s %14s   %s\n' "index MB/s of raw per CPU-second" "$(v strata_mb_per_cpu_s)" "$(v fts5_mb_per_cpu_s)" ">= 50"
  printf '%-34s %14s %14s\n' "  CPU s (user+sys), wall s" "$(v strata_cpu_s), $(v strata_wall_s)" "$(v fts5_cpu_s), $(v fts5_wall_s)"
  printf '%-34s %14s %14s   %s\n' "stored size / raw (incl. index)" "$(v strata_disk_ratio)" "$(v fts5_disk_ratio)" "<= 0.5"
  printf '%-34s %14s %14s\n' "  stored bytes" "$(v strata_disk_bytes)" "$(v fts5_disk_bytes)"
  echo
  echo "Strata: segments $(v strata_segments), flushes $(v strata_flushes), merges $(v strata_merges), WAL syncs $(v strata_syncs), maintain()/flush CPU $(v strata_maintain_cpu_s) s of $(v strata_cpu_s) s"
  echo "FTS5: insert $(v fts5_insert_cpu_s) CPU s + optimize; size before optimize $(v fts5_disk_bytes_before_optimize) bytes"
  echo
  echo "queries (ms: median of $REPS; n: matched lines; Strata single-threaded in-process, FTS5 in-process C API incl. count + ORDER BY ts DESC LIMIT 100, rg -j2 wall incl. process start):"
  grep -v "^\[20[0-9-]* [0-9:.]*\] \[" "$WORK/queries.txt"  # the store logs to stdout
} | tee "$WORK/table.txt"
echo
echo "results: $WORK/table.txt (raw: $RESULTS; logs: $LOGS)"
log "done in $(($(date +%s) - T_START)) s"
