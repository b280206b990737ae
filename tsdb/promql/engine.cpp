#include "tsdb/promql/engine.h"

#include <algorithm>
#include <cmath>
#include <future>
#include <map>
#include <numbers>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "common/wire_format.h"
#include "tsdb/promql/aggregation.h"
#include "tsdb/promql/ast.h"
#include "tsdb/promql/function_eval.h"
#include "tsdb/promql/parser.h"
#include "tsdb/promql/printer.h"

namespace strata::tsdb::promql {

Queryable::~Queryable() = default;

std::optional<std::vector<Matrix>> Queryable::evaluate_on_parts(const PartsQuery&,
                                                                std::vector<std::string>*) const {
  return std::nullopt;
}

std::string_view to_string(ErrorType type) {
  switch (type) {
    case ErrorType::kBadData:
      return "bad_data";
    case ErrorType::kExecution:
      return "execution";
    case ErrorType::kTimeout:
      return "timeout";
    case ErrorType::kCanceled:
      return "canceled";
  }
  return "execution";
}

namespace {

using ast::BinaryOp;
using ast::Cardinality;
using ast::ExprKind;

// The evaluation steps of one (sub)query: start, start + interval, ... <= end.
struct Range {
  std::int64_t start = 0;
  std::int64_t end = 0;
  std::int64_t interval = 1;
  std::size_t steps() const {
    return end < start ? 0 : static_cast<std::size_t>((end - start) / interval) + 1;
  }
  std::int64_t at(std::size_t i) const { return start + static_cast<std::int64_t>(i) * interval; }
  std::size_t index(std::int64_t t) const {
    return static_cast<std::size_t>((t - start) / interval);
  }
};

struct QueryState {
  const Queryable& store;
  const EngineOptions& options;
  const QueryOptions& query_options;
  std::int64_t query_start = 0;  // what start() and end() in `@` refer to
  std::int64_t query_end = 0;
  std::int64_t lookback = 0;
  std::chrono::steady_clock::time_point deadline;
  std::size_t samples = 0;
  std::vector<std::string> warnings;

  void check() const {
    if (query_options.cancel && query_options.cancel->load(std::memory_order_relaxed))
      throw CanceledError("query was canceled in query execution");
    if (std::chrono::steady_clock::now() > deadline)
      throw TimeoutError("query timed out in query execution");
  }
  void add_samples(std::size_t n) {
    samples += n;
    if (samples > options.max_samples)
      throw ExecutionError(
          "query processing would load too many samples into memory in query execution (limit " +
          std::to_string(options.max_samples) + ")");
  }
  void warn(std::string w) {
    if (std::find(warnings.begin(), warnings.end(), w) == warnings.end())
      warnings.push_back(std::move(w));
  }
};

Labels drop_name(const Labels& l) {
  if (l.get("__name__").empty()) return l;
  std::vector<Label> items;
  items.reserve(l.size());
  for (const auto& x : l.items())
    if (x.first != "__name__") items.push_back(x);
  return Labels(std::move(items));
}

const ast::Expr& unwrap(const ast::Expr& e) {
  const ast::Expr* p = &e;
  while (p->kind == ExprKind::kParen) p = p->as<ast::ParenExpr>().expr.get();
  return *p;
}

const std::string& string_arg(const ast::Expr& e) {
  const ast::Expr& u = unwrap(e);
  if (u.kind != ExprKind::kStringLiteral)
    throw ExecutionError("expected a string literal argument");
  return u.as<ast::StringLiteral>().value;
}

// Collects output points by label set; two series with the same labels at
// the same step is Prometheus's "vector cannot contain metrics with the
// same labelset" (e.g. after the metric name was dropped).
class SeriesBuilder {
 public:
  void add(const Labels& labels, std::int64_t t, double v) {
    // Callers add a series' points one after another: the last series is
    // the likely target, and an equality test is far cheaper than the map.
    if (last_ >= out_.size() || !(out_[last_].labels == labels)) last_ = slot(labels);
    append(out_[last_].points, t, v);
  }
  // The same for a caller that numbers its label sets (input series, groups):
  // `key` stands for `labels` at every call, so the labels are looked up
  // once per key, not compared at every point.
  void add(std::size_t key, const Labels& labels, std::int64_t t, double v) {
    if (key >= key_slots_.size()) key_slots_.resize(key + 1, kNoSlot);
    if (key_slots_[key] == kNoSlot) key_slots_[key] = slot(labels);
    append(out_[key_slots_[key]].points, t, v);
  }
  // For a caller adding one series' points in a row: its slot, then
  // add_to(slot, ...). A slot that receives no point is not output.
  std::size_t series(const Labels& labels) { return slot(labels); }
  void add_to(std::size_t slot, std::int64_t t, double v) { append(out_[slot].points, t, v); }
  Matrix take() {
    std::erase_if(out_, [](const Series& s) { return s.points.empty(); });
    return std::move(out_);
  }

 private:
  static constexpr std::size_t kNoSlot = static_cast<std::size_t>(-1);
  std::size_t slot(const Labels& labels) {
    auto [it, inserted] = index_.try_emplace(labels, out_.size());
    if (inserted) out_.push_back(Series{labels, {}});
    return it->second;
  }
  static void append(std::vector<Point>& pts, std::int64_t t, double v) {
    if (pts.empty() || pts.back().t < t) {
      pts.push_back({t, v});
      return;
    }
    auto pos = std::lower_bound(pts.begin(), pts.end(), t,
                                [](const Point& p, std::int64_t x) { return p.t < x; });
    if (pos != pts.end() && pos->t == t)
      throw ExecutionError("vector cannot contain metrics with the same labelset");
    pts.insert(pos, {t, v});
  }

