#include "tsdb/promql/aggregation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "common/wire_format.h"
#include "tsdb/promql/engine.h"
#include "tsdb/promql/function_eval.h"
#include "tsdb/promql/printer.h"

namespace strata::tsdb::promql {

namespace {

using ast::AggregateOp;

struct Group {
  double value = 0;
  double kahan_c = 0;
  double mean = 0;
  double count = 0;
  bool incremental = false;    // avg switched to the incremental mean
  std::vector<double> values;  // quantile
};

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
    if (!wire::valid_label_name(label))
      throw ExecutionError("invalid label name \"" + label + "\"");
    relabeled = input;
    for (auto& s : relabeled) s.labels.set(label, format_number(s.v));
    if (!e.without) grouping.push_back(label);
    in = &relabeled;
  }
  if (selects_samples(op)) param = selection_param(op, param);

  const auto [keys, group_of] = assign_groups(
      in->size(), [&](std::size_t i) -> const Labels& { return (*in)[i].labels; }, grouping,
      e.without);

  Vector out;
  if (!selects_samples(op)) {
    std::vector<double> values(in->size());
    for (std::size_t i = 0; i < in->size(); ++i) values[i] = (*in)[i].v;
    for (auto [g, v] : aggregate_grouped(op, param, values, group_of, keys.size()))
      out.push_back({keys[g], 0, v});
    return out;
  }

  std::vector<double> values(in->size()), offsets;
  for (std::size_t i = 0; i < in->size(); ++i) values[i] = (*in)[i].v;
  if (op == AggregateOp::kLimitRatio)
    for (const auto& x : *in) offsets.push_back(ratio_offset(x.labels));
  for (std::size_t i : select_samples(op, param, values, group_of, keys.size(), offsets))
    out.push_back({(*in)[i].labels, 0, (*in)[i].v});
  return out;
}

double selection_param(ast::AggregateOp op, double param) {
  if (op == AggregateOp::kLimitRatio) {
    if (std::isnan(param)) throw ExecutionError("Ratio value " + format_number(param) + " is NaN");
    return std::clamp(param, -1.0, 1.0);
  }
  if (std::isnan(param) || param >= 9.2233720368547758e18 || param <= -9.2233720368547758e18)
    throw ExecutionError("Scalar value " + format_number(param) + " overflows int64");
  return static_cast<double>(static_cast<std::int64_t>(param));
}

double ratio_offset(const Labels& l) {
  return static_cast<double>(l.fingerprint()) /
         static_cast<double>(std::numeric_limits<std::uint64_t>::max());
}

namespace {

// Prometheus's topk/bottomk, step for step: a heap of at most k samples
// (Go's container/heap over vectorByValueHeap or vectorByReverseValueHeap),
// a later sample replacing the top only when strictly better, then the heap
// sorted in reverse. Which of several equal values is kept -- and the order
// of the output -- follows from the heap's layout, so it is reproduced
// exactly rather than approximated by a sort.
std::vector<std::size_t> go_heap_select(std::span<const std::size_t> members,
                                        std::span<const double> values, std::size_t k, bool top) {
  std::vector<std::size_t> h;
  // Less(i, j) of the Go heap: NaN first, then ascending (topk) or
  // descending (bottomk) values.
  auto less = [&](std::size_t a, std::size_t b) {
    const double x = values[h[a]], y = values[h[b]];
    if (std::isnan(x)) return true;
    return top ? x < y : x > y;
  };
  auto up = [&](std::size_t j) {
    while (j > 0) {
      const std::size_t i = (j - 1) / 2;
      if (!less(j, i)) break;
      std::swap(h[i], h[j]);
      j = i;
    }
  };
  auto down = [&](std::size_t i0) {
    std::size_t i = i0;
    const std::size_t n = h.size();
    for (;;) {
      const std::size_t j1 = 2 * i + 1;
      if (j1 >= n) break;
      std::size_t j = j1;
      if (j1 + 1 < n && less(j1 + 1, j1)) j = j1 + 1;
      if (!less(j, i)) break;
      std::swap(h[i], h[j]);
      i = j;
    }
    return i > i0;
  };
  for (std::size_t s : members) {
    if (h.size() < k) {
      h.push_back(s);
      up(h.size() - 1);
      continue;
    }
    const double head = values[h[0]], v = values[s];
    if ((top ? head < v : head > v) || (std::isnan(head) && !std::isnan(v))) {
      h[0] = s;
      if (k > 1 && !down(0)) up(0);
    }
  }
  // sort.Sort(sort.Reverse(heap)): Go sorts up to 12 elements by insertion
  // (stable); larger heaps only need a valid order.
  auto greater = [&](std::size_t a, std::size_t b) { return less(b, a); };
  if (h.size() <= 12) {
    for (std::size_t i = 1; i < h.size(); ++i)
      for (std::size_t j = i; j > 0 && greater(j, j - 1); --j) std::swap(h[j], h[j - 1]);
  } else {
    std::vector<std::size_t> keyed = h;
    std::stable_sort(keyed.begin(), keyed.end(), [&](std::size_t a, std::size_t b) {
      const double x = values[a], y = values[b];
      if (std::isnan(x) || std::isnan(y)) return !std::isnan(x) && std::isnan(y);
      return top ? x > y : x < y;
    });
    h = std::move(keyed);
  }
  return h;
}

}  // namespace

