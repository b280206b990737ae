// SymbolTable: interned label strings for the head.
//
// Every series in the head holds its labels as string_views into one shared
// table, so "job", "instance" and "node" are stored once however many
// thousands of series carry them (Prometheus's head does the same; with
// node_exporter data it cuts label memory several times over).
//
// Guarantees: a view returned by intern() stays valid, and keeps pointing at
// the same bytes, for the lifetime of the table (strings are never removed:
// the set of distinct label strings grows far slower than the series churn
// and a block cut does not need to compact it). Thread-safe; intern() takes
// a mutex, so callers intern once per series, never per sample.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>

namespace strata::tsdb {

class SymbolTable {
 public:
  std::string_view intern(std::string_view s) {
    std::lock_guard lock(mu_);
    auto it = set_.find(s);
    if (it == set_.end()) {
      it = set_.emplace(s).first;
      bytes_ += s.size();
    }
    return *it;  // node-based set: the element never moves
  }
  std::size_t size() const {
    std::lock_guard lock(mu_);
    return set_.size();
  }
  std::size_t bytes() const {
    std::lock_guard lock(mu_);
    return bytes_;
  }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  mutable std::mutex mu_;
  std::unordered_set<std::string, Hash, std::equal_to<>> set_;
  std::size_t bytes_ = 0;
};

}  // namespace strata::tsdb
