#include "logindex/peer_client.h"

#include <algorithm>
#include <stdexcept>

#include "common/api_error.h"
#include "logindex/api_answer.h"

namespace strata::logindex {
namespace {

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
    : peers_(std::move(peers), timeout),
      replica_errors_(registry.counter(
          "strata_logindex_fanout_peer_errors_total",
          "Requests to a peer logindex node that failed (transport error, timeout, 5xx).")),
      shard_failures_(registry.counter(
          "strata_logindex_fanout_partial_answers_total",
          "Fan-out answers left partial (with warnings): no replica group answered completely.")) {}

PeerClient::~PeerClient() = default;

FanoutReply PeerClient::fetch(const PeerRequest& request) const {
  const std::string form = form_encode(request.params);
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", "application/x-www-form-urlencoded"}, {"X-Strata-Fanout", "1"}};
  auto responses = peers_.call_all([&](http::HttpClient& client, const std::string& base) {
    return client.post(base + request.path, form, headers);
  });
  const auto& peers = peers_.peers();
  std::vector<bool> answered(peers.size(), false);
  std::vector<std::string> errors(peers.size());
  std::string reasons;
  for (std::size_t i = 0; i < responses.size(); ++i) {
    auto& r = responses[i];
    if (r.error.empty() && (r.status == 400 || r.status == 422)) {
      // The first peer in order speaks for all: they run the same parser.
      throw ApiFailure(http::Response::json(r.status, std::move(r.body)));
    }
    answered[i] = r.ok();
    if (r.ok()) continue;
    replica_errors_.inc();
    errors[i] = r.error.empty()
                    ? "HTTP " + std::to_string(r.status) + ": " + r.body.substr(0, kMaxQuotedBody)
                    : r.error;
    reasons += (reasons.empty() ? "" : "; ") + peers[i].name + ": " + errors[i];
  }
  if (std::find(answered.begin(), answered.end(), true) == answered.end())
    throw ApiFailure(http::Response::json(
        503, http::api_error_json("unavailable",
                                  peers.empty()
                                      ? "no peers to ask: logindex.query.peers is empty"
                                      : "no node of logindex.query.peers answered: " + reasons)));
  FanoutReply reply;
  // With a complete group, its answers alone: a replica's copies would
  // double every count.
  const std::string* group = first_complete_group(peers, answered);
  for (std::size_t i = 0; i < peers.size(); ++i)
    if (answered[i] && (group == nullptr || peers[i].group == *group))
      reply.answers.push_back(ShardBody{i, std::move(responses[i].body)});
  reply.warnings = partial_warnings(peers, answered, errors, "that node's streams");
  if (!reply.warnings.empty()) shard_failures_.inc();
  return reply;
}

}  // namespace strata::logindex
