// Lexer for PromQL (Prometheus 3 grammar): turns a query into tokens that
// carry their byte position, on demand, so that the first error in the text
// is the one reported (a bad character at the end does not hide a syntax
// error at the start).
//
// Like Prometheus's lexer it is modal, driven by the text alone: inside
// `{...}` words are label names (never keywords) and numbers are not lexed;
// inside `[...]` only durations, numbers and ':' are. Keywords are
// case-insensitive (`SUM`, `By`, `Inf`); `# ...` comments run to the end of
// the line and are skipped. Characters that start no token become kInvalid
// tokens, so the parser can say what it expected instead of them.
//
// Quoted strings are unescaped here (Go escapes; see Token::value). Lexical
// errors -- an unterminated string, a bad escape, invalid UTF-8, a malformed
// number or duration -- throw ParseError.
//
// A Lexer borrows its input (which must outlive it) and is not thread-safe;
// ParseError is immutable.
#pragma once

#include <cstddef>
#include <deque>
#include <stdexcept>
#include <string>
#include <string_view>

namespace strata::tsdb::promql {

class ParseError : public std::invalid_argument {
 public:
  // `position` is 1-based (a byte offset + 1); what() is the full message.
  ParseError(std::size_t position, const std::string& message);
  std::size_t position() const { return position_; }
  // The message without the "parse error at char N: " prefix.
  const std::string& detail() const { return detail_; }

 private:
  std::size_t position_;
  std::string detail_;
};

enum class TokenKind {
  kEof,
  kInvalid,  // a character that starts no token; text is that byte
  kIdentifier,
  kMetricIdentifier,  // an identifier containing ':' (only valid as a metric name)
  kNumber,
  kDuration,
  kString,
  // Punctuation.
  kLeftParen,
  kRightParen,
  kLeftBrace,
  kRightBrace,
  kLeftBracket,
  kRightBracket,
  kComma,
  kColon,
  kAt,
  // Matcher operators ('!=' doubles as the comparison operator).
  kEql,
  kEqlRegex,
  kNeqRegex,
  kNeq,
  // Binary operators.
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
  kEqlc,  // ==
  kLss,
  kLte,
  kGtr,
  kGte,
  // Keywords (case-insensitive words).
  kAnd,
  kOr,
  kUnless,
  kAtan2,
  kSum,
  kAvg,
  kCount,
  kMin,
  kMax,
  kGroup,
  kStddev,
  kStdvar,
  kTopk,
  kBottomk,
  kCountValues,
  kQuantile,
  kLimitk,
  kLimitRatio,
  kOffset,
  kBy,
  kWithout,
  kOn,
  kIgnoring,
  kGroupLeft,
  kGroupRight,
  kBool,
  kStart,
  kEnd,
};

bool is_keyword(TokenKind kind);
bool is_aggregator(TokenKind kind);

struct Token {
  TokenKind kind = TokenKind::kEof;
  std::size_t pos = 0;    // byte offset of the first character
  std::string_view text;  // the token as written (quotes included)
  std::string value;      // kString only: the unescaped contents

  std::size_t end() const { return pos + text.size(); }
};

// How a token reads in an error message: `identifier "foo"`, `number "1"`,
// `string`, `keyword "by"`, `'('`, `end of input`, `byte 0xff`.
std::string describe(const Token& token);

class Lexer {
 public:
  explicit Lexer(std::string_view input) : in_(input) {}

  // The token `ahead` positions after the next one, without consuming it.
  const Token& peek(std::size_t ahead = 0);
  Token next();
  std::string_view input() const { return in_; }

 private:
  Token scan();
  void skip_space_and_comments();
  Token make(TokenKind kind, std::size_t start);
  Token scan_inside_braces();
  Token scan_inside_brackets();
  Token scan_number_or_duration(std::size_t start);
  Token scan_word(std::size_t start);
  Token scan_string(std::size_t start);
  void scan_escape(std::string& out, char quote);
  bool scan_number();
  bool scan_remaining_duration();

  std::string_view in_;
  std::size_t pos_ = 0;
  bool brace_open_ = false;
  bool bracket_open_ = false;
  std::deque<Token> ahead_;
};

}  // namespace strata::tsdb::promql
