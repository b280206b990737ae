// PromQL aggregation operators (sum, avg, topk, quantile, count_values, ...)
// over the instant vector of one evaluation step, with by/without grouping,
// following Prometheus 3's aggregation() in engine.go (NaN handling, Kahan
// summation, incremental mean on overflow, heap tie-breaking).
//
// Stateless and thread-safe; errors are ExecutionError (engine.h).
#pragma once

#include <cstddef>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "tsdb/promql/ast.h"
#include "tsdb/promql/value.h"

namespace strata::tsdb::promql {

// `param` is the scalar parameter (topk's k, quantile's q, limit_ratio's
// ratio) and `label` count_values' label name, both at this step. Output
// samples have t = 0; the caller stamps them.
Vector aggregate(const ast::AggregateExpr& e, double param, const std::string& label,
                 const Vector& in);

// Whether `op` keeps some of the input samples themselves (topk, bottomk,
// limitk, limit_ratio) rather than computing one value per group.
bool selects_samples(ast::AggregateOp op);

// The per-group value of every other operator over one step's samples whose
// groups are already known (sample i belongs to group group_of[i] <
// num_groups): (group, value) for each group that has a sample, in order of
// the groups' first samples. A range query computes each series' group once
// and calls this per step, instead of regrouping labels at every step.
std::vector<std::pair<std::size_t, double>> aggregate_grouped(ast::AggregateOp op, double param,
                                                              std::span<const double> values,
                                                              std::span<const std::size_t> group_of,
                                                              std::size_t num_groups);

// topk, bottomk, limitk: `param` is k, validated and truncated to an
// integer; limit_ratio: the ratio, clamped to [-1, 1]. ExecutionError as
// Prometheus words it (NaN, int64 overflow).
double selection_param(ast::AggregateOp op, double param);
// Where limit_ratio places a series in [0, 1): its label hash, as Prometheus.
double ratio_offset(const Labels& labels);
// The samples topk/bottomk/limitk/limit_ratio keep from one step, as
// indices into `values`, group by group (groups in order of their first
// sample). `param` comes from selection_param(); `offsets` (limit_ratio
// only) is ratio_offset() of each sample's series.
std::vector<std::size_t> select_samples(ast::AggregateOp op, double param,
                                        std::span<const double> values,
                                        std::span<const std::size_t> group_of,
                                        std::size_t num_groups, std::span<const double> offsets);

// The labels identifying `labels`' group under by(names) / without(names).
Labels group_labels(const Labels& labels, const std::vector<std::string>& names, bool without);

// The groups of n label sets (labels_at(i) -> const Labels&): label set i
// belongs to keys[group_of[i]]; groups are numbered in order of first
// appearance, which is the order aggregations output them in.
struct Groups {
  std::vector<Labels> keys;
  std::vector<std::size_t> group_of;
};
template <class LabelsAt>
Groups assign_groups(std::size_t n, LabelsAt labels_at, const std::vector<std::string>& names,
                     bool without) {
  Groups g;
  g.group_of.resize(n);
  std::map<Labels, std::size_t> index;
  for (std::size_t i = 0; i < n; ++i) {
    Labels key = group_labels(labels_at(i), names, without);
    auto [it, inserted] = index.try_emplace(key, g.keys.size());
    if (inserted) g.keys.push_back(std::move(key));
    g.group_of[i] = it->second;
  }
  return g;
}

}  // namespace strata::tsdb::promql
