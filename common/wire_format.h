// Wire format, version 1: what agents push to the collector and what the
// collector publishes on Kafka. Specified in docs/format/wire.md.
//
// A MetricsBatch is a list of series, each a label set (including __name__)
// with samples (timestamp in ms, float64). A LogsBatch is a list of streams,
// each a label set with entries (timestamp in ns, line, optional structured
// fields). Both are JSON objects with "version": 1, parsed with simdjson.
//
// Floats round-trip bit-exactly: finite values are written in shortest
// round-trip form (std::to_chars), and the non-finite ones as the strings
// "NaN", "+Inf", "-Inf" and "StaleNaN" (Prometheus's stale marker, bit pattern
// 0x7ff0000000000002). Any other NaN payload is written as "NaN" and read back
// as Prometheus's canonical NaN 0x7ff8000000000001.
//
// Decoding validates everything (types, required fields, label names, UTF-8)
// and throws WireError naming the offending JSON path, e.g.
// "series[3].samples[0][1]: expected a number or one of NaN,+Inf,-Inf,StaleNaN".
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/labels.h"

namespace strata::wire {

inline constexpr int kVersion = 1;
inline constexpr std::uint64_t kStaleNaNBits = 0x7ff0000000000002ULL;
inline constexpr std::uint64_t kNormalNaNBits = 0x7ff8000000000001ULL;

double stale_nan();
bool is_stale_nan(double v);

class WireError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

struct Sample {
  std::int64_t timestamp_ms = 0;
  double value = 0;
};

struct Series {
  Labels labels;
  std::vector<Sample> samples;
};

struct MetricsBatch {
  std::vector<Series> series;
};

struct LogEntry {
  std::int64_t timestamp_ns = 0;
  std::string line;
  std::vector<Label> fields;  // optional structured fields, in sent order
};

struct LogStream {
  Labels labels;
  std::vector<LogEntry> entries;
};

struct LogsBatch {
  std::vector<LogStream> streams;
};

std::string encode(const MetricsBatch& batch);
std::string encode(const LogsBatch& batch);
// Throw WireError on any malformed input.
MetricsBatch decode_metrics(std::string_view json);
LogsBatch decode_logs(std::string_view json);

// Formats a float for the wire / Prometheus API ("NaN", "+Inf", shortest
// round-trip decimal otherwise), and parses it back.
std::string format_value(double v);
double parse_value(std::string_view s);  // throws WireError

// Validation shared by the decoder and other ingest paths: a label name
// matches [a-zA-Z_][a-zA-Z0-9_]*; strings are valid UTF-8.
bool valid_label_name(std::string_view name);
bool valid_utf8(std::string_view s);

}  // namespace strata::wire
