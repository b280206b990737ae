#include "allinone/query_node.h"

#include "logindex/fanout.h"
#include "logindex/query_options.h"
#include "tsdb/fanout_store.h"
#include "tsdb/query_api.h"
#include "tsdb/tsdb_server.h"

namespace strata {

void add_query_node_options(config::Schema& schema) {
  add_http_options(schema, "query", "127.0.0.1:9095");
  tsdb::add_query_options(schema);
  logindex::add_query_options(schema);
}

QueryNode::QueryNode(const config::Config& cfg)
    : service_("strata-query", http_options(cfg, "query")) {
  auto metrics = tsdb::fanout_options(cfg);
  auto logs = logindex::fanout_options(cfg);
  if (!metrics && logs.peers.empty())
    throw config::ConfigError(
        "config keys 'tsdb.query.peers' and 'logindex.query.peers' are both empty: a query node "
        "needs the store nodes to ask ([group=]host:port each)");
  if (metrics) {
    metrics_store_ = std::make_unique<tsdb::FanoutStore>(std::move(*metrics));
    metrics_api_ = std::make_unique<tsdb::QueryApi>(*metrics_store_, tsdb::query_options(cfg),
                                                    service_.metrics());
    metrics_api_->register_routes(service_.http());
    tsdb::FanoutStore* store = metrics_store_.get();
    service_.metrics().gauge_callback("strata_query_pushdowns",
                                      "Aggregations evaluated on the shards (tsdb.query.pushdown).",
                                      [store] { return static_cast<double>(store->pushdowns()); });
  }
  if (!logs.peers.empty()) {
    auto fanout = std::make_shared<logindex::LogFanout>(std::move(logs), service_.metrics());
    logindex::LogFanout::register_routes(fanout, service_.http());
  }
}

QueryNode::~QueryNode() { stop(); }

}  // namespace strata
