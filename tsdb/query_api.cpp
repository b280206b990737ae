#include "tsdb/query_api.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>

#include "common/api_error.h"
#include "common/config.h"
#include "common/logging.h"
#include "common/wire_format.h"
#include "tsdb/db.h"
#include "tsdb/promql/ast_json.h"
#include "tsdb/promql/parser.h"
#include "tsdb/promql/printer.h"
#include "tsdb/promql/selector.h"

namespace strata::tsdb {
namespace {

using http::BadData;

// A client error: becomes 400 bad_data.
constexpr std::string_view kTruncatedWarning = "results truncated due to limit";

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

// `data` is already JSON.
// `warnings`: the store's (a shard missing), then the truncation one.
http::Response success(const std::string& data, bool truncated,
                       std::vector<std::string> warnings = {}) {
  if (truncated) warnings.emplace_back(kTruncatedWarning);
  std::string out = R"({"status":"success","data":)";
  out += data;
  if (!warnings.empty()) {
    out += R"(,"warnings":[)";
    for (std::size_t i = 0; i < warnings.size(); ++i) {
      if (i) out += ',';
      logging::append_json_string(out, warnings[i]);
    }
    out += ']';
  }
  out += '}';
  return http::Response::json(200, std::move(out));
}

std::string param_or_empty(const http::Request& req, std::string_view name) {
  auto v = req.param(name);
  return v ? *v : std::string();
}

// `wrapped`: Prometheus words errors of optional time parameters (query's
// time, the listings' start and end) "Invalid time value for 'time': ...",
// and those of query_range's required start and end without that prefix.
std::int64_t time_param(const http::Request& req, std::string_view name, std::int64_t dflt,
                        bool wrapped = true) {
  auto v = req.param(name);
  if (!v || v->empty()) return dflt;
  try {
    return parse_timestamp(*v);
  } catch (const std::invalid_argument& e) {
    throw BadData("invalid parameter \"" + std::string(name) +
                  "\": " + (wrapped ? "Invalid time value for '" + std::string(name) + "': " : "") +
                  e.what());
  }
}

// Prometheus semantics: absent or 0 means no limit.
std::size_t limit_param(const http::Request& req) {
  auto v = req.param("limit");
  if (!v || v->empty()) return 0;
  long long n = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || p != v->data() + v->size())
    throw BadData("invalid parameter \"limit\": cannot parse \"" + *v + "\" as an integer");
  if (n < 0) throw BadData("invalid parameter \"limit\": limit must be non-negative");
  return static_cast<std::size_t>(n);
}

std::vector<promql::VectorSelector> match_params(const http::Request& req) {
  std::vector<promql::VectorSelector> out;
  for (const auto& m : req.params_all("match[]")) {
    try {
      out.push_back(promql::parse_vector_selector(m));
    } catch (const promql::ParseError& e) {
      throw BadData("invalid parameter \"match[]\": " + std::string(e.what()));
    }
  }
  return out;
}

struct TimeRange {
  std::int64_t start;
  std::int64_t end;
  bool empty() const { return end < start; }
};

// An inverted range is not an error for the listings: like Prometheus,
// they answer it with an empty list (empty() below).
TimeRange range_params(const http::Request& req) {
  return {time_param(req, "start", kMinTime), time_param(req, "end", kMaxTime)};
}

// Union of the series selected by several match[] selectors, sorted.
std::vector<Labels> select_union(const QueryStore& store,
                                 const std::vector<promql::VectorSelector>& selectors,
                                 const TimeRange& range, std::vector<std::string>* warnings) {
  std::vector<Labels> out;
  for (const auto& sel : selectors) {
    auto part = store.series_labels(sel.matchers, range.start, range.end, warnings);
    out.insert(out.end(), std::make_move_iterator(part.begin()),
               std::make_move_iterator(part.end()));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

http::Response string_list(std::vector<std::string> items, std::size_t limit,
                           std::vector<std::string> warnings = {}) {
  bool truncated = limit > 0 && items.size() > limit;
  if (truncated) items.resize(limit);
  std::string data = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) data += ',';
    logging::append_json_string(data, items[i]);
  }
  data += ']';
  return success(data, truncated, std::move(warnings));
}

std::int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool is_leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// RFC3339: 2006-01-02T15:04:05[.999999999](Z|+07:00|-07:00).
std::optional<std::int64_t> parse_rfc3339(std::string_view s) {
  std::size_t i = 0;
  auto digits = [&](int n, int& out) {
    out = 0;
    for (int k = 0; k < n; ++k, ++i) {
      if (i >= s.size() || s[i] < '0' || s[i] > '9') return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  auto expect = [&](char c) {
    if (i >= s.size() || (s[i] != c && !(c == 'T' && s[i] == 't'))) return false;
    ++i;
    return true;
  };
  int year, month, day, hour, minute, second;
  if (!digits(4, year) || !expect('-') || !digits(2, month) || !expect('-') || !digits(2, day) ||
      !expect('T') || !digits(2, hour) || !expect(':') || !digits(2, minute) || !expect(':') ||
      !digits(2, second))
    return std::nullopt;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59)
    return std::nullopt;
  if (day > kDays[month - 1] + (month == 2 && is_leap(year) ? 1 : 0)) return std::nullopt;
  std::int64_t ms_frac = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int n = 0;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++n) {
      if (n < 3) ms_frac = ms_frac * 10 + (s[i] - '0');
    }
    if (n == 0 || n > 9) return std::nullopt;
    for (int k = n; k < 3; ++k) ms_frac *= 10;  // ".5" -> 500 ms; digits past ms are dropped
  }
  std::int64_t offset_s = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int sign = s[i] == '-' ? -1 : 1;
    ++i;
    int oh, om;
    if (!digits(2, oh) || !expect(':') || !digits(2, om) || oh > 23 || om > 59) return std::nullopt;
    offset_s = sign * (oh * 3600 + om * 60);
  } else {
    return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  std::int64_t secs =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
      hour * 3600 + minute * 60 + second - offset_s;
  return secs * 1000 + ms_frac;
}

}  // namespace

