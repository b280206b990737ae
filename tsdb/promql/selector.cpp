#include "tsdb/promql/selector.h"

#include <utility>

#include "tsdb/promql/parser.h"

namespace strata::tsdb::promql {

namespace {

// How the text at `pos` reads in this API's own messages (which describe
// characters rather than tokens: "unexpected '1'", not "number").
std::string describe_at(std::string_view in, std::size_t pos) {
  if (pos >= in.size()) return "end of input";
  auto is_word = [](char c) {
    return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
  };
  char c = in[pos];
  if (c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
    std::size_t end = pos;
    while (end < in.size() && is_word(in[end])) ++end;
    return "identifier \"" + std::string(in.substr(pos, end - pos)) + "\"";
  }
  if (c == '"' || c == '\'' || c == '`') return "string";
  auto u = static_cast<unsigned char>(c);
  if (u < 0x20 || u >= 0x7f) {
    static const char* hex = "0123456789abcdef";
    return std::string("byte 0x") + hex[u >> 4] + hex[u & 0xF];
  }
  return std::string("'") + c + "'";
}

}  // namespace

VectorSelector parse_vector_selector(std::string_view input) {
  Lexer lexer(input);
  const Token& first = lexer.peek();
  if (first.kind == TokenKind::kEof)
    throw ParseError(first.pos + 1, "no expression found in input");
  if (first.kind != TokenKind::kIdentifier && first.kind != TokenKind::kMetricIdentifier &&
      !is_keyword(first.kind) && first.kind != TokenKind::kLeftBrace)
    throw ParseError(first.pos + 1, "unexpected " + describe_at(input, first.pos) +
                                        ", expected a metric name or '{'");
  bool bare_name = first.kind != TokenKind::kLeftBrace;
  std::string name(first.text);
  ParseOptions legacy;
  legacy.quoted_names = false;
  std::unique_ptr<ast::VectorSelector> sel;
  if (bare_name &&
      !(first.kind == TokenKind::kIdentifier || first.kind == TokenKind::kMetricIdentifier)) {
    // A keyword as a metric name (`sum`, `on`): the grammar decides which are
    // names, but this API always took any identifier.
    lexer.next();
    sel = std::make_unique<ast::VectorSelector>();
    sel->name = name;
    sel->pos = {first.pos, first.pos + name.size()};
    if (lexer.peek().kind == TokenKind::kLeftBrace) {
      auto rest = parse_vector_selector_prefix(lexer, legacy);
      sel->matchers = std::move(rest->matchers);
    }
    sel->matchers.insert(sel->matchers.begin(), LabelMatcher(MatchOp::kEqual, "__name__", name));
  } else {
    sel = parse_vector_selector_prefix(lexer, legacy);
  }
  const Token& after = lexer.peek();
  if (bare_name && after.kind == TokenKind::kLeftParen)
    throw ParseError(after.pos + 1, "unexpected '(' after \"" + name +
                                        "\": functions are not supported yet, only vector "
                                        "selectors");
  if (after.kind == TokenKind::kLeftBracket)
    throw ParseError(after.pos + 1, "unexpected '[': range selectors are not supported yet");
  if (after.kind != TokenKind::kEof)
    throw ParseError(after.pos + 1, "unexpected " + describe_at(input, after.pos) +
                                        " after the vector selector: only a plain vector "
                                        "selector is supported");
  check_vector_selector(*sel);
  VectorSelector out;
  out.metric_name = std::move(sel->name);
  out.matchers = std::move(sel->matchers);
  return out;
}

}  // namespace strata::tsdb::promql