  std::map<Labels, std::size_t> index_;
  Matrix out_;
  std::size_t last_ = kNoSlot;
  std::vector<std::size_t> key_slots_;
};

// The samples of a Matrix at each step, in ascending step order.
class StepCursor {
 public:
  explicit StepCursor(const Matrix& m) : m_(m), pos_(m.size(), 0) {}
  // (series index, value) of every series with a point at `ts`.
  std::vector<std::pair<std::size_t, double>> at(std::int64_t ts) {
    std::vector<std::pair<std::size_t, double>> out;
    for (std::size_t i = 0; i < m_.size(); ++i) {
      const auto& pts = m_[i].points;
      while (pos_[i] < pts.size() && pts[pos_[i]].t < ts) ++pos_[i];
      if (pos_[i] < pts.size() && pts[pos_[i]].t == ts) out.emplace_back(i, pts[pos_[i]].v);
    }
    return out;
  }
  Vector vector_at(std::int64_t ts) {
    Vector v;
    for (auto [i, val] : at(ts)) v.push_back(Sample{m_[i].labels, ts, val});
    return v;
  }

 private:
  const Matrix& m_;
  std::vector<std::size_t> pos_;
};

// Prometheus's vectorElemBinop: the value and whether a comparison keeps it.
std::pair<double, bool> elem_binop(BinaryOp op, double l, double r) {
  switch (op) {
    case BinaryOp::kAdd:
      return {l + r, true};
    case BinaryOp::kSub:
      return {l - r, true};
    case BinaryOp::kMul:
      return {l * r, true};
    case BinaryOp::kDiv:
      return {l / r, true};
    case BinaryOp::kMod:
      return {std::fmod(l, r), true};
    case BinaryOp::kPow:
      return {std::pow(l, r), true};
    case BinaryOp::kAtan2:
      return {std::atan2(l, r), true};
    case BinaryOp::kEql:
      return {l, l == r};
    case BinaryOp::kNeq:
      return {l, l != r};
    case BinaryOp::kLte:
      return {l, l <= r};
    case BinaryOp::kLss:
      return {l, l < r};
    case BinaryOp::kGte:
      return {l, l >= r};
    case BinaryOp::kGtr:
      return {l, l > r};
    default:
      break;
  }
  throw ExecutionError("operator \"" + std::string(ast::to_string(op)) +
                       "\" not allowed for scalar operations");
}

bool drops_name(BinaryOp op) { return !ast::is_comparison(op) && !ast::is_set_operator(op); }

// The labels a series is matched on: on(...) keeps the listed ones,
// ignoring(...) drops them and the metric name.
Labels match_labels(const Labels& l, const ast::VectorMatching& m) {
  std::vector<Label> items;
  for (const auto& x : l.items()) {
    bool listed = std::find(m.matching_labels.begin(), m.matching_labels.end(), x.first) !=
                  m.matching_labels.end();
    if (m.on ? listed : (!listed && x.first != "__name__")) items.push_back(x);
  }
  return Labels(std::move(items));
}

std::string signature(const Labels& l, const ast::VectorMatching& m) {
  std::string s;
  const Labels matched = match_labels(l, m);  // a temporary would die before the loop
  for (const auto& [n, v] : matched.items()) {
    s += n;
    s += '\xff';
    s += v;
    s += '\xff';
  }
  return s;
}

// Prometheus's resultMetric.
Labels result_metric(const Labels& lhs, const Labels& rhs, BinaryOp op,
                     const ast::VectorMatching& m, bool return_bool) {
  std::vector<Label> items;
  for (const auto& x : lhs.items()) {
    if ((drops_name(op) || return_bool) && x.first == "__name__") continue;
    if (m.card == Cardinality::kOneToOne) {
      bool listed = std::find(m.matching_labels.begin(), m.matching_labels.end(), x.first) !=
                    m.matching_labels.end();
      if (m.on ? !listed : listed) continue;
    }
    items.push_back(x);
  }
  Labels out(std::move(items));
  if (!m.include.empty()) {
    std::vector<Label> kept;
    for (const auto& x : out.items())
      if (std::find(m.include.begin(), m.include.end(), x.first) == m.include.end())
        kept.push_back(x);
    for (const auto& name : m.include) {
      std::string_view v = rhs.get(name);
      if (!v.empty()) kept.emplace_back(name, std::string(v));
    }
    out = Labels(std::move(kept));
  }
  return out;
}

// Labels absent() and absent_over_time() give their output: the equality
// matchers of the selector, as Prometheus's createLabelsForAbsentFunction.
Labels absent_labels(const ast::Expr& arg) {
  const ast::Expr& e = arg;
  const ast::VectorSelector* vs = nullptr;
  if (e.kind == ExprKind::kVectorSelector) vs = &e.as<ast::VectorSelector>();
  if (e.kind == ExprKind::kMatrixSelector) vs = e.as<ast::MatrixSelector>().selector.get();
  if (!vs) return {};
  std::vector<Label> items;
  std::unordered_set<std::string> has;
  for (const auto& m : vs->matchers) {
    if (m.name() == "__name__") continue;
    std::erase_if(items, [&](const Label& l) { return l.first == m.name(); });
    if (m.op() == MatchOp::kEqual && !has.contains(m.name())) {
      items.emplace_back(m.name(), m.value());
      has.insert(m.name());
    }
  }
  std::erase_if(items, [](const Label& l) { return l.second.empty(); });
  return Labels(std::move(items));
}

// Whether `e` computes each output series from one input series alone, so
// that a store split by series (shards) can evaluate it part by part:
// selectors, per-series functions of them, arithmetic with numbers. `@`
// is excluded (start()/end() would resolve against the part's query).
bool series_local(const ast::Expr& e) {
  static const std::unordered_set<std::string_view> kPerSeries = {"rate",
                                                                  "irate",
                                                                  "increase",
                                                                  "delta",
                                                                  "idelta",
                                                                  "deriv",
                                                                  "resets",
                                                                  "changes",
                                                                  "avg_over_time",
                                                                  "min_over_time",
                                                                  "max_over_time",
                                                                  "sum_over_time",
                                                                  "count_over_time",
                                                                  "last_over_time",
                                                                  "present_over_time",
                                                                  "stddev_over_time",
                                                                  "stdvar_over_time",
                                                                  "abs",
                                                                  "ceil",
                                                                  "floor",
                                                                  "exp",
                                                                  "ln",
                                                                  "log2",
                                                                  "log10",
                                                                  "sqrt",
                                                                  "sgn",
                                                                  "clamp_min",
                                                                  "clamp_max"};
  switch (e.kind) {
    case ExprKind::kNumberLiteral:
      return true;
    case ExprKind::kParen:
      return series_local(*e.as<ast::ParenExpr>().expr);
    case ExprKind::kUnary:
      return series_local(*e.as<ast::UnaryExpr>().expr);
    case ExprKind::kVectorSelector:
      return e.as<ast::VectorSelector>().at == ast::AtModifier::kNone;
    case ExprKind::kMatrixSelector:
      return e.as<ast::MatrixSelector>().selector->at == ast::AtModifier::kNone;
    case ExprKind::kCall: {
      const auto& c = e.as<ast::Call>();
      if (!kPerSeries.contains(c.func->name)) return false;
      return std::all_of(c.args.begin(), c.args.end(),
                         [](const ast::ExprPtr& a) { return series_local(*a); });
    }
    case ExprKind::kBinary: {
      const auto& b = e.as<ast::BinaryExpr>();
      // A vector with a number: per series. Two vectors: matching crosses series.
      const bool lnum = b.lhs->kind == ExprKind::kNumberLiteral;
      const bool rnum = b.rhs->kind == ExprKind::kNumberLiteral;
      if (lnum == rnum) return false;
      return series_local(*b.lhs) && series_local(*b.rhs);
    }
    case ExprKind::kAggregate:
    case ExprKind::kSubquery:
    case ExprKind::kStringLiteral:
      return false;
  }
  return false;
}

// How partial results of `op` combine across parts (sum of sums...).
std::optional<double (*)(double, double)> combiner(ast::AggregateOp op) {
  switch (op) {
    case ast::AggregateOp::kSum:
    case ast::AggregateOp::kCount:
      return +[](double a, double b) { return a + b; };
    case ast::AggregateOp::kMax:
      return +[](double a, double b) { return std::isnan(a) || b > a ? b : a; };
    case ast::AggregateOp::kMin:
      return +[](double a, double b) { return std::isnan(a) || b < a ? b : a; };
    case ast::AggregateOp::kGroup:
      return +[](double, double) { return 1.0; };
    default:
      return std::nullopt;
  }
}

struct RawSeries {
  Labels labels;
  std::vector<Point> points;
};

// Series of a range-vector argument with the window of every step:
// (eff[i] - range, eff[i]].
struct Windows {
  std::vector<RawSeries> series;
  std::vector<std::int64_t> eff;
  std::int64_t range = 0;
};

// Runs fn(part, begin, end) over [0, n) cut into `parts` contiguous ranges
// (part 0 first), the first on this thread and the others on threads of their own; the first
// exception of any part is rethrown after all have finished.
template <class F>
void run_split(std::size_t n, std::size_t parts, const F& fn) {
  if (parts <= 1 || n < parts) {
    fn(std::size_t{0}, std::size_t{0}, n);
    return;
  }
  std::vector<std::future<void>> others;
  for (std::size_t k = 1; k < parts; ++k)
    others.push_back(std::async(std::launch::async,
                                [&fn, n, parts, k] { fn(k, n * k / parts, n * (k + 1) / parts); }));
  std::exception_ptr first;
  try {
    fn(std::size_t{0}, std::size_t{0}, n / parts);
  } catch (...) {
    first = std::current_exception();
  }
  for (auto& f : others) {
    try {
      f.get();
    } catch (...) {
      if (!first) first = std::current_exception();
    }
  }
  if (first) std::rethrow_exception(first);
}

class Evaluator {
 public:
  // `hint_step`: the step passed to the store in SelectHints (0 for an
  // instant query).
  Evaluator(QueryState& q, Range r, std::int64_t hint_step) : q_(q), r_(r), hint_step_(hint_step) {}

