// FanoutStore: the QueryStore of a query node -- PromQL over every tsdb
// shard of a cluster. docs/tsdb.md ("Shards, replicas and the query node").
//
// Data placement: the tsdb nodes of one Kafka consumer group each own a
// share of the metrics topic's partitions; the collector keys every sample
// by its series' fingerprint, so a series lives on exactly one shard (except
// around a rebalance after a crash, when the samples a dead node had stored
// but not committed are consumed again by the partition's new owner). A
// second consumer group over the same topic is a full replica.
//
// The peers are every node of every replica group (common/peer_groups.h).
// select() sends one Prometheus remote-read request (remote_read.h) with
// the matchers, time range and hints to all of them in parallel and merges
// what comes back by label set: all copies of a series (replicas,
// rebalance leftovers) become chunks of one Series, and the querier's merge
// yields each timestamp once. So a sample held twice is counted once, and a
// replica that is down, restarting or still catching up is covered by the
// other. The listings (labels, values, series) ask the nodes' JSON API with
// the fan-out header (http::kFanoutHeader), so a node that is itself a
// fan-out node answers from its own data only.
//
// Failure: a node that does not answer within `peer_timeout` (connection
// refused, timeout, non-2xx, undecodable body) is left out. When no replica
// group answered completely, each failed node is named in a warning -- the
// API returns them in `warnings`, so a partial answer is flagged, never
// silently short. If no node answers, the call throws
// promql::ExecutionError.
//
// Thread-safety: safe for concurrent calls; HTTP connections are pooled
// (common/peer_fanout.h).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/http_client.h"
#include "common/peer_fanout.h"
#include "common/peer_groups.h"
#include "tsdb/query_store.h"

namespace strata::tsdb {

struct FanoutOptions {
  std::vector<PeerNode> peers;
  std::chrono::milliseconds peer_timeout{30'000};
  // Largest decompressed remote-read response accepted from one node.
  std::size_t max_response_bytes = std::size_t{1} << 30;
  // Aggregation push-down (evaluate_on_parts): exact while every series'
  // samples sit on one node of a group, which a crash during ingest can
  // break for the samples around it (they are then on two shards, and a
  // shard-side sum counts them twice). Off: every query ships raw samples.
  bool pushdown = false;
};

class FanoutStore : public QueryStore {
 public:
  // Throws std::invalid_argument when `options.peers` is empty.
  explicit FanoutStore(FanoutOptions options);
  ~FanoutStore() override;

  std::vector<Series> select(const std::vector<LabelMatcher>& matchers, std::int64_t mint,
                             std::int64_t maxt, const SelectHints& hints) const override;
  std::vector<Labels> series_labels(const std::vector<LabelMatcher>& matchers, std::int64_t mint,
                                    std::int64_t maxt,
                                    std::vector<std::string>* warnings) const override;
  std::vector<std::string> label_names(std::vector<std::string>* warnings) const override;
  std::vector<std::string> label_values(std::string_view name,
                                        std::vector<std::string>* warnings) const override;
  const DB* local_db() const override { return nullptr; }
  // With options.pushdown: asks one complete replica group's nodes to
  // evaluate the aggregation on their own series (their Prometheus API,
  // with the fan-out header); nullopt when no group answered completely
  // (the engine then reads raw series, which reports what is missing).
  std::optional<std::vector<promql::Matrix>> evaluate_on_parts(
      const PartsQuery& query, std::vector<std::string>* warnings) const override;

  const FanoutOptions& options() const { return options_; }
  // Aggregations answered by push-down since start (for /metrics).
  std::uint64_t pushdowns() const { return pushdowns_.load(); }

 private:
  // Calls every peer (peer_fanout.h) and decodes each 2xx body with
  // `decode` (which throws on a bad body). Returns the decoded answers of
  // the peers that succeeded; adds the warnings of a partial answer.
  // Throws promql::ExecutionError when no peer answered.
  template <class T>
  std::vector<T> gather(const PeerFanout::Call& call,
                        const std::function<T(const std::string&)>& decode,
                        std::vector<std::string>* warnings) const;
  // The same without judging: each peer's decoded answer, or nullopt and
  // why (`errors`).
  template <class T>
  std::vector<std::optional<T>> gather_each(const PeerFanout::Call& call,
                                            const std::function<T(const std::string&)>& decode,
                                            std::vector<std::string>& errors) const;

  FanoutOptions options_;
  PeerFanout peers_;
  mutable std::atomic<std::uint64_t> pushdowns_{0};
};

}  // namespace strata::tsdb
