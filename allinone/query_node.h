// QueryNode: the strata-query process minus main() -- a node that holds no
// data and answers the Prometheus query API over the tsdb shards listed in
// tsdb.query.peers (tsdb/fanout_store.h) and the log search and Loki APIs
// over the logindex shards in logindex.query.peers, all on one port
// (query.listen), so Grafana's Prometheus and Loki data sources both point
// at it. Each side is optional, but one must be configured.
//
// It lives in allinone/ because it wires two components together; the
// fan-out logic itself belongs to each component.
//
// Lifecycle: construct (validates config, throws ConfigError), start()
// (binds), stop() (drains HTTP; idempotent). From one thread; url() from any.
#pragma once

#include <memory>
#include <string>

#include "common/config.h"
#include "common/service.h"

namespace strata::tsdb {
class FanoutStore;
class QueryApi;
}  // namespace strata::tsdb

namespace strata {

// Declares query.listen (and its HTTP limits) and the query-side options of
// both stores.
void add_query_node_options(config::Schema& schema);

class QueryNode {
 public:
  explicit QueryNode(const config::Config& cfg);
  ~QueryNode();
  QueryNode(const QueryNode&) = delete;
  QueryNode& operator=(const QueryNode&) = delete;

  void start() { service_.start(); }
  void stop() { service_.stop(); }
  std::string url() const { return service_.url(); }

 private:
  Service service_;
  std::unique_ptr<tsdb::FanoutStore> metrics_store_;
  std::unique_ptr<tsdb::QueryApi> metrics_api_;
};

}  // namespace strata