std::string format_sample_value(double v) { return promql::format_number(v); }

std::string format_timestamp(std::int64_t ms) {
  // Exact integer arithmetic; equals Go's FormatFloat(float64(ms)/1000,'f',-1)
  // for every timestamp a float64 can hold exactly.
  std::string out;
  std::uint64_t abs = ms < 0 ? 0 - static_cast<std::uint64_t>(ms) : static_cast<std::uint64_t>(ms);
  if (ms < 0) out += '-';
  out += std::to_string(abs / 1000);
  unsigned frac = static_cast<unsigned>(abs % 1000);
  if (frac) {
    char f[4] = {static_cast<char>('0' + frac / 100), static_cast<char>('0' + frac / 10 % 10),
                 static_cast<char>('0' + frac % 10), 0};
    std::string_view fv(f, 3);
    while (fv.back() == '0') fv.remove_suffix(1);
    out += '.';
    out += fv;
  }
  return out;
}

std::int64_t parse_timestamp(std::string_view text) {
  double secs = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), secs);
  if (ec == std::errc() && p == text.data() + text.size() && !text.empty()) {
    // ±2^53 ms is far beyond any useful date and keeps the conversion exact.
    if (!std::isfinite(secs) || std::fabs(secs) > 9.0e12)
      throw std::invalid_argument("cannot parse \"" + std::string(text) +
                                  "\" to a valid timestamp");
    // Prometheus rounds the fractional part to milliseconds.
    double whole = 0;
    double frac = std::modf(secs, &whole);
    return static_cast<std::int64_t>(whole) * 1000 +
           static_cast<std::int64_t>(std::round(frac * 1000));
  }
  if (auto ms = parse_rfc3339(text)) return *ms;
  throw std::invalid_argument("cannot parse \"" + std::string(text) + "\" to a valid timestamp");
}

