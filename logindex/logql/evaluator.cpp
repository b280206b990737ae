#include "logindex/logql/evaluator.h"

#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>

#include "common/config.h"
#include "logindex/line_parser.h"
#include "logindex/part_view.h"
#include "logindex/severity.h"
#include "logindex/timestamp_detector.h"
#include "logindex/tokenizer.h"

namespace strata::logindex::logql {
namespace {

using Ids = std::vector<DocId>;

// A regex matcher looks at every value of its label in the dictionary; a
// `|= "abc"` prefix lookup at every word starting with "abc". Beyond these
// bounds the lookup does not narrow (the line check still decides).
constexpr std::size_t kMaxLabelValues = 1'000'000;
constexpr std::size_t kMaxPrefixExpansion = 10'000;

Ids intersect_ids(const Ids& a, const Ids& b) {
  Ids out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}
Ids unite_ids(const Ids& a, const Ids& b) {
  Ids out;
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

void narrow(std::optional<Ids>& acc, Ids ids) {
  acc = acc ? intersect_ids(*acc, ids) : std::move(ids);
}

// Docs whose stream may match the selector; nullopt: no matcher narrows.
std::optional<Ids> selector_candidates(const PartView& part, const StreamSelector& sel) {
  std::optional<Ids> acc;
  for (const auto& m : sel.matchers()) {
    if (m.op == StreamSelector::Op::kEqual && !m.value.empty()) {
      narrow(acc, part.postings(TermKind::kLabel, m.name + "=" + m.value));
    } else if (m.op == StreamSelector::Op::kRegexMatch && !RE2::FullMatch("", *m.regex)) {
      // A stream lacking the label counts as "", which this regex rejects:
      // only dictionary values can match.
      Ids ids;
      std::string prefix = m.name + "=";
      for (const auto& t : part.prefix_terms(TermKind::kLabel, prefix, kMaxLabelValues)) {
        std::string_view value = std::string_view(t).substr(prefix.size());
        if (RE2::FullMatch(re2::StringPiece(value.data(), value.size()), *m.regex))
          ids = unite_ids(ids, part.postings(TermKind::kLabel, t));
      }
      narrow(acc, std::move(ids));
    }
    if (acc && acc->empty()) break;
  }
  return acc;
}

// Narrows by the terms of the `|= "text"` filters that run on the original
// line (before any line_format); see the header for which terms qualify.
void narrow_by_line_filters(const PartView& part, const std::vector<Stage>& stages,
                            std::optional<Ids>& acc) {
  for (const auto& st : stages) {
    if (st.kind == Stage::Kind::kLineFormat) break;
    if (st.kind != Stage::Kind::kLineFilter || st.line_filter.op != LineFilter::Op::kContains)
      continue;
    std::string_view text = st.line_filter.value;
    std::size_t i = 0;
    while (i < text.size() && !(acc && acc->empty())) {
      while (i < text.size() && !is_term_byte(static_cast<unsigned char>(text[i]))) ++i;
      if (i == text.size()) break;
      std::size_t b = i;
      while (i < text.size() && is_term_byte(static_cast<unsigned char>(text[i]))) ++i;
      if (b == 0) continue;  // may be the tail of a longer word of the line
      std::string term(truncate_term(text.substr(b, i - b)));
      for (char& c : term)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (i < text.size()) {
        narrow(acc, part.postings(TermKind::kToken, term));
        continue;
      }
      // Delimited on the left only: any word of the line starting with it.
      auto terms = part.prefix_terms(TermKind::kToken, term, kMaxPrefixExpansion + 1);
      if (terms.size() > kMaxPrefixExpansion) continue;
      Ids ids;
      for (const auto& t : terms) ids = unite_ids(ids, part.postings(TermKind::kToken, t));
      narrow(acc, std::move(ids));
    }
  }
}

// Reads every doc of one part that passes the selector and lies in
// [start, end), calling fn(stream, ts, line).
void scan_part(const PartView& part, const StreamSelector& selector,
               const std::vector<Stage>* stages, std::int64_t start, std::int64_t end,
               const EvalLimits& limits, EvalStats& stats,
               const std::function<void(const Labels&, std::int64_t, std::string_view)>& fn) {
  if (end <= start) return;
  auto [lo, hi] = part.range(start, end - 1);
  if (lo >= hi) return;
  std::optional<Ids> cand = selector_candidates(part, selector);
  if (stages && !(cand && cand->empty())) narrow_by_line_filters(part, *stages, cand);
  Ids ids;
  if (cand) {
    ids = std::move(*cand);
    ids.erase(std::lower_bound(ids.begin(), ids.end(), hi), ids.end());
    ids.erase(ids.begin(), std::lower_bound(ids.begin(), ids.end(), lo));
  } else {
    ids.resize(hi - lo);
    for (DocId k = lo; k < hi; ++k) ids[k - lo] = k;
  }
  if (ids.empty()) return;
  const Labels* last_stream = nullptr;
  bool last_match = false;
  part.read(ids, [&](DocId, const Labels& stream, std::int64_t ts, std::string_view line) {
    if (ts < start || ts >= end) return;
    if (&stream != last_stream) {
      last_stream = &stream;
      last_match = selector.matches(stream);
    }
    if (!last_match) return;
    check_scan_limit(++stats.entries_scanned, limits);
    stats.bytes_scanned += line.size();
    fn(stream, ts, line);
  });
}

// ---- the pipeline of stages ----

const std::string* find_label(const std::vector<Label>& labels, std::string_view name) {
  for (const auto& [n, v] : labels)
    if (n == name) return &v;
  return nullptr;
}

void set_label(std::vector<Label>& labels, std::string name, std::string value) {
  for (auto& [n, v] : labels)
    if (n == name) {
      v = std::move(value);
      return;
    }
  labels.emplace_back(std::move(name), std::move(value));
}

std::optional<double> as_number(const std::string& s) {
  if (s.empty()) return std::nullopt;
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc() && p == s.data() + s.size()) return v;
  try {
    return static_cast<double>(config::parse_duration(s, "label").count()) / 1000.0;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool label_filter_holds(const LabelFilter& f, const std::vector<Label>& labels) {
  const std::string* found = find_label(labels, f.name);
  static const std::string kEmpty;
  const std::string& v = found ? *found : kEmpty;
  using Op = LabelFilter::Op;
  switch (f.op) {
    case Op::kEq:
      return v == f.value;
    case Op::kNeq:
      return v != f.value;
    case Op::kRegex:
      return RE2::FullMatch(v, *f.regex);
    case Op::kNotRegex:
      return !RE2::FullMatch(v, *f.regex);
    default:
      break;
  }
  // A value that is not a number fails a numeric comparison (Loki would
  // keep the line with an __error__ label; we never produce those).
  auto n = as_number(v);
  if (!n) return false;
  switch (f.op) {
    case Op::kGt:
      return *n > f.number;
    case Op::kGte:
      return *n >= f.number;
    case Op::kLt:
      return *n < f.number;
    case Op::kLte:
      return *n <= f.number;
    case Op::kNumEq:
      return *n == f.number;
    case Op::kNumNeq:
      return *n != f.number;
    default:
      return false;
  }
}

class Pipeline {
 public:
  explicit Pipeline(const LogQuery& q) : q_(q) {}

  // Runs the stages on one entry. False: filtered out. Otherwise `labels`
  // holds the final label set (unsorted) and line() the final line.
  bool run(const Labels& stream, std::string_view line, std::vector<Label>& labels) {
    labels = stream.items();
    line_ = line;
    owned_.clear();
    for (const auto& st : q_.stages) {
      switch (st.kind) {
        case Stage::Kind::kLineFilter: {
          const LineFilter& f = st.line_filter;
          bool hit;
          if (f.op == LineFilter::Op::kContains || f.op == LineFilter::Op::kNotContains)
            hit = line_.find(f.value) != std::string_view::npos;
          else
            hit = RE2::PartialMatch(re2::StringPiece(line_.data(), line_.size()), *f.regex);
          bool want = f.op == LineFilter::Op::kContains || f.op == LineFilter::Op::kRegex;
          if (hit != want) return false;
          break;
        }
        case Stage::Kind::kJson:
        case Stage::Kind::kLogfmt:
        case Stage::Kind::kRegexp: {
          ParsedLine parsed;
          if (st.kind == Stage::Kind::kJson)
            parse_json_fields(line_, parsed);
          else if (st.kind == Stage::Kind::kLogfmt)
            parse_logfmt_fields(line_, parsed);
          else
            parse_regexp_fields(*st.regexp, line_, parsed);
          for (auto& [name, value] : parsed.fields) {
            // Loki keeps the stream's label and renames the extracted one.
            std::string key = has(stream, name) ? name + "_extracted" : std::move(name);
            set_label(labels, std::move(key), std::move(value));
          }
          break;
        }
        case Stage::Kind::kLabelFilter:
          for (const auto& f : st.label_filters)
            if (!label_filter_holds(f, labels)) return false;
          break;
        case Stage::Kind::kLineFormat: {
          std::string out;
          for (const auto& part : st.format) {
            if (!part.is_label) {
              out += part.text;
            } else if (const std::string* v = find_label(labels, part.text)) {
              out += *v;
            }
          }
          owned_ = std::move(out);
          line_ = owned_;
          break;
        }
      }
    }
    return true;
  }
  std::string_view line() const { return line_; }

 private:
  static bool has(const Labels& stream, std::string_view name) {
    for (const auto& [n, v] : stream.items())
      if (n == name) return true;
    return false;
  }
  const LogQuery& q_;
  std::string_view line_;
  std::string owned_;
};

Labels to_labels(std::vector<Label> labels) {
  // Loki drops labels with empty values from results.
  std::erase_if(labels, [](const Label& l) { return l.second.empty(); });
  return Labels(std::move(labels));
}

// ---- metric evaluation ----

using Values = std::vector<std::optional<double>>;  // one per step

struct Value {
  bool scalar = false;
  Values s;                    // scalar
  std::map<Labels, Values> v;  // vector
};

std::vector<std::int64_t> step_times(const MetricRequest& req) {
  std::vector<std::int64_t> steps;
  for (std::int64_t t = req.start_ns; t <= req.end_ns; t += req.step_ns) {
    steps.push_back(t);
    if (t > std::numeric_limits<std::int64_t>::max() - req.step_ns) break;
  }
  return steps;
}

std::string detected_level(std::string_view line) {
  std::size_t from = 0;
  if (auto ts = detect_timestamp(line, 0)) from = ts->end;
  std::string_view level = detect_severity(line, from);
  return level.empty() ? "unknown" : std::string(level);
}

class MetricEvaluator {
 public:
  MetricEvaluator(const MetricRequest& req, const RangeSource& source)
      : req_(req), source_(source), steps_(step_times(req)) {}

  Value eval(const MetricExpr& e, bool detect_level) {
    using K = MetricExpr::Kind;
    switch (e.kind) {
      case K::kNumber: {
        Value out;
        out.scalar = true;
        out.s.assign(steps_.size(), e.number);
        return out;
      }
      case K::kVector: {
        Value out;
        out.v[Labels{}].assign(steps_.size(), e.number);
        return out;
      }
      case K::kParen:
        return eval(*e.lhs, detect_level);
      case K::kRange:
        return range(e, detect_level);
      case K::kAggregate:
        return aggregate(e, detect_level);
      case K::kBinary:
        return binary(e, detect_level);
    }
    return {};
  }

  EvalStats stats;

 private:
  // The source's series, as values per step (points off the step grid,
  // which no source produces, are ignored).
  Value range(const MetricExpr& e, bool detect_level) {
    Value out;
    if (steps_.empty()) return out;
    for (auto& s : source_(e, detect_level, stats)) {
      Values& vals = out.v[std::move(s.labels)];
      vals.resize(steps_.size());
      for (const auto& [t, v] : s.points) {
        if (t < req_.start_ns || (t - req_.start_ns) % req_.step_ns != 0) continue;
        const auto k = static_cast<std::size_t>((t - req_.start_ns) / req_.step_ns);
        if (k < vals.size()) vals[k] = v;
      }
    }
    return out;
  }

  static const char* agg_name(MetricExpr::AggOp op) {
    using AO = MetricExpr::AggOp;
    switch (op) {
      case AO::kSum:
        return "sum";
      case AO::kAvg:
        return "avg";
      case AO::kMin:
        return "min";
      case AO::kMax:
        return "max";
      case AO::kCount:
        return "count";
      case AO::kTopk:
        return "topk";
      case AO::kBottomk:
        return "bottomk";
    }
    return "?";
  }

  static Labels group_key(const Labels& l, const MetricExpr& e) {
    if (!e.has_grouping) return e.without ? l : Labels{};
    std::vector<Label> out;
    for (const auto& [n, v] : l.items()) {
      bool named = std::find(e.grouping.begin(), e.grouping.end(), n) != e.grouping.end();
      if (named != e.without) out.emplace_back(n, v);
    }
    return Labels(std::move(out));
  }

  Value aggregate(const MetricExpr& e, bool detect_level) {
    bool groups_by_level = false;
    if (e.has_grouping && !e.without)
      for (const auto& g : e.grouping) groups_by_level |= g == "level" || g == "detected_level";
    Value in = eval(*e.lhs, detect_level || groups_by_level);
    if (in.scalar)
      throw EvalError(std::string(agg_name(e.agg)) + "() needs a vector, not a scalar (at char " +
                      std::to_string(e.position + 1) + ")");
    using AO = MetricExpr::AggOp;
    Value out;
    if (e.agg == AO::kTopk || e.agg == AO::kBottomk) {
      const auto k = static_cast<std::size_t>(e.param);
      std::map<Labels, std::vector<const std::pair<const Labels, Values>*>> groups;
      for (const auto& s : in.v) groups[group_key(s.first, e)].push_back(&s);
      for (std::size_t step = 0; step < steps_.size(); ++step) {
        for (const auto& [key, members] : groups) {
          std::vector<std::pair<double, const Labels*>> cands;
          for (const auto* m : members)
            if (m->second[step]) cands.emplace_back(*m->second[step], &m->first);
          auto better = [&](const auto& a, const auto& b) {
            return e.agg == AO::kTopk ? a.first > b.first : a.first < b.first;
          };
          std::size_t keep = std::min(k, cands.size());
          std::partial_sort(cands.begin(), cands.begin() + static_cast<std::ptrdiff_t>(keep),
                            cands.end(), better);
          for (std::size_t c = 0; c < keep; ++c) {
            Values& vals = out.v[*cands[c].second];
            if (vals.empty()) vals.resize(steps_.size());
            vals[step] = cands[c].first;
          }
        }
      }
      return out;
    }
    struct Acc {
      std::vector<double> sum, min, max;
      std::vector<std::size_t> n;
    };
    std::map<Labels, Acc> groups;
    const std::size_t n = steps_.size();
    for (const auto& [labels, vals] : in.v) {
      auto [it, added] = groups.try_emplace(group_key(labels, e));
      Acc& a = it->second;
      if (added) {
        a.sum.assign(n, 0);
        a.min.assign(n, std::numeric_limits<double>::infinity());
        a.max.assign(n, -std::numeric_limits<double>::infinity());
        a.n.assign(n, 0);
      }
      for (std::size_t k = 0; k < n; ++k) {
        if (!vals[k]) continue;
        double v = *vals[k];
        a.sum[k] += v;
        a.min[k] = std::min(a.min[k], v);
        a.max[k] = std::max(a.max[k], v);
        ++a.n[k];
      }
    }
    for (const auto& [key, a] : groups) {
      Values vals(n);
      for (std::size_t k = 0; k < n; ++k) {
        if (a.n[k] == 0) continue;
        switch (e.agg) {
          case AO::kSum:
            vals[k] = a.sum[k];
            break;
          case AO::kAvg:
            vals[k] = a.sum[k] / static_cast<double>(a.n[k]);
            break;
          case AO::kMin:
            vals[k] = a.min[k];
            break;
          case AO::kMax:
            vals[k] = a.max[k];
            break;
          case AO::kCount:
            vals[k] = static_cast<double>(a.n[k]);
            break;
          default:
            break;
        }
      }
      out.v.emplace(key, std::move(vals));
    }
    return out;
  }

  static std::optional<double> apply(MetricExpr::BinOp op, const std::optional<double>& a,
                                     const std::optional<double>& b) {
    if (!a || !b) return std::nullopt;
    using BO = MetricExpr::BinOp;
    switch (op) {
      case BO::kAdd:
        return *a + *b;
      case BO::kSub:
        return *a - *b;
      case BO::kMul:
        return *a * *b;
      case BO::kDiv:
        return *a / *b;  // IEEE: x/0 is ±Inf, 0/0 NaN, as in Prometheus and Loki
    }
    return std::nullopt;
  }

  Value binary(const MetricExpr& e, bool detect_level) {
    Value l = eval(*e.lhs, detect_level);
    Value r = eval(*e.rhs, detect_level);
    const std::size_t n = steps_.size();
    Value out;
    auto combine = [&](const Values& a, const Values& b) {
      Values vals(n);
      for (std::size_t k = 0; k < n; ++k) vals[k] = apply(e.bin, a[k], b[k]);
      return vals;
    };
    if (l.scalar && r.scalar) {
      out.scalar = true;
      out.s = combine(l.s, r.s);
    } else if (l.scalar) {
      for (const auto& [labels, vals] : r.v) out.v.emplace(labels, combine(l.s, vals));
    } else if (r.scalar) {
      for (const auto& [labels, vals] : l.v) out.v.emplace(labels, combine(vals, r.s));
    } else {
      // One-to-one matching on the whole label set.
      for (const auto& [labels, vals] : l.v) {
        auto it = r.v.find(labels);
        if (it != r.v.end()) out.v.emplace(labels, combine(vals, it->second));
      }
    }
    return out;
  }

  const MetricRequest& req_;
  const RangeSource& source_;
  std::vector<std::int64_t> steps_;

 public:
  const std::vector<std::int64_t>& steps() const { return steps_; }
};

struct Hit {
  std::int64_t ts;
  std::size_t part;
  std::uint64_t seq;  // arrival order within the scan, for stable ties
  Labels labels;
  std::string line;
};

}  // namespace

void scan_selector(const std::vector<SearchPart>& parts, const StreamSelector& selector,
                   std::int64_t start_ns, std::int64_t end_ns, const EvalLimits& limits,
                   EvalStats& stats, const std::function<void(const SelectedEntry&)>& fn) {
  for (std::size_t pi = 0; pi < parts.size(); ++pi) {
    PartView view(parts[pi]);
    scan_part(view, selector, nullptr, start_ns, end_ns, limits, stats,
              [&](const Labels& stream, std::int64_t ts, std::string_view line) {
                fn(SelectedEntry{stream, ts, line, pi});
              });
  }
}

LogResult evaluate_log(const std::vector<SearchPart>& parts, const LogQuery& query,
                       const LogRequest& request, const EvalLimits& limits) {
  LogResult out;
  if (request.limit == 0 || request.end_ns <= request.start_ns) return out;
  const bool backward = request.direction == Direction::kBackward;
  // Backward: newest first; at equal times the newer part, then the later
  // doc. Forward: the reverse.
  auto before = [backward](const Hit& a, const Hit& b) {
    if (a.ts != b.ts) return backward ? a.ts > b.ts : a.ts < b.ts;
    if (a.part != b.part) return backward ? a.part < b.part : a.part > b.part;
    return backward ? a.seq > b.seq : a.seq < b.seq;
  };
  std::vector<Hit> hits;
  const std::size_t trim_at = 2 * request.limit + 1024;
  Pipeline pipe(query);
  std::vector<Label> labels;
  std::uint64_t seq = 0;
  for (std::size_t pi = 0; pi < parts.size(); ++pi) {
    PartView view(parts[pi]);
    scan_part(
        view, query.selector, &query.stages, request.start_ns, request.end_ns, limits, out.stats,
        [&](const Labels& stream, std::int64_t ts, std::string_view line) {
          ++seq;
          if (!pipe.run(stream, line, labels)) return;
          hits.push_back(Hit{ts, pi, seq, to_labels(std::move(labels)), std::string(pipe.line())});
          if (hits.size() >= trim_at) {
            std::nth_element(hits.begin(),
                             hits.begin() + static_cast<std::ptrdiff_t>(request.limit), hits.end(),
                             before);
            hits.resize(request.limit);
          }
        });
  }
  std::sort(hits.begin(), hits.end(), before);
  if (hits.size() > request.limit) hits.resize(request.limit);
  std::map<Labels, std::size_t> index;
  for (auto& h : hits) {
    auto [it, added] = index.try_emplace(h.labels, out.streams.size());
    if (added) out.streams.push_back(StreamEntries{h.labels, {}});
    out.streams[it->second].entries.emplace_back(h.ts, std::move(h.line));
  }
  std::sort(out.streams.begin(), out.streams.end(),
            [](const StreamEntries& a, const StreamEntries& b) { return a.labels < b.labels; });
  return out;
}

void check_series_limit(std::size_t series, const EvalLimits& limits) {
  if (series > limits.max_series)
    throw EvalError("maximum of series (" + std::to_string(limits.max_series) +
                    ") reached for a single query; group by fewer labels or narrow the stream "
                    "selector");
}

void check_scan_limit(std::uint64_t scanned, const EvalLimits& limits) {
  if (scanned > limits.max_entries_scanned)
    throw EvalError("the query would read more than " + std::to_string(limits.max_entries_scanned) +
                    " log lines; narrow the time range or the stream selector");
}

std::vector<Series> evaluate_range(const std::vector<SearchPart>& parts, const MetricExpr& e,
                                   const MetricRequest& request, bool detect_level,
                                   const EvalLimits& limits, EvalStats& stats) {
  const std::vector<std::int64_t> steps = step_times(request);
  if (steps.empty()) return {};
  const std::int64_t range_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(e.range).count();
  std::map<Labels, std::vector<std::pair<std::int64_t, std::uint64_t>>> series;
  const std::int64_t start = steps.front() - range_ns + 1;
  const std::int64_t end = steps.back() + 1;
  Pipeline pipe(e.log);
  std::vector<Label> labels;
  for (const auto& part : parts) {
    PartView view(part);
    scan_part(
        view, e.log.selector, &e.log.stages, start, end, limits, stats,
        [&](const Labels& stream, std::int64_t ts, std::string_view line) {
          if (!pipe.run(stream, line, labels)) return;
          if (detect_level && !find_label(labels, "level") && !find_label(labels, "detected_level"))
            labels.emplace_back("detected_level", detected_level(line));
          auto [it, added] = series.try_emplace(to_labels(std::move(labels)));
          if (added) check_series_limit(series.size(), limits);
          it->second.emplace_back(ts, pipe.line().size());
        });
  }
  std::vector<Series> out;
  const double seconds = static_cast<double>(range_ns) / 1e9;
  using RF = MetricExpr::RangeFn;
  for (auto& [labels, points] : series) {
    std::sort(points.begin(), points.end());
    std::vector<std::uint64_t> bytes(points.size() + 1, 0);  // prefix sums
    for (std::size_t k = 0; k < points.size(); ++k) bytes[k + 1] = bytes[k] + points[k].second;
    Series s{labels, {}};
    std::size_t lo = 0, hi = 0;
    for (const std::int64_t t : steps) {
      while (hi < points.size() && points[hi].first <= t) ++hi;
      while (lo < hi && points[lo].first <= t - range_ns) ++lo;
      if (hi == lo) continue;
      const double count = static_cast<double>(hi - lo);
      const double b = static_cast<double>(bytes[hi] - bytes[lo]);
      switch (e.range_fn) {
        case RF::kCountOverTime:
          s.points.emplace_back(t, count);
          break;
        case RF::kRate:
          s.points.emplace_back(t, count / seconds);
          break;
        case RF::kBytesOverTime:
          s.points.emplace_back(t, b);
          break;
        case RF::kBytesRate:
          s.points.emplace_back(t, b / seconds);
          break;
      }
    }
    if (!s.points.empty()) out.push_back(std::move(s));
  }
  return out;
}

MetricResult evaluate_metric(const MetricExpr& expr, const MetricRequest& request,
                             const RangeSource& source) {
  if (request.step_ns <= 0) throw EvalError("step must be positive");
  if (request.end_ns < request.start_ns) throw EvalError("end must not be before start");
  const std::uint64_t span =
      static_cast<std::uint64_t>(request.end_ns) - static_cast<std::uint64_t>(request.start_ns);
  const std::uint64_t n = span / static_cast<std::uint64_t>(request.step_ns) + 1;
  if (n > kMaxSteps)
    throw EvalError("exceeded maximum resolution of " + std::to_string(kMaxSteps) +
                    " points per series (" + std::to_string(n) +
                    "); use a larger step or a shorter range");
  MetricEvaluator ev(request, source);
  Value v = ev.eval(expr, request.detect_level);
  MetricResult out;
  out.stats = ev.stats;
  out.scalar = v.scalar;
  auto to_points = [&](const Values& vals) {
    std::vector<std::pair<std::int64_t, double>> pts;
    for (std::size_t k = 0; k < vals.size(); ++k)
      if (vals[k]) pts.emplace_back(ev.steps()[k], *vals[k]);
    return pts;
  };
  if (v.scalar) {
    out.series.push_back(Series{Labels{}, to_points(v.s)});
  } else {
    for (const auto& [labels, vals] : v.v) {
      auto pts = to_points(vals);
      if (!pts.empty()) out.series.push_back(Series{labels, std::move(pts)});
    }
  }
  return out;
}

MetricResult evaluate_metric(const std::vector<SearchPart>& parts, const MetricExpr& expr,
                             const MetricRequest& request, const EvalLimits& limits) {
  return evaluate_metric(
      expr, request, [&](const MetricExpr& range, bool detect_level, EvalStats& stats) {
        return evaluate_range(parts, range, request, detect_level, limits, stats);
      });
}

}  // namespace strata::logindex::logql
