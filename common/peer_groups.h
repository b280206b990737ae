// Peers of a query fan-out node (`tsdb.query.peers`, `logindex.query.peers`):
// the store nodes that together hold the data, grouped into replica groups.
//
// A replica group is one Kafka consumer group: its nodes (shards) split the
// topic's partitions between them, so together they hold everything once.
// A second group over the same topic holds everything again. Entries, one
// per node (YAML list, or comma-separated on the command line):
//
//     host:port                 a node of the default group
//     <group>=host:port         a node of replica group <group>
//     <group>=https://host:port
//
// e.g. `a=t0:9090,a=t1:9090,a=t2:9090,b=u0:9090,b=u1:9090` is two replicas,
// one of three shards and one of two (groups need not have the same shape).
//
// Completeness rule (as Thanos deduplicates replicas): a query asks every
// node and merges everything that came back, deduplicated; the answer is
// complete when every node of at least one group answered. Otherwise it is
// partial and the nodes that failed are named in warnings.
//
// Thread-safety: immutable values.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace strata {

struct PeerNode {
  std::string group;  // "" for the default group
  std::string url;    // base URL, "http://host:port"
  std::string name;   // the entry as configured, for messages
};

// Parses the entries of config key `key`. Throws config::ConfigError naming
// the key and the bad entry.
std::vector<PeerNode> parse_peers(const std::vector<std::string>& entries, std::string_view key);

// Given which nodes answered (`answered[i]` for `nodes[i]`): whether every
// node of some group answered, i.e. the merged answer is complete.
bool some_group_complete(const std::vector<PeerNode>& nodes, const std::vector<bool>& answered);

// The name of the first group (in peer order) whose every node answered,
// or nullptr when there is none.
const std::string* first_complete_group(const std::vector<PeerNode>& nodes,
                                        const std::vector<bool>& answered);

// The warnings of an incomplete answer: one per failed node, with why
// (`errors[i]`, for the nodes that did not answer). Empty when complete.
std::vector<std::string> partial_warnings(const std::vector<PeerNode>& nodes,
                                          const std::vector<bool>& answered,
                                          const std::vector<std::string>& errors,
                                          std::string_view what_is_missing);

}  // namespace strata
