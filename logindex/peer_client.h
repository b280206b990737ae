// PeerClient: sends one HTTP request to every shard of a set of
// strata-logindex nodes, in parallel, for the fan-out (fanout.h), and hands
// back each shard's answer -- or why it has none.
//
// Peers and replica groups. `logindex.query.peers` lists every store node,
// `[group=]host:port` (common/peer_groups.h): the nodes of one consumer
// group share a group name and together hold every stream once; another
// group is a replica. Every node is asked in parallel, each with `timeout`
// and one attempt.
//
// Outcomes of fetch():
//   - some group answered completely (every node 2xx): the bodies of the
//     first such group only, in node order -- exact counts, no replica
//     counted twice;
//   - no group complete: the bodies of every node that answered, in node
//     order, and one warning per node that did not ("peer a0:3100 did not
//     answer (...)"): the caller answers with them, a flagged partial answer;
//   - a node answered 400 or 422 (the request itself is bad: every other
//     node would say the same): ApiFailure (api_answer.h) carrying that
//     status and body, so the client gets the peer's own message;
//   - no node answered (or there are none): ApiFailure 503 errorType
//     "unavailable" listing each node's reason.
//
// Loops. Every request carries http::kFanoutHeader: a store node answers it
// from its own store and never fans it out again (logindex_server.h).
//
// Thread-safety: fetch() may run concurrently from many handler threads; it
// runs one thread per node and reuses HTTP connections (common/peer_fanout.h).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "common/http_client.h"
#include "common/http_server.h"
#include "common/metrics_registry.h"
#include "common/peer_fanout.h"
#include "common/peer_groups.h"

namespace strata::logindex {

struct PeerRequest {
  std::string path;                                         // "/loki/api/v1/query_range"
  std::vector<std::pair<std::string, std::string>> params;  // sent as a form-encoded POST
};

struct ShardBody {
  std::size_t shard = 0;  // index into the peers (the node that answered)
  std::string body;
};

struct FanoutReply {
  std::vector<ShardBody> answers;     // shards that answered, in shard order
  std::vector<std::string> warnings;  // partial answer: one per node that did not answer
};

class PeerClient {
 public:
  PeerClient(std::vector<PeerNode> peers, std::chrono::milliseconds timeout,
             metrics::Registry& registry);
  ~PeerClient();
  PeerClient(const PeerClient&) = delete;
  PeerClient& operator=(const PeerClient&) = delete;

  const std::vector<PeerNode>& peers() const { return peers_.peers(); }

  // See the header comment. Throws ApiFailure (a peer's 400, or 503).
  FanoutReply fetch(const PeerRequest& request) const;

 private:
  PeerFanout peers_;
  metrics::Counter& replica_errors_;
  metrics::Counter& shard_failures_;
};

}  // namespace strata::logindex