  // Scalar- and vector-typed expressions: one point per step where defined.
  Matrix eval(const ast::Expr& e) {
    q_.check();
    Matrix m = eval_node(e);
    std::size_t n = 0;
    for (const auto& s : m) n += s.points.size();
    q_.add_samples(n);
    return m;
  }

  std::vector<double> eval_scalar(const ast::Expr& e) {
    Matrix m = eval(e);
    std::vector<double> out(r_.steps(), NAN);
    for (const auto& s : m)
      for (const auto& p : s.points) out[r_.index(p.t)] = p.v;
    return out;
  }

  // A range-vector expression at one time (an instant query of `x[5m]`).
  Matrix eval_matrix_at(const ast::Expr& e) {
    Windows w = load_windows(e, "");
    Matrix out;
    for (auto& s : w.series) {
      Series o{std::move(s.labels), {}};
      for (const auto& p : s.points)
        if (p.t > w.eff[0] - w.range && p.t <= w.eff[0]) o.points.push_back(p);
      if (!o.points.empty()) out.push_back(std::move(o));
    }
    return out;
  }

 private:
  std::int64_t eff_time(ast::AtModifier at, std::int64_t at_ms, std::int64_t offset_ms,
                        std::int64_t ts) const {
    switch (at) {
      case ast::AtModifier::kNone:
        break;
      case ast::AtModifier::kTimestamp:
        ts = at_ms;
        break;
      case ast::AtModifier::kStart:
        ts = q_.query_start;
        break;
      case ast::AtModifier::kEnd:
        ts = q_.query_end;
        break;
    }
    return ts - offset_ms;
  }

  // The store's series for `matchers` over [mint, maxt]; its warnings
  // become the query's.
  std::vector<strata::tsdb::Series> select(const std::vector<LabelMatcher>& matchers,
                                           std::int64_t mint, std::int64_t maxt,
                                           std::string_view func) {
    SelectHints hints;
    hints.step_ms = hint_step_;
    hints.func = std::string(func);
    hints.resolution = q_.query_options.max_source_resolution;
    std::vector<std::string> store_warnings;
    hints.warnings = &store_warnings;
    auto selected = q_.store.select(matchers, mint, maxt, hints);
    for (auto& w : store_warnings) q_.warn(std::move(w));
    return selected;
  }

  // Threads to decode `series` selected series with: decoding is most of a
  // large query, and series decode independently.
  std::size_t decode_parts(std::size_t series) const {
    if (series < 256) return 1;
    unsigned t = q_.options.decode_threads;
    if (t == 0) t = std::min(4u, std::max(1u, std::thread::hardware_concurrency()));
    return t;
  }

