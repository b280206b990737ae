#include "tsdb/promql/function_eval.h"

#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <numbers>
#include <unordered_map>
#include <unordered_set>

#include "tsdb/promql/engine.h"
#include "tsdb/promql/printer.h"

namespace strata::tsdb::promql::fn {

namespace {

constexpr std::string_view kRangeFunctions[] = {
    "absent_over_time",
    "avg_over_time",
    "changes",
    "count_over_time",
    "delta",
    "deriv",
    "double_exponential_smoothing",
    "idelta",
    "increase",
    "irate",
    "last_over_time",
    "mad_over_time",
    "max_over_time",
    "min_over_time",
    "predict_linear",
    "present_over_time",
    "quantile_over_time",
    "rate",
    "resets",
    "stddev_over_time",
    "stdvar_over_time",
    "sum_over_time",
};

// Prometheus's extrapolatedRate (functions.go, Prometheus 3): the increase
// seen between the first and last sample, extrapolated towards the window
// edges unless the series seems to start or end inside the window.
std::optional<double> extrapolated_rate(std::span<const Point> s, const RangeArgs& a,
                                        bool is_counter, bool is_rate) {
  if (s.size() < 2) return std::nullopt;
  double result = s.back().v - s.front().v;
  if (is_counter && !a.no_resets) {
    double last = 0;
    for (const auto& p : s) {
      if (p.v < last) result += last;
      last = p.v;
    }
  }
  const double duration_to_start_raw = static_cast<double>(s.front().t - a.range_start) / 1000;
  double duration_to_start = duration_to_start_raw;
  double duration_to_end = static_cast<double>(a.range_end - s.back().t) / 1000;
  const double sampled = static_cast<double>(s.back().t - s.front().t) / 1000;
  const double avg_between = sampled / static_cast<double>(s.size() - 1);
  const double threshold = avg_between * 1.1;
  double interval = sampled;
  if (duration_to_start >= threshold) duration_to_start = avg_between / 2;
  if (is_counter && result > 0 && s.front().v >= 0) {
    // A counter cannot go below zero: do not extrapolate past its zero point.
    double to_zero = sampled * (s.front().v / result);
    if (to_zero < duration_to_start) duration_to_start = to_zero;
  }
  interval += duration_to_start;
  if (duration_to_end >= threshold) duration_to_end = avg_between / 2;
  interval += duration_to_end;
  double factor = interval / sampled;
  if (is_rate) factor /= static_cast<double>(a.range_end - a.range_start) / 1000;
  return result * factor;
}

std::optional<double> instant_value(std::span<const Point> s, bool is_rate) {
  if (s.size() < 2) return std::nullopt;
  const Point& p0 = s[s.size() - 2];
  const Point& p1 = s[s.size() - 1];
  std::int64_t interval = p1.t - p0.t;
  if (interval == 0) return std::nullopt;
  double result = p1.v;
  if (!is_rate || !(p1.v < p0.v)) result = p1.v - p0.v;
  if (is_rate) result /= static_cast<double>(interval) / 1000;
  return result;
}

// Least squares fit with x relative to `intercept_time`, in seconds.
std::pair<double, double> linear_regression(std::span<const Point> s, std::int64_t intercept_time) {
  double n = 0, sum_x = 0, c_x = 0, sum_y = 0, c_y = 0, sum_xy = 0, c_xy = 0, sum_x2 = 0, c_x2 = 0;
  const double init_y = s[0].v;
  bool const_y = true;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (const_y && i > 0 && s[i].v != init_y) const_y = false;
    n += 1;
    double x = static_cast<double>(s[i].t - intercept_time) / 1e3;
    kahan_add(x, sum_x, c_x);
    kahan_add(s[i].v, sum_y, c_y);
    kahan_add(x * s[i].v, sum_xy, c_xy);
    kahan_add(x * x, sum_x2, c_x2);
  }
  if (const_y) {
    if (std::isinf(init_y)) return {NAN, NAN};
    return {0, init_y};
  }
  sum_x += c_x;
  sum_y += c_y;
  sum_xy += c_xy;
  sum_x2 += c_x2;
  double cov_xy = sum_xy - sum_x * sum_y / n;
  double var_x = sum_x2 - sum_x * sum_x / n;
  double slope = cov_xy / var_x;
  double intercept = sum_y / n - slope * sum_x / n;
  return {slope, intercept};
}

double avg_over(std::span<const Point> s) {
  // Direct mean with Kahan summation while the sum stays finite, then the
  // incremental mean (Prometheus 3's funcAvgOverTime).
  double sum = 0, mean = 0, count = 0, c = 0;
  bool incremental = false;
  for (const auto& p : s) {
    count += 1;
    if (!incremental) {
      double ns = sum, nc = c;
      kahan_add(p.v, ns, nc);
      if (count == 1 || !std::isinf(ns)) {
        sum = ns;
        c = nc;
        continue;
      }
      incremental = true;
      mean = sum / (count - 1);
      c /= count - 1;
    }
    if (std::isinf(mean)) {
      if (std::isinf(p.v) && (mean > 0) == (p.v > 0)) continue;
      if (!std::isinf(p.v) && !std::isnan(p.v)) continue;
    }
    double corrected = mean + c;
    kahan_add(p.v / count - corrected / count, mean, c);
  }
  if (incremental) return mean + c;
  return (sum + c) / count;
}

double variance_over(std::span<const Point> s) {
  double count = 0, mean = 0, c_mean = 0, aux = 0, c_aux = 0;
  for (const auto& p : s) {
    count += 1;
    double delta = p.v - (mean + c_mean);
    kahan_add(delta / count, mean, c_mean);
    kahan_add(delta * (p.v - (mean + c_mean)), aux, c_aux);
  }
  return (aux + c_aux) / count;
}

std::optional<double> smoothing(std::span<const Point> s, double sf, double tf) {
  if (!(sf > 0 && sf < 1))
    throw ExecutionError("invalid smoothing factor. Expected: 0 < sf < 1, got: " +
                         std::to_string(sf));
  if (!(tf > 0 && tf < 1))
    throw ExecutionError("invalid trend factor. Expected: 0 < tf < 1, got: " + std::to_string(tf));
  if (s.size() < 2) return std::nullopt;
  double s0 = 0, s1 = s[0].v, b = s[1].v - s[0].v;
  for (std::size_t i = 1; i < s.size(); ++i) {
    double x = sf * s[i].v;
    if (i > 1) b = tf * (s1 - s0) + (1 - tf) * b;
    double y = (1 - sf) * (s1 + b);
    s0 = s1;
    s1 = x + y;
  }
  return s1;
}

// Days since 1970-01-01 -> civil date (Howard Hinnant's algorithm).
struct Civil {
  std::int64_t year;
  unsigned month, day;
};
Civil civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {m <= 2 ? y + 1 : y, m, d};
}
bool is_leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
unsigned days_in(std::int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

std::optional<double> date_part(std::string_view name, double v) {
  if (!std::isfinite(v)) return NAN;
  // Go's time.Unix(int64(v), 0): truncation toward zero.
  auto secs = static_cast<std::int64_t>(v);
  std::int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  std::int64_t sod = secs - days * 86400;
  Civil c = civil_from_days(days);
  if (name == "minute") return static_cast<double>((sod / 60) % 60);
  if (name == "hour") return static_cast<double>(sod / 3600);
  if (name == "day_of_week") return static_cast<double>(((days % 7) + 11) % 7);
  if (name == "day_of_month") return c.day;
  if (name == "day_of_year") {
    unsigned doy = c.day;
    for (unsigned m = 1; m < c.month; ++m) doy += days_in(c.year, m);
    return doy;
  }
  if (name == "days_in_month") return days_in(c.year, c.month);
  if (name == "month") return c.month;
  if (name == "year") return static_cast<double>(c.year);
  return std::nullopt;
}

bool less_nan_first(double a, double b) {
  if (std::isnan(a)) return !std::isnan(b);
  if (std::isnan(b)) return false;
  return a < b;
}

bool valid_label_name(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

}  // namespace

void kahan_add(double inc, double& sum, double& c) {
  double t = sum + inc;
  if (std::isinf(t)) {
    c = 0;
  } else if (std::fabs(sum) >= std::fabs(inc)) {
    c += (sum - t) + inc;
  } else {
    c += (inc - t) + sum;
  }
  sum = t;
}

double go_max(double a, double b) {
  if (std::isinf(a) && a > 0) return a;
  if (std::isinf(b) && b > 0) return b;
  if (std::isnan(a) || std::isnan(b)) return NAN;
  if (a == 0 && b == 0) return std::signbit(a) ? b : a;
  return a > b ? a : b;
}

double go_min(double a, double b) {
  if (std::isinf(a) && a < 0) return a;
  if (std::isinf(b) && b < 0) return b;
  if (std::isnan(a) || std::isnan(b)) return NAN;
  if (a == 0 && b == 0) return std::signbit(a) ? a : b;
  return a < b ? a : b;
}

bool is_range_function(std::string_view name) {
  return std::find(std::begin(kRangeFunctions), std::end(kRangeFunctions), name) !=
         std::end(kRangeFunctions);
}

std::optional<double> eval_range(std::string_view name, std::span<const Point> s,
                                 const RangeArgs& a) {
  if (s.empty()) return std::nullopt;
  if (name == "rate") return extrapolated_rate(s, a, true, true);
  if (name == "increase") return extrapolated_rate(s, a, true, false);
  if (name == "delta") return extrapolated_rate(s, a, false, false);
  if (name == "irate") return instant_value(s, true);
  if (name == "idelta") return instant_value(s, false);
  if (name == "deriv") {
    if (s.size() < 2) return std::nullopt;
    return linear_regression(s, s[0].t).first;
  }
  if (name == "predict_linear") {
    if (s.size() < 2) return std::nullopt;
    auto [slope, intercept] = linear_regression(s, a.eval_ts);
    return slope * a.scalar1 + intercept;
  }
  if (name == "resets" || name == "changes") {
    double n = 0;
    double prev = s[0].v;
    for (std::size_t i = 1; i < s.size(); ++i) {
      double cur = s[i].v;
      if (name == "resets" ? cur < prev : (cur != prev && !(std::isnan(cur) && std::isnan(prev))))
        n += 1;
      prev = cur;
    }
    return n;
  }
  if (name == "avg_over_time") return avg_over(s);
  if (name == "sum_over_time") {
    double sum = 0, c = 0;
    for (const auto& p : s) kahan_add(p.v, sum, c);
    return sum + c;
  }
  if (name == "count_over_time") return static_cast<double>(s.size());
  if (name == "present_over_time") return 1.0;
  if (name == "last_over_time") return s.back().v;
  if (name == "min_over_time" || name == "max_over_time") {
    bool is_min = name == "min_over_time";
    double r = s[0].v;
    for (const auto& p : s)
      if ((is_min ? p.v < r : p.v > r) || std::isnan(r)) r = p.v;
    return r;
  }
  if (name == "stdvar_over_time") return variance_over(s);
  if (name == "stddev_over_time") return std::sqrt(variance_over(s));
  if (name == "quantile_over_time") {
    std::vector<double> v;
    v.reserve(s.size());
    for (const auto& p : s) v.push_back(p.v);
    return quantile(a.scalar1, std::move(v));
  }
  if (name == "mad_over_time") {
    std::vector<double> v;
    for (const auto& p : s) v.push_back(p.v);
    double median = quantile(0.5, v);
    for (auto& x : v) x = std::fabs(x - median);
    return quantile(0.5, std::move(v));
  }
  if (name == "double_exponential_smoothing") return smoothing(s, a.scalar1, a.scalar2);
  throw ExecutionError("function \"" + std::string(name) + "\" is not a range-vector function");
}

bool is_elementwise(std::string_view name) {
  static const std::unordered_set<std::string_view> kNames = {
      "abs",   "ceil",        "floor",        "exp",         "sqrt",          "ln",        "log2",
      "log10", "sgn",         "deg",          "rad",         "sin",           "cos",       "tan",
      "asin",  "acos",        "atan",         "sinh",        "cosh",          "tanh",      "asinh",
      "acosh", "atanh",       "round",        "clamp",       "clamp_min",     "clamp_max", "minute",
      "hour",  "day_of_week", "day_of_month", "day_of_year", "days_in_month", "month",     "year"};
  return kNames.contains(name);
}

std::optional<double> eval_elementwise(std::string_view name, double v,
                                       std::span<const double> args) {
  if (name == "abs") return std::fabs(v);
  if (name == "ceil") return std::ceil(v);
  if (name == "floor") return std::floor(v);
  if (name == "exp") return std::exp(v);
  if (name == "sqrt") return std::sqrt(v);
  if (name == "ln") return std::log(v);
  if (name == "log2") return std::log2(v);
  if (name == "log10") return std::log10(v);
  if (name == "sgn") return v < 0 ? -1.0 : v > 0 ? 1.0 : v;
  if (name == "deg") return v * 180 / std::numbers::pi;
  if (name == "rad") return v * std::numbers::pi / 180;
  if (name == "sin") return std::sin(v);
  if (name == "cos") return std::cos(v);
  if (name == "tan") return std::tan(v);
  if (name == "asin") return std::asin(v);
  if (name == "acos") return std::acos(v);
  if (name == "atan") return std::atan(v);
  if (name == "sinh") return std::sinh(v);
  if (name == "cosh") return std::cosh(v);
  if (name == "tanh") return std::tanh(v);
  if (name == "asinh") return std::asinh(v);
  if (name == "acosh") return std::acosh(v);
  if (name == "atanh") return std::atanh(v);
  if (name == "round") {
    double to_nearest = args.empty() ? 1.0 : args[0];
    double inverse = 1.0 / to_nearest;
    return std::floor(v * inverse + 0.5) / inverse;
  }
  if (name == "clamp") {
    if (args[1] < args[0]) return std::nullopt;
    return go_max(args[0], go_min(args[1], v));
  }
  if (name == "clamp_min") return go_max(args[0], v);
  if (name == "clamp_max") return go_min(args[0], v);
  return date_part(name, v);
}

bool keeps_metric_name(std::string_view name) {
  return name == "sort" || name == "sort_desc" || name == "sort_by_label" ||
         name == "sort_by_label_desc" || name == "label_replace" || name == "label_join" ||
         name == "last_over_time";
}

struct LabelReplace::Impl {
  std::unique_ptr<re2::RE2> re;
};

LabelReplace::LabelReplace(std::string dst, std::string replacement, std::string src,
                           const std::string& regex)
    : dst_(std::move(dst)),
      replacement_(std::move(replacement)),
      src_(std::move(src)),
      impl_(std::make_unique<Impl>()) {
  re2::RE2::Options opts;
  opts.set_log_errors(false);
  opts.set_dot_nl(true);
  impl_->re = std::make_unique<re2::RE2>("^(?:" + regex + ")$", opts);
  if (!impl_->re->ok())
    throw ExecutionError("invalid regular expression in label_replace(): " + regex + ": " +
                         impl_->re->error());
  if (!valid_label_name(dst_))
    throw ExecutionError("invalid destination label name in label_replace(): " + dst_);
}

LabelReplace::~LabelReplace() = default;

Labels LabelReplace::apply(const Labels& in) const {
  const re2::RE2& re = *impl_->re;
  std::string_view src = in.get(src_);
  int n = re.NumberOfCapturingGroups() + 1;
  std::vector<re2::StringPiece> groups(static_cast<std::size_t>(n));
  if (!re.Match(src, 0, src.size(), re2::RE2::UNANCHORED, groups.data(), n)) return in;
  // Go's regexp.Expand: $1, ${1}, $name, ${name}, $$; an unknown group is "".
  const auto& named = re.NamedCapturingGroups();
  auto group = [&](std::string_view ref) -> std::string_view {
    int idx = -1;
    if (!ref.empty() &&
        std::all_of(ref.begin(), ref.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      idx = std::atoi(std::string(ref).c_str());
    } else if (auto it = named.find(std::string(ref)); it != named.end()) {
      idx = it->second;
    }
    if (idx < 0 || idx >= n) return {};
    return std::string_view(groups[static_cast<std::size_t>(idx)].data(),
                            groups[static_cast<std::size_t>(idx)].size());
  };
  std::string out;
  const std::string& t = replacement_;
  for (std::size_t i = 0; i < t.size();) {
    if (t[i] != '$' || i + 1 >= t.size()) {
      out += t[i++];
      continue;
    }
    if (t[i + 1] == '$') {
      out += '$';
      i += 2;
      continue;
    }
    auto is_name = [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    };
    if (t[i + 1] == '{') {
      auto close = t.find('}', i + 2);
      std::string_view ref = close == std::string::npos
                                 ? std::string_view()
                                 : std::string_view(t).substr(i + 2, close - i - 2);
      if (close == std::string::npos || ref.empty() ||
          !std::all_of(ref.begin(), ref.end(), is_name)) {
        out += t[i++];  // not a valid reference: copied literally
        continue;
      }
      out += group(ref);
      i = close + 1;
      continue;
    }
    std::size_t j = i + 1;
    while (j < t.size() && is_name(t[j])) ++j;
    if (j == i + 1) {
      out += t[i++];
      continue;
    }
    out += group(std::string_view(t).substr(i + 1, j - i - 1));
    i = j;
  }
  std::vector<Label> items;
  for (const auto& l : in.items())
    if (l.first != dst_) items.push_back(l);
  if (!out.empty()) items.emplace_back(dst_, out);
  return Labels(std::move(items));
}

Labels label_join(const Labels& in, const std::string& dst, const std::string& sep,
                  std::span<const std::string> srcs) {
  if (!valid_label_name(dst))
    throw ExecutionError("invalid destination label name in label_join(): " + dst);
  std::string joined;
  for (std::size_t i = 0; i < srcs.size(); ++i) {
    if (i > 0) joined += sep;
    joined += in.get(srcs[i]);
  }
  std::vector<Label> items;
  for (const auto& l : in.items())
    if (l.first != dst) items.push_back(l);
  if (!joined.empty()) items.emplace_back(dst, joined);
  return Labels(std::move(items));
}

double quantile(double q, std::vector<double> values) {
  if (values.empty() || std::isnan(q)) return NAN;
  if (q < 0) return -INFINITY;
  if (q > 1) return INFINITY;
  std::sort(values.begin(), values.end(), less_nan_first);
  double n = static_cast<double>(values.size());
  double rank = q * (n - 1);
  double lower = std::max(0.0, std::floor(rank));
  double upper = std::min(n - 1, lower + 1);
  double weight = rank - std::floor(rank);
  return values[static_cast<std::size_t>(lower)] * (1 - weight) +
         values[static_cast<std::size_t>(upper)] * weight;
}

namespace {

struct Bucket {
  double upper;
  double count;
};

bool parse_go_float(std::string_view s, double* out) {
  if (s.empty()) return false;
  std::string str(s);
  std::string lower = str;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "+inf" || lower == "inf" || lower == "+infinity" || lower == "infinity") {
    *out = INFINITY;
    return true;
  }
  if (lower == "-inf" || lower == "-infinity") {
    *out = -INFINITY;
    return true;
  }
  if (lower == "nan") {
    *out = NAN;
    return true;
  }
  char* end = nullptr;
  *out = std::strtod(str.c_str(), &end);
  return end == str.c_str() + str.size();
}

// Prometheus's util/almost.Equal.
bool almost_equal(double a, double b, double epsilon) {
  constexpr double kMinNormal = 2.2250738585072014e-308;
  if (std::isnan(a) && std::isnan(b)) return true;
  if (a == b) return true;
  double abs_sum = std::fabs(a) + std::fabs(b);
  double diff = std::fabs(a - b);
  if (a == 0 || b == 0 || abs_sum < kMinNormal) return diff < epsilon * kMinNormal;
  return diff / std::min(abs_sum, std::numeric_limits<double>::max()) < epsilon;
}

// `b` is sorted by bound (callers pass it so) and is used as scratch.
double bucket_quantile(double q, std::vector<Bucket>& b) {
  if (std::isnan(q)) return NAN;
  if (q < 0) return -INFINITY;
  if (q > 1) return INFINITY;
  if (b.empty() || !(std::isinf(b.back().upper) && b.back().upper > 0)) return NAN;
  // Coalesce buckets with the same bound (from series differing in name only).
  std::size_t n = 0;
  for (const auto& x : b) {
    if (n > 0 && b[n - 1].upper == x.upper)
      b[n - 1].count += x.count;
    else
      b[n++] = x;
  }
  b.resize(n);
  // Force monotonic counts; ignore differences that are float noise.
  double prev = b[0].count;
  for (std::size_t i = 1; i < b.size(); ++i) {
    double cur = b[i].count;
    if (cur == prev) continue;
    if (almost_equal(prev, cur, 1e-12) || cur < prev) {
      b[i].count = prev;
      continue;
    }
    prev = cur;
  }
  if (b.size() < 2) return NAN;
  double observations = b.back().count;
  if (observations == 0) return NAN;
  double rank = q * observations;
  std::size_t idx = 0;
  while (idx < b.size() - 1 && !(b[idx].count >= rank)) ++idx;
  if (idx == b.size() - 1) return b[b.size() - 2].upper;
  if (idx == 0 && b[0].upper <= 0) return b[0].upper;
  double start = 0, end = b[idx].upper, count = b[idx].count;
  if (idx > 0) {
    start = b[idx - 1].upper;
    count -= b[idx - 1].count;
    rank -= b[idx - 1].count;
  }
  return start + (end - start) * (rank / count);
}

}  // namespace

Matrix histogram_quantile(std::span<const double> q, const Matrix& in,
                          std::span<const std::int64_t> steps, std::vector<std::string>* warnings) {
  // Group every bucket series once: its group and its upper bound.
  struct Member {
    double upper;
    std::size_t series;
  };
  std::map<Labels, std::size_t> group_ids;
  std::vector<Series> out;
  std::vector<std::vector<Member>> members;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const Labels& l = in[i].labels;
    double upper = 0;
    if (!parse_go_float(l.get("le"), &upper)) {
      if (warnings)
        warnings->push_back(
            "PromQL warning: bucket label \"le\" is missing or has a malformed "
            "value of \"" +
            std::string(l.get("le")) + "\"");
      continue;
    }
    std::vector<Label> items;
    for (const auto& x : l.items())
      if (x.first != "le" && x.first != "__name__") items.push_back(x);
    auto [it, inserted] = group_ids.try_emplace(Labels(std::move(items)), out.size());
    if (inserted) {
      out.push_back(Series{it->first, {}});
      members.emplace_back();
    }
    members[it->second].push_back({upper, i});
  }
  // Ascending bounds, so a step's buckets come out sorted.
  for (auto& m : members)
    std::stable_sort(m.begin(), m.end(),
                     [](const Member& a, const Member& b) { return a.upper < b.upper; });

  std::vector<std::size_t> pos(in.size(), 0);
  std::vector<Bucket> buckets;
  for (std::size_t step = 0; step < steps.size(); ++step) {
    const std::int64_t t = steps[step];
    bool any = false;
    for (std::size_t g = 0; g < members.size(); ++g) {
      buckets.clear();
      for (const auto& m : members[g]) {
        const auto& pts = in[m.series].points;
        std::size_t& p = pos[m.series];
        while (p < pts.size() && pts[p].t < t) ++p;
        if (p < pts.size() && pts[p].t == t) buckets.push_back({m.upper, pts[p].v});
      }
      if (buckets.empty()) continue;
      any = true;
      out[g].points.push_back({t, bucket_quantile(q[step], buckets)});
    }
    if (warnings && any && (q[step] < 0 || q[step] > 1 || std::isnan(q[step])))
      warnings->push_back("PromQL warning: quantile value should be between 0 and 1, got " +
                          format_number(q[step]));
  }
  std::erase_if(out, [](const Series& s) { return s.points.empty(); });
  return out;
}

}  // namespace strata::tsdb::promql::fn
