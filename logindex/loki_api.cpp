#include "logindex/loki_api.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>

#include "common/api_error.h"
#include "common/config.h"
#include "common/logging.h"
#include "common/wire_format.h"
#include "logindex/logql/parser.h"
#include "logindex/memory_index.h"
#include "logindex/segment.h"
#include "logindex/timestamp_detector.h"

namespace strata::logindex {
namespace {

using http::BadData;

constexpr std::int64_t kSecond = 1'000'000'000;
constexpr std::int64_t kHour = 3600 * kSecond;
// The label dictionary walk of /labels and /label/<name>/values.
constexpr std::size_t kMaxLabelTerms = 1'000'000;

void append_labels(std::string& out, const Labels& labels) {
  out += '{';
  bool first = true;
  for (const auto& [n, v] : labels.items()) {
    if (!first) out += ',';
    first = false;
    logging::append_json_string(out, n);
    out += ':';
    logging::append_json_string(out, v);
  }
  out += '}';
}

// Unix seconds with up to 9 decimals, trailing zeros cut: 1700000000,
// 1700000000.5 (a JSON number, as Loki writes sample times).
std::string format_seconds(std::int64_t ns) {
  std::int64_t s = ns / kSecond, frac = ns % kSecond;
  if (frac < 0) {
    frac += kSecond;
    --s;
  }
  std::string out = std::to_string(s);
  if (frac == 0) return out;
  std::string digits = std::to_string(frac);
  digits.insert(0, 9 - digits.size(), '0');
  while (!digits.empty() && digits.back() == '0') digits.pop_back();
  return out + "." + digits;
}

// Prometheus' spelling of a sample value: shortest round-trip, no exponent.
std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[512];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  if (ec != std::errc()) return std::to_string(v);
  return std::string(buf, p);
}

std::optional<std::string> nonempty(const http::Request& req, std::string_view name) {
  auto v = req.param(name);
  if (!v || v->empty()) return std::nullopt;
  return v;
}

// Loki's parseTimestamp: a fraction means float seconds; an integer of at
// most 10 digits is seconds, a longer one nanoseconds; else RFC 3339.
std::optional<std::int64_t> time_param(const http::Request& req, std::string_view name,
                                       std::int64_t now) {
  auto v = nonempty(req, name);
  if (!v) return std::nullopt;
  const char* b = v->data();
  const char* e = b + v->size();
  if (v->find('.') != std::string::npos) {
    double secs = 0;
    auto [p, ec] = std::from_chars(b, e, secs);
    if (ec == std::errc() && p == e && std::isfinite(secs) && std::fabs(secs) < 9e9) {
      double whole = std::floor(secs);
      auto ms = std::llround((secs - whole) * 1000.0);
      return static_cast<std::int64_t>(whole) * kSecond + ms * 1'000'000;
    }
  }
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(b, e, n);
  if (ec == std::errc() && p == e) {
    std::size_t digits = v->size() - (v->front() == '-' ? 1 : 0);
    if (digits <= 10) return n * kSecond;
    return n;
  }
  if (auto t = parse_timestamp(*v, now); t && v->find('-') != std::string::npos) return *t;
  throw BadData("invalid parameter \"" + std::string(name) + "\": cannot parse \"" + *v +
                "\" to a valid timestamp (unix seconds or nanoseconds, or RFC 3339)");
}

std::int64_t step_param(const http::Request& req, std::int64_t start, std::int64_t end) {
  auto v = nonempty(req, "step");
  if (!v) {
    // Loki's default: about 250 points, at least one second apart.
    return std::max<std::int64_t>(1, (end - start) / kSecond / 250) * kSecond;
  }
  std::int64_t ns = 0;
  double secs = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), secs);
  if (ec == std::errc() && p == v->data() + v->size() && std::isfinite(secs) && secs < 1e9) {
    ns = std::llround(secs * 1e9);
  } else {
    try {
      ns = std::chrono::duration_cast<std::chrono::nanoseconds>(config::parse_duration(*v, "step"))
               .count();
    } catch (const std::exception&) {
      throw BadData("invalid parameter \"step\": expected a duration like 15s or seconds, got \"" +
                    *v + "\"");
    }
  }
  if (ns <= 0)
    throw BadData(
        "zero or negative query resolution step widths are not accepted. Try a positive "
        "integer");
  return ns;
}

