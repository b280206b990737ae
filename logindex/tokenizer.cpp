#include "logindex/tokenizer.h"

#include <algorithm>

namespace strata::logindex {

std::string_view truncate_term(std::string_view term, std::size_t max_bytes) {
  if (term.size() <= max_bytes) return term;
  std::size_t cut = max_bytes;
  // Back off over continuation bytes (10xxxxxx) so the cut falls before the
  // lead byte of the sequence it would split.
  while (cut > 0 && (static_cast<unsigned char>(term[cut]) & 0xC0) == 0x80) --cut;
  if (cut == 0) cut = max_bytes;  // not UTF-8 at all: a byte cut is all we can do
  return term.substr(0, cut);
}

std::vector<std::string> tokenize(std::string_view text, std::size_t max_bytes) {
  std::vector<std::string> out;
  for_each_term(
      text, [&](std::string_view t) { out.emplace_back(t); }, max_bytes);
  return out;
}

std::vector<std::string> unique_terms(std::string_view text, std::size_t max_bytes) {
  auto out = tokenize(text, max_bytes);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace strata::logindex
