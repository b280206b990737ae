#include "tsdb/postings.h"

#include <algorithm>
#include <iterator>

namespace strata::tsdb {

std::vector<std::uint64_t> select_postings(const PostingsReader& index,
                                           const std::vector<LabelMatcher>& matchers) {
  // Intersect the equality matchers' lists; failing those, use the values of
  // the first matcher that rejects "" (a series lacking its label cannot
  // match it); only then take everything.
  std::vector<std::uint64_t> ids;
  bool narrowed = false;
  for (const auto& m : matchers) {
    if (m.op() != MatchOp::kEqual || m.matches_empty()) continue;
    auto list = index.postings(m.name(), m.value());
    if (!narrowed) {
      ids = std::move(list);
      narrowed = true;
    } else {
      std::vector<std::uint64_t> out;
      std::set_intersection(ids.begin(), ids.end(), list.begin(), list.end(),
                            std::back_inserter(out));
      ids.swap(out);
    }
    if (ids.empty()) return {};
  }
  if (narrowed) return ids;
  for (const auto& m : matchers) {
    if (m.matches_empty()) continue;
    index.for_each_value(m.name(),
                         [&](std::string_view value, const std::vector<std::uint64_t>& l) {
                           if (m.matches(value)) ids.insert(ids.end(), l.begin(), l.end());
                         });
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    return ids;
  }
  return index.all_postings();
}

}  // namespace strata::tsdb
