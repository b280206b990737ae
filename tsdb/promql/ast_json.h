// The JSON form of a parsed PromQL tree that `/api/v1/parse_query` returns:
// the shape Prometheus 3.0's translateAST (web/api/v1/translate_ast.go)
// produces for its UI's tree view and for tools that inspect queries, so
// those tools work unchanged against Strata.
//
// Each node is an object with a "type" (numberLiteral, stringLiteral,
// vectorSelector, matrixSelector, subquery, parenExpr, unaryExpr,
// binaryExpr, aggregation, call) and that node's fields; durations are in
// milliseconds, absent parts are null, lists are never null. The exact
// layout is documented in docs/http.md.
//
// Pure function of the tree; safe from any thread.
#pragma once

#include <string>

#include "tsdb/promql/ast.h"

namespace strata::tsdb::promql {

// Appends the JSON object for `expr` to `out`.
void append_ast_json(std::string& out, const ast::Expr& expr);

}  // namespace strata::tsdb::promql