  std::vector<RawSeries> load(const std::vector<LabelMatcher>& matchers, std::int64_t mint,
                              std::int64_t maxt, std::string_view func, bool drop_stale) {
    const auto selected = select(matchers, mint, maxt, func);
    const std::size_t parts = decode_parts(selected.size());
    std::vector<std::vector<RawSeries>> part_out(parts);
    std::vector<std::size_t> part_samples(parts, 0);
    run_split(selected.size(), parts, [&](std::size_t k, std::size_t begin, std::size_t end) {
      part_samples[k] = load_part(std::span(selected).subspan(begin, end - begin), mint, maxt,
                                  drop_stale, part_out[k]);
    });
    std::vector<RawSeries> out;
    for (std::size_t k = 0; k < parts; ++k) {
      q_.add_samples(part_samples[k]);
      if (out.empty())
        out = std::move(part_out[k]);
      else
        std::move(part_out[k].begin(), part_out[k].end(), std::back_inserter(out));
    }
    return out;
  }

  // The samples of `selected` in [mint, maxt] into `out`; returns how many.
  // Safe on any thread: it checks the deadline but counts nothing itself.
  std::size_t load_part(std::span<const strata::tsdb::Series> selected, std::int64_t mint,
                        std::int64_t maxt, bool drop_stale, std::vector<RawSeries>& out) const {
    std::size_t loaded = 0, since_check = 0;
    TimestampColumnCache columns;  // shared by the series, dropped before them
    for (const auto& s : selected) {
      RawSeries r{s.labels, {}};
      // Chunk headers give the sample counts: one allocation per series
      // instead of a doubling sequence (an upper bound: chunks may reach
      // beyond [mint, maxt]).
      std::size_t bound = 0;
      for (const auto& c : s.chunks) {
        try {
          bound += chunk_num_samples(c.bytes);
        } catch (const ChunkFormatError&) {
          // the iterator reports and skips it
        }
      }
      r.points.reserve(bound);
      auto it = s.iterator(&columns);
      while (it.next()) {
        if (it.t() < mint) continue;
        if (it.t() > maxt) break;
        if (drop_stale && wire::is_stale_nan(it.v())) continue;
        r.points.push_back({it.t(), it.v()});
      }
      loaded += r.points.size();
      since_check += r.points.size();
      if (since_check > 65536) since_check = 0, q_.check();
      if (!r.points.empty()) out.push_back(std::move(r));
    }
    return loaded;
  }

  Matrix constant(const std::vector<double>& values) {
    Series s;
    for (std::size_t i = 0; i < values.size(); ++i) s.points.push_back({r_.at(i), values[i]});
    Matrix m;
    if (!s.points.empty()) m.push_back(std::move(s));
    return m;
  }

  Matrix eval_node(const ast::Expr& e) {
    switch (e.kind) {
      case ExprKind::kNumberLiteral:
        return constant(std::vector<double>(r_.steps(), e.as<ast::NumberLiteral>().value));
      case ExprKind::kParen:
        return eval(*e.as<ast::ParenExpr>().expr);
      case ExprKind::kUnary:
        return eval_unary(e.as<ast::UnaryExpr>());
      case ExprKind::kVectorSelector:
        return eval_vector_selector(e.as<ast::VectorSelector>(), "", false);
      case ExprKind::kBinary:
        return eval_binary(e.as<ast::BinaryExpr>());
      case ExprKind::kAggregate:
        return eval_aggregate(e.as<ast::AggregateExpr>());
      case ExprKind::kCall:
        return eval_call(e.as<ast::Call>());
      case ExprKind::kStringLiteral:
      case ExprKind::kMatrixSelector:
      case ExprKind::kSubquery:
        break;
    }
    throw ExecutionError("cannot evaluate a " + std::string(documented_name(e.value_type())) +
                         " here");
  }

  Matrix eval_unary(const ast::UnaryExpr& u) {
    Matrix in = eval(*u.expr);
    if (u.op == ast::UnaryOp::kAdd) return in;
    SeriesBuilder b;
    for (auto& s : in) {
      Labels l = drop_name(s.labels);
      const std::size_t slot = b.series(l);
      for (const auto& p : s.points) b.add_to(slot, p.t, -p.v);
    }
    return b.take();
  }

  Matrix eval_vector_selector(const ast::VectorSelector& vs, std::string_view func,
                              bool timestamps) {
    const std::size_t n = r_.steps();
    if (n == 0) return {};
    const std::int64_t offset = vs.offset.count();
    auto eff = [&](std::int64_t ts) { return eff_time(vs.at, vs.at_ms, offset, ts); };
    const std::int64_t lo = eff(r_.start), hi = eff(r_.end);
    const std::int64_t mint = lo - q_.lookback + 1;
    // Each series is decoded straight into its step values: the raw
    // samples are never materialised. Large selections decode in parts on
    // several threads (deadline checks only there; counting here).
    const auto selected = select(vs.matchers, mint, hi, func);
    const std::size_t parts = decode_parts(selected.size());
    std::vector<Matrix> part_out(parts);
    std::vector<std::size_t> part_samples(parts, 0);
    run_split(selected.size(), parts, [&](std::size_t k, std::size_t begin, std::size_t end) {
      TimestampColumnCache columns;  // shared by the part's series, dropped before them
      std::size_t since_check = 0;
      for (std::size_t si = begin; si < end; ++si) {
        const auto& s = selected[si];
        auto it = s.iterator(&columns);
        bool more = it.next();
        while (more && it.t() < mint) more = it.next();
        bool have = false;
        Point p{};
        std::size_t decoded = 0;
        Series o{timestamps ? drop_name(s.labels) : s.labels, {}};
        for (std::size_t i = 0; i < n; ++i) {
          const std::int64_t ts = r_.at(i), t = eff(ts);
          while (more && it.t() <= t) {
            if (it.t() > hi) {
              more = false;
              break;
            }
            p = {it.t(), it.v()};
            have = true;
            ++decoded;
            more = it.next();
          }
          if (!have) continue;
          // Lookback is left-open, (t - lookback, t]; a stale marker ends the series.
          if (p.t <= t - q_.lookback || wire::is_stale_nan(p.v)) continue;
          o.points.push_back({ts, timestamps ? static_cast<double>(p.t) / 1000 : p.v});
        }
        part_samples[k] += decoded;
        since_check += decoded;
        if (since_check > 65536) since_check = 0, q_.check();
        if (!o.points.empty()) part_out[k].push_back(std::move(o));
      }
    });
    Matrix out;
    for (std::size_t k = 0; k < parts; ++k) {
      q_.add_samples(part_samples[k]);
      std::move(part_out[k].begin(), part_out[k].end(), std::back_inserter(out));
    }
    if (!timestamps) return out;
    // timestamp(): names are dropped, so two series may now collide.
    SeriesBuilder b;
    for (const auto& o : out) {
      const std::size_t slot = b.series(o.labels);
      for (const auto& pt : o.points) b.add_to(slot, pt.t, pt.v);
    }
    return b.take();
  }

