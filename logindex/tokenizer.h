// Tokenizer: turns a log line (or a search query) into index terms.
//
// A term is a maximal run of ASCII letters, digits and '_' plus any non-ASCII
// byte (so UTF-8 words in any script stay whole), lowercased for ASCII;
// everything else -- spaces, '.', '-', '/', ':', '=', quotes, brackets --
// separates terms. "GET /api/v1/Users?id=42" -> get, api, v1, users, id, 42.
//
// Terms are cut to at most `max_bytes`, never in the middle of a UTF-8
// sequence. The index and the query side cut the same way, so a search for
// a long word still finds it (the index re-checks whole words when a query
// term was cut, see MemoryIndex::search).
//
// Pure functions; thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace strata::logindex {

inline constexpr std::size_t kMaxTermBytes = 64;

// Cuts `term` to at most `max_bytes` at a UTF-8 sequence boundary.
std::string_view truncate_term(std::string_view term, std::size_t max_bytes = kMaxTermBytes);

// Calls fn(std::string_view term) for every term of `text`, in order,
// repeats included. The view is valid only during the call.
template <typename Fn>
void for_each_term(std::string_view text, Fn&& fn, std::size_t max_bytes = kMaxTermBytes);

// Every term in order, repeats included.
std::vector<std::string> tokenize(std::string_view text, std::size_t max_bytes = kMaxTermBytes);
// The distinct terms, sorted (what the index stores per line).
std::vector<std::string> unique_terms(std::string_view text, std::size_t max_bytes = kMaxTermBytes);

// ---- implementation ----

constexpr bool is_term_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c >= 0x80;
}

namespace detail {
// 0 for a separator, else the byte as a term holds it (ASCII letters
// lowercased): one table lookup per byte both classifies and folds, which is
// most of the tokenizer's cost on the ingest path.
inline constexpr std::array<unsigned char, 256> kTermByte = [] {
  std::array<unsigned char, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 'A' && u <= 'Z')
      t[u] = static_cast<unsigned char>(u - 'A' + 'a');
    else if (is_term_byte(u))
      t[u] = u;
  }
  return t;
}();
}  // namespace detail

template <typename Fn>
void for_each_term(std::string_view text, Fn&& fn, std::size_t max_bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::string term;  // reused: one allocation per call at most
  std::size_t i = 0;
  while (i < n) {
    while (i < n && detail::kTermByte[p[i]] == 0) ++i;
    if (i == n) break;
    const std::size_t start = i;
    while (i < n && detail::kTermByte[p[i]] != 0) ++i;
    // Lowercasing changes only ASCII bytes, so the cut computed on the raw
    // bytes is the cut of the folded term too.
    const std::size_t len = truncate_term(text.substr(start, i - start), max_bytes).size();
    term.resize(len);
    for (std::size_t k = 0; k < len; ++k)
      term[k] = static_cast<char>(detail::kTermByte[p[start + k]]);
    fn(std::string_view(term));
  }
}

}  // namespace strata::logindex
