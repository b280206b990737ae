// Validator: checks a decoded batch -- from any ingest protocol -- against the
// configured limits (collector.limits.*) before anything is published.
//
// Policy (every endpoint): a request is accepted or rejected whole. Size
// limits of the request itself (series, samples, entries) answer 413; every
// other problem answers 400 naming the first few problems, each with where it
// is in the request's own terms ("timeseries[3]", "streams[0].values[7]",
// "line 12"), what is wrong and which limit applies. Nothing of a rejected
// request is published.
//
// What is checked: metric names ([a-zA-Z_:][a-zA-Z0-9_:]*), label and field
// names ([a-zA-Z_][a-zA-Z0-9_]*), label count, name and value lengths, UTF-8
// of label values, sample timestamps too far in the past or future, log line
// length. NaN and +-Inf are valid sample values (as in Prometheus), and so is
// the stale marker.
//
// Thread-safety: immutable after construction; check() may run concurrently.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/wire_format.h"

namespace strata::collector {

struct Limits {
  std::size_t max_series_per_request = 100'000;     // 413
  std::size_t max_samples_per_request = 1'000'000;  // 413
  std::size_t max_entries_per_request = 100'000;    // log lines, 413
  std::size_t max_labels_per_series = 64;
  std::size_t max_label_name_bytes = 256;
  std::size_t max_label_value_bytes = 4096;
  std::size_t max_line_bytes = 256 * 1024;
  // 0: no limit. Measured from the time the request is checked.
  std::chrono::milliseconds max_sample_age{0};
  std::chrono::milliseconds max_future_skew{std::chrono::minutes(10)};
};

// Where series (or stream) `series`, and optionally its sample (entry) `item`,
// came from, in the terms of the request: "timeseries[3].samples[1]", "line 12".
using Locator = std::function<std::string(std::size_t series, std::optional<std::size_t> item)>;

// The problems found in one request: all are counted, the first few kept.
class Problems {
 public:
  static constexpr std::size_t kReported = 5;
  void add(std::string problem);
  bool empty() const { return total_ == 0; }
  std::size_t total() const { return total_; }
  const std::vector<std::string>& first() const { return first_; }
  // The 400 body: "<what>: N problems; the whole request was rejected ...".
  std::string message(std::string_view what) const;

 private:
  std::vector<std::string> first_;
  std::size_t total_ = 0;
};

class Validator {
 public:
  explicit Validator(Limits limits) : limits_(limits) {}
  const Limits& limits() const { return limits_; }

  // Request-size limits: the 413 message, or nullopt when within them.
  std::optional<std::string> check_size(const wire::MetricsBatch& batch) const;
  std::optional<std::string> check_size(const wire::LogsBatch& batch) const;

  // Adds every problem of the batch to `problems`. `now_ms`: the reference
  // for the timestamp limits.
  void check(const wire::MetricsBatch& batch, const Locator& where, std::int64_t now_ms,
             Problems& problems) const;
  void check(const wire::LogsBatch& batch, const Locator& where, std::int64_t now_ms,
             Problems& problems) const;

 private:
  void check_labels(const Labels& labels, bool metrics, const std::string& where,
                    Problems& problems) const;
  void check_time(std::int64_t ts_ms, std::int64_t now_ms, const Locator& where, std::size_t series,
                  std::size_t item, Problems& problems) const;
  Limits limits_;
};

// [a-zA-Z_:][a-zA-Z0-9_:]*, Prometheus's metric name syntax.
bool valid_metric_name(std::string_view name);

}  // namespace strata::collector
