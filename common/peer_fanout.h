// PeerFanout: one HTTP request to every peer of a query fan-out
// (common/peer_groups.h) at once -- what the tsdb's FanoutStore and the
// logindex's LogFanout both do before merging their different answers.
//
// Each call runs one thread per peer and waits for all of them; every
// request has the peers' timeout and a single attempt (the other replica
// group is the retry: a dead node costs one timeout, not a backoff series).
// Keep-alive connections are pooled across calls.
//
// Thread-safety: call_all() may run concurrently from many threads.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/http_client.h"
#include "common/peer_groups.h"

namespace strata {

class PeerFanout {
 public:
  // How a call reaches one peer: `base` is its URL ("http://host:port").
  using Call =
      std::function<http::ClientResponse(http::HttpClient& client, const std::string& base)>;

  PeerFanout(std::vector<PeerNode> peers, std::chrono::milliseconds timeout);
  ~PeerFanout();
  PeerFanout(const PeerFanout&) = delete;
  PeerFanout& operator=(const PeerFanout&) = delete;

  const std::vector<PeerNode>& peers() const { return peers_; }

  // Every peer's response, in peer order (a transport failure or a thrown
  // exception is a response with `error` set).
  std::vector<http::ClientResponse> call_all(const Call& call) const;

 private:
  std::unique_ptr<http::HttpClient> acquire() const;
  void release(std::unique_ptr<http::HttpClient> client) const;

  std::vector<PeerNode> peers_;
  http::ClientOptions client_options_;
  mutable std::mutex mu_;
  mutable std::vector<std::unique_ptr<http::HttpClient>> idle_;
};

}  // namespace strata