QueryApi::QueryApi(const QueryStore& store, QueryApiOptions options, metrics::Registry& registry)
    : store_(store),
      options_(std::move(options)),
      engine_(store_,
              [this] {
                auto e = options_.engine;
                e.lookback_delta = options_.lookback_delta;
                return e;
              }()),
      queries_(registry.counter("strata_tsdb_api_requests_total",
                                "Query API requests (query, labels, label values, series).")),
      bad_requests_(registry.counter("strata_tsdb_api_bad_requests_total",
                                     "Query API requests rejected with 400 bad_data.")) {
  if (!options_.now_ms) options_.now_ms = system_now_ms;
  start_ms_ = options_.now_ms();
}

void QueryApi::register_routes(http::HttpServer& server, const QueryApi* local) {
  using Method = http::Response (QueryApi::*)(const http::Request&) const;
  // The API that answers `r`: this one, or the local one for a fan-out's
  // own request to this shard.
  auto route = [this, local](Method m) {
    return [this, local, m](const http::Request& r) {
      const QueryApi& api = local != nullptr && r.header(http::kFanoutHeader) ? *local : *this;
      return (api.*m)(r);
    };
  };
  for (const char* method : {"GET", "POST"}) {
    server.add_route(method, "/api/v1/query", route(&QueryApi::query));
    server.add_route(method, "/api/v1/query_range", route(&QueryApi::query_range));
    server.add_route(method, "/api/v1/labels", route(&QueryApi::labels));
    server.add_route(method, "/api/v1/series", route(&QueryApi::series));
    server.add_route(method, "/api/v1/format_query", route(&QueryApi::format_query));
    server.add_route(method, "/api/v1/parse_query", route(&QueryApi::parse_query));
    server.add_route(method, "/api/v1/query_exemplars",
                     [](const http::Request&) { return success("[]", false); });
  }
  server.add_prefix_route("GET", "/api/v1/label/", route(&QueryApi::label_values));
  server.add_route("GET", "/api/v1/status/buildinfo", route(&QueryApi::buildinfo));
  server.add_route("GET", "/api/v1/status/runtimeinfo", route(&QueryApi::runtimeinfo));
  server.add_route("GET", "/api/v1/status/tsdb", route(&QueryApi::tsdb_status));
  server.add_route("GET", "/api/v1/metadata",
                   [](const http::Request&) { return success("{}", false); });
}

namespace {

template <typename F>
http::Response guarded(metrics::Counter& queries, metrics::Counter& bad, F&& body) {
  queries.inc();
  try {
    return body();
  } catch (const BadData& e) {
    bad.inc();
    return http::Response::json(400, http::api_error_json("bad_data", e.what()));
  }
}

}  // namespace

namespace {

// Prometheus's limit on points per series of a range query.
constexpr std::int64_t kMaxPointsPerSeries = 11'000;

// A duration parameter: float seconds ("15", "0.5") or a PromQL duration ("15s", "1m30s").
std::int64_t duration_param_ms(const http::Request& req, std::string_view name) {
  std::string v = param_or_empty(req, name);
  double secs = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), secs);
  if (!v.empty() && ec == std::errc() && p == v.data() + v.size()) {
    if (!std::isfinite(secs) || std::fabs(secs) > 9e15)
      throw BadData("invalid parameter \"" + std::string(name) + "\": cannot parse \"" + v +
                    "\" to a valid duration. It overflows int64");
    return static_cast<std::int64_t>(std::llround(secs * 1000));
  }
  try {
    return promql::parse_duration(v).count();
  } catch (const std::exception&) {
    throw BadData("invalid parameter \"" + std::string(name) + "\": cannot parse \"" + v +
                  "\" to a valid duration");
  }
}

promql::QueryOptions query_options(const http::Request& req) {
  promql::QueryOptions o;
  auto r = req.param("max_source_resolution");
  if (!r || r->empty() || *r == "auto") return o;
  if (*r == "raw" || *r == "0s" || *r == "0") {
    o.max_source_resolution = 0;
  } else if (*r == "5m") {
    o.max_source_resolution = kRes5m;
  } else if (*r == "1h") {
    o.max_source_resolution = kRes1h;
  } else {
    throw BadData("invalid parameter \"max_source_resolution\": \"" + *r +
                  "\" is not one of auto, raw, 0s, 5m, 1h");
  }
  return o;
}

void append_point(std::string& out, std::int64_t t, double v) {
  out += '[';
  out += format_timestamp(t);
  out += ",\"";
  out += format_sample_value(v);
  out += "\"]";
}

