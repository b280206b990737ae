#include "logindex/search_syntax.h"

#include <re2/re2.h>

#include "logindex/tokenizer.h"

namespace strata::logindex {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool ends_word(char c) { return is_space(c) || c == '(' || c == ')' || c == '"'; }
bool name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

class Parser {
 public:
  explicit Parser(std::string_view q) : q_(q) {}

  SearchNode parse() {
    skip_space();
    if (at_end()) return SearchNode{};
    SearchNode root = parse_or();
    skip_space();
    if (!at_end()) {
      if (peek() == ')') fail("unexpected ')' without a matching '('");
      fail("unexpected text");  // not reachable: parse_and consumes every term
    }
    return root;
  }

 private:
  std::string_view q_;
  std::size_t i_ = 0;
  int depth_ = 0;

  [[noreturn]] void fail(const std::string& what) const { fail_at(i_, what); }
  [[noreturn]] void fail_at(std::size_t pos, const std::string& what) const {
    throw SearchSyntaxError(pos, "parse error at char " + std::to_string(pos + 1) + ": " + what);
  }
  bool at_end() const { return i_ >= q_.size(); }
  char peek() const { return at_end() ? '\0' : q_[i_]; }
  void skip_space() {
    while (!at_end() && is_space(q_[i_])) ++i_;
  }
  // The bare word at the cursor (up to space, parenthesis or quote).
  std::string_view word_at(std::size_t pos) const {
    std::size_t e = pos;
    while (e < q_.size() && !ends_word(q_[e])) ++e;
    return q_.substr(pos, e - pos);
  }
  bool next_is_operator(std::string_view op) const { return word_at(i_) == op; }

  struct DepthGuard {
    Parser& p;
    explicit DepthGuard(Parser& parser) : p(parser) {
      if (++p.depth_ > kMaxQueryDepth)
        p.fail("query nests deeper than " + std::to_string(kMaxQueryDepth) + " levels");
    }
    ~DepthGuard() { --p.depth_; }
  };

  SearchNode parse_or() {
    std::size_t start = i_;
    SearchNode first = parse_and();
    skip_space();
    if (!next_is_operator("OR")) return first;
    SearchNode node;
    node.kind = SearchNode::Kind::kOr;
    node.position = start;
    node.children.push_back(std::move(first));
    while (next_is_operator("OR")) {
      std::size_t op = i_;
      i_ += 2;
      skip_space();
      if (at_end() || peek() == ')' || next_is_operator("OR") || next_is_operator("AND"))
        fail_at(op, "OR needs a term on each side");
      node.children.push_back(parse_and());
      skip_space();
    }
    return node;
  }

  SearchNode parse_and() {
    std::size_t start = i_;
    std::vector<SearchNode> items;
    for (;;) {
      skip_space();
      if (at_end() || peek() == ')' || next_is_operator("OR")) break;
      if (next_is_operator("AND")) {
        std::size_t op = i_;
        i_ += 3;
        skip_space();
        if (items.empty() || at_end() || peek() == ')' || next_is_operator("OR") ||
            next_is_operator("AND"))
          fail_at(op, "AND needs a term on each side");
      }
      items.push_back(parse_unary());
    }
    if (items.empty()) {
      if (next_is_operator("OR")) fail("OR needs a term on each side");
      fail(at_end() ? "expected a term at the end of the query" : "expected a term before ')'");
    }
    if (items.size() == 1) return std::move(items[0]);
    SearchNode node;
    node.kind = SearchNode::Kind::kAnd;
    node.position = start;
    node.children = std::move(items);
    return node;
  }

  SearchNode parse_unary() {
    DepthGuard guard(*this);
    std::size_t start = i_;
    bool negate = false;
    if (next_is_operator("NOT")) {
      i_ += 3;
      skip_space();
      if (at_end() || peek() == ')') fail_at(start, "NOT needs a term after it");
      negate = true;
    } else if (peek() == '-' && i_ + 1 < q_.size() && !is_space(q_[i_ + 1])) {
      ++i_;
      negate = true;
    }
    if (!negate) return parse_primary();
    SearchNode node;
    node.kind = SearchNode::Kind::kNot;
    node.position = start;
    node.children.push_back(parse_unary());
    return node;
  }

