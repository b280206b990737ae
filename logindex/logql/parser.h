// The LogQL parser: query text -> logql::Query (ast.h).
//
// Errors are ParseError, worded like Loki's so that Grafana shows familiar
// text: "parse error at line L, col C: <what>", with 1-based line and
// column of the first byte that could not be parsed. Unsupported Loki
// features (e.g. `| pattern`, `unwrap`, `or` in label filters) are rejected
// by name rather than misread. Regexes are RE2; an invalid one names the
// position of its string. Nesting is bounded (kMaxNesting) so hostile input
// cannot exhaust the stack.
//
// Pure function; thread-safe.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

#include "logindex/logql/ast.h"

namespace strata::logindex::logql {

inline constexpr int kMaxNesting = 100;

class ParseError : public std::invalid_argument {
 public:
  ParseError(std::size_t position, const std::string& message);
  std::size_t position() const { return position_; }  // 0-based byte offset

 private:
  std::size_t position_;
};

Query parse(std::string_view text);

}  // namespace strata::logindex::logql
