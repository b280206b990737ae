// SearchApi: the logindex's native search endpoint.
//
//   GET|POST /api/v1/logs/search?q=<query>&limit=100&start=<ns>&end=<ns>&step=<dur>
//            &stream=<name>=<value>      (GET /api/v1/search: the same)
//
// q is the search language of docs/search.md (search_syntax.h): words,
// "phrases", prefix*, field:value, field:/regex/, AND/OR/NOT, parentheses;
// absent or empty, it matches every line. start/end are inclusive
// unix-nanosecond bounds; `stream` (repeatable) keeps only streams whose
// label equals the value; `step` (a duration, needs start and end) adds a
// count of matches per bucket for the log-volume graph. The answer lists the
// newest matches first:
//
//   {"status":"success","data":{"result":[{"stream":{"job":"x"},"ts":"1700000000000000000",
//    "line":"..."}],"histogram":[["<bucket start ns>",N],...],"stats":{"matched":N}}}
//
// `ts` is a string because nanosecond timestamps exceed the integers a JSON
// reader in a browser holds exactly; `matched` counts every match, not only
// the `limit` returned. Bad input (a query that does not parse -- the
// message names the position --, limit out of range, unparsable times, end
// before start) is 400 {"status":"error","errorType":"bad_data","error":"..."}.
//
// Parameters and JSON are search_api_format.h's, shared with the fan-out
// over shards (fanout.h). It serves any Searcher: the LogStore in the
// server, a bare MemoryIndex in tests.
//
// Thread-safety: the handler only reads the index and may run concurrently.
#pragma once

#include <cstddef>

#include "common/http_server.h"
#include "common/metrics_registry.h"
#include "logindex/query.h"
#include "logindex/search_api_format.h"

namespace strata::logindex {

class SearchApi {
 public:
  SearchApi(const Searcher& index, SearchApiOptions options, metrics::Registry& registry);

  void register_routes(http::HttpServer& server);
  http::Response search(const http::Request& req) const;

 private:
  const Searcher& index_;
  SearchApiOptions options_;
  metrics::Counter& searches_;
  metrics::Counter& bad_requests_;
  metrics::Histogram& duration_;
};

}  // namespace strata::logindex
