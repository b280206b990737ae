#include "tsdb/promql/functions.h"

#include <algorithm>

namespace strata::tsdb::promql {

namespace {

constexpr ValueType S = ValueType::kScalar;
constexpr ValueType Str = ValueType::kString;
constexpr ValueType V = ValueType::kVector;
constexpr ValueType M = ValueType::kMatrix;

const std::vector<Function>& table() {
  // Sorted by name (all_functions() promises it; find_function() relies on it).
  static const std::vector<Function> functions = [] {
    std::vector<Function> f = {
        {"abs", {V}},
        {"absent", {V}},
        {"absent_over_time", {M}},
        {"acos", {V}},
        {"acosh", {V}},
        {"asin", {V}},
        {"asinh", {V}},
        {"atan", {V}},
        {"atanh", {V}},
        {"avg_over_time", {M}},
        {"ceil", {V}},
        {"changes", {M}},
        {"clamp", {V, S, S}},
        {"clamp_max", {V, S}},
        {"clamp_min", {V, S}},
        {"cos", {V}},
        {"cosh", {V}},
        {"count_over_time", {M}},
        {"day_of_month", {V}, 1},
        {"day_of_week", {V}, 1},
        {"day_of_year", {V}, 1},
        {"days_in_month", {V}, 1},
        {"deg", {V}},
        {"delta", {M}},
        {"deriv", {M}},
        {"double_exponential_smoothing", {M, S, S}},
        {"exp", {V}},
        {"floor", {V}},
        {"histogram_avg", {V}},
        {"histogram_count", {V}},
        {"histogram_fraction", {S, S, V}},
        {"histogram_quantile", {S, V}},
        {"histogram_stddev", {V}},
        {"histogram_stdvar", {V}},
        {"histogram_sum", {V}},
        {"hour", {V}, 1},
        {"idelta", {M}},
        {"increase", {M}},
        {"irate", {M}},
        {"label_join", {V, Str, Str, Str}, -1},
        {"label_replace", {V, Str, Str, Str, Str}},
        {"last_over_time", {M}},
        {"ln", {V}},
        {"log10", {V}},
        {"log2", {V}},
        {"mad_over_time", {M}},
        {"max_over_time", {M}},
        {"min_over_time", {M}},
        {"minute", {V}, 1},
        {"month", {V}, 1},
        {"pi", {}, 0, S},
        {"predict_linear", {M, S}},
        {"present_over_time", {M}},
        {"quantile_over_time", {S, M}},
        {"rad", {V}},
        {"rate", {M}},
        {"resets", {M}},
        {"round", {V, S}, 1},
        {"scalar", {V}, 0, S},
        {"sgn", {V}},
        {"sin", {V}},
        {"sinh", {V}},
        {"sort", {V}},
        {"sort_by_label", {V, Str}, -1},
        {"sort_by_label_desc", {V, Str}, -1},
        {"sort_desc", {V}},
        {"sqrt", {V}},
        {"stddev_over_time", {M}},
        {"stdvar_over_time", {M}},
        {"sum_over_time", {M}},
        {"tan", {V}},
        {"tanh", {V}},
        {"time", {}, 0, S},
        {"timestamp", {V}},
        {"vector", {S}},
        {"year", {V}, 1},
    };
    std::sort(f.begin(), f.end(),
              [](const Function& a, const Function& b) { return a.name < b.name; });
    return f;
  }();
  return functions;
}

}  // namespace

const Function* find_function(std::string_view name) {
  const auto& t = table();
  auto it = std::lower_bound(t.begin(), t.end(), name,
                             [](const Function& f, std::string_view n) { return f.name < n; });
  if (it == t.end() || it->name != name) return nullptr;
  return &*it;
}

std::span<const Function> all_functions() { return table(); }

}  // namespace strata::tsdb::promql