std::vector<std::size_t> select_samples(ast::AggregateOp op, double param,
                                        std::span<const double> values,
                                        std::span<const std::size_t> group_of,
                                        std::size_t num_groups, std::span<const double> offsets) {
  std::vector<std::size_t> out;
  if (op != AggregateOp::kLimitRatio && param < 1) return out;
  std::vector<std::vector<std::size_t>> members(num_groups);
  std::vector<bool> seen(num_groups);
  std::vector<std::size_t> order;  // groups in order of their first sample
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!seen[group_of[i]]) {
      seen[group_of[i]] = true;
      order.push_back(group_of[i]);
    }
    if (op == AggregateOp::kLimitRatio) {
      double off = offsets[i];
      if (!((param >= 0 && off < param) || (param < 0 && off >= 1 + param))) continue;
    }
    members[group_of[i]].push_back(i);
  }
  for (std::size_t g : order) {
    auto& m = members[g];
    std::size_t n = m.size();
    if (op == AggregateOp::kTopk || op == AggregateOp::kBottomk) {
      const std::size_t k = static_cast<std::size_t>(std::min<double>(param, 1e18));
      m = go_heap_select(m, values, k, op == AggregateOp::kTopk);
      n = m.size();
    }
    if (op != AggregateOp::kLimitRatio)
      n = std::min<std::size_t>(n, static_cast<std::size_t>(param));
    out.insert(out.end(), m.begin(), m.begin() + static_cast<std::ptrdiff_t>(n));
  }
  return out;
}

bool selects_samples(ast::AggregateOp op) {
  return op == AggregateOp::kTopk || op == AggregateOp::kBottomk || op == AggregateOp::kLimitk ||
         op == AggregateOp::kLimitRatio;
}

std::vector<std::pair<std::size_t, double>> aggregate_grouped(ast::AggregateOp op, double param,
                                                              std::span<const double> values,
                                                              std::span<const std::size_t> group_of,
                                                              std::size_t num_groups) {
  std::vector<Group> groups(num_groups);
  std::vector<std::size_t> order;  // groups in order of their first sample
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double v = values[i];
    Group& g = groups[group_of[i]];
    if (g.count == 0) {
      order.push_back(group_of[i]);
      switch (op) {
        case AggregateOp::kSum:
        case AggregateOp::kAvg:
        case AggregateOp::kMin:
        case AggregateOp::kMax:
          g.value = v;
          break;
        case AggregateOp::kStddev:
        case AggregateOp::kStdvar:
          g.value = 0;
          g.mean = v;
          break;
        case AggregateOp::kQuantile:
          g.values.push_back(v);
          break;
        default:  // count, count_values, group
          g.value = 1;
          break;
      }
      g.count = 1;
      continue;
    }
    g.count += 1;
    switch (op) {
      case AggregateOp::kSum:
        fn::kahan_add(v, g.value, g.kahan_c);
        break;
      case AggregateOp::kAvg: {
        if (!g.incremental) {
          double ns = g.value, nc = g.kahan_c;
          fn::kahan_add(v, ns, nc);
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
          if (std::isinf(v) && (g.mean > 0) == (v > 0)) break;
          if (!std::isinf(v) && !std::isnan(v)) break;
        }
        double corrected = g.mean + g.kahan_c;
        fn::kahan_add(v / g.count - corrected / g.count, g.mean, g.kahan_c);
        break;
      }
      case AggregateOp::kCount:
      case AggregateOp::kCountValues:
        g.value += 1;
        break;
      case AggregateOp::kMin:
        if (g.value > v || std::isnan(g.value)) g.value = v;
        break;
      case AggregateOp::kMax:
        if (g.value < v || std::isnan(g.value)) g.value = v;
        break;
      case AggregateOp::kStddev:
      case AggregateOp::kStdvar: {
        double delta = v - g.mean;
        g.mean += delta / g.count;
        g.value += delta * (v - g.mean);
        break;
      }
      case AggregateOp::kQuantile:
        g.values.push_back(v);
        break;
      default:  // group
        break;
    }
  }
  std::vector<std::pair<std::size_t, double>> out;
  out.reserve(order.size());
  for (std::size_t gi : order) {
    Group& g = groups[gi];
    double v = g.value;
    switch (op) {
      case AggregateOp::kSum:
        v = g.value + g.kahan_c;
        break;
      case AggregateOp::kAvg:
        v = g.incremental ? g.mean + g.kahan_c : (g.value + g.kahan_c) / g.count;
        break;
      case AggregateOp::kStdvar:
        v = g.value / g.count;
        break;
      case AggregateOp::kStddev:
        v = std::sqrt(g.value / g.count);
        break;
      case AggregateOp::kQuantile:
        v = fn::quantile(param, std::move(g.values));
        break;
      default:
        break;
    }
    out.emplace_back(gi, v);
  }
  return out;
}

}  // namespace strata::tsdb::promql
