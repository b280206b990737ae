#include "logindex/search_api_format.h"

#include <charconv>
#include <chrono>
#include <optional>
#include <string>

#include "common/api_error.h"
#include "common/config.h"
#include "common/logging.h"
#include "common/wire_format.h"
#include "logindex/search_syntax.h"

namespace strata::logindex {
namespace {

using http::BadData;

std::optional<std::int64_t> int_param(const http::Request& req, std::string_view name) {
  auto v = req.param(name);
  if (!v || v->empty()) return std::nullopt;
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || p != v->data() + v->size())
    throw BadData("invalid parameter \"" + std::string(name) + "\": expected an integer, got \"" +
                  *v + "\"");
  return n;
}

}  // namespace

LogSearch search_request(const http::Request& req, const SearchApiOptions& options) {
  LogSearch q;
  try {
    auto text = req.param("q");
    if (!text) throw BadData("missing parameter \"q\": give a search such as q=error");
    q.root = parse_search(*text);
  } catch (const SearchSyntaxError& e) {
    throw BadData("invalid parameter \"q\": " + std::string(e.what()));
  }
  q.limit = options.default_limit;
  if (auto limit = int_param(req, "limit")) {
    if (*limit < 1 || static_cast<std::uint64_t>(*limit) > options.max_limit)
      throw BadData("invalid parameter \"limit\": must be between 1 and " +
                    std::to_string(options.max_limit) + ", got " + std::to_string(*limit));
    q.limit = static_cast<std::size_t>(*limit);
  }
  if (auto start = int_param(req, "start")) q.start_ns = *start;
  if (auto end = int_param(req, "end")) q.end_ns = *end;
  if (q.end_ns < q.start_ns)
    throw BadData("invalid parameter \"end\": end must not be before start");
  for (const auto& s : req.params_all("stream")) {
    auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0 || !wire::valid_label_name(s.substr(0, eq)))
      throw BadData("invalid parameter \"stream\": expected <label>=<value>, got \"" + s + "\"");
    q.stream_equals.emplace_back(s.substr(0, eq), s.substr(eq + 1));
  }
  if (auto step = req.param("step"); step && !step->empty()) {
    std::chrono::milliseconds ms;
    try {
      ms = config::parse_duration(*step, "step");
    } catch (const config::ConfigError&) {
      throw BadData("invalid parameter \"step\": expected a duration like 1m, got \"" + *step +
                    "\"");
    }
    if (ms.count() <= 0) throw BadData("invalid parameter \"step\": must be positive");
    if (!req.param("start") || !req.param("end"))
      throw BadData("parameter \"step\" needs \"start\" and \"end\"");
    q.step_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(ms).count();
  }
  return q;
}

std::string search_json(const LogSearchResult& found, bool with_histogram) {
  const SearchResult& result = found.result;
  std::string out = R"({"status":"success","data":{"result":[)";
  bool first = true;
  for (const auto& hit : result.hits) {
    if (!first) out += ',';
    first = false;
    out += R"({"stream":)";
    logging::append_json_object(out, hit.stream.items());
    out += R"(,"ts":")";
    out += std::to_string(hit.timestamp_ns);
    out += R"(","line":)";
    logging::append_json_string(out, hit.line);
    out += '}';
  }
  out += ']';
  if (with_histogram) {
    out += R"(,"histogram":[)";
    for (std::size_t k = 0; k < found.histogram.size(); ++k) {
      if (k) out += ',';
      out += "[\"" + std::to_string(found.histogram[k].first) + "\"," +
             std::to_string(found.histogram[k].second) + "]";
    }
    out += ']';
  }
  out += R"(,"stats":{"matched":)";
  out += std::to_string(result.matched);
  out += "}}}";
  return out;
}

void add_search_routes(http::HttpServer& server, const http::Handler& handler) {
  server.add_route("GET", "/api/v1/logs/search", handler);
  server.add_route("POST", "/api/v1/logs/search", handler);
  server.add_route("GET", "/api/v1/search", handler);  // the first slice's path
}

}  // namespace strata::logindex