logql::Direction direction_param(const http::Request& req) {
  auto v = nonempty(req, "direction");
  if (!v) return logql::Direction::kBackward;
  std::string d = *v;
  for (char& c : d) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (d == "backward") return logql::Direction::kBackward;
  if (d == "forward") return logql::Direction::kForward;
  throw BadData("invalid parameter \"direction\": expected backward or forward, got \"" + *v +
                "\"");
}

logql::Query parse_query(const http::Request& req) {
  auto q = nonempty(req, "query");
  if (!q) throw BadData("parameter \"query\" is required");
  try {
    return logql::parse(*q);
  } catch (const logql::ParseError& e) {
    throw BadData(e.what());
  }
}

std::string stats_json(const logql::EvalStats& s, std::size_t returned) {
  return R"({"summary":{"totalEntriesReturned":)" + std::to_string(returned) +
         R"(,"totalLinesProcessed":)" + std::to_string(s.entries_scanned) +
         R"(,"totalBytesProcessed":)" + std::to_string(s.bytes_scanned) + "}}";
}

std::string streams_json(const logql::LogResult& r) {
  std::string out = R"({"status":"success","data":{"resultType":"streams","result":[)";
  std::size_t returned = 0;
  for (std::size_t k = 0; k < r.streams.size(); ++k) {
    if (k) out += ',';
    out += R"({"stream":)";
    append_labels(out, r.streams[k].labels);
    out += R"(,"values":[)";
    bool first = true;
    for (const auto& [ts, line] : r.streams[k].entries) {
      if (!first) out += ',';
      first = false;
      out += "[\"" + std::to_string(ts) + "\",";
      logging::append_json_string(out, line);
      out += ']';
      ++returned;
    }
    out += "]}";
  }
  out += R"(],"stats":)" + stats_json(r.stats, returned) + "}}";
  return out;
}

std::string sample_json(std::int64_t ts, double v) {
  return "[" + format_seconds(ts) + ",\"" + format_value(v) + "\"]";
}

std::string matrix_json(const logql::MetricResult& r) {
  std::string out = R"({"status":"success","data":{"resultType":"matrix","result":[)";
  for (std::size_t k = 0; k < r.series.size(); ++k) {
    if (k) out += ',';
    out += R"({"metric":)";
    append_labels(out, r.series[k].labels);
    out += R"(,"values":[)";
    for (std::size_t p = 0; p < r.series[k].points.size(); ++p) {
      if (p) out += ',';
      out += sample_json(r.series[k].points[p].first, r.series[k].points[p].second);
    }
    out += "]}";
  }
  out += R"(],"stats":)" + stats_json(r.stats, 0) + "}}";
  return out;
}

std::string vector_json(const logql::MetricResult& r, std::int64_t t) {
  if (r.scalar) {
    double v = r.series.empty() || r.series[0].points.empty() ? std::nan("")
                                                              : r.series[0].points[0].second;
    return R"({"status":"success","data":{"resultType":"scalar","result":)" + sample_json(t, v) +
           R"(,"stats":)" + stats_json(r.stats, 0) + "}}";
  }
  std::string out = R"({"status":"success","data":{"resultType":"vector","result":[)";
  bool first = true;
  for (const auto& s : r.series) {
    if (s.points.empty()) continue;
    if (!first) out += ',';
    first = false;
    out += R"({"metric":)";
    append_labels(out, s.labels);
    out += R"(,"value":)" + sample_json(s.points.back().first, s.points.back().second) + "}";
  }
  out += R"(],"stats":)" + stats_json(r.stats, 0) + "}}";
  return out;
}