// Prometheus's "data" object for a query result.
std::string result_json(const promql::Value& value) {
  std::string out = R"({"resultType":)";
  if (const auto* s = std::get_if<promql::Scalar>(&value)) {
    out += R"("scalar","result":)";
    append_point(out, s->t, s->v);
  } else if (const auto* str = std::get_if<promql::String>(&value)) {
    out += R"("string","result":[)";
    out += format_timestamp(str->t);
    out += ',';
    logging::append_json_string(out, str->v);
    out += ']';
  } else if (const auto* vec = std::get_if<promql::Vector>(&value)) {
    out += R"("vector","result":[)";
    for (std::size_t i = 0; i < vec->size(); ++i) {
      if (i) out += ',';
      out += R"({"metric":)";
      append_labels(out, (*vec)[i].labels);
      out += R"(,"value":)";
      append_point(out, (*vec)[i].t, (*vec)[i].v);
      out += '}';
    }
    out += ']';
  } else {
    const auto& m = std::get<promql::Matrix>(value);
    out += R"("matrix","result":[)";
    for (std::size_t i = 0; i < m.size(); ++i) {
      if (i) out += ',';
      out += R"({"metric":)";
      append_labels(out, m[i].labels);
      out += R"(,"values":[)";
      for (std::size_t k = 0; k < m[i].points.size(); ++k) {
        if (k) out += ',';
        append_point(out, m[i].points[k].t, m[i].points[k].v);
      }
      out += "]}";
    }
    out += ']';
  }
  return out + '}';
}

http::Response query_response(const promql::QueryResult& r) {
  return success(result_json(r.value), false, r.warnings);
}

int status_for(promql::ErrorType t) {
  switch (t) {
    case promql::ErrorType::kBadData:
      return 400;
    case promql::ErrorType::kExecution:
      return 422;
    case promql::ErrorType::kCanceled:
      return 499;
    case promql::ErrorType::kTimeout:
      return 503;
  }
  return 500;
}

// Runs `eval`, answering engine errors as Prometheus does.
template <typename F>
http::Response evaluate(F&& eval) {
  try {
    return query_response(eval());
  } catch (const promql::ParseError& e) {
    throw BadData("invalid parameter \"query\": " + std::string(e.what()));
  } catch (const promql::QueryError& e) {
    if (e.type() == promql::ErrorType::kBadData)
      throw BadData("invalid parameter \"query\": " + std::string(e.what()));
    return http::Response::json(status_for(e.type()),
                                http::api_error_json(e.error_type(), e.what()));
  }
}

// The request's timeout= can only shorten the engine's.
void apply_timeout(const http::Request& req, promql::QueryOptions& opts) {
  if (auto t = req.param("timeout"); t && !t->empty()) {
    auto ms = duration_param_ms(req, "timeout");
    if (ms <= 0) throw BadData("invalid parameter \"timeout\": must be positive");
    opts.timeout = std::chrono::milliseconds(ms);
  }
}

}  // namespace

http::Response QueryApi::query(const http::Request& req) const {
  return guarded(queries_, bad_requests_, [&] {
    std::string q = param_or_empty(req, "query");
    const std::int64_t t = time_param(req, "time", options_.now_ms());
    auto opts = query_options(req);
    apply_timeout(req, opts);
    return evaluate([&] { return engine_.instant_query(q, t, opts); });
  });
}

http::Response QueryApi::query_range(const http::Request& req) const {
  return guarded(queries_, bad_requests_, [&] {
    std::string q = param_or_empty(req, "query");
    if (param_or_empty(req, "start").empty())
      throw BadData("invalid parameter \"start\": cannot parse \"\" to a valid timestamp");
    if (param_or_empty(req, "end").empty())
      throw BadData("invalid parameter \"end\": cannot parse \"\" to a valid timestamp");
    const std::int64_t start = time_param(req, "start", 0, false);
    const std::int64_t end = time_param(req, "end", 0, false);
    if (end < start)
      throw BadData("invalid parameter \"end\": end timestamp must not be before start time");
    if (param_or_empty(req, "step").empty())
      throw BadData("invalid parameter \"step\": cannot parse \"\" to a valid duration");
    const std::int64_t step = duration_param_ms(req, "step");
    if (step <= 0)
      throw BadData(
          "invalid parameter \"step\": zero or negative query resolution step widths are not "
          "accepted. Try a positive integer");
    if ((end - start) / step >= kMaxPointsPerSeries)
      throw BadData(
          "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the "
          "query resolution (?step=XX)");
    auto opts = query_options(req);
    apply_timeout(req, opts);
    return evaluate([&] { return engine_.range_query(q, start, end, step, opts); });
  });
}

