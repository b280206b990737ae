#include "logindex/query.h"

#include <algorithm>

#include "logindex/tokenizer.h"

namespace strata::logindex {

QueryTerms query_terms(const SearchQuery& q) {
  QueryTerms out;
  for (const auto& w : q.words)
    for_each_term(
        w, [&](std::string_view t) { out.terms.emplace_back(t); },
        std::numeric_limits<std::size_t>::max());
  std::sort(out.terms.begin(), out.terms.end());
  out.terms.erase(std::unique(out.terms.begin(), out.terms.end()), out.terms.end());
  for (const auto& t : out.terms)
    if (t.size() + 3 >= kMaxTermBytes) out.long_terms.push_back(t);
  return out;
}

bool line_has_long_terms(std::string_view line, const std::vector<std::string>& long_terms) {
  if (long_terms.empty()) return true;
  auto words = unique_terms(line, std::numeric_limits<std::size_t>::max());
  for (const auto& t : long_terms)
    if (!std::binary_search(words.begin(), words.end(), t)) return false;
  return true;
}

}  // namespace strata::logindex
