// StreamSelector: a LogQL stream selector, `{job="nginx", env=~"prod|stage"}`,
// and the matching of a stream's labels against it. Used by the per-stream
// parser rules (line_parser.h) and by the LogQL front end.
//
// Syntax: `{` matchers separated by `,` `}` where a matcher is
// `name op value`, op one of = != =~ !~, and value a double-quoted string
// with Go escapes (\" \\ \n \t) or a back-quoted raw string. `{}` matches
// every stream. Regexes are RE2, fully anchored as in Prometheus and Loki,
// and a label a stream lacks matches as "".
//
// parse() throws SelectorError whose message names the 1-based character
// where the text stopped making sense. A parsed selector is immutable and
// may be shared between threads.
#pragma once

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/labels.h"

namespace re2 {
class RE2;
}

namespace strata::logindex {

class SelectorError : public std::invalid_argument {
 public:
  SelectorError(std::size_t position, const std::string& message);
  std::size_t position() const { return position_; }  // 0-based byte offset

 private:
  std::size_t position_;
};

class StreamSelector {
 public:
  enum class Op { kEqual, kNotEqual, kRegexMatch, kRegexNoMatch };
  struct Matcher {
    std::string name;
    Op op = Op::kEqual;
    std::string value;
    std::shared_ptr<const re2::RE2> regex;  // for the regex ops
  };

  StreamSelector() = default;  // matches everything
  // Parses a selector at the start of `text`; `consumed` (if given) receives
  // how many bytes it took, so a caller can go on parsing what follows.
  static StreamSelector parse(std::string_view text, std::size_t* consumed = nullptr);

  bool matches(const Labels& stream) const;
  const std::vector<Matcher>& matchers() const { return matchers_; }

 private:
  std::vector<Matcher> matchers_;
};

}  // namespace strata::logindex
