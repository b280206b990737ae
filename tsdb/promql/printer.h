// Prints a PromQL syntax tree back as query text, exactly as Prometheus 3's
// Expr.String() does (the unprettified form of /api/v1/format_query): one
// canonical spelling per tree, so printing is the way to compare, log and
// forward queries. Keywords come out lower-case, matchers sorted, durations
// normalised (90m -> 1h30m), numbers in full decimal (1e3 -> 1000), strings
// double-quoted with Go escapes; parentheses only where the query had them.
//
// parse_expr(to_string(e)) yields an equivalent tree that prints the same
// again -- with one quirk kept from Prometheus: +Inf prints with its sign,
// which reads back as a unary plus (`Inf ^ 2` -> `+Inf ^ 2` -> `++Inf ^ 2`).
// Stateless and thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "tsdb/promql/ast.h"

namespace strata::tsdb::promql {

std::string to_string(const ast::Expr& expr);

// Prometheus's duration spelling: "1h30m", "1w", "100ms", "0s"; years and
// weeks only when they divide the duration exactly (90d, not 12w6d).
std::string format_duration(std::chrono::milliseconds d);

// Go's strconv.Quote: double quotes, \" \\ \n \t ... \xNN \uNNNN escapes,
// printable UTF-8 as is.
std::string quote_string(std::string_view s);

// Go's strconv.FormatFloat(v, 'f', -1, 64): the shortest decimal that reads
// back as v, never an exponent; "+Inf", "-Inf", "NaN".
std::string format_number(double v);

}  // namespace strata::tsdb::promql
