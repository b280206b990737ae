// The log search language: what a person types into `q=` of
// /api/v1/logs/search, parsed into a tree the evaluator runs over postings.
// docs/logindex.md ("Search language") is the user's reference.
//
//   failed password          both words (AND is implied between terms)
//   failed AND password      the same, explicitly
//   sshd OR su               either
//   NOT invalid, -invalid    lines without the word
//   (a OR b) AND NOT c       parentheses group
//   "session opened for"     a phrase: these words, adjacent, in order
//   blk_38*                  a prefix: any word starting with it
//   level:error              a stream label or extracted field equal to a value
//   host:"web 01"            ... with a quoted value
//   user:/adm.*/             ... matching an RE2 regex (whole value)
//
// Operators are upper case (AND, OR, NOT); lower-case `and` is a word. NOT
// binds tighter than AND, AND tighter than OR. A bare word that the
// tokenizer splits (`10.251.43.21:50010` -> 10 251 43 21 50010, see
// tokenizer.h) is a phrase of its pieces, so it matches exactly that
// sequence. A word is `field:...` only when what precedes the colon is a
// field name ([A-Za-z_][A-Za-z0-9_]*) and something follows it. Matching of words, phrases and
// prefixes is case-insensitive; field values are compared as written.
//
// A query made only of negations (`NOT a`) is valid: it matches every line
// in the time range without the word. The empty query matches everything.
//
// Errors: parse() throws SearchSyntaxError with the 0-based byte position
// and a message "parse error at char N: ..." (1-based N), as the PromQL and
// LogQL parsers word theirs. Limits: at most kMaxQueryBytes of text and
// kMaxQueryDepth nested parentheses/NOTs, so no query can exhaust the stack.
//
// A parsed tree is immutable and may be evaluated from any thread.
#pragma once

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace re2 {
class RE2;
}

namespace strata::logindex {

inline constexpr std::size_t kMaxQueryBytes = 64 * 1024;
inline constexpr int kMaxQueryDepth = 64;

class SearchSyntaxError : public std::invalid_argument {
 public:
  SearchSyntaxError(std::size_t position, const std::string& message);
  std::size_t position() const { return position_; }

 private:
  std::size_t position_;
};

struct SearchNode {
  enum class Kind {
    kAll,         // matches every line (the empty query)
    kTerms,       // `terms` adjacent and in order (one term: a plain word)
    kPrefix,      // a word starting with terms[0]
    kFieldEqual,  // field == value
    kFieldRegex,  // field =~ regex (anchored)
    kAnd,
    kOr,
    kNot,  // children[0]
  };
  Kind kind = Kind::kAll;
  std::vector<std::string> terms;  // lowercased tokens (kTerms, kPrefix)
  std::string text;                // the words/phrase as written (kTerms)
  std::string field;               // kField*
  std::string value;               // kFieldEqual value, or the regex source
  std::shared_ptr<const re2::RE2> regex;
  std::vector<SearchNode> children;
  std::size_t position = 0;  // where it starts in the query

  bool is_negation() const { return kind == Kind::kNot; }
};

SearchNode parse_search(std::string_view query);

// The tree in canonical text form (for logs and tests): operators explicit,
// parentheses around every AND/OR.
std::string to_string(const SearchNode& node);

}  // namespace strata::logindex