  Windows load_windows(const ast::Expr& arg_in, std::string_view func) {
    const ast::Expr& arg = unwrap(arg_in);
    Windows w;
    const std::size_t n = r_.steps();
    if (arg.kind == ExprKind::kMatrixSelector) {
      const auto& ms = arg.as<ast::MatrixSelector>();
      const auto& vs = *ms.selector;
      w.range = ms.range.count();
      for (std::size_t i = 0; i < n; ++i)
        w.eff.push_back(eff_time(vs.at, vs.at_ms, vs.offset.count(), r_.at(i)));
      if (n == 0) return w;
      w.series = load(vs.matchers, w.eff.front() - w.range + 1, w.eff.back(), func, true);
      return w;
    }
    if (arg.kind != ExprKind::kSubquery)
      throw ExecutionError("expected a range vector, got " +
                           std::string(documented_name(arg.value_type())));
    const auto& sq = arg.as<ast::SubqueryExpr>();
    w.range = sq.range.count();
    for (std::size_t i = 0; i < n; ++i)
      w.eff.push_back(eff_time(sq.at, sq.at_ms, sq.offset.count(), r_.at(i)));
    if (n == 0) return w;
    std::int64_t step =
        sq.step.count() > 0 ? sq.step.count() : q_.options.default_evaluation_interval.count();
    // The subquery's own steps are aligned to multiples of its step, from
    // the first one at or after the earliest window start.
    std::int64_t lo = w.eff.front() - w.range;
    std::int64_t start = step * (lo / step);
    if (start < lo) start += step;
    Evaluator inner(q_, Range{start, w.eff.back(), step}, step);
    for (auto& s : inner.eval(*sq.expr))
      w.series.push_back({std::move(s.labels), std::move(s.points)});
    return w;
  }

  Matrix eval_call(const ast::Call& c) {
    const std::string_view name = c.func->name;
    const std::size_t n = r_.steps();
    if (name == "time" || name == "pi") {
      std::vector<double> v(n);
      for (std::size_t i = 0; i < n; ++i)
        v[i] = name == "pi" ? std::numbers::pi : static_cast<double>(r_.at(i)) / 1000;
      return constant(v);
    }
    if (name == "vector") return constant(eval_scalar(*c.args[0]));
    if (name == "scalar") {
      Matrix in = eval(*c.args[0]);
      std::vector<double> v(n, NAN);
      std::vector<int> count(n, 0);
      for (const auto& s : in)
        for (const auto& p : s.points) {
          auto i = r_.index(p.t);
          v[i] = p.v;
          ++count[i];
        }
      for (std::size_t i = 0; i < n; ++i)
        if (count[i] != 1) v[i] = NAN;
      return constant(v);
    }
    if (fn::is_range_function(name)) return eval_range_call(c);
    if (name == "timestamp") {
      const ast::Expr& arg = unwrap(*c.args[0]);
      if (arg.kind == ExprKind::kVectorSelector)
        return eval_vector_selector(arg.as<ast::VectorSelector>(), "timestamp", true);
      SeriesBuilder b;
      for (auto& s : eval(arg)) {
        Labels l = drop_name(s.labels);
        const std::size_t slot = b.series(l);
        for (const auto& p : s.points) b.add_to(slot, p.t, static_cast<double>(p.t) / 1000);
      }
      return b.take();
    }
    if (fn::is_elementwise(name)) {
      Matrix in;
      if (c.args.empty()) {  // hour() etc.: vector(time())
        std::vector<double> v(n);
        for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<double>(r_.at(i)) / 1000;
        in = constant(v);
      } else {
        in = eval(*c.args[0]);
      }
      std::vector<std::vector<double>> scalars;
      for (std::size_t a = 1; a < c.args.size(); ++a) scalars.push_back(eval_scalar(*c.args[a]));
      SeriesBuilder b;
      std::vector<double> args(scalars.size());
      for (auto& s : in) {
        Labels l = drop_name(s.labels);
        const std::size_t slot = b.series(l);
        for (const auto& p : s.points) {
          auto i = r_.index(p.t);
          for (std::size_t a = 0; a < scalars.size(); ++a) args[a] = scalars[a][i];
          if (auto v = fn::eval_elementwise(name, p.v, args)) b.add_to(slot, p.t, *v);
        }
      }
      return b.take();
    }
    if (name == "absent") {
      Matrix in = eval(*c.args[0]);
      std::vector<bool> present(n, false);
      for (const auto& s : in)
        for (const auto& p : s.points) present[r_.index(p.t)] = true;
      Series out{absent_labels(*c.args[0]), {}};
      for (std::size_t i = 0; i < n; ++i)
        if (!present[i]) out.points.push_back({r_.at(i), 1});
      Matrix m;
      if (!out.points.empty()) m.push_back(std::move(out));
      return m;
    }
    if (name == "label_replace") {
      fn::LabelReplace lr(string_arg(*c.args[1]), string_arg(*c.args[2]), string_arg(*c.args[3]),
                          string_arg(*c.args[4]));
      SeriesBuilder b;
      for (auto& s : eval(*c.args[0])) {
        Labels l = lr.apply(s.labels);
        const std::size_t slot = b.series(l);
        for (const auto& p : s.points) b.add_to(slot, p.t, p.v);
      }
      return b.take();
    }
    if (name == "label_join") {
      std::vector<std::string> srcs;
      for (std::size_t a = 3; a < c.args.size(); ++a) srcs.push_back(string_arg(*c.args[a]));
      const std::string& dst = string_arg(*c.args[1]);
      const std::string& sep = string_arg(*c.args[2]);
      SeriesBuilder b;
      for (auto& s : eval(*c.args[0])) {
        Labels l = fn::label_join(s.labels, dst, sep, srcs);
        const std::size_t slot = b.series(l);
        for (const auto& p : s.points) b.add_to(slot, p.t, p.v);
      }
      return b.take();
    }
    if (name == "sort" || name == "sort_desc" || name == "sort_by_label" ||
        name == "sort_by_label_desc") {
      Matrix in = eval(*c.args[0]);
      // Ordering only means something for an instant query's vector; a
      // range query's matrix is sorted by labels anyway.
      if (n != 1) return in;
      if (name == "sort" || name == "sort_desc") {
        bool desc = name == "sort_desc";
        std::stable_sort(in.begin(), in.end(), [&](const Series& a, const Series& b) {
          double x = a.points[0].v, y = b.points[0].v;
          if (std::isnan(x)) return false;
          if (std::isnan(y)) return true;
          return desc ? x > y : x < y;
        });
      } else {
        std::vector<std::string> names;
        for (std::size_t a = 1; a < c.args.size(); ++a) names.push_back(string_arg(*c.args[a]));
        bool desc = name == "sort_by_label_desc";
        std::stable_sort(in.begin(), in.end(), [&](const Series& a, const Series& b) {
          for (const auto& l : names) {
            auto x = a.labels.get(l), y = b.labels.get(l);
            if (x != y) return desc ? x > y : x < y;
          }
          return desc ? b.labels < a.labels : a.labels < b.labels;
        });
      }
      return in;
    }
    if (name == "histogram_quantile") {
      std::vector<double> q = eval_scalar(*c.args[0]);
      Matrix in = eval(*c.args[1]);
      std::vector<std::int64_t> steps(n);
      for (std::size_t i = 0; i < n; ++i) steps[i] = r_.at(i);
      std::vector<std::string> warnings;
      Matrix out = fn::histogram_quantile(q, in, steps, &warnings);
      for (auto& w : warnings) q_.warn(std::move(w));
      return out;
    }
    if (name.starts_with("histogram_")) {
      // The other histogram_* functions read native histograms, which this
      // store does not hold: like Prometheus on float series, no output.
      eval(*c.args.back());
      return {};
    }
    throw ExecutionError("function \"" + std::string(name) + "\" is not implemented");
  }

