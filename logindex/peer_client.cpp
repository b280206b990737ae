#include "logindex/peer_client.h"

#include <algorithm>
#include <future>
#include <stdexcept>

#include "common/api_error.h"
#include "logindex/api_answer.h"

namespace strata::logindex {
namespace {

// Idle connections kept for reuse; more concurrent requests than this just
// open (and then close) their own.
constexpr std::size_t kMaxIdleClients = 64;
// How much of a failing peer's answer a warning quotes.
constexpr std::size_t kMaxQuotedBody = 200;

std::string form_encode(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out += '&';
    out += http::HttpClient::url_encode(k);
    out += '=';
    out += http::HttpClient::url_encode(v);
  }
  return out;
}

}  // namespace

PeerClient::PeerClient(std::vector<PeerNode> peers, std::chrono::milliseconds timeout,
                       metrics::Registry& registry)
    : peers_(std::move(peers)),
      replica_errors_(registry.counter(
          "strata_logindex_fanout_peer_errors_total",
          "Requests to a peer logindex node that failed (transport error, timeout, 5xx).")),
      shard_failures_(registry.counter(
          "strata_logindex_fanout_partial_answers_total",
          "Fan-out answers left partial (with warnings): no replica group answered completely.")) {
  client_options_.request_timeout = timeout;
  client_options_.connect_timeout = std::min(timeout, std::chrono::milliseconds(2'000));
  // The other replica group is the retry: one attempt each, so a dead node
  // costs one timeout, not a backoff series.
  client_options_.max_attempts = 1;
}

PeerClient::~PeerClient() = default;

std::unique_ptr<http::HttpClient> PeerClient::take_client() const {
  {
    std::lock_guard lock(pool_mu_);
    if (!pool_.empty()) {
      auto c = std::move(pool_.back());
      pool_.pop_back();
      return c;
    }
  }
  return std::make_unique<http::HttpClient>(client_options_);
}

void PeerClient::return_client(std::unique_ptr<http::HttpClient> client) const {
  std::lock_guard lock(pool_mu_);
  if (pool_.size() < kMaxIdleClients) pool_.push_back(std::move(client));
}

PeerClient::Outcome PeerClient::ask(const PeerNode& peer, const std::string& path,
                                    const std::string& form) const {
  Outcome out;
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", "application/x-www-form-urlencoded"}, {"X-Strata-Fanout", "1"}};
  http::ClientResponse r;
  try {
    auto client = take_client();
    r = client->post(peer.url + path, form, headers);
    return_client(std::move(client));
  } catch (const std::exception& e) {
    r.error = e.what();
  }
  if (r.ok()) {
    out.ok = true;
    out.body = std::move(r.body);
  } else if (r.error.empty() && (r.status == 400 || r.status == 422)) {
    out.rejected_status = r.status;
    out.body = std::move(r.body);
  } else {
    replica_errors_.inc();
    out.why = r.error.empty()
                  ? "HTTP " + std::to_string(r.status) + ": " + r.body.substr(0, kMaxQuotedBody)
                  : r.error;
  }
  return out;
}

FanoutReply PeerClient::fetch(const PeerRequest& request) const {
  const std::string form = form_encode(request.params);
  std::vector<std::future<Outcome>> pending;
  pending.reserve(peers_.size());
  for (const auto& peer : peers_)
    pending.push_back(std::async(std::launch::async, [this, &peer, &request, &form] {
      return ask(peer, request.path, form);
    }));
  std::vector<Outcome> outcomes;
  for (auto& f : pending) outcomes.push_back(f.get());  // every thread joined before we return

  std::vector<bool> answered(peers_.size(), false);
  std::vector<std::string> errors(peers_.size());
  std::string reasons;
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    Outcome& o = outcomes[i];
    if (o.rejected_status != 0) {
      // The first peer in order speaks for all: they run the same parser.
      http::Response r = http::Response::json(o.rejected_status, std::move(o.body));
      throw ApiFailure(std::move(r));
    }
    answered[i] = o.ok;
    errors[i] = o.why;
    if (!o.ok) reasons += (reasons.empty() ? "" : "; ") + peers_[i].name + ": " + o.why;
  }
  if (std::find(answered.begin(), answered.end(), true) == answered.end())
    throw ApiFailure(http::Response::json(
        503, http::api_error_json("unavailable",
                                  peers_.empty()
                                      ? "no peers to ask: logindex.query.peers is empty"
                                      : "no node of logindex.query.peers answered: " + reasons)));
  FanoutReply reply;
  // With a complete group, its answers alone: a replica's copies would
  // double every count.
  std::vector<bool> use = answered;
  for (std::size_t i = 0; i < peers_.size(); ++i) {
    bool complete = true;
    for (std::size_t j = 0; j < peers_.size(); ++j)
      if (peers_[j].group == peers_[i].group) complete = complete && answered[j];
    if (complete) {
      for (std::size_t j = 0; j < peers_.size(); ++j) use[j] = peers_[j].group == peers_[i].group;
      break;
    }
  }
  for (std::size_t i = 0; i < peers_.size(); ++i)
    if (use[i]) reply.answers.push_back(ShardBody{i, std::move(outcomes[i].body)});
  reply.warnings = partial_warnings(peers_, answered, errors, "that node's streams");
  if (!reply.warnings.empty()) shard_failures_.inc();
  return reply;
}

}  // namespace strata::logindex
