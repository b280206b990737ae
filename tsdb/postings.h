// Postings: the inverted index (label name -> value -> sorted series refs)
// as both the head and every block expose it, and the one routine that
// turns a selector's matchers into candidate series with it.
//
// select_postings() returns a *superset* of the matching series: it uses the
// index only where the index is exact (equality matchers, or the values of
// a matcher that rejects the empty string), and callers still check every
// matcher against each candidate's labels. That keeps the planner tiny while
// still turning {job="node", __name__="x"} into a postings intersection
// instead of a scan.
//
// Thread-safety: as the PostingsReader implementation; the free function
// holds no state.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "tsdb/label_matcher.h"

namespace strata::tsdb {

class PostingsReader {
 public:
  virtual ~PostingsReader() = default;
  // Sorted refs of the series with name=value; empty when none.
  virtual std::vector<std::uint64_t> postings(std::string_view name,
                                              std::string_view value) const = 0;
  // Calls fn(value, refs) for every value of `name`, in value order. False
  // when the name is unknown.
  virtual bool for_each_value(
      std::string_view name,
      const std::function<void(std::string_view, const std::vector<std::uint64_t>&)>& fn) const = 0;
  // Every series ref, sorted.
  virtual std::vector<std::uint64_t> all_postings() const = 0;
};

// Sorted candidate refs for `matchers` (a superset of the matches).
std::vector<std::uint64_t> select_postings(const PostingsReader& index,
                                           const std::vector<LabelMatcher>& matchers);

}  // namespace strata::tsdb
