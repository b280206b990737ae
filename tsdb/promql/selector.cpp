#include "tsdb/promql/selector.h"

#include <cstdint>
#include <utility>

#include "common/wire_format.h"

namespace strata::tsdb::promql {

ParseError::ParseError(std::size_t position, const std::string& message)
    : std::invalid_argument("parse error at char " + std::to_string(position) + ": " + message),
      position_(position),
      detail_(message) {}

namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_label_start(char c) { return is_alpha(c) || c == '_'; }
bool is_label_char(char c) { return is_label_start(c) || is_digit(c); }
bool is_metric_start(char c) { return is_label_start(c) || c == ':'; }
bool is_metric_char(char c) { return is_label_char(c) || c == ':'; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int hex_value(char c) {
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

class Parser {
 public:
  explicit Parser(std::string_view in) : in_(in) {}

  VectorSelector parse() {
    VectorSelector sel;
    skip_space();
    if (at_end()) fail(pos_, "no expression found in input");
    std::size_t name_pos = pos_;
    if (is_metric_start(peek())) {
      sel.metric_name = std::string(read_while(is_metric_char));
      skip_space();
      if (!at_end() && peek() == '(')
        fail(pos_, "unexpected '(' after \"" + sel.metric_name +
                       "\": functions are not supported yet, only vector selectors");
      if (!at_end() && peek() == '{') parse_matchers(sel.matchers);
    } else if (peek() == '{') {
      parse_matchers(sel.matchers);
    } else {
      fail(pos_, "unexpected " + describe_here() + ", expected a metric name or '{'");
    }
    skip_space();
    if (!at_end()) {
      if (peek() == '[') fail(pos_, "unexpected '[': range selectors are not supported yet");
      fail(pos_, "unexpected " + describe_here() +
                     " after the vector selector: only a plain vector selector is supported");
    }
    if (!sel.metric_name.empty()) {
      for (const auto& m : sel.matchers)
        if (m.name() == "__name__")
          fail(name_pos, "metric name must not be set twice: \"" + sel.metric_name + "\" or \"" +
                             m.value() + "\"");
      sel.matchers.insert(sel.matchers.begin(),
                          LabelMatcher(MatchOp::kEqual, "__name__", sel.metric_name));
    }
    bool any_non_empty = false;
    for (const auto& m : sel.matchers) any_non_empty = any_non_empty || !m.matches_empty();
    if (!any_non_empty)
      fail(name_pos, "vector selector must contain at least one non-empty matcher");
    return sel;
  }

 private:
  [[noreturn]] void fail(std::size_t at, const std::string& message) {
    throw ParseError(at + 1, message);
  }

  bool at_end() const { return pos_ >= in_.size(); }
  char peek() const { return in_[pos_]; }
  void skip_space() {
    while (!at_end() && is_space(peek())) ++pos_;
  }
  std::string_view read_while(bool (*pred)(char)) {
    std::size_t start = pos_;
    while (!at_end() && pred(peek())) ++pos_;
    return in_.substr(start, pos_ - start);
  }

  // How the token at pos_ reads in an error message.
  std::string describe_here() const {
    if (at_end()) return "end of input";
    char c = peek();
    if (is_metric_start(c)) {
      std::size_t end = pos_;
      while (end < in_.size() && is_metric_char(in_[end])) ++end;
      return "identifier \"" + std::string(in_.substr(pos_, end - pos_)) + "\"";
    }
    if (c == '"' || c == '\'' || c == '`') return "string";
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      static const char* hex = "0123456789abcdef";
      unsigned char u = static_cast<unsigned char>(c);
      return std::string("byte 0x") + hex[u >> 4] + hex[u & 0xF];
    }
    return std::string("'") + c + "'";
  }

  void parse_matchers(std::vector<LabelMatcher>& out) {
    ++pos_;  // '{'
    while (true) {
      skip_space();
      if (at_end()) fail(pos_, "unexpected end of input, expected label name or '}'");
      if (peek() == '}') {
        ++pos_;
        return;
      }
      out.push_back(parse_matcher());
      skip_space();
      if (at_end()) fail(pos_, "unexpected end of input, expected ',' or '}'");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        return;
      }
      fail(pos_, "unexpected " + describe_here() + ", expected ',' or '}'");
    }
  }

  LabelMatcher parse_matcher() {
    if (!is_label_start(peek()))
      fail(pos_, "unexpected " + describe_here() + ", expected label name");
    std::size_t name_pos = pos_;
    std::string name(read_while(is_label_char));
    if (!at_end() && peek() == ':')
      fail(name_pos,
           "invalid label name \"" + name + ":...\": ':' is only allowed in metric names");
    skip_space();
    MatchOp op;
    if (in_.substr(pos_, 2) == "!=") {
      op = MatchOp::kNotEqual;
      pos_ += 2;
    } else if (in_.substr(pos_, 2) == "=~") {
      op = MatchOp::kRegexMatch;
      pos_ += 2;
    } else if (in_.substr(pos_, 2) == "!~") {
      op = MatchOp::kRegexNoMatch;
      pos_ += 2;
    } else if (!at_end() && peek() == '=') {
      op = MatchOp::kEqual;
      pos_ += 1;
    } else {
      fail(pos_, "unexpected " + describe_here() + " after label name \"" + name +
                     "\", expected one of '=', '!=', '=~', '!~'");
    }
    skip_space();
    if (at_end() || (peek() != '"' && peek() != '\'' && peek() != '`'))
      fail(pos_, "unexpected " + describe_here() + ", expected a quoted string");
    std::size_t value_pos = pos_;
    std::string value = parse_string();
    try {
      return LabelMatcher(op, std::move(name), std::move(value));
    } catch (const std::invalid_argument& e) {
      fail(value_pos, e.what());
    }
  }

  std::string parse_string() {
    std::size_t start = pos_;
    char quote = peek();
    ++pos_;
    std::string out;
    while (true) {
      if (at_end()) fail(start, "unterminated quoted string");
      char c = peek();
      if (c == quote) {
        ++pos_;
        break;
      }
      if (quote != '`' && c == '\n') fail(start, "unterminated quoted string");
      if (quote == '`' || c != '\\') {
        out += c;
        ++pos_;
        continue;
      }
      parse_escape(out);
    }
    if (!wire::valid_utf8(out)) fail(start, "invalid UTF-8 in quoted string");
    return out;
  }

  // At a backslash inside a quoted string (Go's escape sequences).
  void parse_escape(std::string& out) {
    std::size_t at = pos_;
    ++pos_;
    if (at_end()) fail(at, "unterminated escape sequence");
    char c = peek();
    ++pos_;
    static constexpr std::pair<char, char> kSimple[] = {
        {'a', '\a'}, {'b', '\b'}, {'f', '\f'},  {'n', '\n'}, {'r', '\r'},
        {'t', '\t'}, {'v', '\v'}, {'\\', '\\'}, {'"', '"'},  {'\'', '\''}};
    for (auto [escape, value] : kSimple)
      if (c == escape) {
        out += value;
        return;
      }
    if (c == 'x') {
      out += static_cast<char>(read_hex(at, 2));
      return;
    }
    if (c == 'u' || c == 'U') {
      append_code_point(out, at, read_hex(at, c == 'u' ? 4 : 8));
      return;
    }
    if (c >= '0' && c <= '7') {
      std::uint32_t v = static_cast<std::uint32_t>(c - '0');
      for (int i = 0; i < 2; ++i) {
        if (at_end() || peek() < '0' || peek() > '7')
          fail(at, "invalid octal escape: expected three octal digits");
        v = v * 8 + static_cast<std::uint32_t>(peek() - '0');
        ++pos_;
      }
      if (v > 255) fail(at, "octal escape value > 255");
      out += static_cast<char>(v);
      return;
    }
    fail(at, std::string("unknown escape sequence '\\") + c + "'");
  }

  std::uint32_t read_hex(std::size_t at, int digits) {
    std::uint32_t v = 0;
    for (int i = 0; i < digits; ++i) {
      int h = at_end() ? -1 : hex_value(peek());
      if (h < 0)
        fail(at, "invalid escape sequence: expected " + std::to_string(digits) + " hex digits");
      v = v * 16 + static_cast<std::uint32_t>(h);
      ++pos_;
    }
    return v;
  }

  void append_code_point(std::string& out, std::size_t at, std::uint32_t cp) {
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      fail(at, "escape sequence is an invalid Unicode code point");
    append_utf8(out, cp);
  }

  std::string_view in_;
  std::size_t pos_ = 0;
};

}  // namespace

VectorSelector parse_vector_selector(std::string_view input) { return Parser(input).parse(); }

}  // namespace strata::tsdb::promql