http::Response QueryApi::labels(const http::Request& req) const {
  return guarded(queries_, bad_requests_, [&] {
    auto selectors = match_params(req);
    auto range = range_params(req);
    std::size_t limit = limit_param(req);
    if (range.empty()) return string_list({}, limit);
    std::vector<std::string> warnings;
    if (selectors.empty()) return string_list(store_.label_names(&warnings), limit, warnings);
    std::set<std::string> names;
    for (const auto& l : select_union(store_, selectors, range, &warnings))
      for (const auto& [n, v] : l.items()) names.insert(n);
    return string_list({names.begin(), names.end()}, limit, warnings);
  });
}

http::Response QueryApi::label_values(const http::Request& req) const {
  return guarded(queries_, bad_requests_, [&]() -> http::Response {
    constexpr std::string_view kPrefix = "/api/v1/label/";
    constexpr std::string_view kSuffix = "/values";
    std::string_view path = req.path;
    if (!path.starts_with(kPrefix) || !path.ends_with(kSuffix) ||
        path.size() < kPrefix.size() + kSuffix.size())
      return http::Response::json(
          404, http::api_error_json("not_found", "no such endpoint: " + req.path));
    std::string name(path.substr(kPrefix.size(), path.size() - kPrefix.size() - kSuffix.size()));
    if (!wire::valid_label_name(name)) throw BadData("invalid label name: \"" + name + "\"");
    auto selectors = match_params(req);
    auto range = range_params(req);
    std::size_t limit = limit_param(req);
    if (range.empty()) return string_list({}, limit);
    std::vector<std::string> warnings;
    if (selectors.empty())
      return string_list(store_.label_values(name, &warnings), limit, warnings);
    std::set<std::string> values;
    for (const auto& l : select_union(store_, selectors, range, &warnings)) {
      auto v = l.get(name);
      if (!v.empty()) values.emplace(v);
    }
    return string_list({values.begin(), values.end()}, limit, warnings);
  });
}

http::Response QueryApi::series(const http::Request& req) const {
  return guarded(queries_, bad_requests_, [&] {
    auto selectors = match_params(req);
    if (selectors.empty()) throw BadData("no match[] parameter provided");
    auto range = range_params(req);
    std::size_t limit = limit_param(req);
    if (range.empty()) return success("[]", false);
    std::vector<std::string> warnings;
    auto all = select_union(store_, selectors, range, &warnings);
    bool truncated = limit > 0 && all.size() > limit;
    if (truncated) all.resize(limit);
    std::string data = "[";
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (i) data += ',';
      append_labels(data, all[i]);
    }
    data += ']';
    return success(data, truncated, std::move(warnings));
  });
}

// The tree of the `query` parameter, for the endpoints that only parse it.
promql::ast::ExprPtr parse_query_param(const http::Request& req) {
  try {
    return promql::parse_expr(param_or_empty(req, "query"));
  } catch (const promql::ParseError& e) {
    throw BadData("invalid parameter \"query\": " + std::string(e.what()));
  }
}

http::Response QueryApi::format_query(const http::Request& req) const {
  return guarded(queries_, bad_requests_, [&] {
    std::string data;
    logging::append_json_string(data, promql::to_string(*parse_query_param(req)));
    return success(data, false);
  });
}

http::Response QueryApi::parse_query(const http::Request& req) const {
  return guarded(queries_, bad_requests_, [&] {
    std::string data;
    promql::append_ast_json(data, *parse_query_param(req));
    return success(data, false);
  });
}

