// The options of log query serving -- result limits and the shards to fan
// out to -- declared once for every binary that answers log queries:
// strata-logindex (a store node, which fans out when it lists peers) and a
// query-only node (strata-query, no local store) that builds a LogFanout
// (fanout.h) from them.
//
//   logindex.search.default_limit, logindex.search.max_limit
//   logindex.query.peers          nodes: [group=]host:port (common/peer_groups.h)
//   logindex.query.peer_timeout   per node
//
// Pure functions; readers throw config::ConfigError naming the key.
#pragma once

#include "common/config.h"
#include "logindex/search_api_format.h"

namespace strata::logindex {

void add_query_options(config::Schema& schema);
// logindex.search.default_limit / max_limit, checked.
SearchApiOptions search_options(const config::Config& cfg);

}  // namespace strata::logindex