  SearchNode parse_primary() {
    std::size_t start = i_;
    if (peek() == '(') {
      DepthGuard guard(*this);
      ++i_;
      skip_space();
      if (peek() == ')') fail("empty parentheses");
      SearchNode inner = parse_or();
      skip_space();
      if (peek() != ')') fail_at(start, "unclosed '('");
      ++i_;
      return inner;
    }
    if (peek() == '"') return words_node(quoted(), start, "phrase");
    std::string_view word = word_at(i_);
    // field:value, field:"value", field:/regex/
    std::size_t colon = word.find(':');
    if (colon != std::string_view::npos && colon > 0 && name_start(word[0])) {
      bool name_ok = true;
      for (std::size_t k = 0; k < colon; ++k) name_ok = name_ok && name_char(word[k]);
      std::size_t after = i_ + colon + 1;
      bool has_value =
          after < q_.size() && !is_space(q_[after]) && q_[after] != ')' && q_[after] != '(';
      if (name_ok && has_value) return field_node(std::string(word.substr(0, colon)), after);
    }
    i_ += word.size();
    if (word.size() > 1 && word.back() == '*') {
      std::string_view stem = word.substr(0, word.size() - 1);
      auto terms = tokenize(stem);
      if (terms.size() != 1 || stem.find('*') != std::string_view::npos)
        fail_at(start, "a prefix search must be one word before '*': " + std::string(word));
      SearchNode node;
      node.kind = SearchNode::Kind::kPrefix;
      node.position = start;
      node.terms = std::move(terms);
      node.text = std::string(word);
      return node;
    }
    return words_node(std::string(word), start, "word");
  }

  // A double-quoted string with \" and \\ escapes, cursor on the quote.
  std::string quoted() {
    std::size_t open = i_++;
    std::string out;
    while (!at_end()) {
      char c = q_[i_++];
      if (c == '"') return out;
      if (c == '\\' && !at_end()) c = q_[i_++];
      out += c;
    }
    fail_at(open, "unterminated quoted phrase");
  }

  SearchNode words_node(std::string text, std::size_t start, const char* what) {
    SearchNode node;
    node.kind = SearchNode::Kind::kTerms;
    node.position = start;
    node.terms = tokenize(text);
    if (node.terms.empty())
      fail_at(start,
              std::string(what) + " \"" + text + "\" has no letters or digits to search for");
    node.text = std::move(text);
    return node;
  }

  SearchNode field_node(std::string field, std::size_t value_pos) {
    std::size_t start = i_;
    i_ = value_pos;
    SearchNode node;
    node.position = start;
    node.field = std::move(field);
    if (peek() == '"') {
      node.kind = SearchNode::Kind::kFieldEqual;
      node.value = quoted();
    } else if (peek() == '/') {
      // The regex runs to the next unescaped '/'; it may hold spaces and
      // parentheses. \/ is a literal slash.
      std::size_t open = i_++;
      std::string src;
      for (;;) {
        if (at_end()) fail_at(open, "unterminated regex for field " + node.field);
        char c = q_[i_++];
        if (c == '/') break;
        if (c == '\\' && !at_end() && q_[i_] == '/') {
          src += '/';
          ++i_;
          continue;
        }
        src += c;
      }
      RE2::Options opts;
      opts.set_log_errors(false);
      // Checked as written first, so the error quotes the user's text rather
      // than the anchored form.
      if (RE2 plain(src, opts); !plain.ok())
        fail_at(open + 1, "invalid regex for field " + node.field + ": " + plain.error());
      auto re = std::make_shared<const RE2>("^(?:" + src + ")$", opts);
      node.kind = SearchNode::Kind::kFieldRegex;
      node.value = std::move(src);
      node.regex = std::move(re);
    } else {
      std::string_view v = word_at(i_);
      i_ += v.size();
      node.kind = SearchNode::Kind::kFieldEqual;
      node.value = std::string(v);
    }
    return node;
  }
};

void print(const SearchNode& n, std::string& out) {
  switch (n.kind) {
    case SearchNode::Kind::kAll:
      out += "*";
      return;
    case SearchNode::Kind::kTerms:
      if (n.terms.size() == 1) {
        out += n.terms[0];
      } else {
        out += '"';
        for (std::size_t k = 0; k < n.terms.size(); ++k) {
          if (k) out += ' ';
          out += n.terms[k];
        }
        out += '"';
      }
      return;
    case SearchNode::Kind::kPrefix:
      out += n.terms[0];
      out += '*';
      return;
    case SearchNode::Kind::kFieldEqual:
      out += n.field + ":\"" + n.value + "\"";
      return;
    case SearchNode::Kind::kFieldRegex:
      out += n.field + ":/" + n.value + "/";
      return;
    case SearchNode::Kind::kNot:
      out += "NOT ";
      print(n.children[0], out);
      return;
    case SearchNode::Kind::kAnd:
    case SearchNode::Kind::kOr:
      out += '(';
      for (std::size_t k = 0; k < n.children.size(); ++k) {
        if (k) out += n.kind == SearchNode::Kind::kAnd ? " AND " : " OR ";
        print(n.children[k], out);
      }
      out += ')';
      return;
  }
}

}  // namespace

SearchSyntaxError::SearchSyntaxError(std::size_t position, const std::string& message)
    : std::invalid_argument(message), position_(position) {}

SearchNode parse_search(std::string_view query) {
  if (query.size() > kMaxQueryBytes)
    throw SearchSyntaxError(kMaxQueryBytes, "query is " + std::to_string(query.size()) +
                                                " bytes; the limit is " +
                                                std::to_string(kMaxQueryBytes));
  return Parser(query).parse();
}

std::string to_string(const SearchNode& node) {
  std::string out;
  print(node, out);
  return out;
}

}  // namespace strata::logindex
