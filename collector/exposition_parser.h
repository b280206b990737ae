// ExpositionParser: the Prometheus text exposition format (version 0.0.4, what
// /metrics endpoints serve), as accepted by POST /api/v1/import/prometheus
// (VictoriaMetrics' import endpoint of the same name).
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
// case, as Go's ParseFloat reads them) and an optional timestamp in
// milliseconds since the epoch. A sample without a timestamp gets
// `default_timestamp_ms` (the time the request was received). Lines starting
// with '#' are comments; "# HELP" and "# TYPE" lines are checked for syntax
// (a valid metric name; a known type) but otherwise ignored, as the stores
// keep no metadata. Empty lines and a trailing "\r" are ignored.
//
// Samples of the same label set are gathered into one series, in the order
// the set first appeared. The first syntax error stops the parse with an
// ExpositionError naming the line and column (both 1-based; the column
// counts bytes), e.g. "line 3, column 17: expected '=' after label name
// \"code\", got '}'".
//
// Thread-safety: a pure function.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "collector/decode_error.h"
#include "common/wire_format.h"

namespace strata::collector {

class ExpositionError : public DecodeError {
 public:
  ExpositionError(std::size_t line, std::size_t column, const std::string& what);
  std::size_t line() const { return line_; }
  std::size_t column() const { return column_; }

 private:
  std::size_t line_, column_;
};

struct ParsedExposition {
  wire::MetricsBatch batch;
  // sample_lines[i][j]: the line of batch.series[i].samples[j] (1-based).
  std::vector<std::vector<std::size_t>> sample_lines;
};

ParsedExposition parse_exposition(std::string_view text, std::int64_t default_timestamp_ms);

}  // namespace strata::collector
