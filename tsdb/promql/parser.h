// PromQL parser (Prometheus 3 grammar): query text -> typed syntax tree
// (ast.h), rejecting with a ParseError everything Prometheus rejects, with
// the first error found and its 1-based byte position:
//
//   parse error at char 6: expected type range vector in call to function
//   "rate", got instant vector
//
// Each node is type-checked as soon as it is built, so the error reported is
// the first one met reading left to right, inner expressions before the ones
// around them (Prometheus reports all syntax errors before any type error;
// the error may differ, never whether there is one). Recursion is bounded
// (ast::kMaxNesting), so no input can overflow the stack; run time is linear
// in the input size.
// docs/promql.md lists what is accepted and the deliberate differences from
// Prometheus.
//
// Stateless and thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <string_view>

#include "tsdb/promql/ast.h"
#include "tsdb/promql/lexer.h"

namespace strata::tsdb::promql {

struct ParseOptions {
  // Prometheus 3 allows any UTF-8 name when quoted: {"metric.name"},
  // {"label.name"="v"}, by ("label.name"). false: Prometheus 2's grammar,
  // where names are bare identifiers only.
  bool quoted_names = true;
};

ast::ExprPtr parse_expr(std::string_view input, const ParseOptions& options = {});

// For parse_vector_selector() (selector.h): parses one vector selector
// (`metric`, `metric{...}` or `{...}`, no modifiers) at `lexer`'s next token
// and stops after it. Does not run the checks that need the whole selector
// (see check_vector_selector).
std::unique_ptr<ast::VectorSelector> parse_vector_selector_prefix(Lexer& lexer,
                                                                  const ParseOptions& options);

// The metric name is given at most once; some matcher does not match "".
void check_vector_selector(const ast::VectorSelector& selector);

// A Prometheus duration: one or more of <digits><unit>, units y w d h m s ms
// in that order ("1h30m"), or "0". Throws ParseError at `position` (0-based).
std::chrono::milliseconds parse_duration(std::string_view text, std::size_t position = 0);

}  // namespace strata::tsdb::promql
