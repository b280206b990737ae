// PromQL aggregation operators (sum, avg, topk, quantile, count_values, ...)
// over the instant vector of one evaluation step, with by/without grouping,
// following Prometheus 3's aggregation() in engine.go (NaN handling, Kahan
// summation, incremental mean on overflow, heap tie-breaking).
//
// Stateless and thread-safe; errors are ExecutionError (engine.h).
#pragma once

#include <string>

#include "tsdb/promql/ast.h"
#include "tsdb/promql/value.h"

namespace strata::tsdb::promql {

// `param` is the scalar parameter (topk's k, quantile's q, limit_ratio's
// ratio) and `label` count_values' label name, both at this step. Output
// samples have t = 0; the caller stamps them.
Vector aggregate(const ast::AggregateExpr& e, double param, const std::string& label,
                 const Vector& in);

// The labels identifying `labels`' group under by(names) / without(names).
Labels group_labels(const Labels& labels, const std::vector<std::string>& names, bool without);

}  // namespace strata::tsdb::promql
