// Head: the in-memory, writable part of the time-series store -- the most
// recent hours of every series, before they are cut into an immutable block.
//
// Identity. A series is its label set (labels with an empty value dropped,
// as absent == "" in Prometheus). Series are found by the Labels
// fingerprint and compared on a hit, so a 64-bit collision yields two
// series, never a merged one. Each series gets a SeriesRef, never reused
// within a process, that the WAL uses instead of repeating the labels.
// Label strings are interned in one SymbolTable.
//
// Storage per series: closed chunks (re-encoded with the best value
// encoding when they fill), one open Gorilla chunk being appended to, and a
// small sorted buffer of out-of-order samples.
//
// Acceptance rules (what makes replays idempotent):
//  - a sample newer than the series' newest is appended;
//  - one at a timestamp already stored with a bit-identical value (NaN ==
//    NaN, the stale marker equals only itself) is a duplicate, ignored;
//  - one at a stored timestamp with another value is a conflict, rejected
//    and counted: the first write wins;
//  - an older sample within `ooo_window` of the series' newest, and not
//    older than the head's min valid time (the last block cut), is stored
//    out of order; anything older is rejected as too old and counted.
//
// Thread-safety: every method may be called concurrently. Series live in
// 256 stripes chosen by the low byte of the fingerprint, each with its own
// mutex (creation, lookup, removal); a SeriesRef carries that byte too
// (ref = counter << 8 | stripe), so a lookup by ref or by labels takes one
// stripe lock and a replayed ref lands where its labels hash. Each series
// has its own mutex (appends and reads). The postings index is behind a
// shared_mutex taken exclusively only when a series is created or dropped.
// There is no global lock on the append path.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/labels.h"
#include "common/wire_format.h"
#include "tsdb/chunk_ref.h"
#include "tsdb/label_matcher.h"
#include "tsdb/postings.h"
#include "tsdb/symbol_table.h"

namespace strata::tsdb {

using SeriesRef = std::uint64_t;

struct AppendResult {
  std::size_t appended = 0;    // new samples stored
  std::size_t duplicates = 0;  // identical (timestamp, value) already present
  std::size_t conflicts = 0;   // another value already stored at that timestamp
  std::size_t too_old = 0;     // older than the out-of-order window or the last block cut
  // The first conflicting timestamp, to name in a log line.
  std::int64_t first_conflict_ms = 0;

  AppendResult& operator+=(const AppendResult& o);
};

struct HeadOptions {
  // How far behind a series' newest sample an older one is still accepted.
  std::int64_t ooo_window_ms = 10 * 60 * 1000;
  // Samples per head chunk before it is closed and re-encoded (Prometheus: 120).
  std::uint32_t chunk_samples = 120;
};

// One series as a query or the block writer sees it.
struct HeadSeriesData {
  SeriesRef ref = 0;
  Labels labels;
  std::vector<ChunkRef> chunks;  // may overlap in time (out-of-order data)
};

class Head : public PostingsReader {
 public:
  explicit Head(HeadOptions options = {});
  ~Head() override;
  Head(const Head&) = delete;
  Head& operator=(const Head&) = delete;

  // Called once for every new series, before any sample of it is stored and
  // while no other thread can append to it: the WAL logs the series record
  // here so that it always precedes the series' samples in the log.
  using NewSeriesHook = std::function<void(SeriesRef, const Labels&)>;
  void set_new_series_hook(NewSeriesHook hook) { new_series_hook_ = std::move(hook); }

  // Appends samples (any order) to the series `labels`, creating it if
  // needed. `accepted`, when given, receives the samples actually stored (for
  // the WAL) and `ref` the series ref. Throws std::invalid_argument for a
  // label set that is empty once empty-valued labels are dropped.
  AppendResult append(const Labels& labels, std::span<const wire::Sample> samples,
                      std::vector<wire::Sample>* accepted = nullptr, SeriesRef* ref = nullptr);

  // WAL replay: recreates a series under its logged ref (idempotent), and
  // appends samples by ref. Unknown refs are counted in the result as too old
  // (their series record was lost).
  void replay_series(SeriesRef ref, const Labels& labels);
  AppendResult replay_samples(SeriesRef ref, std::span<const wire::Sample> samples);

  // Series matching every matcher with data overlapping [mint, maxt], with
  // snapshots of their chunks (the open chunk and the out-of-order buffer are
  // copied, so the result stays valid while appends go on). Unsorted.
  std::vector<HeadSeriesData> select(const std::vector<LabelMatcher>& matchers, std::int64_t mint,
                                     std::int64_t maxt) const;
  // Every series (for the block writer and the WAL checkpoint).
  std::vector<HeadSeriesData> all_series(std::int64_t mint = kMinTime,
                                         std::int64_t maxt = kMaxTime) const;

  std::vector<std::string> label_names() const;
  std::vector<std::string> label_values(std::string_view name) const;

  // Drops every sample older than `t` and every series left empty, and
  // rejects appends older than `t` from now on (they are in a block).
  void truncate(std::int64_t t);
  std::int64_t min_valid_time() const { return min_valid_time_.load(); }
  // Oldest / newest sample time in the head (kMaxTime / kMinTime when empty).
  std::int64_t min_time() const { return min_time_.load(); }
  std::int64_t max_time() const { return max_time_.load(); }

  std::size_t series_count() const { return series_count_.load(); }
  std::uint64_t sample_count() const { return sample_count_.load(); }
  // Rough heap bytes held by chunks (for /metrics).
  std::uint64_t chunk_bytes() const { return chunk_bytes_.load(); }

  // PostingsReader over the head's series refs.
  std::vector<std::uint64_t> postings(std::string_view name, std::string_view value) const override;
  bool for_each_value(
      std::string_view name,
      const std::function<void(std::string_view, const std::vector<std::uint64_t>&)>& fn)
      const override;
  std::vector<std::uint64_t> all_postings() const override;

  // Empty-valued labels dropped; shared with the rest of the store.
  static Labels normalize(const Labels& labels);

 private:
  struct Series;
  struct Stripe;
  static constexpr std::size_t kStripes = 256;

  std::shared_ptr<Series> get_or_create(const Labels& labels, std::optional<SeriesRef> want_ref);
  std::shared_ptr<Series> by_ref(SeriesRef ref) const;
  AppendResult append_locked(Series& s, std::span<const wire::Sample> samples,
                             std::vector<wire::Sample>* accepted);
  HeadSeriesData snapshot(const Series& s, std::int64_t mint, std::int64_t maxt) const;
  void note_time(std::int64_t t);

  HeadOptions options_;
  NewSeriesHook new_series_hook_;
  SymbolTable symbols_;
  std::unique_ptr<Stripe[]> stripes_;

  mutable std::shared_mutex postings_mu_;
  std::map<std::string_view, std::map<std::string_view, std::vector<std::uint64_t>>> postings_;

  std::atomic<SeriesRef> next_counter_{1};
  std::atomic<std::int64_t> min_valid_time_{kMinTime};
  std::atomic<std::int64_t> min_time_{kMaxTime};
  std::atomic<std::int64_t> max_time_{kMinTime};
  std::atomic<std::size_t> series_count_{0};
  std::atomic<std::uint64_t> sample_count_{0};
  std::atomic<std::uint64_t> chunk_bytes_{0};
};

}  // namespace strata::tsdb