http::Response QueryApi::buildinfo(const http::Request&) const {
  // Grafana reads `version` to pick the Prometheus features it may use; we
  // implement Prometheus 3's query semantics, so that is what we claim.
  return success(R"({"version":"3.0.0","revision":"","branch":"","buildUser":"strata",)"
                 R"("buildDate":"","goVersion":"none","application":"strata-tsdb"})",
                 false);
}

http::Response QueryApi::runtimeinfo(const http::Request&) const {
  std::string data = R"({"startTime":")";
  data += logging::format_rfc3339_ms(start_ms_);
  data += R"(","CWD":")";
  std::error_code ec;
  logging::append_json_escaped(data, std::filesystem::current_path(ec).string());
  data += R"(","reloadConfigSuccess":true,"lastConfigTime":")";
  data += logging::format_rfc3339_ms(start_ms_);
  const DB* db = store_.local_db();
  data += R"(","corruptionCount":)";
  data += std::to_string(db ? db->open_report().corruptions.size() : 0);
  data += R"(,"goroutineCount":0,"GOMAXPROCS":)";
  data += std::to_string(std::thread::hardware_concurrency());
  data += R"(,"GOMEMLIMIT":0,"GOGC":"","GODEBUG":"","storageRetention":")";
  // A query node holds no data: its retention is its shards'.
  if (db)
    data += promql::format_duration(std::chrono::milliseconds(db->options().retention_raw_ms));
  data += "\"}";
  return success(data, false);
}

http::Response QueryApi::tsdb_status(const http::Request& req) const {
  return guarded(queries_, bad_requests_, [&] {
    const DB* db = store_.local_db();
    if (db == nullptr)
      return http::Response::json(
          404, http::api_error_json("not_found",
                                    "a query node holds no head: ask a store node's "
                                    "/api/v1/status/tsdb for its shard's cardinality"));
    std::size_t limit = limit_param(req);
    if (limit == 0) limit = 10;  // Prometheus's default
    // Cardinality over every series the store holds (head and blocks).
    std::map<std::string, std::uint64_t> by_metric, pair_count, label_bytes;
    std::map<std::string, std::set<std::string>> values_by_label;
    const auto all = db->series_labels({});
    for (const auto& l : all) {
      ++by_metric[std::string(l.get("__name__"))];
      for (const auto& [n, v] : l.items()) {
        ++pair_count[n + "=" + v];
        if (values_by_label[n].insert(v).second) label_bytes[n] += v.size();
      }
    }
    auto top = [&](const auto& counts, auto value_of) {
      std::vector<std::pair<std::string, std::uint64_t>> v;
      for (const auto& [k, x] : counts) v.emplace_back(k, value_of(x));
      std::stable_sort(v.begin(), v.end(),
                       [](const auto& a, const auto& b) { return a.second > b.second; });
      if (v.size() > limit) v.resize(limit);
      std::string out = "[";
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) out += ',';
        out += R"({"name":)";
        logging::append_json_string(out, v[i].first);
        out += R"(,"value":)";
        out += std::to_string(v[i].second);
        out += '}';
      }
      return out + "]";
    };
    auto identity = [](std::uint64_t x) { return x; };
    const Head& head = db->head();
    std::string data = R"({"headStats":{"numSeries":)";
    data += std::to_string(head.series_count());
    data += R"(,"numLabelPairs":)";
    data += std::to_string(pair_count.size());
    data += R"(,"chunkCount":0,"minTime":)";
    data += std::to_string(head.series_count() ? head.min_time() : 0);
    data += R"(,"maxTime":)";
    data += std::to_string(head.series_count() ? head.max_time() : 0);
    data += R"(},"seriesCountByMetricName":)";
    data += top(by_metric, identity);
    data += R"(,"labelValueCountByLabelName":)";
    data += top(values_by_label, [](const std::set<std::string>& s) { return s.size(); });
    data += R"(,"memoryInBytesByLabelName":)";
    data += top(label_bytes, identity);
    data += R"(,"seriesCountByLabelValuePair":)";
    data += top(pair_count, identity);
    data += '}';
    return success(data, false);
  });
}

}  // namespace strata::tsdb