  Matrix eval_range_call(const ast::Call& c) {
    const std::string_view name = c.func->name;
    const std::size_t n = r_.steps();
    std::size_t matrix_arg = 0;
    for (std::size_t a = 0; a < c.args.size(); ++a)
      if (c.args[a]->value_type() == ValueType::kMatrix) matrix_arg = a;
    std::vector<std::vector<double>> scalars;
    for (std::size_t a = 0; a < c.args.size(); ++a)
      if (a != matrix_arg) scalars.push_back(eval_scalar(*c.args[a]));
    Windows w = load_windows(*c.args[matrix_arg], name);

    if (name == "absent_over_time") {
      Series out{absent_labels(unwrap(*c.args[0])), {}};
      std::vector<std::size_t> lo(w.series.size(), 0);
      for (std::size_t i = 0; i < n; ++i) {
        bool any = false;
        for (std::size_t k = 0; k < w.series.size() && !any; ++k) {
          const auto& pts = w.series[k].points;
          while (lo[k] < pts.size() && pts[lo[k]].t <= w.eff[i] - w.range) ++lo[k];
          any = lo[k] < pts.size() && pts[lo[k]].t <= w.eff[i];
        }
        if (!any) out.points.push_back({r_.at(i), 1});
      }
      Matrix m;
      if (!out.points.empty()) m.push_back(std::move(out));
      return m;
    }

    const bool keep_name = fn::keeps_metric_name(name);
    // rate and increase look for counter resets in every window; a running
    // count of resets per series answers "none in this window" at once.
    const bool counter = name == "rate" || name == "increase";
    std::vector<std::uint32_t> resets;  // resets[k]: samples 1..k below their predecessor
    SeriesBuilder b;
    for (std::size_t si = 0; si < w.series.size(); ++si) {
      auto& s = w.series[si];
      q_.check();
      Labels l = keep_name ? s.labels : drop_name(s.labels);
      if (counter) {
        resets.resize(s.points.size());
        std::uint32_t count = 0;
        for (std::size_t k = 0; k < s.points.size(); ++k) {
          if (k > 0 && s.points[k].v < s.points[k - 1].v) ++count;
          resets[k] = count;
        }
      }
      std::size_t lo = 0, hi = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const std::int64_t t = w.eff[i];
        if (i > 0 && t < w.eff[i - 1]) lo = hi = 0;
        while (lo < s.points.size() && s.points[lo].t <= t - w.range) ++lo;
        if (hi < lo) hi = lo;
        while (hi < s.points.size() && s.points[hi].t <= t) ++hi;
        if (hi == lo) continue;
        fn::RangeArgs args;
        args.eval_ts = r_.at(i);
        args.range_start = t - w.range;
        args.range_end = t;
        if (!scalars.empty()) args.scalar1 = scalars[0][i];
        if (scalars.size() > 1) args.scalar2 = scalars[1][i];
        if (counter) args.no_resets = resets[hi - 1] == resets[lo];
        auto v = fn::eval_range(name, std::span<const Point>(s.points).subspan(lo, hi - lo), args);
        if (v) b.add(si, l, r_.at(i), *v);
      }
    }
    return b.take();
  }

