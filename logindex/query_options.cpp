#include "logindex/query_options.h"

namespace strata::logindex {

void add_query_options(config::Schema& s) {
  using config::Type;
  s.add("logindex.search.default_limit", Type::kInt, "100",
        "Lines a search returns when the request gives no limit.");
  s.add("logindex.search.max_limit", Type::kInt, "5000",
        "Largest limit a search may ask for; more is a 400.");
  s.add("logindex.query.peers", Type::kList, "",
        "logindex nodes that the search and Loki APIs fan out to and merge (docs/logindex.md): "
        "one entry per node, [group=]host:port, where nodes of one consumer group share a group "
        "name and another group is a replica (a=l0:3100,a=l1:3100,b=m0:3100). Empty: answer "
        "from the local store only. A node's own store is included only when it is listed.");
  s.add("logindex.query.peer_timeout", Type::kDuration, "10s",
        "Longest wait for one node's answer; when no replica group answered completely, the "
        "nodes that did not are named in the response's warnings.");
}

SearchApiOptions search_options(const config::Config& cfg) {
  SearchApiOptions o;
  auto max = cfg.integer("logindex.search.max_limit");
  if (max < 1 || max > 1'000'000)
    throw config::ConfigError("config key 'logindex.search.max_limit': expected 1..1000000");
  auto dflt = cfg.integer("logindex.search.default_limit");
  if (dflt < 1 || dflt > max)
    throw config::ConfigError(
        "config key 'logindex.search.default_limit': expected 1..logindex.search.max_limit");
  o.max_limit = static_cast<std::size_t>(max);
  o.default_limit = static_cast<std::size_t>(dflt);
  return o;
}

}  // namespace strata::logindex
