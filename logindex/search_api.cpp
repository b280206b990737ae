#include "logindex/search_api.h"

#include <chrono>
#include <stdexcept>
#include <string>

#include "common/api_error.h"
#include "logindex/search_evaluator.h"

namespace strata::logindex {

SearchApi::SearchApi(const Searcher& index, SearchApiOptions options, metrics::Registry& registry)
    : index_(index),
      options_(options),
      searches_(registry.counter("strata_logindex_searches_total", "Search requests.")),
      bad_requests_(registry.counter("strata_logindex_search_bad_requests_total",
                                     "Search requests rejected with 400 bad_data.")),
      duration_(registry.histogram("strata_logindex_search_duration_seconds",
                                   "Time to answer a valid search.")) {}

void SearchApi::register_routes(http::HttpServer& server) {
  add_search_routes(server, [this](const http::Request& r) { return search(r); });
}

http::Response SearchApi::search(const http::Request& req) const {
  searches_.inc();
  const auto started = std::chrono::steady_clock::now();
  LogSearch q;
  LogSearchResult found;
  try {
    q = search_request(req, options_);
    try {
      found = run_search(index_.parts(), q);
    } catch (const std::invalid_argument& e) {
      throw http::BadData(e.what());
    }
  } catch (const http::BadData& e) {
    bad_requests_.inc();
    return http::Response::json(400, http::api_error_json("bad_data", e.what()));
  }
  std::string out = search_json(found, q.step_ns > 0);
  duration_.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return http::Response::json(200, std::move(out));
}

}  // namespace strata::logindex