  // The aggregation evaluated by the store's parts and combined here, or
  // nullopt (evaluate it here).
  std::optional<Matrix> pushed_down(const ast::AggregateExpr& a) {
    const auto combine = combiner(a.op);
    if (!combine || a.param || !series_local(*a.expr)) return std::nullopt;
    if (q_.query_options.lookback_delta || r_.steps() > 11'000) return std::nullopt;
    Queryable::PartsQuery pq;
    pq.expr = to_string(a);
    pq.start = r_.start;
    pq.end = r_.end;
    pq.step = r_.interval;
    pq.instant = hint_step_ == 0 && r_.steps() == 1;
    pq.resolution = q_.query_options.max_source_resolution;
    std::vector<std::string> warnings;
    auto parts = q_.store.evaluate_on_parts(pq, &warnings);
    for (auto& w : warnings) q_.warn(std::move(w));
    if (!parts) return std::nullopt;
    std::map<Labels, std::map<std::int64_t, double>> merged;
    for (const auto& part : *parts)
      for (const auto& s : part) {
        auto& points = merged[s.labels];
        for (const auto& p : s.points) {
          auto [it, inserted] = points.try_emplace(p.t, p.v);
          if (!inserted) it->second = (*combine)(it->second, p.v);
        }
      }
    SeriesBuilder b;
    for (const auto& [labels, points] : merged) {
      const std::size_t slot = b.series(labels);
      for (const auto& [t, v] : points) b.add_to(slot, t, v);
    }
    return b.take();
  }

  Matrix eval_aggregate(const ast::AggregateExpr& a) {
    if (auto m = pushed_down(a)) return std::move(*m);
    const std::size_t n = r_.steps();
    std::vector<double> param(n, 0);
    std::string label;
    if (a.param) {
      if (a.op == ast::AggregateOp::kCountValues)
        label = string_arg(*a.param);
      else
        param = eval_scalar(*a.param);
    }
    Matrix in = eval(*a.expr);
    StepCursor cur(in);
    SeriesBuilder b;
    if (a.op == ast::AggregateOp::kCountValues) {
      // The groups depend on each step's values: aggregate each step's vector.
      for (std::size_t i = 0; i < n; ++i) {
        Vector v = cur.vector_at(r_.at(i));
        if (v.empty()) continue;
        for (auto& s : aggregate(a, param[i], label, v)) b.add(s.labels, r_.at(i), s.v);
      }
      return b.take();
    }
    // A series' group is the same at every step: compute it once.
    const auto [keys, series_group] = assign_groups(
        in.size(), [&](std::size_t s) -> const Labels& { return in[s].labels; }, a.grouping,
        a.without);
    const bool select = selects_samples(a.op);
    std::vector<double> series_offset;
    if (a.op == ast::AggregateOp::kLimitRatio)
      for (const auto& s : in) series_offset.push_back(ratio_offset(s.labels));
    std::vector<double> values, offsets;
    std::vector<std::size_t> group_of, series_of;
    for (std::size_t i = 0; i < n; ++i) {
      values.clear();
      group_of.clear();
      series_of.clear();
      offsets.clear();
      for (auto [s, v] : cur.at(r_.at(i))) {
        values.push_back(v);
        group_of.push_back(series_group[s]);
        series_of.push_back(s);
        if (!series_offset.empty()) offsets.push_back(series_offset[s]);
      }
      if (values.empty()) continue;
      if (select) {
        // topk & co keep whole samples: their series' own labels.
        const double p = selection_param(a.op, param[i]);
        for (std::size_t k : select_samples(a.op, p, values, group_of, keys.size(), offsets))
          b.add(series_of[k], in[series_of[k]].labels, r_.at(i), values[k]);
        continue;
      }
      for (auto [g, v] : aggregate_grouped(a.op, param[i], values, group_of, keys.size()))
        b.add(g, keys[g], r_.at(i), v);
    }
    return b.take();
  }

  Matrix eval_binary(const ast::BinaryExpr& e) {
    const bool lscalar = e.lhs->value_type() == ValueType::kScalar;
    const bool rscalar = e.rhs->value_type() == ValueType::kScalar;
    if (lscalar && rscalar) {
      auto l = eval_scalar(*e.lhs);
      auto r = eval_scalar(*e.rhs);
      std::vector<double> out(l.size());
      for (std::size_t i = 0; i < l.size(); ++i) {
        auto [v, keep] = elem_binop(e.op, l[i], r[i]);
        out[i] = ast::is_comparison(e.op) ? (keep ? 1 : 0) : v;
      }
      return constant(out);
    }
    if (lscalar || rscalar) {
      const bool swap = lscalar;
      std::vector<double> sv = eval_scalar(swap ? *e.lhs : *e.rhs);
      Matrix vec = eval(swap ? *e.rhs : *e.lhs);
      SeriesBuilder b;
      const bool drop = drops_name(e.op) || e.return_bool;
      for (auto& s : vec) {
        Labels l = drop ? drop_name(s.labels) : s.labels;
        const std::size_t slot = b.series(l);
        for (const auto& p : s.points) {
          double lv = p.v, rv = sv[r_.index(p.t)];
          if (swap) std::swap(lv, rv);
          auto [v, keep] = elem_binop(e.op, lv, rv);
          if (ast::is_comparison(e.op) && swap) v = rv;
          if (e.return_bool) {
            v = keep ? 1 : 0;
            keep = true;
          }
          if (keep) b.add_to(slot, p.t, v);
        }
      }
      return b.take();
    }
    Matrix lhs = eval(*e.lhs);
    Matrix rhs = eval(*e.rhs);
    const ast::VectorMatching& m = *e.matching;
    std::vector<std::string> lsig, rsig;
    for (const auto& s : lhs) lsig.push_back(signature(s.labels, m));
    for (const auto& s : rhs) rsig.push_back(signature(s.labels, m));
    StepCursor lc(lhs), rc(rhs);
    SeriesBuilder b;
    for (std::size_t i = 0; i < r_.steps(); ++i) {
      const std::int64_t ts = r_.at(i);
      auto ls = lc.at(ts);
      auto rs = rc.at(ts);
      if (ast::is_set_operator(e.op)) {
        set_op(e.op, lhs, rhs, lsig, rsig, ls, rs, ts, b);
        continue;
      }
      if (ls.empty() || rs.empty()) continue;
      const bool one_to_many = m.card == Cardinality::kOneToMany;
      const Matrix& many_m = one_to_many ? rhs : lhs;
      const Matrix& one_m = one_to_many ? lhs : rhs;
      const auto& many_sig = one_to_many ? rsig : lsig;
      const auto& one_sig = one_to_many ? lsig : rsig;
      const auto& many = one_to_many ? rs : ls;
      const auto& one = one_to_many ? ls : rs;
      std::unordered_map<std::string_view, std::pair<std::size_t, double>> one_side;
      for (auto [idx, v] : one) {
        auto [it, inserted] = one_side.try_emplace(one_sig[idx], idx, v);
        if (!inserted)
          throw ExecutionError(
              "found duplicate series for the match group " +
              match_labels(one_m[idx].labels, m).to_string() + " on the " +
              (one_to_many ? "left" : "right") + " hand-side of the operation: [" +
              one_m[idx].labels.to_string() + ", " + one_m[it->second.first].labels.to_string() +
              "];many-to-many matching not allowed: matching labels must be unique on one side");
      }
      std::unordered_map<std::string_view, std::vector<Labels>> matched;
      for (auto [idx, v] : many) {
        auto it = one_side.find(many_sig[idx]);
        if (it == one_side.end()) continue;
        double fl = v, fr = it->second.second;
        if (one_to_many) std::swap(fl, fr);
        auto [val, keep] = elem_binop(e.op, fl, fr);
        if (e.return_bool) {
          val = keep ? 1 : 0;
        } else if (!keep) {
          continue;
        }
        Labels metric = result_metric(many_m[idx].labels, one_m[it->second.first].labels, e.op, m,
                                      e.return_bool);
        auto [mit, first] = matched.try_emplace(many_sig[idx]);
        if (m.card == Cardinality::kOneToOne) {
          if (!first)
            throw ExecutionError(
                "multiple matches for labels: many-to-one matching must be explicit "
                "(group_left/group_right)");
        } else {
          if (std::find(mit->second.begin(), mit->second.end(), metric) != mit->second.end())
            throw ExecutionError(
                "multiple matches for labels: grouping labels must ensure unique matches");
          mit->second.push_back(metric);
        }
        b.add(metric, ts, val);
      }
    }
    return b.take();
  }

  void set_op(BinaryOp op, const Matrix& lhs, const Matrix& rhs,
              const std::vector<std::string>& lsig, const std::vector<std::string>& rsig,
              const std::vector<std::pair<std::size_t, double>>& ls,
              const std::vector<std::pair<std::size_t, double>>& rs, std::int64_t ts,
              SeriesBuilder& b) {
    if (op == BinaryOp::kOr) {
      std::unordered_set<std::string_view> left;
      for (auto [idx, v] : ls) {
        left.insert(lsig[idx]);
        b.add(lhs[idx].labels, ts, v);
      }
      for (auto [idx, v] : rs)
        if (!left.contains(rsig[idx])) b.add(rhs[idx].labels, ts, v);
      return;
    }
    std::unordered_set<std::string_view> right;
    for (auto [idx, v] : rs) right.insert(rsig[idx]);
    const bool want = op == BinaryOp::kAnd;
    for (auto [idx, v] : ls)
      if (right.contains(lsig[idx]) == want) b.add(lhs[idx].labels, ts, v);
  }

  QueryState& q_;
  Range r_;
  std::int64_t hint_step_;
};

}  // namespace

Engine::Engine(const Queryable& store, EngineOptions options)
    : store_(store),
      options_(options),
      slots_(std::max<std::ptrdiff_t>(1, options.max_concurrent_queries)) {}

QueryResult Engine::instant_query(std::string_view expr, std::int64_t t_ms,
                                  const QueryOptions& options) {
  return run(expr, t_ms, t_ms, 0, true, options);
}

QueryResult Engine::range_query(std::string_view expr, std::int64_t start_ms, std::int64_t end_ms,
                                std::int64_t step_ms, const QueryOptions& options) {
  if (step_ms <= 0)
    throw BadDataError(
        "zero or negative query resolution step widths are not accepted. Try a positive integer");
  if (end_ms < start_ms) throw BadDataError("end timestamp must not be before start time");
  if ((end_ms - start_ms) / step_ms > 11000)
    throw BadDataError(
        "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query "
        "resolution (?step=XX)");
  return run(expr, start_ms, end_ms, step_ms, false, options);
}

QueryResult Engine::run(std::string_view expr, std::int64_t start, std::int64_t end,
                        std::int64_t step, bool instant, const QueryOptions& options) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::min(options_.timeout, options.timeout.value_or(options_.timeout));
  if (!slots_.try_acquire_until(deadline))
    throw TimeoutError("query timed out in query queue (" +
                       std::to_string(options_.max_concurrent_queries) +
                       " queries already running)");
  struct Release {
    std::counting_semaphore<>& s;
    ~Release() { s.release(); }
  } release{slots_};