std::string strings_json(const std::set<std::string>& values) {
  std::string out = R"({"status":"success","data":[)";
  bool first = true;
  for (const auto& v : values) {
    if (!first) out += ',';
    first = false;
    logging::append_json_string(out, v);
  }
  out += "]}";
  return out;
}

// Does the part hold lines in [start, end)?
bool overlaps(const SearchPart& p, std::int64_t start, std::int64_t end) {
  std::int64_t lo, hi;
  if (p.head) {
    std::tie(lo, hi) = p.head->time_range();
  } else {
    lo = p.segment->summary().min_ts;
    hi = p.segment->summary().max_ts;
  }
  return lo <= hi && lo < end && hi >= start;
}

std::vector<std::string> label_terms(const SearchPart& p, std::string_view prefix) {
  return p.head ? p.head->terms_with_prefix(TermKind::kLabel, prefix, kMaxLabelTerms)
                : p.segment->terms_with_prefix(TermKind::kLabel, prefix, kMaxLabelTerms);
}

// The stream selector of a query (of its first range function when it is a
// metric query), for index stats.
const StreamSelector* first_selector(const logql::MetricExpr& e) {
  if (e.kind == logql::MetricExpr::Kind::kRange) return &e.log.selector;
  for (const auto* c : {e.lhs.get(), e.rhs.get()})
    if (c)
      if (const auto* s = first_selector(*c)) return s;
  return nullptr;
}

}  // namespace

