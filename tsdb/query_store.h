// QueryStore: everything the Prometheus query API (query_api.h) reads -- the
// series for PromQL (promql::Queryable::select) plus the label and series
// listings -- so that one API serves either this node's own DB
// (DbQueryStore) or the shards of a cluster (FanoutStore, fanout_store.h).
//
// Partial answers: a store that could not reach every part of the data (a
// shard down) still answers with what it has and appends one human-readable
// warning per missing part to `warnings` (SelectHints::warnings for
// select()); the API returns them in Prometheus's `warnings` array, so a
// partial result is never mistaken for a complete one. A store that has
// nothing to answer with throws promql::ExecutionError.
//
// Thread-safety: implementations are safe for concurrent calls.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/labels.h"
#include "tsdb/label_matcher.h"
#include "tsdb/promql/engine.h"

namespace strata::tsdb {

class DB;

class QueryStore : public promql::Queryable {
 public:
  // Label sets of the series matching every matcher with data in [mint, maxt],
  // sorted, without duplicates.
  virtual std::vector<Labels> series_labels(const std::vector<LabelMatcher>& matchers,
                                            std::int64_t mint, std::int64_t maxt,
                                            std::vector<std::string>* warnings) const = 0;
  // Every label name / every value of `name` in the store, sorted.
  virtual std::vector<std::string> label_names(std::vector<std::string>* warnings) const = 0;
  virtual std::vector<std::string> label_values(std::string_view name,
                                                std::vector<std::string>* warnings) const = 0;
  // The local DB behind this store, for the status endpoints; nullptr on a
  // query node, which holds none.
  virtual const DB* local_db() const = 0;
};

// A QueryStore over a DB, which must outlive it. Never partial.
class DbQueryStore : public QueryStore {
 public:
  explicit DbQueryStore(const DB& db) : db_(db) {}
  std::vector<Series> select(const std::vector<LabelMatcher>& matchers, std::int64_t mint,
                             std::int64_t maxt, const SelectHints& hints) const override;
  std::vector<Labels> series_labels(const std::vector<LabelMatcher>& matchers, std::int64_t mint,
                                    std::int64_t maxt,
                                    std::vector<std::string>* warnings) const override;
  std::vector<std::string> label_names(std::vector<std::string>* warnings) const override;
  std::vector<std::string> label_values(std::string_view name,
                                        std::vector<std::string>* warnings) const override;
  const DB* local_db() const override { return &db_; }

 private:
  const DB& db_;
};

}  // namespace strata::tsdb
