// The PromQL function library, as pure functions over already-evaluated
// arguments; the engine (engine.cpp) does the selection, slicing per step and
// the label bookkeeping around them. Each one follows Prometheus 3's
// functions.go, including its floating-point details (Kahan summation,
// extrapolation thresholds), so results agree to the last few ulps.
//
// Stateless and thread-safe. Errors are ExecutionError (engine.h) with the
// message Prometheus gives.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/labels.h"
#include "tsdb/promql/value.h"

namespace strata::tsdb::promql::fn {

// Functions taking a range vector (rate, *_over_time, ...), evaluated over
// the points of one series inside one window (stale markers removed).
bool is_range_function(std::string_view name);

struct RangeArgs {
  std::int64_t eval_ts = 0;      // the step's timestamp
  std::int64_t range_start = 0;  // the window is (range_start, range_end]
  std::int64_t range_end = 0;
  double scalar1 = 0;  // predict_linear's t, quantile_over_time's q, smoothing factor
  double scalar2 = 0;  // trend factor
  // The caller knows that no sample of the window is below the one before
  // it (no counter reset): rate and increase skip their scan for resets.
  bool no_resets = false;
};

// nullopt: no output for this series at this step (too few points).
std::optional<double> eval_range(std::string_view name, std::span<const Point> window,
                                 const RangeArgs& args);

// Functions applied to every sample of an instant vector independently
// (abs, clamp, round, hour, ...). `args` are the scalar arguments at this
// step. nullopt: the sample is dropped (clamp with min > max).
bool is_elementwise(std::string_view name);
std::optional<double> eval_elementwise(std::string_view name, double v,
                                       std::span<const double> args);

// True for the functions whose output keeps __name__ (sort, label_replace,
// last_over_time, ...); every other function drops it.
bool keeps_metric_name(std::string_view name);

// label_replace(v, dst, replacement, src, regex) for one label set; throws
// ExecutionError for an invalid regex or destination label name.
class LabelReplace {
 public:
  LabelReplace(std::string dst, std::string replacement, std::string src, const std::string& regex);
  ~LabelReplace();
  Labels apply(const Labels& in) const;

 private:
  struct Impl;
  std::string dst_, replacement_, src_;
  std::unique_ptr<Impl> impl_;
};

Labels label_join(const Labels& in, const std::string& dst, const std::string& sep,
                  std::span<const std::string> srcs);

// Prometheus's quantile(): linear interpolation between closest ranks, NaN
// for no values, -Inf/+Inf for q < 0 / q > 1.
double quantile(double q, std::vector<double> values);

// histogram_quantile(q, classic buckets) at every step of `steps`: groups
// the bucket series by their labels other than `le` and __name__. A
// series' group and bound are worked out once per query, not per step;
// q[i] is the quantile at steps[i]. Groups are output in the order of
// their first series in `in`, each with a point at every step where one
// of its buckets has one.
Matrix histogram_quantile(std::span<const double> q, const Matrix& in,
                          std::span<const std::int64_t> steps, std::vector<std::string>* warnings);

// Neumaier-compensated summation step, as Prometheus's kahanSumInc.
void kahan_add(double inc, double& sum, double& c);

// Go's math.Max / math.Min (NaN wins, unlike std::fmax).
double go_max(double a, double b);
double go_min(double a, double b);

}  // namespace strata::tsdb::promql::fn