LokiApi::LokiApi(const Searcher& index, LokiApiOptions options, metrics::Registry& registry)
    : index_(index),
      options_(std::move(options)),
      queries_(registry.counter("strata_logindex_loki_requests_total",
                                "Requests to the Loki-compatible API (/loki/api/v1/...).")),
      bad_requests_(registry.counter("strata_logindex_loki_bad_requests_total",
                                     "Loki API requests rejected with 400 bad_data.")),
      duration_(registry.histogram("strata_logindex_loki_request_duration_seconds",
                                   "Time to answer a valid Loki API request.")) {
  if (!options_.now_ns)
    options_.now_ns = [] {
      return std::chrono::duration_cast<std::chrono::nanoseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
}

void LokiApi::register_routes(const std::shared_ptr<LokiApi>& api, http::HttpServer& server) {
  auto route = [&](const std::string& path,
                   http::Response (LokiApi::*fn)(const http::Request&) const) {
    auto h = [api, fn](const http::Request& r) { return ((*api).*fn)(r); };
    server.add_route("GET", path, h);
    server.add_route("POST", path, h);
  };
  route("/loki/api/v1/query_range", &LokiApi::query_range);
  route("/loki/api/v1/query", &LokiApi::query);
  route("/loki/api/v1/labels", &LokiApi::labels);
  route("/loki/api/v1/series", &LokiApi::series);
  route("/loki/api/v1/index/stats", &LokiApi::index_stats);
  auto values = [api](const http::Request& r) { return api->label_values_route(r); };
  server.add_prefix_route("GET", "/loki/api/v1/label/", values);
  server.add_prefix_route("POST", "/loki/api/v1/label/", values);
}

namespace {

// Runs a handler body, turning BadData/EvalError into 400 and anything else
// (a damaged segment) into 500, and counting.
template <typename Fn>
http::Response guarded(const http::Request& req, metrics::Counter& requests, metrics::Counter& bad,
                       metrics::Histogram& duration, Fn&& fn) {
  requests.inc();
  const auto started = std::chrono::steady_clock::now();
  try {
    http::Response r = http::Response::json(200, fn());
    duration.observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    return r;
  } catch (const BadData& e) {
    bad.inc();
    return http::Response::json(400, http::api_error_json("bad_data", e.what()));
  } catch (const logql::EvalError& e) {
    bad.inc();
    return http::Response::json(400, http::api_error_json("bad_data", e.what()));
  } catch (const std::exception& e) {
    spdlog::error("loki api: {} failed: {}", req.path, e.what());
    return http::Response::json(500, http::api_error_json("internal", e.what()));
  }
}

}  // namespace

http::Response LokiApi::query_range(const http::Request& req) const {
  return guarded(req, queries_, bad_requests_, duration_, [&] {
    const std::int64_t now = options_.now_ns();
    logql::Query q = parse_query(req);
    std::int64_t end = time_param(req, "end", now).value_or(now);
    std::int64_t start = time_param(req, "start", now).value_or(end - kHour);
    if (end < start) throw BadData("invalid parameter \"end\": end must not be before start");
    if (q.is_metric()) {
      logql::MetricRequest mr{start, end, step_param(req, start, end)};
      return matrix_json(logql::evaluate_metric(index_.parts(), *q.metric, mr, options_.limits));
    }
    logql::LogRequest lr;
    lr.start_ns = start;
    lr.end_ns = end;
    lr.direction = direction_param(req);
    lr.limit = limit_param(req);
    return streams_json(logql::evaluate_log(index_.parts(), *q.log, lr, options_.limits));
  });
}

std::size_t LokiApi::limit_param(const http::Request& req) const {
  auto l = nonempty(req, "limit");
  if (!l) return options_.default_limit;
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(l->data(), l->data() + l->size(), n);
  if (ec != std::errc() || p != l->data() + l->size() || n < 1 ||
      static_cast<std::uint64_t>(n) > options_.max_limit)
    throw BadData("invalid parameter \"limit\": expected an integer between 1 and " +
                  std::to_string(options_.max_limit) + ", got \"" + *l + "\"");
  return static_cast<std::size_t>(n);
}

http::Response LokiApi::query(const http::Request& req) const {
  return guarded(req, queries_, bad_requests_, duration_, [&] {
    const std::int64_t now = options_.now_ns();
    logql::Query q = parse_query(req);
    std::int64_t t = time_param(req, "time", now).value_or(now);
    if (q.is_metric()) {
      logql::MetricRequest mr{t, t, kSecond};
      return vector_json(logql::evaluate_metric(index_.parts(), *q.metric, mr, options_.limits), t);
    }
    // A log query at an instant: the lines of the hour up to it.
    logql::LogRequest lr;
    lr.start_ns = t - kHour;
    lr.end_ns = t + 1;
    lr.direction = direction_param(req);
    lr.limit = limit_param(req);
    return streams_json(logql::evaluate_log(index_.parts(), *q.log, lr, options_.limits));
  });
}

namespace {

// start/end of the metadata endpoints: Loki's default is the last 6 hours.
std::pair<std::int64_t, std::int64_t> meta_range(const http::Request& req, std::int64_t now) {
  std::int64_t end = time_param(req, "end", now).value_or(now);
  std::int64_t start = time_param(req, "start", now).value_or(end - 6 * kHour);
  if (end < start) throw BadData("invalid parameter \"end\": end must not be before start");
  return {start, end + 1};  // end inclusive here
}

}  // namespace

http::Response LokiApi::labels(const http::Request& req) const {
  return guarded(req, queries_, bad_requests_, duration_, [&] {
    auto [start, end] = meta_range(req, options_.now_ns());
    std::set<std::string> names;
    for (const auto& p : index_.parts()) {
      if (!overlaps(p, start, end)) continue;
      for (const auto& t : label_terms(p, "")) names.insert(t.substr(0, t.find('=')));
    }
    return strings_json(names);
  });
}

http::Response LokiApi::label_values(const http::Request& req, const std::string& name) const {
  return guarded(req, queries_, bad_requests_, duration_, [&] {
    if (!wire::valid_label_name(name))
      throw BadData("invalid label name \"" + name + "\" in /loki/api/v1/label/<name>/values");
    auto [start, end] = meta_range(req, options_.now_ns());
    std::set<std::string> values;
    const std::string prefix = name + "=";
    for (const auto& p : index_.parts()) {
      if (!overlaps(p, start, end)) continue;
      for (const auto& t : label_terms(p, prefix)) values.insert(t.substr(prefix.size()));
    }
    return strings_json(values);
  });
}

http::Response LokiApi::label_values_route(const http::Request& req) const {
  constexpr std::string_view kPrefix = "/loki/api/v1/label/";
  constexpr std::string_view kSuffix = "/values";
  std::string_view path = req.path;
  if (!path.starts_with(kPrefix) || !path.ends_with(kSuffix) ||
      path.size() <= kPrefix.size() + kSuffix.size())
    return http::Response::json(
        404, http::api_error_json("not_found", "expected /loki/api/v1/label/<name>/values, got " +
                                                   std::string(path)));
  return label_values(
      req, std::string(path.substr(kPrefix.size(), path.size() - kPrefix.size() - kSuffix.size())));
}

http::Response LokiApi::series(const http::Request& req) const {
  return guarded(req, queries_, bad_requests_, duration_, [&] {
    auto [start, end] = meta_range(req, options_.now_ns());
    std::vector<std::string> matches = req.params_all("match[]");
    for (auto& m : req.params_all("match")) matches.push_back(m);
    if (matches.empty()) throw BadData("parameter \"match[]\" is required");
    std::vector<StreamSelector> selectors;
    for (const auto& m : matches) {
      try {
        std::size_t used = 0;
        selectors.push_back(StreamSelector::parse(m, &used));
        if (m.find_first_not_of(" \t\n", used) != std::string::npos)
          throw BadData("invalid parameter \"match[]\": expected only a stream selector, got \"" +
                        m + "\"");
      } catch (const SelectorError& e) {
        throw BadData("invalid parameter \"match[]\": " + std::string(e.what()));
      }
    }
    std::set<Labels> found;
    const auto parts = index_.parts();
    for (const auto& p : parts) {
      if (!overlaps(p, start, end)) continue;
      if (p.segment) {
        // A segment's stream table is enough: Loki answers series at chunk
        // granularity too.
        for (const auto& s : p.segment->streams())
          for (const auto& sel : selectors)
            if (sel.matches(s)) found.insert(s);
        continue;
      }
      logql::EvalStats stats;
      for (const auto& sel : selectors)
        logql::scan_selector({p}, sel, start, end, options_.limits, stats,
                             [&](const logql::SelectedEntry& e) { found.insert(e.stream); });
    }
    std::string out = R"({"status":"success","data":[)";
    bool first = true;
    for (const auto& s : found) {
      if (!first) out += ',';
      first = false;
      append_labels(out, s);
    }
    out += "]}";
    return out;
  });
}

http::Response LokiApi::index_stats(const http::Request& req) const {
  return guarded(req, queries_, bad_requests_, duration_, [&] {
    logql::Query q = parse_query(req);
    auto [start, end] = meta_range(req, options_.now_ns());
    const StreamSelector* sel = q.is_metric() ? first_selector(*q.metric) : &q.log->selector;
    std::set<Labels> streams;
    std::set<std::size_t> chunks;
    std::uint64_t entries = 0, bytes = 0;
    if (sel) {
      logql::EvalStats stats;
      logql::scan_selector(index_.parts(), *sel, start, end, options_.limits, stats,
                           [&](const logql::SelectedEntry& e) {
                             streams.insert(e.stream);  // copies only a new one
                             chunks.insert(e.part);
                             ++entries;
                             bytes += e.line.size();
                           });
    }
    // Loki's index/stats answer is a bare object, without the envelope.
    return R"({"streams":)" + std::to_string(streams.size()) + R"(,"chunks":)" +
           std::to_string(chunks.size()) + R"(,"entries":)" + std::to_string(entries) +
           R"(,"bytes":)" + std::to_string(bytes) + "}";
  });
}

}  // namespace strata::logindex
