// LabelMatcher: one `name op "value"` condition of a series selector, with the
// four PromQL operators (=, !=, =~, !~).
//
// Semantics follow Prometheus exactly: a series that lacks the label is
// matched as if its value were "" (so {a!="x"} selects series without `a`),
// and regular expressions are RE2 (linear time, no backtracking blow-ups on
// user input) and fully anchored: `=~"fo"` does not match "foo", and `.`
// also matches a newline, as Prometheus's `^(?s:re)$`.
//
// A LabelMatcher is immutable after construction; copies share the compiled
// regex, and matches() is safe to call from any number of threads.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/labels.h"

namespace re2 {
class RE2;
}

namespace strata::tsdb {

enum class MatchOp { kEqual, kNotEqual, kRegexMatch, kRegexNoMatch };

// "=", "!=", "=~", "!~".
std::string_view to_string(MatchOp op);

class LabelMatcher {
 public:
  // Throws std::invalid_argument with RE2's explanation when `value` is not a
  // valid regular expression (only for the regex operators).
  LabelMatcher(MatchOp op, std::string name, std::string value);

  MatchOp op() const { return op_; }
  const std::string& name() const { return name_; }
  const std::string& value() const { return value_; }

  bool matches(std::string_view value) const;
  bool matches(const Labels& labels) const { return matches(labels.get(name_)); }
  // True when a series *without* this label would be selected; the query
  // planner needs it (such matchers cannot narrow a lookup via the index).
  bool matches_empty() const { return matches_empty_; }

  // name="value" with the value escaped, as PromQL would print it.
  std::string to_string() const;

 private:
  MatchOp op_;
  std::string name_;
  std::string value_;
  std::shared_ptr<const re2::RE2> re_;
  bool matches_empty_ = false;
};

// True when every matcher matches `labels`.
bool matches_all(const std::vector<LabelMatcher>& matchers, const Labels& labels);

}  // namespace strata::tsdb
