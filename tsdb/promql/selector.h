// Parser for a PromQL instant vector selector -- the only expression the
// first tsdb slice evaluates (the full PromQL engine will grow around it):
//
//   metric
//   metric{a="b", c!="d", e=~"re", f!~"re"}
//   {__name__="x", job=~"api|web"}
//
// Strings may be "double-quoted", 'single-quoted' (Go escape sequences:
// \n \t \\ \" \' \xHH \ooo \uXXXX \UXXXXXXXX ...) or `raw`. A trailing comma
// inside the braces is allowed, as in Prometheus.
//
// Like Prometheus, a selector must contain at least one matcher that does
// not match the empty string: `{}`, `{a=""}` or `{a=~".*"}` would select
// every series in the store and are rejected.
//
// Errors are ParseError, whose message names the 1-based byte position of
// the offending token: "parse error at char 7: unexpected '}', expected
// label name". Stateless and thread-safe.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tsdb/label_matcher.h"

namespace strata::tsdb::promql {

class ParseError : public std::invalid_argument {
 public:
  // `position` is 1-based (a byte offset + 1); what() is the full message.
  ParseError(std::size_t position, const std::string& message);
  std::size_t position() const { return position_; }
  // The message without the "parse error at char N: " prefix.
  const std::string& detail() const { return detail_; }

 private:
  std::size_t position_;
  std::string detail_;
};

struct VectorSelector {
  // The metric name when written bare (`metric{...}`), else empty.
  std::string metric_name;
  // Every matcher, including __name__="metric" (first) for a bare name.
  std::vector<LabelMatcher> matchers;
};

VectorSelector parse_vector_selector(std::string_view input);

}  // namespace strata::tsdb::promql
