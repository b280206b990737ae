// parse_vector_selector: a lone PromQL instant vector selector, for callers
// that take only a selector (the first tsdb query slice, match[] parameters):
//
//   metric
//   metric{a="b", c!="d", e=~"re", f!~"re"}
//   {__name__="x", job=~"api|web"}
//
// A thin wrapper over the full parser (parser.h) that keeps this API's
// original, stricter contract: names are bare identifiers (Prometheus 2's
// grammar, no {"quoted.name"}), and anything beyond the selector -- a
// function call, a range, an operator, a modifier -- is an error naming
// what is not supported. Strings, escapes, trailing commas, regexes and the
// rule that some matcher must not match the empty string are the parser's:
// `{}`, `{a=""}` or `{a=~".*"}` would select every series and are rejected.
//
// Errors are ParseError (declared in lexer.h, included here), whose message
// names the 1-based byte position of the offending token: "parse error at
// char 7: unexpected '}', expected label name". Stateless and thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tsdb/label_matcher.h"
#include "tsdb/promql/lexer.h"

namespace strata::tsdb::promql {

struct VectorSelector {
  // The metric name when written bare (`metric{...}`), else empty.
  std::string metric_name;
  // Every matcher, including __name__="metric" (first) for a bare name.
  std::vector<LabelMatcher> matchers;
};

VectorSelector parse_vector_selector(std::string_view input);

}  // namespace strata::tsdb::promql
