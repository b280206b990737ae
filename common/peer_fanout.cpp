#include "common/peer_fanout.h"

#include <algorithm>
#include <future>

namespace strata {
namespace {

// Idle connections kept for reuse; more concurrent requests than this just
// open (and then close) their own.
constexpr std::size_t kMaxIdleClients = 64;

}  // namespace

PeerFanout::PeerFanout(std::vector<PeerNode> peers, std::chrono::milliseconds timeout)
    : peers_(std::move(peers)) {
  client_options_.request_timeout = timeout;
  client_options_.connect_timeout = std::min(timeout, std::chrono::milliseconds(2'000));
  client_options_.max_attempts = 1;
}

PeerFanout::~PeerFanout() = default;

std::unique_ptr<http::HttpClient> PeerFanout::acquire() const {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
  }
  return std::make_unique<http::HttpClient>(client_options_);
}

void PeerFanout::release(std::unique_ptr<http::HttpClient> client) const {
  std::lock_guard lock(mu_);
  if (idle_.size() < kMaxIdleClients) idle_.push_back(std::move(client));
}

std::vector<http::ClientResponse> PeerFanout::call_all(const Call& call) const {
  std::vector<std::future<http::ClientResponse>> pending;
  pending.reserve(peers_.size());
  for (const auto& peer : peers_)
    pending.push_back(std::async(std::launch::async, [this, &call, &peer] {
      http::ClientResponse r;
      try {
        auto client = acquire();
        r = call(*client, peer.url);
        release(std::move(client));
      } catch (const std::exception& e) {
        r.error = e.what();
      }
      return r;
    }));
  std::vector<http::ClientResponse> out;
  out.reserve(pending.size());
  for (auto& f : pending) out.push_back(f.get());  // every thread joined before we return
  return out;
}

}  // namespace strata
