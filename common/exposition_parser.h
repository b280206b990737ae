// ExpositionParser: the two text formats a /metrics endpoint serves -- the
// Prometheus text format 0.0.4 and OpenMetrics 1.0 -- turned into a wire
// MetricsBatch plus the families' metadata. The collector's
// POST /api/v1/import/prometheus and the agent's scraper share it.
//
//     # HELP http_requests_total Requests served.
//     # TYPE http_requests_total counter
//     http_requests_total{method="post",code="200"} 1027 1395066363000
//     http_requests_total{method="post",code="400"}    3
//     go_goroutines 12
//
// A sample line is a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), optional labels
// in braces (values in double quotes with the escapes \\ \" \n; a trailing
// comma is allowed), a value (a decimal float, or NaN, +Inf, -Inf, Inf in any
// case, as Go's ParseFloat reads them) and an optional timestamp. A sample
// without a timestamp gets `default_timestamp_ms` (the time of the request or
// scrape). Empty lines and a trailing "\r" are ignored. Histograms and
// summaries need nothing special: their _bucket/_sum/_count/quantile lines
// are series like any other.
//
// Format differences (ExpositionFormat):
//  - text 0.0.4: timestamps are integer milliseconds; an unknown escape in a
//    label value is kept as written (as Prometheus does); "# EOF" and
//    "# UNIT" are plain comments.
//  - OpenMetrics: timestamps are seconds (a float, rounded to ms); only the
//    three escapes are valid; the document must end with "# EOF" and nothing
//    may follow it; "# UNIT" is metadata; a TYPE/UNIT/HELP line may appear
//    once per family; exemplars ("... # {trace_id="x"} 1 1.5") are checked for
//    syntax and dropped, as the stores keep none; the `_created` samples of
//    counters, histograms and summaries are dropped, as Prometheus drops them
//    by default (they are a creation time, not a value to graph, and would
//    add a series per family).
//
// "# HELP", "# TYPE" (and "# UNIT") lines are checked for syntax (a valid
// metric name; a known type) and kept as metadata, one entry per family in
// the order first seen. Samples of the same label set are gathered into one
// series, in the order the set first appeared. The first syntax error stops
// the parse with an ExpositionError naming the line and column (both 1-based;
// the column counts bytes), e.g. "line 3, column 17: expected '=' after label
// name \"code\", got '}'".
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/wire_format.h"

namespace strata {

enum class ExpositionFormat { kPrometheusText, kOpenMetrics };

class ExpositionError : public std::invalid_argument {
 public:
  ExpositionError(std::size_t line, std::size_t column, const std::string& what);
  std::size_t line() const { return line_; }
  std::size_t column() const { return column_; }

 private:
  std::size_t line_, column_;
};

// What HELP/TYPE/UNIT said about one metric family (empty when not said).
struct MetricMetadata {
  std::string family;
  std::string type;  // counter, gauge, histogram, summary, untyped, unknown, info, ...
  std::string help;  // unescaped
  std::string unit;  // OpenMetrics only
};

struct ParsedExposition {
  wire::MetricsBatch batch;
  // sample_lines[i][j]: the line of batch.series[i].samples[j] (1-based).
  std::vector<std::vector<std::size_t>> sample_lines;
  std::vector<MetricMetadata> metadata;
};

ParsedExposition parse_exposition(std::string_view text, std::int64_t default_timestamp_ms,
                                  ExpositionFormat format = ExpositionFormat::kPrometheusText);

// The format a response's Content-Type names: OpenMetrics for
// "application/openmetrics-text", the text format for anything else (what
// Prometheus falls back to as well).
ExpositionFormat exposition_format_of(std::string_view content_type);

}  // namespace strata
