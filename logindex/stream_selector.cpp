#include "logindex/stream_selector.h"

#include <re2/re2.h>

namespace strata::logindex {
namespace {

bool name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

struct Reader {
  std::string_view s;
  std::size_t i = 0;

  [[noreturn]] void fail(const std::string& what) const {
    throw SelectorError(i, "parse error at char " + std::to_string(i + 1) + ": " + what);
  }
  void skip_space() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  }
  char peek() const { return i < s.size() ? s[i] : '\0'; }
  void expect(char c, const char* what) {
    skip_space();
    if (peek() != c) fail(std::string("expected ") + what);
    ++i;
  }
  std::string name() {
    skip_space();
    if (!name_start(peek())) fail("expected a label name");
    std::size_t b = i;
    while (name_char(peek())) ++i;
    return std::string(s.substr(b, i - b));
  }
  std::string string_literal() {
    skip_space();
    char quote = peek();
    if (quote == '`') {
      std::size_t close = s.find('`', i + 1);
      if (close == std::string_view::npos) fail("unterminated raw string");
      std::string v(s.substr(i + 1, close - i - 1));
      i = close + 1;
      return v;
    }
    if (quote != '"') fail("expected a quoted string");
    std::string v;
    for (++i; i < s.size(); ++i) {
      char c = s[i];
      if (c == '"') {
        ++i;
        return v;
      }
      if (c == '\n') break;
      if (c != '\\') {
        v += c;
        continue;
      }
      if (++i >= s.size()) break;
      switch (s[i]) {
        case 'n':
          v += '\n';
          break;
        case 't':
          v += '\t';
          break;
        case 'r':
          v += '\r';
          break;
        case '\\':
        case '"':
          v += s[i];
          break;
        default:
          fail(std::string("unknown escape sequence \\") + s[i]);
      }
    }
    fail("unterminated string");
  }
};

}  // namespace

SelectorError::SelectorError(std::size_t position, const std::string& message)
    : std::invalid_argument(message), position_(position) {}

StreamSelector StreamSelector::parse(std::string_view text, std::size_t* consumed) {
  Reader r{text};
  StreamSelector sel;
  r.expect('{', "'{' to open a stream selector");
  r.skip_space();
  if (r.peek() == '}') {
    ++r.i;
  } else {
    for (;;) {
      Matcher m;
      m.name = r.name();
      r.skip_space();
      if (r.peek() == '=') {
        ++r.i;
        m.op = r.peek() == '~' ? (++r.i, Op::kRegexMatch) : Op::kEqual;
      } else if (r.peek() == '!') {
        ++r.i;
        if (r.peek() == '=')
          m.op = Op::kNotEqual;
        else if (r.peek() == '~')
          m.op = Op::kRegexNoMatch;
        else
          r.fail("expected != or !~");
        ++r.i;
      } else {
        r.fail("expected one of = != =~ !~");
      }
      std::size_t value_pos = r.i;
      m.value = r.string_literal();
      if (m.op == Op::kRegexMatch || m.op == Op::kRegexNoMatch) {
        RE2::Options opts;
        opts.set_log_errors(false);
        // Checked as written first, so the error quotes the user's text.
        if (RE2 plain(m.value, opts); !plain.ok()) {
          r.i = value_pos;
          r.fail("invalid regular expression for label " + m.name + ": " + plain.error());
        }
        auto re = std::make_shared<const RE2>("^(?:" + m.value + ")$", opts);
        m.regex = std::move(re);
      }
      sel.matchers_.push_back(std::move(m));
      r.skip_space();
      if (r.peek() == ',') {
        ++r.i;
        r.skip_space();
        if (r.peek() == '}') {  // trailing comma
          ++r.i;
          break;
        }
        continue;
      }
      r.expect('}', "',' or '}'");
      break;
    }
  }
  if (consumed) *consumed = r.i;
  return sel;
}

bool StreamSelector::matches(const Labels& stream) const {
  for (const auto& m : matchers_) {
    std::string_view v = stream.get(m.name);
    bool ok = true;
    switch (m.op) {
      case Op::kEqual:
        ok = v == m.value;
        break;
      case Op::kNotEqual:
        ok = v != m.value;
        break;
      case Op::kRegexMatch:
        ok = RE2::FullMatch(re2::StringPiece(v.data(), v.size()), *m.regex);
        break;
      case Op::kRegexNoMatch:
        ok = !RE2::FullMatch(re2::StringPiece(v.data(), v.size()), *m.regex);
        break;
    }
    if (!ok) return false;
  }
  return true;
}

}  // namespace strata::logindex
