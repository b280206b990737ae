#include "logindex/search_api.h"

#include <charconv>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

#include "common/logging.h"
#include "common/wire_format.h"
#include "logindex/tokenizer.h"

namespace strata::logindex {
namespace {

class BadData : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

void append_string(std::string& out, std::string_view s) {
  out += '"';
  logging::append_json_escaped(out, s);
  out += '"';
}

std::string error_json(std::string_view message) {
  std::string out = R"({"status":"error","errorType":"bad_data","error":)";
  append_string(out, message);
  out += '}';
  return out;
}

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

SearchApi::SearchApi(const MemoryIndex& index, SearchApiOptions options,
                     metrics::Registry& registry)
    : index_(index),
      options_(options),
      searches_(registry.counter("strata_logindex_searches_total", "Search requests.")),
      bad_requests_(registry.counter("strata_logindex_search_bad_requests_total",
                                     "Search requests rejected with 400 bad_data.")),
      duration_(registry.histogram("strata_logindex_search_duration_seconds",
                                   "Time to answer a valid search.")) {}

void SearchApi::register_routes(http::HttpServer& server) {
  server.add_route("GET", "/api/v1/search", [this](const http::Request& r) { return search(r); });
}

http::Response SearchApi::search(const http::Request& req) const {
  searches_.inc();
  const auto started = std::chrono::steady_clock::now();
  SearchQuery q;
  try {
    auto text = req.param("q");
    if (!text || text->empty()) throw BadData("missing parameter \"q\": nothing to search for");
    if (tokenize(*text).empty())
      throw BadData("parameter \"q\" has no searchable word (letters, digits or '_'): \"" + *text +
                    "\"");
    q.words.push_back(*text);
    q.limit = options_.default_limit;
    if (auto limit = int_param(req, "limit")) {
      if (*limit < 1 || static_cast<std::uint64_t>(*limit) > options_.max_limit)
        throw BadData("invalid parameter \"limit\": must be between 1 and " +
                      std::to_string(options_.max_limit) + ", got " + std::to_string(*limit));
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
  } catch (const BadData& e) {
    bad_requests_.inc();
    return http::Response::json(400, error_json(e.what()));
  }

  SearchResult result = index_.search(q);
  std::string out = R"({"status":"success","data":{"result":[)";
  bool first = true;
  for (const auto& hit : result.hits) {
    if (!first) out += ',';
    first = false;
    out += R"({"stream":{)";
    bool first_label = true;
    for (const auto& [n, v] : hit.stream.items()) {
      if (!first_label) out += ',';
      first_label = false;
      append_string(out, n);
      out += ':';
      append_string(out, v);
    }
    out += R"(},"ts":")";
    out += std::to_string(hit.timestamp_ns);
    out += R"(","line":)";
    append_string(out, hit.line);
    out += '}';
  }
  out += R"(],"stats":{"matched":)";
  out += std::to_string(result.matched);
  out += "}}}";
  duration_.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return http::Response::json(200, std::move(out));
}

}  // namespace strata::logindex
