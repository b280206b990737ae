// Prometheus remote read: POST /api/v1/read, served by every tsdb node so
// that Prometheus (`remote_read`), Thanos and Strata's own query node
// (fanout_store.h) read its series; plus the client-side codec the query
// node uses. The wire format is docs/format/remote_read.md.
//
// Request: a prometheus.ReadRequest (common/prompb/remote.proto) compressed
// with snappy's block format. Each Query carries an inclusive time range in
// ms, label matchers and hints (step, function); Strata's query node adds the
// resolution to read. Response: a prometheus.ReadResponse, snappy-compressed,
// Content-Type application/x-protobuf, one QueryResult per query with every
// matching series' samples in time order -- the SAMPLES response type.
// STREAMED_XOR_CHUNKS is not served: a request accepting only that type gets
// 400 (Prometheus's and Thanos's readers fall back or report it).
//
// Errors: a body that is not snappy or not a ReadRequest, a bad matcher
// (invalid regex), an inverted range: 400 with the reason as text, as
// Prometheus answers. More samples than tsdb.remote_read.max_samples in one
// response: 400 naming the limit, so a reader never gets a silently cut
// answer.
//
// Thread-safety: the handler only reads the store and may run concurrently;
// the codec functions are pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/http_server.h"
#include "common/metrics_registry.h"
#include "common/wire_format.h"
#include "tsdb/label_matcher.h"
#include "tsdb/promql/engine.h"
#include "tsdb/querier.h"

namespace strata::tsdb {

class RemoteReadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One query of a ReadRequest.
struct ReadQuery {
  std::int64_t start_ms = 0;  // inclusive
  std::int64_t end_ms = 0;    // inclusive
  std::vector<LabelMatcher> matchers;
  SelectHints hints;
};

// Client side: the snappy-compressed body of a ReadRequest.
std::string encode_read_request(const std::vector<ReadQuery>& queries);
// Server side: decodes a (snappy-compressed) request body. Throws
// RemoteReadError naming what is wrong.
std::vector<ReadQuery> decode_read_request(std::string_view body, std::size_t max_decoded_bytes);

// Server side: the snappy-compressed ReadResponse for `results` (one list of
// series per query).
std::string encode_read_response(const std::vector<std::vector<wire::Series>>& results);
// Client side: decodes a (snappy-compressed) response body. Throws
// RemoteReadError.
std::vector<std::vector<wire::Series>> decode_read_response(std::string_view body,
                                                            std::size_t max_decoded_bytes);

struct RemoteReadOptions {
  std::size_t max_samples = 50'000'000;              // per response
  std::size_t max_request_bytes = 16 * 1024 * 1024;  // decoded request
};

class RemoteReadApi {
 public:
  // `store` (usually a DbQueryable) must outlive the routes.
  RemoteReadApi(const promql::Queryable& store, RemoteReadOptions options,
                metrics::Registry& registry);

  void register_routes(http::HttpServer& server);
  http::Response read(const http::Request& req) const;

 private:
  const promql::Queryable& store_;
  RemoteReadOptions options_;
  metrics::Counter& requests_;
  metrics::Counter& bad_requests_;
  metrics::Counter& samples_sent_;
};

}  // namespace strata::tsdb
