#include "tsdb/promql/aggregation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "tsdb/promql/engine.h"
#include "tsdb/promql/function_eval.h"

namespace strata::tsdb::promql {

namespace {

using ast::AggregateOp;

struct Group {
  Labels labels;
  double value = 0;
  double kahan_c = 0;
  double mean = 0;
  double count = 0;
  bool incremental = false;          // avg switched to the incremental mean
  std::vector<double> values;        // quantile
  std::vector<std::size_t> members;  // topk, bottomk, limitk, limit_ratio: input indices
};

bool valid_label_name(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
          (i > 0 && c >= '0' && c <= '9')))
      return false;
  }
  return true;
}

// Where limit_ratio puts a series in [0, 1): its label hash, as Prometheus.
double sample_offset(const Labels& l) {
  return static_cast<double>(l.fingerprint()) /
         static_cast<double>(std::numeric_limits<std::uint64_t>::max());
}

}  // namespace

Labels group_labels(const Labels& labels, const std::vector<std::string>& names, bool without) {
  std::vector<Label> items;
  for (const auto& l : labels.items()) {
    bool listed = std::find(names.begin(), names.end(), l.first) != names.end();
    if (without ? (!listed && l.first != "__name__") : listed) items.push_back(l);
  }
  return Labels(std::move(items));
}