  ast::ExprPtr root;
  try {
    root = parse_expr(expr);
  } catch (const ParseError& e) {
    throw BadDataError(e.what());
  } catch (const std::invalid_argument& e) {
    throw BadDataError(e.what());
  }
  const ValueType type = root->value_type();
  if (!instant && type != ValueType::kScalar && type != ValueType::kVector)
    throw BadDataError("invalid expression type \"" + std::string(documented_name(type)) +
                       "\" for range query, must be Scalar or instant Vector");

  QueryState q{store_,   options_, options,
               start,    end,      options.lookback_delta.value_or(options_.lookback_delta).count(),
               deadline, 0,        {}};

  QueryResult result;
  Evaluator ev(q, Range{start, end, instant ? 1 : step}, instant ? 0 : step);
  if (instant) {
    switch (type) {
      case ValueType::kString:
        result.value = String{start, unwrap(*root).as<ast::StringLiteral>().value};
        break;
      case ValueType::kScalar:
        result.value = Scalar{start, ev.eval_scalar(*root)[0]};
        break;
      case ValueType::kMatrix:
        result.value = ev.eval_matrix_at(*root);
        break;
      default: {
        Vector v;
        for (auto& s : ev.eval(*root))
          for (const auto& p : s.points) v.push_back(Sample{std::move(s.labels), p.t, p.v});
        result.value = std::move(v);
      }
    }
  } else {
    Matrix m = ev.eval(*root);
    std::sort(m.begin(), m.end(),
              [](const Series& a, const Series& b) { return a.labels < b.labels; });
    result.value = std::move(m);
  }
  result.warnings = std::move(q.warnings);
  return result;
}

}  // namespace strata::tsdb::promql
