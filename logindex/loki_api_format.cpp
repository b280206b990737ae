#include "logindex/loki_api_format.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include "common/api_error.h"
#include "common/config.h"
#include "common/logging.h"
#include "common/wire_format.h"
#include "logindex/logql/parser.h"
#include "logindex/timestamp_detector.h"

namespace strata::logindex {

using http::BadData;

std::string format_seconds(std::int64_t ns) {
  std::int64_t s = ns / kLokiSecond, frac = ns % kLokiSecond;
  if (frac < 0) {
    frac += kLokiSecond;
    --s;
  }
  std::string out = std::to_string(s);
  if (frac == 0) return out;
  std::string digits = std::to_string(frac);
  digits.insert(0, 9 - digits.size(), '0');
  while (!digits.empty() && digits.back() == '0') digits.pop_back();
  return out + "." + digits;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[512];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  if (ec != std::errc()) return std::to_string(v);
  return std::string(buf, p);
}

std::optional<std::string> nonempty_param(const http::Request& req, std::string_view name) {
  auto v = req.param(name);
  if (!v || v->empty()) return std::nullopt;
  return v;
}

// Loki's parseTimestamp: see the header.
std::optional<std::int64_t> time_param(const http::Request& req, std::string_view name,
                                       std::int64_t now_ns) {
  auto v = nonempty_param(req, name);
  if (!v) return std::nullopt;
  const char* b = v->data();
  const char* e = b + v->size();
  if (v->find('.') != std::string::npos) {
    double secs = 0;
    auto [p, ec] = std::from_chars(b, e, secs);
    if (ec == std::errc() && p == e && std::isfinite(secs) && std::fabs(secs) < 9e9) {
      double whole = std::floor(secs);
      auto ms = std::llround((secs - whole) * 1000.0);
      return static_cast<std::int64_t>(whole) * kLokiSecond + ms * 1'000'000;
    }
  }
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(b, e, n);
  if (ec == std::errc() && p == e) {
    std::size_t digits = v->size() - (v->front() == '-' ? 1 : 0);
    if (digits <= 10) return n * kLokiSecond;
    return n;
  }
  if (auto t = parse_timestamp(*v, now_ns); t && v->find('-') != std::string::npos) return *t;
  throw BadData("invalid parameter \"" + std::string(name) + "\": cannot parse \"" + *v +
                "\" to a valid timestamp (unix seconds or nanoseconds, or RFC 3339)");
}

std::int64_t step_param(const http::Request& req, std::int64_t start, std::int64_t end) {
  auto v = nonempty_param(req, "step");
  if (!v) {
    // Loki's default: about 250 points, at least one second apart.
    return std::max<std::int64_t>(1, (end - start) / kLokiSecond / 250) * kLokiSecond;
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
  auto v = nonempty_param(req, "direction");
  if (!v) return logql::Direction::kBackward;
  std::string d = *v;
  for (char& c : d) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (d == "backward") return logql::Direction::kBackward;
  if (d == "forward") return logql::Direction::kForward;
  throw BadData("invalid parameter \"direction\": expected backward or forward, got \"" + *v +
                "\"");
}

logql::Query query_param(const http::Request& req) {
  auto q = nonempty_param(req, "query");
  if (!q) throw BadData("parameter \"query\" is required");
  try {
    return logql::parse(*q);
  } catch (const logql::ParseError& e) {
    throw BadData(e.what());
  }
}

std::size_t limit_param(const http::Request& req, std::size_t default_limit,
                        std::size_t max_limit) {
  auto l = nonempty_param(req, "limit");
  if (!l) return default_limit;
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(l->data(), l->data() + l->size(), n);
  if (ec != std::errc() || p != l->data() + l->size() || n < 1 ||
      static_cast<std::uint64_t>(n) > max_limit)
    throw BadData("invalid parameter \"limit\": expected an integer between 1 and " +
                  std::to_string(max_limit) + ", got \"" + *l + "\"");
  return static_cast<std::size_t>(n);
}

std::pair<std::int64_t, std::int64_t> meta_range(const http::Request& req, std::int64_t now_ns) {
  std::int64_t end = time_param(req, "end", now_ns).value_or(now_ns);
  std::int64_t start = time_param(req, "start", now_ns).value_or(end - 6 * kLokiHour);
  if (end < start) throw BadData("invalid parameter \"end\": end must not be before start");
  return {start, end + 1};  // end inclusive here
}

std::vector<StreamSelector> series_selectors(const http::Request& req) {
  std::vector<std::string> matches = req.params_all("match[]");
  for (auto& m : req.params_all("match")) matches.push_back(m);
  if (matches.empty()) throw BadData("parameter \"match[]\" is required");
  std::vector<StreamSelector> selectors;
  for (const auto& m : matches) {
    try {
      std::size_t used = 0;
      selectors.push_back(StreamSelector::parse(m, &used));
      if (m.find_first_not_of(" \t\n", used) != std::string::npos)
        throw BadData("invalid parameter \"match[]\": expected only a stream selector, got \"" + m +
                      "\"");
    } catch (const SelectorError& e) {
      throw BadData("invalid parameter \"match[]\": " + std::string(e.what()));
    }
  }
  return selectors;
}

std::optional<std::string> label_name_from_path(std::string_view path) {
  constexpr std::string_view kPrefix = "/loki/api/v1/label/";
  constexpr std::string_view kSuffix = "/values";
  if (!path.starts_with(kPrefix) || !path.ends_with(kSuffix) ||
      path.size() <= kPrefix.size() + kSuffix.size())
    return std::nullopt;
  return std::string(path.substr(kPrefix.size(), path.size() - kPrefix.size() - kSuffix.size()));
}

void check_label_name(const std::string& name) {
  if (!wire::valid_label_name(name))
    throw BadData("invalid label name \"" + name + "\" in /loki/api/v1/label/<name>/values");
}

LokiQueryRequest query_range_request(const http::Request& req, std::int64_t now_ns,
                                     std::size_t default_limit, std::size_t max_limit) {
  LokiQueryRequest out;
  out.query = query_param(req);
  std::int64_t end = time_param(req, "end", now_ns).value_or(now_ns);
  std::int64_t start = time_param(req, "start", now_ns).value_or(end - kLokiHour);
  if (end < start) throw BadData("invalid parameter \"end\": end must not be before start");
  if (out.query.is_metric()) {
    out.metric = logql::MetricRequest{start, end, step_param(req, start, end)};
    auto detect = req.param(kDetectLevelParam);
    out.metric.detect_level = detect && (*detect == "1" || *detect == "true");
    return out;
  }
  out.log.start_ns = start;
  out.log.end_ns = end;
  out.log.direction = direction_param(req);
  out.log.limit = limit_param(req, default_limit, max_limit);
  return out;
}

LokiQueryRequest instant_query_request(const http::Request& req, std::int64_t now_ns,
                                       std::size_t default_limit, std::size_t max_limit) {
  LokiQueryRequest out;
  out.query = query_param(req);
  out.instant = true;
  out.time_ns = time_param(req, "time", now_ns).value_or(now_ns);
  if (out.query.is_metric()) {
    out.metric = logql::MetricRequest{out.time_ns, out.time_ns, kLokiSecond};
    return out;
  }
  // A log query at an instant: the lines of the hour up to it.
  out.log.start_ns = out.time_ns - kLokiHour;
  out.log.end_ns = out.time_ns + 1;
  out.log.direction = direction_param(req);
  out.log.limit = limit_param(req, default_limit, max_limit);
  return out;
}

namespace {

std::string stats_json(const logql::EvalStats& s, std::size_t returned) {
  return R"({"summary":{"totalEntriesReturned":)" + std::to_string(returned) +
         R"(,"totalLinesProcessed":)" + std::to_string(s.entries_scanned) +
         R"(,"totalBytesProcessed":)" + std::to_string(s.bytes_scanned) + "}}";
}

}  // namespace

std::string streams_json(const logql::LogResult& r) {
  std::string out = R"({"status":"success","data":{"resultType":"streams","result":[)";
  std::size_t returned = 0;
  for (std::size_t k = 0; k < r.streams.size(); ++k) {
    if (k) out += ',';
    out += R"({"stream":)";
    logging::append_json_object(out, r.streams[k].labels.items());
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

namespace {

std::string sample_json(std::int64_t ts, double v) {
  return "[" + format_seconds(ts) + ",\"" + format_value(v) + "\"]";
}

}  // namespace

std::string matrix_json(const logql::MetricResult& r) {
  std::string out = R"({"status":"success","data":{"resultType":"matrix","result":[)";
  for (std::size_t k = 0; k < r.series.size(); ++k) {
    if (k) out += ',';
    out += R"({"metric":)";
    logging::append_json_object(out, r.series[k].labels.items());
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
    logging::append_json_object(out, s.labels.items());
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

std::string query_json(const LokiQueryRequest& q, const logql::MetricResult& r) {
  return q.instant ? vector_json(r, q.time_ns) : matrix_json(r);
}

std::string series_json(const std::set<Labels>& series) {
  std::string out = R"({"status":"success","data":[)";
  bool first = true;
  for (const auto& s : series) {
    if (!first) out += ',';
    first = false;
    logging::append_json_object(out, s.items());
  }
  out += "]}";
  return out;
}

std::string index_stats_json(std::uint64_t streams, std::uint64_t chunks, std::uint64_t entries,
                             std::uint64_t bytes) {
  return R"({"streams":)" + std::to_string(streams) + R"(,"chunks":)" + std::to_string(chunks) +
         R"(,"entries":)" + std::to_string(entries) + R"(,"bytes":)" + std::to_string(bytes) + "}";
}

void add_loki_routes(http::HttpServer& server, const LokiHandlers& h) {
  for (const char* method : {"GET", "POST"}) {
    server.add_route(method, "/loki/api/v1/query_range", h.query_range);
    server.add_route(method, "/loki/api/v1/query", h.query);
    server.add_route(method, "/loki/api/v1/labels", h.labels);
    server.add_route(method, "/loki/api/v1/series", h.series);
    server.add_route(method, "/loki/api/v1/index/stats", h.index_stats);
    server.add_prefix_route(method, "/loki/api/v1/label/", h.label_values);
  }
}

}  // namespace strata::logindex
