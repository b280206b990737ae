#include "tsdb/promql/lexer.h"

#include <cstdint>
#include <utility>

#include "common/wire_format.h"

namespace strata::tsdb::promql {

ParseError::ParseError(std::size_t position, const std::string& message)
    : std::invalid_argument("parse error at char " + std::to_string(position) + ": " + message),
      position_(position),
      detail_(message) {}

namespace {

bool is_alpha(int c) { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(int c) { return c >= '0' && c <= '9'; }
bool is_alnum(int c) { return is_alpha(c) || is_digit(c); }
bool is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int hex_value(int c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

struct Keyword {
  std::string_view word;
  TokenKind kind;
};

constexpr Keyword kKeywords[] = {
    {"and", TokenKind::kAnd},
    {"or", TokenKind::kOr},
    {"unless", TokenKind::kUnless},
    {"atan2", TokenKind::kAtan2},
    {"sum", TokenKind::kSum},
    {"avg", TokenKind::kAvg},
    {"count", TokenKind::kCount},
    {"min", TokenKind::kMin},
    {"max", TokenKind::kMax},
    {"group", TokenKind::kGroup},
    {"stddev", TokenKind::kStddev},
    {"stdvar", TokenKind::kStdvar},
    {"topk", TokenKind::kTopk},
    {"bottomk", TokenKind::kBottomk},
    {"count_values", TokenKind::kCountValues},
    {"quantile", TokenKind::kQuantile},
    {"limitk", TokenKind::kLimitk},
    {"limit_ratio", TokenKind::kLimitRatio},
    {"offset", TokenKind::kOffset},
    {"by", TokenKind::kBy},
    {"without", TokenKind::kWithout},
    {"on", TokenKind::kOn},
    {"ignoring", TokenKind::kIgnoring},
    {"group_left", TokenKind::kGroupLeft},
    {"group_right", TokenKind::kGroupRight},
    {"bool", TokenKind::kBool},
    {"start", TokenKind::kStart},
    {"end", TokenKind::kEnd},
    // Special numbers are words too.
    {"inf", TokenKind::kNumber},
    {"nan", TokenKind::kNumber},
};

}  // namespace

bool is_keyword(TokenKind kind) { return kind >= TokenKind::kAnd; }

bool is_aggregator(TokenKind kind) {
  return kind >= TokenKind::kSum && kind <= TokenKind::kLimitRatio;
}

std::string describe(const Token& token) {
  switch (token.kind) {
    case TokenKind::kEof:
      return "end of input";
    case TokenKind::kInvalid: {
      unsigned char c = token.text.empty() ? 0 : static_cast<unsigned char>(token.text[0]);
      if (c > 0x20 && c < 0x7f) return std::string("'") + static_cast<char>(c) + "'";
      static const char* hex = "0123456789abcdef";
      return std::string("byte 0x") + hex[c >> 4] + hex[c & 0xF];
    }
    case TokenKind::kIdentifier:
    case TokenKind::kMetricIdentifier:
      return "identifier \"" + std::string(token.text) + "\"";
    case TokenKind::kNumber:
      return "number \"" + std::string(token.text) + "\"";
    case TokenKind::kDuration:
      return "duration \"" + std::string(token.text) + "\"";
    case TokenKind::kString:
      return "string";
    default:
      if (is_keyword(token.kind)) return "keyword \"" + std::string(token.text) + "\"";
      return "'" + std::string(token.text) + "'";
  }
}

const Token& Lexer::peek(std::size_t ahead) {
  while (ahead_.size() <= ahead) ahead_.push_back(scan());
  return ahead_[ahead];
}

Token Lexer::next() {
  if (ahead_.empty()) return scan();
  Token t = std::move(ahead_.front());
  ahead_.pop_front();
  return t;
}

Token Lexer::make(TokenKind kind, std::size_t start) {
  Token t;
  t.kind = kind;
  t.pos = start;
  t.text = in_.substr(start, pos_ - start);
  return t;
}

void Lexer::skip_space_and_comments() {
  while (pos_ < in_.size()) {
    char c = in_[pos_];
    if (is_space(c)) {
      ++pos_;
    } else if (c == '#') {
      while (pos_ < in_.size() && in_[pos_] != '\n' && in_[pos_] != '\r') ++pos_;
    } else {
      return;
    }
  }
}

Token Lexer::scan() {
  if (brace_open_) return scan_inside_braces();
  if (bracket_open_) return scan_inside_brackets();
  skip_space_and_comments();
  std::size_t start = pos_;
  if (pos_ >= in_.size()) return make(TokenKind::kEof, start);
  char c = in_[pos_++];
  auto two = [&](char second, TokenKind both, TokenKind one) {
    if (pos_ < in_.size() && in_[pos_] == second) {
      ++pos_;
      return make(both, start);
    }
    return make(one, start);
  };
  switch (c) {
    case ',':
      return make(TokenKind::kComma, start);
    case '*':
      return make(TokenKind::kMul, start);
    case '/':
      return make(TokenKind::kDiv, start);
    case '%':
      return make(TokenKind::kMod, start);
    case '+':
      return make(TokenKind::kAdd, start);
    case '-':
      return make(TokenKind::kSub, start);
    case '^':
      return make(TokenKind::kPow, start);
    case '@':
      return make(TokenKind::kAt, start);
    case '(':
      return make(TokenKind::kLeftParen, start);
    case ')':
      return make(TokenKind::kRightParen, start);
    case '{':
      brace_open_ = true;
      return make(TokenKind::kLeftBrace, start);
    case '[':
      bracket_open_ = true;
      return make(TokenKind::kLeftBracket, start);
    case '=':
      return two('=', TokenKind::kEqlc, TokenKind::kEql);
    case '<':
      return two('=', TokenKind::kLte, TokenKind::kLss);
    case '>':
      return two('=', TokenKind::kGte, TokenKind::kGtr);
    case '!':
      return two('=', TokenKind::kNeq, TokenKind::kInvalid);
    case '"':
    case '\'':
    case '`':
      return scan_string(start);
    default:
      break;
  }
  if (is_digit(c) || (c == '.' && pos_ < in_.size() && is_digit(in_[pos_]))) {
    pos_ = start;
    return scan_number_or_duration(start);
  }
  if (is_alpha(c) || c == ':') return scan_word(start);
  return make(TokenKind::kInvalid, start);
}

Token Lexer::scan_inside_braces() {
  skip_space_and_comments();
  std::size_t start = pos_;
  if (pos_ >= in_.size()) return make(TokenKind::kEof, start);
  char c = in_[pos_++];
  switch (c) {
    case ',':
      return make(TokenKind::kComma, start);
    case '}':
      brace_open_ = false;
      return make(TokenKind::kRightBrace, start);
    case '"':
    case '\'':
    case '`':
      return scan_string(start);
    case '=':
      if (pos_ < in_.size() && in_[pos_] == '~') {
        ++pos_;
        return make(TokenKind::kEqlRegex, start);
      }
      return make(TokenKind::kEql, start);
    case '!':
      if (pos_ < in_.size() && in_[pos_] == '~') {
        ++pos_;
        return make(TokenKind::kNeqRegex, start);
      }
      if (pos_ < in_.size() && in_[pos_] == '=') {
        ++pos_;
        return make(TokenKind::kNeq, start);
      }
      return make(TokenKind::kInvalid, start);
    default:
      break;
  }
  if (is_alpha(c)) {
    while (pos_ < in_.size() && is_alnum(in_[pos_])) ++pos_;
    return make(TokenKind::kIdentifier, start);
  }
  return make(TokenKind::kInvalid, start);
}

Token Lexer::scan_inside_brackets() {
  skip_space_and_comments();
  std::size_t start = pos_;
  if (pos_ >= in_.size()) return make(TokenKind::kEof, start);
  char c = in_[pos_++];
  if (c == ']') {
    bracket_open_ = false;
    return make(TokenKind::kRightBracket, start);
  }
  if (c == ':') return make(TokenKind::kColon, start);
  if (is_digit(c) || (c == '.' && pos_ < in_.size() && is_digit(in_[pos_]))) {
    pos_ = start;
    return scan_number_or_duration(start);
  }
  return make(TokenKind::kInvalid, start);
}

// Prometheus 3's number syntax: decimal, hex (0x..), leading-zero octal,
// a fraction, an exponent, and '_' between digits. The text is checked
// again (and converted) by the parser.
bool Lexer::scan_number() {
  std::size_t initial = pos_;
  auto peekc = [&]() -> int {
    return pos_ < in_.size() ? static_cast<unsigned char>(in_[pos_]) : -1;
  };
  auto is_in = [&](std::string_view set) {
    int c = peekc();
    return c >= 0 && set.find(static_cast<char>(c)) != std::string_view::npos;
  };
  auto accept = [&](std::string_view set) {
    if (is_in(set)) {
      ++pos_;
      return true;
    }
    return false;
  };
  std::string_view digits = "0123456789";
  bool hex = false;
  if (accept("0") && accept("xX")) {
    accept("_");
    digits = "0123456789abcdefABCDEF";
    hex = true;
  }
  accept(".");
  accept(digits);
  bool dot = false;
  bool exponent = false;
  std::string all = std::string(digits) + "._eE";
  while (is_in(all)) {
    if (is_in(".") && dot) {
      accept(".");
      return false;
    }
    if (is_in("eE") && exponent) {
      accept("eE");
      return false;
    }
    if (accept(".")) {
      dot = true;
      if (accept("_.")) return false;
      if (hex) return false;  // no fractional hex literals
      continue;
    }
    if (accept("eE")) {
      exponent = true;
      accept("+-");
      if (accept("._eE") || peekc() < 0) return false;
      continue;
    }
    if (accept("_")) {
      if (accept("._eE") || peekc() < 0) return false;
      continue;
    }
    while (accept(digits)) {
    }
  }
  if (pos_ == initial) return false;
  return !is_alnum(peekc());
}

// After the digits of a duration: units (y w d h m s ms), possibly more
// digit-unit groups. Which orders are valid is checked by the parser.
bool Lexer::scan_remaining_duration() {
  auto accept = [&](std::string_view set) {
    if (pos_ < in_.size() && set.find(in_[pos_]) != std::string_view::npos) {
      ++pos_;
      return true;
    }
    return false;
  };
  if (!accept("smhdwy")) return false;
  accept("s");
  while (accept("0123456789")) {
    while (accept("0123456789")) {
    }
    if (!accept("smhdw")) return false;
    accept("s");
  }
  return pos_ >= in_.size() || !is_alnum(in_[pos_]);
}

Token Lexer::scan_number_or_duration(std::size_t start) {
  if (scan_number()) return make(TokenKind::kNumber, start);
  if (scan_remaining_duration()) return make(TokenKind::kDuration, start);
  throw ParseError(start + 1, "bad number or duration syntax: \"" +
                                  std::string(in_.substr(start, pos_ - start)) + "\"");
}

Token Lexer::scan_word(std::size_t start) {
  while (pos_ < in_.size() && (is_alnum(in_[pos_]) || in_[pos_] == ':')) ++pos_;
  std::string_view word = in_.substr(start, pos_ - start);
  std::string lower;
  lower.reserve(word.size());
  for (char c : word) lower += ascii_lower(c);
  for (const auto& k : kKeywords)
    if (k.word == lower) return make(k.kind, start);
  if (word.find(':') != std::string_view::npos) return make(TokenKind::kMetricIdentifier, start);
  return make(TokenKind::kIdentifier, start);
}

Token Lexer::scan_string(std::size_t start) {
  char quote = in_[start];
  std::string out;
  while (true) {
    if (pos_ >= in_.size()) throw ParseError(start + 1, "unterminated quoted string");
    char c = in_[pos_];
    if (c == quote) {
      ++pos_;
      break;
    }
    if (quote != '`' && c == '\n') throw ParseError(start + 1, "unterminated quoted string");
    if (quote == '`' || c != '\\') {
      out += c;
      ++pos_;
      continue;
    }
    scan_escape(out, quote);
  }
  if (!wire::valid_utf8(out)) throw ParseError(start + 1, "invalid UTF-8 in quoted string");
  Token t = make(TokenKind::kString, start);
  t.value = std::move(out);
  return t;
}

// At a backslash inside a quoted string: Go's escape sequences, where only
// the string's own quote character may be escaped.
void Lexer::scan_escape(std::string& out, char quote) {
  std::size_t at = pos_;
  ++pos_;
  if (pos_ >= in_.size()) throw ParseError(at + 1, "unterminated escape sequence");
  char c = in_[pos_++];
  auto fail = [&](const std::string& message) { throw ParseError(at + 1, message); };
  auto read_hex = [&](int digits) {
    std::uint32_t v = 0;
    for (int i = 0; i < digits; ++i) {
      int h = pos_ < in_.size() ? hex_value(in_[pos_]) : -1;
      if (h < 0)
        fail("invalid escape sequence: expected " + std::to_string(digits) + " hex digits");
      v = v * 16 + static_cast<std::uint32_t>(h);
      ++pos_;
    }
    return v;
  };
  static constexpr std::pair<char, char> kSimple[] = {{'a', '\a'}, {'b', '\b'}, {'f', '\f'},
                                                      {'n', '\n'}, {'r', '\r'}, {'t', '\t'},
                                                      {'v', '\v'}, {'\\', '\\'}};
  for (auto [escape, value] : kSimple)
    if (c == escape) {
      out += value;
      return;
    }
  if (c == quote) {
    out += c;
    return;
  }
  if (c == 'x') {
    out += static_cast<char>(read_hex(2));
    return;
  }
  if (c == 'u' || c == 'U') {
    std::uint32_t cp = read_hex(c == 'u' ? 4 : 8);
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      fail("escape sequence is an invalid Unicode code point");
    append_utf8(out, cp);
    return;
  }
  if (c >= '0' && c <= '7') {
    std::uint32_t v = static_cast<std::uint32_t>(c - '0');
    for (int i = 0; i < 2; ++i) {
      if (pos_ >= in_.size() || in_[pos_] < '0' || in_[pos_] > '7')
        fail("invalid octal escape: expected three octal digits");
      v = v * 8 + static_cast<std::uint32_t>(in_[pos_] - '0');
      ++pos_;
    }
    if (v > 255) fail("octal escape value > 255");
    out += static_cast<char>(v);
    return;
  }
  fail(std::string("unknown escape sequence '\\") + c + "'");
}

}  // namespace strata::tsdb::promql
