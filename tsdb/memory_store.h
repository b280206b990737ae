// MemoryStore: the in-memory series store of the first tsdb slice. It will
// become the "head" of the full store (WAL, Gorilla chunks and blocks come
// later); its contract is what the query API and the ingester rely on.
//
// Identity. A series is its label set; labels with an empty value are
// dropped on the way in (Prometheus: absent == ""). Series are found by the
// Labels fingerprint and the labels are compared on a hit, so a 64-bit hash
// collision yields two series, never a merged one.
//
// Idempotency. Kafka delivers at least once, so append() must absorb
// replays: a sample whose timestamp already exists with a bit-identical
// value (so NaN == NaN, and a stale marker equals only a stale marker) is a
// duplicate and ignored; a *different* value at an existing timestamp is a
// conflict, rejected and counted -- the first write wins. Samples may arrive
// out of order; each series keeps them sorted by timestamp.
//
// Staleness. A stale marker (wire::is_stale_nan) is stored like any sample;
// an instant lookup whose newest sample in the lookback window is a stale
// marker does not return the series, as in Prometheus.
//
// Thread-safety: every method may be called concurrently. The series index
// sits behind a shared_mutex taken exclusively only to create a series; each
// series has its own mutex, so appends to different series and queries run
// in parallel. Series are never removed in this slice (no retention yet).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/labels.h"
#include "common/wire_format.h"
#include "tsdb/label_matcher.h"

namespace strata::tsdb {

inline constexpr std::int64_t kMinTime = std::numeric_limits<std::int64_t>::min();
inline constexpr std::int64_t kMaxTime = std::numeric_limits<std::int64_t>::max();

struct AppendResult {
  std::size_t appended = 0;    // new samples stored
  std::size_t duplicates = 0;  // identical (timestamp, value) already present
  std::size_t conflicts = 0;   // another value already stored at that timestamp
  // The first conflicting timestamp, to name in a log line.
  std::int64_t first_conflict_ms = 0;

  AppendResult& operator+=(const AppendResult& o);
};

// One series' value at an evaluation time.
struct InstantSample {
  Labels labels;
  std::int64_t timestamp_ms = 0;  // the sample's own timestamp (not the eval time)
  double value = 0;
};

class MemoryStore {
 public:
  MemoryStore();
  ~MemoryStore();
  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  // Throws std::invalid_argument for a label set that is empty once
  // empty-valued labels are dropped (nothing could ever select it).
  AppendResult append(const Labels& labels, std::span<const wire::Sample> samples);

  // Label sets of the series matching every matcher and holding at least one
  // sample in [mint, maxt], sorted. An empty matcher list selects every
  // series (the HTTP layer forbids that for user queries).
  std::vector<Labels> select(const std::vector<LabelMatcher>& matchers,
                             std::int64_t mint = kMinTime, std::int64_t maxt = kMaxTime) const;

  // For each matching series, its newest sample with timestamp in
  // (t - lookback, t], unless that sample is a stale marker. Sorted by labels.
  std::vector<InstantSample> instant(const std::vector<LabelMatcher>& matchers, std::int64_t t_ms,
                                     std::chrono::milliseconds lookback) const;

  // Every stored sample of one series (stale markers included), in
  // timestamp order; empty if the series does not exist.
  std::vector<wire::Sample> samples(const Labels& labels) const;

  // Sorted label names / values of one name across all series. The head
  // holds recent data only, so these ignore time like Prometheus does for
  // an in-range block.
  std::vector<std::string> label_names() const;
  std::vector<std::string> label_values(std::string_view name) const;

  std::size_t series_count() const;
  std::uint64_t sample_count() const;

 private:
  struct Series;
  using SeriesId = std::uint32_t;

  static Labels normalize(const Labels& labels);
  std::shared_ptr<Series> get_or_create(const Labels& labels);
  // Series selected by the matchers (index lookups, then filtering).
  std::vector<std::shared_ptr<Series>> candidates(const std::vector<LabelMatcher>& matchers) const;

  mutable std::shared_mutex mu_;
  std::vector<std::shared_ptr<Series>> series_;  // by SeriesId
  std::unordered_map<std::uint64_t, std::vector<SeriesId>> by_fingerprint_;
  // Inverted index: label name -> value -> ascending series ids.
  std::map<std::string, std::map<std::string, std::vector<SeriesId>, std::less<>>, std::less<>>
      postings_;
  std::atomic<std::uint64_t> samples_{0};
};

}  // namespace strata::tsdb