Vector aggregate(const ast::AggregateExpr& e, double param, const std::string& label,
                 const Vector& input) {
  const AggregateOp op = e.op;
  const Vector* in = &input;
  std::vector<std::string> grouping = e.grouping;
  Vector relabeled;
  if (op == AggregateOp::kCountValues) {
    if (!valid_label_name(label)) throw ExecutionError("invalid label name \"" + label + "\"");
    relabeled = input;
    for (auto& s : relabeled) s.labels.set(label, fn::format_value(s.v));
    if (!e.without) grouping.push_back(label);
    in = &relabeled;
  }
  std::int64_t k = 0;
  if (op == AggregateOp::kTopk || op == AggregateOp::kBottomk || op == AggregateOp::kLimitk) {
    if (std::isnan(param) || param >= 9.2233720368547758e18 || param <= -9.2233720368547758e18)
      throw ExecutionError("Scalar value " + fn::format_value(param) + " overflows int64");
    k = static_cast<std::int64_t>(param);
    if (k < 1) return {};
  }
  if (op == AggregateOp::kLimitRatio) {
    if (std::isnan(param))
      throw ExecutionError("Ratio value " + fn::format_value(param) + " is NaN");
    param = std::clamp(param, -1.0, 1.0);
  }

  std::map<Labels, std::size_t> index;
  std::vector<Group> groups;
  for (std::size_t i = 0; i < in->size(); ++i) {
    const Sample& s = (*in)[i];
    Labels key = group_labels(s.labels, grouping, e.without);
    auto [it, inserted] = index.try_emplace(key, groups.size());
    if (inserted) {
      Group g;
      g.labels = std::move(key);
      switch (op) {
        case AggregateOp::kSum:
        case AggregateOp::kAvg:
          g.value = s.v;
          break;
        case AggregateOp::kCount:
        case AggregateOp::kCountValues:
        case AggregateOp::kGroup:
          g.value = 1;
          break;
        case AggregateOp::kMin:
        case AggregateOp::kMax:
          g.value = s.v;
          break;
        case AggregateOp::kStddev:
        case AggregateOp::kStdvar:
          g.value = 0;
          g.mean = s.v;
          break;
        case AggregateOp::kQuantile:
          g.values.push_back(s.v);
          break;
        case AggregateOp::kTopk:
        case AggregateOp::kBottomk:
        case AggregateOp::kLimitk:
          g.members.push_back(i);
          break;
        case AggregateOp::kLimitRatio: {
          double off = sample_offset(s.labels);
          if ((param >= 0 && off < param) || (param < 0 && off >= 1 + param))
            g.members.push_back(i);
          break;
        }
      }
      g.count = 1;
      groups.push_back(std::move(g));
      continue;
    }
    Group& g = groups[it->second];
    g.count += 1;
    switch (op) {
      case AggregateOp::kSum:
        fn::kahan_add(s.v, g.value, g.kahan_c);
        break;
      case AggregateOp::kAvg: {
        if (!g.incremental) {
          double ns = g.value, nc = g.kahan_c;
          fn::kahan_add(s.v, ns, nc);
          if (!std::isinf(ns)) {
            g.value = ns;
            g.kahan_c = nc;
            break;
          }
          // The running sum would overflow: continue with the incremental mean.
          g.incremental = true;
          g.mean = g.value / (g.count - 1);
          g.kahan_c /= g.count - 1;
        }
        if (std::isinf(g.mean)) {
          if (std::isinf(s.v) && (g.mean > 0) == (s.v > 0)) break;
          if (!std::isinf(s.v) && !std::isnan(s.v)) break;
        }
        double corrected = g.mean + g.kahan_c;
        fn::kahan_add(s.v / g.count - corrected / g.count, g.mean, g.kahan_c);
        break;
      }
      case AggregateOp::kCount:
      case AggregateOp::kCountValues:
        g.value += 1;
        break;
      case AggregateOp::kGroup:
        break;
      case AggregateOp::kMin:
        if (g.value > s.v || std::isnan(g.value)) g.value = s.v;
        break;
      case AggregateOp::kMax:
        if (g.value < s.v || std::isnan(g.value)) g.value = s.v;
        break;
      case AggregateOp::kStddev:
      case AggregateOp::kStdvar: {
        double delta = s.v - g.mean;
        g.mean += delta / g.count;
        g.value += delta * (s.v - g.mean);
        break;
      }
      case AggregateOp::kQuantile:
        g.values.push_back(s.v);
        break;
      case AggregateOp::kTopk:
      case AggregateOp::kBottomk:
      case AggregateOp::kLimitk:
        g.members.push_back(i);
        break;
      case AggregateOp::kLimitRatio: {
        double off = sample_offset(s.labels);
        if ((param >= 0 && off < param) || (param < 0 && off >= 1 + param)) g.members.push_back(i);
        break;
      }
    }
  }

  Vector out;
  for (auto& g : groups) {
    switch (op) {
      case AggregateOp::kSum:
        out.push_back({g.labels, 0, g.value + g.kahan_c});
        break;
      case AggregateOp::kAvg:
        out.push_back(
            {g.labels, 0, g.incremental ? g.mean + g.kahan_c : (g.value + g.kahan_c) / g.count});
        break;
      case AggregateOp::kCount:
      case AggregateOp::kCountValues:
      case AggregateOp::kGroup:
      case AggregateOp::kMin:
      case AggregateOp::kMax:
        out.push_back({g.labels, 0, g.value});
        break;
      case AggregateOp::kStdvar:
        out.push_back({g.labels, 0, g.value / g.count});
        break;
      case AggregateOp::kStddev:
        out.push_back({g.labels, 0, std::sqrt(g.value / g.count)});
        break;
      case AggregateOp::kQuantile:
        out.push_back({g.labels, 0, fn::quantile(param, std::move(g.values))});
        break;
      case AggregateOp::kTopk:
      case AggregateOp::kBottomk: {
        // Prometheus keeps a heap: a later sample replaces an earlier one only
        // when strictly better, so ties go to the earlier series. NaN loses.
        bool top = op == AggregateOp::kTopk;
        auto better = [&](std::size_t a, std::size_t b) {
          double x = (*in)[a].v, y = (*in)[b].v;
          if (std::isnan(x)) return false;
          if (std::isnan(y)) return true;
          return top ? x > y : x < y;
        };
        std::stable_sort(g.members.begin(), g.members.end(), better);
        std::size_t n = std::min<std::size_t>(g.members.size(), static_cast<std::size_t>(k));
        for (std::size_t j = 0; j < n; ++j) {
          const Sample& s = (*in)[g.members[j]];
          out.push_back({s.labels, 0, s.v});
        }
        break;
      }
      case AggregateOp::kLimitk:
      case AggregateOp::kLimitRatio: {
        std::size_t n = g.members.size();
        if (op == AggregateOp::kLimitk) n = std::min<std::size_t>(n, static_cast<std::size_t>(k));
        for (std::size_t j = 0; j < n; ++j) {
          const Sample& s = (*in)[g.members[j]];
          out.push_back({s.labels, 0, s.v});
        }
        break;
      }
    }
  }
  return out;
}

}  // namespace strata::tsdb::promql
