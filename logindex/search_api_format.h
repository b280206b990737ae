// The search API's wire format (/api/v1/logs/search, search_api.h): how a
// request's parameters become a LogSearch and how the answer is written, in
// one place, so that the store's API (one node's data) and the fan-out
// (fanout.h, many shards merged) accept the same requests and write the same
// JSON.
//
// search_request() throws http::BadData naming the parameter and what was
// expected; a query that does not parse keeps the parser's position
// ("parse error at char N: ..."). Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>

#include "common/http_server.h"
#include "logindex/search_evaluator.h"

namespace strata::logindex {

struct SearchApiOptions {
  std::size_t default_limit = 100;
  std::size_t max_limit = 5000;
};

// q, limit, start, end, stream (repeatable), step of a request.
LogSearch search_request(const http::Request& req, const SearchApiOptions& options);

// {"status":"success","data":{"result":[...],"histogram":[...],"stats":{"matched":N}}};
// the histogram only when the search asked for one (step > 0).
std::string search_json(const LogSearchResult& found, bool with_histogram);

// Registers `handler` on the search paths: /api/v1/logs/search (GET, POST)
// and /api/v1/search (GET, the first slice's path).
void add_search_routes(http::HttpServer& server, const http::Handler& handler);

}  // namespace strata::logindex
