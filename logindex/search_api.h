// SearchApi: the logindex's native search endpoint.
//
//   GET /api/v1/search?q=<words>&limit=100&start=<ns>&end=<ns>&stream=<name>=<value>
//
// q is tokenized like the indexed lines (tokenizer.h) and every term must
// occur (AND), case-insensitively. start/end are inclusive unix-nanosecond
// bounds; `stream` (repeatable) keeps only streams whose label equals the
// value. The answer lists the newest matches first:
//
//   {"status":"success","data":{"result":[{"stream":{"job":"x"},"ts":"1700000000000000000",
//    "line":"..."}],"stats":{"matched":N}}}
//
// `ts` is a string because nanosecond timestamps exceed the integers a JSON
// reader in a browser holds exactly; `matched` counts every match, not only
// the `limit` returned. Bad input (no searchable word, limit out of range,
// unparsable times, end before start) is 400
// {"status":"error","errorType":"bad_data","error":"..."}.
//
// Thread-safety: the handler only reads the index and may run concurrently.
#pragma once

#include <cstddef>

#include "common/http_server.h"
#include "common/metrics_registry.h"
#include "logindex/memory_index.h"

namespace strata::logindex {

struct SearchApiOptions {
  std::size_t default_limit = 100;
  std::size_t max_limit = 5000;
};

class SearchApi {
 public:
  SearchApi(const MemoryIndex& index, SearchApiOptions options, metrics::Registry& registry);

  void register_routes(http::HttpServer& server);
  http::Response search(const http::Request& req) const;

 private:
  const MemoryIndex& index_;
  SearchApiOptions options_;
  metrics::Counter& searches_;
  metrics::Counter& bad_requests_;
  metrics::Histogram& duration_;
};

}  // namespace strata::logindex
