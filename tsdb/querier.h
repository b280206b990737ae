// Querier types: what DB::select() returns -- series with the chunks that
// hold their data in the requested range, gathered from the head, raw
// blocks and downsampled blocks -- and the iterator that merges those
// chunks into one time-ordered stream of samples. This is the interface the
// PromQL engine evaluates on.
//
// Merging rules: chunks may overlap (head and block around a cut,
// out-of-order chunks, two resolutions at the edge of a retention cut);
// the iterator yields each timestamp once, in ascending order. Two stored
// samples never share a timestamp with different values (the head rejects
// conflicts), so which copy wins does not matter; the first chunk in the
// list wins. Downsampled chunks hold aggregates: the iterator yields the one
// aggregate the query asked for, or sum/count (the window average) by
// default. A chunk that fails to decode is logged with its source and
// skipped, so one bad chunk cannot fail a whole query.
//
// Thread-safety: a Series is an immutable value holding shared_ptrs to the
// memory it reads; iterators are single-threaded.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/labels.h"
#include "common/wire_format.h"
#include "tsdb/chunk_encoding.h"
#include "tsdb/chunk_ref.h"

namespace strata::tsdb {

inline constexpr std::int64_t kRes5m = 5 * 60 * 1000;
inline constexpr std::int64_t kRes1h = 60 * 60 * 1000;

struct SelectHints {
  // Evaluation step of a range query (0 for an instant query): picks the
  // coarsest resolution r with r <= step / 5, so every step still spans
  // several downsampled points.
  std::int64_t step_ms = 0;
  // The PromQL function applied (rate, min_over_time, ...): picks the
  // aggregate read from downsampled chunks (see aggregate_for()).
  std::string func;
  // Forces a resolution (0, 300000 or 3600000) instead of picking one.
  std::optional<std::int64_t> resolution;
  // Where a store that could only answer in part (a shard down) appends why
  // (query_store.h); nullptr: the caller does not collect warnings.
  std::vector<std::string>* warnings = nullptr;
};

// Which aggregate answers `func` on downsampled data: counter for
// rate/increase/irate/resets, min/max/count/sum for *_over_time, nullopt
// (meaning sum/count) otherwise.
std::optional<Aggr> aggregate_for(std::string_view func);
// The resolution a query reads: hints.resolution, else as SelectHints says.
std::int64_t pick_resolution(const SelectHints& hints);

// Decoded timestamp columns (chunk_encoding.h, kSharedTimestamps) for the
// series of one query: a block stores one column for all the series scraped
// together, so a query over many of them decodes each column once instead
// of once per series. Keyed by the column's address and size, which stay
// valid while the query holds the ChunkRefs pointing there: create one per
// query, after select(), and drop it with the series. Not thread-safe.
class TimestampColumnCache {
 public:
  // The column's timestamps; throws ChunkFormatError if it does not decode.
  std::span<const std::int64_t> get(std::span<const std::uint8_t> column);

 private:
  std::map<std::pair<const std::uint8_t*, std::size_t>, std::vector<std::int64_t>> columns_;
};

class SeriesIterator {
 public:
  // `aggr`: which aggregate of downsampled chunks to yield; nullopt = sum/count.
  // `columns` (optional, must outlive the iterator): shared decoded columns.
  SeriesIterator(std::vector<ChunkRef> chunks, std::int64_t mint, std::int64_t maxt,
                 std::optional<Aggr> aggr = std::nullopt, TimestampColumnCache* columns = nullptr);
  SeriesIterator(SeriesIterator&&) noexcept;
  SeriesIterator& operator=(SeriesIterator&&) noexcept;
  ~SeriesIterator();

  bool next();
  std::int64_t t() const { return t_; }
  double v() const { return v_; }

 private:
  struct Stream;
  bool next_raw(std::int64_t* t, double* v);
  bool next_sequential();
  std::vector<Stream> streams_;
  // Raw chunks only, none overlapping the next (the common case): they are
  // read one after the other, with no merge across chunks and kinds.
  bool sequential_ = false;
  bool fresh_ = false;  // sequential: the open chunk's current sample is not yet returned
  std::int64_t mint_, maxt_;
  std::int64_t t_ = 0;
  double v_ = 0;
  bool started_ = false;
};

struct Series {
  Labels labels;
  std::vector<ChunkRef> chunks;
  std::int64_t mint = 0;
  std::int64_t maxt = 0;
  std::optional<Aggr> aggr;  // for downsampled chunks

  SeriesIterator iterator(TimestampColumnCache* columns = nullptr) const {
    return SeriesIterator(chunks, mint, maxt, aggr, columns);
  }
  std::vector<wire::Sample> samples() const;  // the whole range, materialized
};

}  // namespace strata::tsdb
