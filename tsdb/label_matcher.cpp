#include "tsdb/label_matcher.h"

#include <re2/re2.h>

namespace strata::tsdb {

std::string_view to_string(MatchOp op) {
  switch (op) {
    case MatchOp::kEqual:
      return "=";
    case MatchOp::kNotEqual:
      return "!=";
    case MatchOp::kRegexMatch:
      return "=~";
    case MatchOp::kRegexNoMatch:
      return "!~";
  }
  return "?";
}

LabelMatcher::LabelMatcher(MatchOp op, std::string name, std::string value)
    : op_(op), name_(std::move(name)), value_(std::move(value)) {
  if (op_ == MatchOp::kRegexMatch || op_ == MatchOp::kRegexNoMatch) {
    RE2::Options options;
    // Prometheus compiles `^(?s:re)$`: dot matches newline. Anchoring comes
    // from FullMatch, which (unlike wrapping the text in ^...$) cannot be
    // defeated by an alternation such as `a)|(b`.
    options.set_dot_nl(true);
    options.set_log_errors(false);
    auto re = std::make_shared<RE2>(value_, options);
    if (!re->ok())
      throw std::invalid_argument("invalid regular expression \"" + value_ + "\": " + re->error());
    re_ = std::move(re);
  }
  matches_empty_ = matches(std::string_view{});
}

bool LabelMatcher::matches(std::string_view v) const {
  switch (op_) {
    case MatchOp::kEqual:
      return v == value_;
    case MatchOp::kNotEqual:
      return v != value_;
    case MatchOp::kRegexMatch:
      return RE2::FullMatch(re2::StringPiece(v.data(), v.size()), *re_);
    case MatchOp::kRegexNoMatch:
      return !RE2::FullMatch(re2::StringPiece(v.data(), v.size()), *re_);
  }
  return false;
}

std::string LabelMatcher::to_string() const {
  std::string out = name_;
  out += tsdb::to_string(op_);
  out += '"';
  for (char c : value_) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  out += '"';
  return out;
}

bool matches_all(const std::vector<LabelMatcher>& matchers, const Labels& labels) {
  for (const auto& m : matchers)
    if (!m.matches(labels)) return false;
  return true;
}

}  // namespace strata::tsdb
