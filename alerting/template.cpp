#include "alerting/template.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <set>
#include <variant>
#include <vector>

#include <fmt/format.h>
#include <fmt/printf.h>

namespace strata::alerting {

TemplateError::TemplateError(std::size_t column, const std::string& message)
    : std::invalid_argument(fmt::format("template error at col {}: {}", column, message)),
      column_(column) {}

namespace {

// ---------------------------------------------------------------- values

struct LabelMap {
  std::vector<Label> items;
};
using Value = std::variant<std::string, double, bool, LabelMap>;

// printf("%.4g") as Go prints it: C's %g agrees except for the non-finite values.
std::string go_g4(double v, const char* suffix = "") {
  if (std::isnan(v)) return std::string("NaN") + suffix;
  if (std::isinf(v)) return std::string(v > 0 ? "+Inf" : "-Inf") + suffix;
  return fmt::format("{}{}", fmt::sprintf("%.4g", v), suffix);
}

const std::set<std::string, std::less<>> kFunctions = {"humanize",
                                                       "humanize1024",
                                                       "humanizePercentage",
                                                       "humanizeDuration",
                                                       "printf",
                                                       "toUpper",
                                                       "toLower",
                                                       "title",
                                                       "reReplaceAll",
                                                       "match",
                                                       "index",
                                                       "eq",
                                                       "ne",
                                                       "lt",
                                                       "le",
                                                       "gt",
                                                       "ge",
                                                       "and",
                                                       "or",
                                                       "not",
                                                       "len",
                                                       "stripPort",
                                                       "print"};
// Known to Prometheus but deliberately not offered: named so the error says so.
const std::set<std::string, std::less<>> kUnsupportedFunctions = {
    "query", "first",    "label",      "value",     "sortByLabel", "strvalue",          "args",
    "tmpl",  "safeHtml", "pathPrefix", "graphLink", "tableLink",   "humanizeTimestamp", "call",
    "html",  "js",       "urlquery",   "slice",     "toTime",      "parseDuration"};

}  // namespace

// ---------------------------------------------------------------- tree

struct Template::Node {
  enum class Kind { kList, kText, kAction, kIf };
  struct Arg;
  struct Command {
    std::vector<Arg> args;
    std::size_t column = 0;
  };
  struct Pipeline {
    std::vector<Command> commands;
  };
  struct Arg {
    enum class Kind { kFunction, kVariable, kDotField, kString, kNumber, kBool, kPipeline };
    Kind kind = Kind::kString;
    std::string name;                 // function or root variable ("labels", "value", ...)
    std::vector<std::string> fields;  // .a.b after the variable
    std::string text;                 // string literal
    double number = 0;
    bool boolean = false;
    std::shared_ptr<Pipeline> pipeline;  // ( ... )
    std::size_t column = 0;
  };

  Kind kind = Kind::kList;
  std::string text;                          // kText
  Pipeline pipeline;                         // kAction, kIf condition
  std::vector<std::shared_ptr<Node>> body;   // kList children; kIf then-branch
  std::vector<std::shared_ptr<Node>> other;  // kIf else-branch
};

namespace {

using Node = Template::Node;
using NodePtr = std::shared_ptr<Node>;

// ---------------------------------------------------------------- parser

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  NodePtr parse() {
    auto root = std::make_shared<Node>();
    parse_list(root->body, /*top=*/true);
    return root;
  }

 private:
  struct Action {
    std::size_t start = 0;  // offset of the first byte inside the delimiters
    std::size_t end = 0;    // offset of the closing delimiter
  };

  [[noreturn]] void fail(std::size_t offset, const std::string& msg) const {
    throw TemplateError(offset + 1, msg);
  }

  // Reads text up to the next action; returns false at the end of input.
  bool next_action(std::string& literal, Action& a) {
    std::size_t open = text_.find("{{", pos_);
    if (open == std::string_view::npos) {
      literal = std::string(text_.substr(pos_));
      pos_ = text_.size();
      return false;
    }
    literal = std::string(text_.substr(pos_, open - pos_));
    std::size_t inner = open + 2;
    // "{{- " trims the whitespace before the action.
    if (inner + 1 < text_.size() && text_[inner] == '-' &&
        std::isspace(static_cast<unsigned char>(text_[inner + 1]))) {
      while (!literal.empty() && std::isspace(static_cast<unsigned char>(literal.back())))
        literal.pop_back();
      inner += 2;
    }
    std::size_t close = find_close(inner);
    if (close == std::string_view::npos) fail(open, "unclosed action (no matching }})");
    a.start = inner;
    a.end = close;
    pos_ = close + 2;
    // " -}}" trims the whitespace after it.
    if (close >= 2 && text_[close - 1] == '-' &&
        std::isspace(static_cast<unsigned char>(text_[close - 2]))) {
      a.end = close - 1;
      while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    }
    return true;
  }

  // The closing "}}", skipping string literals that may contain it.
  std::size_t find_close(std::size_t from) const {
    for (std::size_t i = from; i < text_.size(); ++i) {
      char c = text_[i];
      if (c == '"') {
        for (++i; i < text_.size() && text_[i] != '"'; ++i)
          if (text_[i] == '\\') ++i;
      } else if (c == '`') {
        i = text_.find('`', i + 1);
        if (i == std::string_view::npos) return i;
      } else if (c == '}' && i + 1 < text_.size() && text_[i + 1] == '}') {
        return i;
      }
    }
    return std::string_view::npos;
  }

  // Parses nodes until {{end}} / {{else}} (returned: "end", "else", "else if")
  // or the end of the text (returned "").
  std::string parse_list(std::vector<NodePtr>& out, bool top) {
    for (;;) {
      std::string literal;
      Action a;
      bool more = next_action(literal, a);
      if (!literal.empty()) {
        auto t = std::make_shared<Node>();
        t->kind = Node::Kind::kText;
        t->text = std::move(literal);
        out.push_back(std::move(t));
      }
      if (!more) {
        if (!top) fail(text_.size(), "unexpected end of template: missing {{end}}");
        return "";
      }
      cur_ = a.start;
      end_ = a.end;
      skip_space();
      if (cur_ >= end_) fail(a.start, "empty action");
      if (text_.compare(cur_, 2, "/*") == 0) {
        if (text_.substr(cur_, end_ - cur_).find("*/") == std::string_view::npos)
          fail(cur_, "unclosed comment");
        continue;
      }
      std::size_t word_start = cur_;
      std::string word = peek_word();
      if (word == "end" || word == "else") {
        cur_ += word.size();
        skip_space();
        if (word == "else" && peek_word() == "if") {
          cur_ += 2;
          if (top) fail(word_start, "{{else}} without {{if}}");
          pending_else_if_ = true;
          return "else";
        }
        if (cur_ < end_) fail(cur_, "unexpected text after {{" + word + "}}");
        if (top) fail(word_start, "{{" + word + "}} without {{if}}");
        pending_else_if_ = false;
        return word;
      }
      if (word == "if") {
        cur_ += 2;
        out.push_back(parse_if(word_start));
        continue;
      }
      if (word == "range" || word == "with" || word == "define" || word == "template" ||
          word == "block" || word == "break" || word == "continue")
        fail(word_start, "action {{" + word + "}} is not supported");
      auto n = std::make_shared<Node>();
      n->kind = Node::Kind::kAction;
      n->pipeline = parse_pipeline(false);
      out.push_back(std::move(n));
    }
  }

  // After "if": condition, then-branch, optional else / else if, end.
  NodePtr parse_if(std::size_t at) {
    auto n = std::make_shared<Node>();
    n->kind = Node::Kind::kIf;
    skip_space();
    if (cur_ >= end_) fail(at, "missing condition in {{if}}");
    n->pipeline = parse_pipeline(false);
    std::string ended = parse_list(n->body, false);
    if (ended == "else") {
      if (pending_else_if_) {
        pending_else_if_ = false;
        n->other.push_back(parse_if(cur_));  // consumes the shared {{end}}
      } else {
        std::string e2 = parse_list(n->other, false);
        if (e2 != "end") fail(cur_, "{{else}} after {{else}}");
      }
    }
    return n;
  }

  void skip_space() {
    while (cur_ < end_ && std::isspace(static_cast<unsigned char>(text_[cur_]))) ++cur_;
  }

  std::string peek_word() const {
    std::size_t i = cur_;
    while (i < end_ && (std::isalnum(static_cast<unsigned char>(text_[i])) || text_[i] == '_')) ++i;
    return std::string(text_.substr(cur_, i - cur_));
  }

  Node::Pipeline parse_pipeline(bool in_parens) {
    Node::Pipeline p;
    for (;;) {
      skip_space();
      Node::Command cmd;
      cmd.column = cur_;
      for (;;) {
        skip_space();
        if (cur_ >= end_) break;
        char c = text_[cur_];
        if (c == '|' || (c == ')' && in_parens)) break;
        if (c == ')') fail(cur_, "unexpected )");
        cmd.args.push_back(parse_arg());
      }
      if (cmd.args.empty()) fail(cmd.column, "missing value in pipeline");
      const auto& first = cmd.args[0];
      if (first.kind != Node::Arg::Kind::kFunction && cmd.args.size() > 1)
        fail(cmd.args[1].column, "can't give an argument to a non-function");
      if (!p.commands.empty() && first.kind != Node::Arg::Kind::kFunction)
        fail(first.column, "a value after | must be a function");
      p.commands.push_back(std::move(cmd));
      if (cur_ < end_ && text_[cur_] == '|') {
        ++cur_;
        continue;
      }
      break;
    }
    if (in_parens) {
      if (cur_ >= end_ || text_[cur_] != ')') fail(cur_, "unclosed (");
      ++cur_;
    }
    return p;
  }

  std::vector<std::string> parse_fields() {
    std::vector<std::string> fields;
    while (cur_ < end_ && text_[cur_] == '.') {
      std::size_t s = ++cur_;
      while (cur_ < end_ &&
             (std::isalnum(static_cast<unsigned char>(text_[cur_])) || text_[cur_] == '_'))
        ++cur_;
      if (cur_ == s) fail(s, "missing field name after '.'");
      fields.emplace_back(text_.substr(s, cur_ - s));
    }
    return fields;
  }

  Node::Arg parse_arg() {
    Node::Arg a;
    a.column = cur_;
    char c = text_[cur_];
    if (c == '(') {
      ++cur_;
      a.kind = Node::Arg::Kind::kPipeline;
      a.pipeline = std::make_shared<Node::Pipeline>(parse_pipeline(true));
      return a;
    }
    if (c == '"') {
      a.kind = Node::Arg::Kind::kString;
      for (++cur_; cur_ < end_ && text_[cur_] != '"'; ++cur_) {
        char ch = text_[cur_];
        if (ch == '\\' && cur_ + 1 < end_) {
          char e = text_[++cur_];
          switch (e) {
            case 'n':
              a.text += '\n';
              break;
            case 't':
              a.text += '\t';
              break;
            case '\\':
              a.text += '\\';
              break;
            case '"':
              a.text += '"';
              break;
            default:
              fail(cur_ - 1, std::string("unknown escape \\") + e);
          }
        } else {
          a.text += ch;
        }
      }
      if (cur_ >= end_) fail(a.column, "unterminated string");
      ++cur_;
      return a;
    }
    if (c == '`') {
      a.kind = Node::Arg::Kind::kString;
      std::size_t close = text_.find('`', cur_ + 1);
      if (close == std::string_view::npos || close >= end_)
        fail(a.column, "unterminated raw string");
      a.text = std::string(text_.substr(cur_ + 1, close - cur_ - 1));
      cur_ = close + 1;
      return a;
    }
    if (c == '$') {
      ++cur_;
      std::string name = peek_word();
      cur_ += name.size();
      if (cur_ < end_ && text_[cur_] == ':')
        fail(a.column, "variable declarations ($x := ...) are not supported");
      static const std::set<std::string> kVars = {"labels", "value", "externalLabels",
                                                  "externalURL", ""};
      if (!kVars.count(name))
        fail(a.column, "undefined variable $" + name +
                           " (known: $labels, $value, $externalLabels, $externalURL)");
      a.kind = Node::Arg::Kind::kVariable;
      a.name = name.empty() ? "" : name;
      a.fields = parse_fields();
      return a;
    }
    if (c == '.') {
      a.kind = Node::Arg::Kind::kDotField;
      a.fields = parse_fields();
      if (!a.fields.empty()) {
        static const std::set<std::string> kDot = {"Labels", "Value", "ExternalLabels",
                                                   "ExternalURL"};
        if (!kDot.count(a.fields[0]))
          fail(a.column, "unknown field ." + a.fields[0] +
                             " (known: .Labels, .Value, .ExternalLabels, .ExternalURL)");
      } else {
        ++cur_;  // lone "."
      }
      return a;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '+') {
      std::size_t s = cur_;
      ++cur_;
      while (cur_ < end_ &&
             (std::isalnum(static_cast<unsigned char>(text_[cur_])) || text_[cur_] == '.' ||
              ((text_[cur_] == '-' || text_[cur_] == '+') &&
               (text_[cur_ - 1] == 'e' || text_[cur_ - 1] == 'E'))))
        ++cur_;
      std::string num(text_.substr(s, cur_ - s));
      char* endp = nullptr;
      a.number = std::strtod(num.c_str(), &endp);
      if (num.empty() || *endp != '\0') fail(s, "bad number syntax: " + num);
      a.kind = Node::Arg::Kind::kNumber;
      return a;
    }
    std::string word = peek_word();
    if (word.empty()) fail(cur_, std::string("unexpected character '") + c + "' in action");
    cur_ += word.size();
    if (word == "true" || word == "false") {
      a.kind = Node::Arg::Kind::kBool;
      a.boolean = word == "true";
      return a;
    }
    if (word == "nil") fail(a.column, "nil is not a command");
    if (kUnsupportedFunctions.count(word))
      fail(a.column, "function \"" + word + "\" is not supported by strata-alerting");
    if (!kFunctions.count(word)) fail(a.column, "function \"" + word + "\" not defined");
    a.kind = Node::Arg::Kind::kFunction;
    a.name = word;
    return a;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t cur_ = 0, end_ = 0;
  bool pending_else_if_ = false;
};

// ---------------------------------------------------------------- evaluation

struct EvalError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string to_text(const Value& v) {
  if (auto s = std::get_if<std::string>(&v)) return *s;
  if (auto d = std::get_if<double>(&v)) return go_float(*d);
  if (auto b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  const auto& m = std::get<LabelMap>(v);
  std::string out = "map[";
  for (std::size_t i = 0; i < m.items.size(); ++i) {
    if (i) out += ' ';
    out += m.items[i].first + ":" + m.items[i].second;
  }
  return out + "]";
}

double to_number(const Value& v, const char* fn) {
  if (auto d = std::get_if<double>(&v)) return *d;
  if (auto s = std::get_if<std::string>(&v)) {
    double out = 0;
    auto r = std::from_chars(s->data(), s->data() + s->size(), out);
    if (r.ec == std::errc() && r.ptr == s->data() + s->size()) return out;
    if (*s == "NaN") return std::nan("");
    if (*s == "+Inf" || *s == "Inf") return INFINITY;
    if (*s == "-Inf") return -INFINITY;
    throw EvalError(fmt::format("{}: cannot convert \"{}\" to a number", fn, *s));
  }
  if (auto b = std::get_if<bool>(&v)) return *b ? 1 : 0;
  throw EvalError(fmt::format("{}: cannot convert a map to a number", fn));
}

bool truthy(const Value& v) {
  if (auto s = std::get_if<std::string>(&v)) return !s->empty();
  if (auto d = std::get_if<double>(&v)) return *d != 0;
  if (auto b = std::get_if<bool>(&v)) return *b;
  return !std::get<LabelMap>(v).items.empty();
}

int compare_values(const Value& a, const Value& b, const char* fn) {
  bool a_str = std::holds_alternative<std::string>(a),
       b_str = std::holds_alternative<std::string>(b);
  if (a_str && b_str) {
    int c = std::get<std::string>(a).compare(std::get<std::string>(b));
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  double x = to_number(a, fn), y = to_number(b, fn);
  if (std::isnan(x) || std::isnan(y)) return 2;  // unordered
  return x < y ? -1 : x > y ? 1 : 0;
}

// Go's fmt verbs, mapped onto C's printf for the numeric ones.
std::string go_printf(const std::string& format, const std::vector<Value>& args) {
  std::string out;
  std::size_t argi = 0;
  for (std::size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out += format[i];
      continue;
    }
    std::size_t s = i++;
    while (i < format.size() && std::strchr("+-# 0", format[i])) ++i;
    while (i < format.size() &&
           (std::isdigit(static_cast<unsigned char>(format[i])) || format[i] == '.'))
      ++i;
    if (i >= format.size()) {
      out += "%!(NOVERB)";
      break;
    }
    char verb = format[i];
    if (verb == '%') {
      out += '%';
      continue;
    }
    std::string spec(format.substr(s, i - s));
    if (argi >= args.size()) {
      out += fmt::format("%!{}(MISSING)", verb);
      continue;
    }
    const Value& v = args[argi++];
    switch (verb) {
      case 'd': {
        double d = to_number(v, "printf");
        out += fmt::sprintf(spec + "lld", static_cast<long long>(d));
        break;
      }
      case 'x':
      case 'X':
      case 'o':
        out += fmt::sprintf(spec + "ll" + verb, static_cast<long long>(to_number(v, "printf")));
        break;
      case 'f':
      case 'F':
      case 'e':
      case 'E':
      case 'g':
      case 'G': {
        double d = to_number(v, "printf");
        if (std::isnan(d))
          out += "NaN";
        else if (std::isinf(d))
          out += d > 0 ? "+Inf" : "-Inf";
        else
          out += fmt::sprintf(spec + verb, d);
        break;
      }
      case 's':
      case 'v':
        out += fmt::sprintf(spec + 's', to_text(v));
        break;
      case 'q': {
        std::string q = "\"";
        for (char ch : to_text(v)) {
          if (ch == '"' || ch == '\\') q += '\\';
          q += ch;
        }
        out += q + "\"";
        break;
      }
      case 't':
        out += truthy(v) ? "true" : "false";
        break;
      default:
        out += fmt::format("%!{}(BADVERB)", verb);
    }
  }
  for (; argi < args.size(); ++argi) out += "%!(EXTRA " + to_text(args[argi]) + ")";
  return out;
}

std::string strip_port(const std::string& host) {
  if (!host.empty() && host[0] == '[') {
    auto close = host.find(']');
    return close == std::string::npos ? host : host.substr(1, close - 1);
  }
  auto colon = host.rfind(':');
  if (colon == std::string::npos || host.find(':') != colon) return host;
  return host.substr(0, colon);
}

// Go's regexp replacement syntax ($1, ${1}, ${name}, $$) in RE2's (\\1).
std::string go_replacement(const std::string& in, const RE2& re) {
  std::string out;
  const auto& named = re.NamedCapturingGroups();
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '\\') {
      out += "\\\\";
      continue;
    }
    if (c != '$' || i + 1 >= in.size()) {
      out += c;
      continue;
    }
    if (in[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    std::string name;
    std::size_t j = i + 1;
    if (in[j] == '{') {
      auto close = in.find('}', j);
      if (close == std::string::npos) {
        out += c;
        continue;
      }
      name = in.substr(j + 1, close - j - 1);
      j = close + 1;
    } else {
      while (j < in.size() && (std::isalnum(static_cast<unsigned char>(in[j])) || in[j] == '_'))
        ++j;
      name = in.substr(i + 1, j - i - 1);
    }
    int group = -1;
    if (!name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
          return std::isdigit(static_cast<unsigned char>(ch));
        }))
      group = std::stoi(name);
    else if (auto it = named.find(name); it != named.end())
      group = it->second;
    // Go: an unknown group expands to nothing. RE2 rewrites only \\0-\\9.
    if (group >= 0 && group <= 9 && group <= re.NumberOfCapturingGroups())
      out += "\\" + std::to_string(group);
    i = j - 1;
  }
  return out;
}

class Evaluator {
 public:
  explicit Evaluator(const TemplateData& d) : d_(d) {}

  void run(const std::vector<NodePtr>& nodes, std::string& out) {
    for (const auto& n : nodes) {
      switch (n->kind) {
        case Node::Kind::kText:
          out += n->text;
          break;
        case Node::Kind::kAction:
          out += to_text(pipeline(n->pipeline));
          break;
        case Node::Kind::kIf:
          run(truthy(pipeline(n->pipeline)) ? n->body : n->other, out);
          break;
        case Node::Kind::kList:
          run(n->body, out);
          break;
      }
    }
  }

 private:
  Value labels_value(const Labels* l) const {
    LabelMap m;
    if (l) m.items = l->items();
    return m;
  }
  Value external_value() const {
    LabelMap m;
    if (d_.external_labels) m.items.assign(d_.external_labels->begin(), d_.external_labels->end());
    return m;
  }

  Value field(Value v, const std::vector<std::string>& fields, std::size_t from) const {
    for (std::size_t i = from; i < fields.size(); ++i) {
      auto m = std::get_if<LabelMap>(&v);
      if (!m) throw EvalError("can't evaluate field " + fields[i] + " of a non-map value");
      std::string
          found;  // a missing label reads as "" (Go prints <no value>; Prometheus users expect "")
      for (const auto& [k, val] : m->items)
        if (k == fields[i]) found = val;
      v = found;
    }
    return v;
  }

  Value root(const std::string& name) const {
    if (name == "labels" || name == "Labels") return labels_value(d_.labels);
    if (name == "value" || name == "Value") return d_.value;
    if (name == "externalLabels" || name == "ExternalLabels") return external_value();
    if (name == "externalURL" || name == "ExternalURL") return d_.external_url;
    LabelMap dot;  // "$" or ".": the data itself; only printable as a map
    return dot;
  }

  Value arg(const Node::Arg& a) {
    switch (a.kind) {
      case Node::Arg::Kind::kString:
        return a.text;
      case Node::Arg::Kind::kNumber:
        return a.number;
      case Node::Arg::Kind::kBool:
        return a.boolean;
      case Node::Arg::Kind::kVariable:
        if (a.name.empty()) {
          if (a.fields.empty()) return root("");
          return field(root(a.fields[0]), a.fields, 1);
        }
        return field(root(a.name), a.fields, 0);
      case Node::Arg::Kind::kDotField:
        if (a.fields.empty()) return root("");
        return field(root(a.fields[0]), a.fields, 1);
      case Node::Arg::Kind::kPipeline:
        return pipeline(*a.pipeline);
      case Node::Arg::Kind::kFunction:
        return call(a.name, {});
    }
    return std::string();
  }

  Value pipeline(const Node::Pipeline& p) {
    Value last;
    bool have_last = false;
    for (const auto& cmd : p.commands) {
      const auto& first = cmd.args[0];
      if (first.kind != Node::Arg::Kind::kFunction) {
        last = arg(first);
        have_last = true;
        continue;
      }
      std::vector<Value> args;
      for (std::size_t i = 1; i < cmd.args.size(); ++i) args.push_back(arg(cmd.args[i]));
      if (have_last) args.push_back(last);
      last = call(first.name, args);
      have_last = true;
    }
    return last;
  }

  static void want(const std::string& fn, const std::vector<Value>& a, std::size_t n) {
    if (a.size() != n)
      throw EvalError(fmt::format("wrong number of args for {}: want {} got {}", fn, n, a.size()));
  }

  Value call(const std::string& fn, const std::vector<Value>& a) {
    if (fn == "humanize") return want(fn, a, 1), Value(humanize(to_number(a[0], "humanize")));
    if (fn == "humanize1024")
      return want(fn, a, 1), Value(humanize1024(to_number(a[0], "humanize1024")));
    if (fn == "humanizePercentage")
      return want(fn, a, 1), Value(humanize_percentage(to_number(a[0], "humanizePercentage")));
    if (fn == "humanizeDuration")
      return want(fn, a, 1), Value(humanize_duration(to_number(a[0], "humanizeDuration")));
    if (fn == "printf") {
      if (a.empty()) throw EvalError("wrong number of args for printf: want at least 1 got 0");
      return go_printf(to_text(a[0]), std::vector<Value>(a.begin() + 1, a.end()));
    }
    if (fn == "print") {
      std::string out;
      for (const auto& v : a) out += to_text(v);
      return out;
    }
    if (fn == "toUpper" || fn == "toLower") {
      want(fn, a, 1);
      std::string s = to_text(a[0]);
      for (auto& ch : s)
        ch = static_cast<char>(fn == "toUpper" ? std::toupper(static_cast<unsigned char>(ch))
                                               : std::tolower(static_cast<unsigned char>(ch)));
      return s;
    }
    if (fn == "title") {
      want(fn, a, 1);
      std::string s = to_text(a[0]);
      bool start = true;
      for (auto& ch : s) {
        if (start && std::isalpha(static_cast<unsigned char>(ch)))
          ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        start = std::isspace(static_cast<unsigned char>(ch)) != 0;
      }
      return s;
    }
    if (fn == "stripPort") return want(fn, a, 1), Value(strip_port(to_text(a[0])));
    if (fn == "len") {
      want(fn, a, 1);
      if (auto m = std::get_if<LabelMap>(&a[0])) return static_cast<double>(m->items.size());
      return static_cast<double>(to_text(a[0]).size());
    }
    if (fn == "reReplaceAll") {
      want(fn, a, 3);
      RE2 re(to_text(a[0]));
      if (!re.ok()) throw EvalError("reReplaceAll: bad regex: " + re.error());
      std::string s = to_text(a[2]);
      RE2::GlobalReplace(&s, re, go_replacement(to_text(a[1]), re));
      return s;
    }
    if (fn == "match") {
      want(fn, a, 2);
      RE2 re(to_text(a[0]));
      if (!re.ok()) throw EvalError("match: bad regex: " + re.error());
      return RE2::PartialMatch(to_text(a[1]), re);
    }
    if (fn == "index") {
      want(fn, a, 2);
      auto m = std::get_if<LabelMap>(&a[0]);
      if (!m) throw EvalError("index of a non-map value");
      std::string key = to_text(a[1]);
      for (const auto& [k, v] : m->items)
        if (k == key) return v;
      return std::string();
    }
    if (fn == "not") return want(fn, a, 1), Value(!truthy(a[0]));
    if (fn == "and" || fn == "or") {
      if (a.empty()) throw EvalError(fn + ": want at least 1 arg");
      for (const auto& v : a)
        if (truthy(v) != (fn == "and")) return v;
      return a.back();
    }
    // eq ne lt le gt ge
    want(fn, a, 2);
    int c = compare_values(a[0], a[1], fn.c_str());
    if (fn == "eq") return c == 0;
    if (fn == "ne") return c != 0;
    if (c == 2) return false;
    if (fn == "lt") return c < 0;
    if (fn == "le") return c <= 0;
    if (fn == "gt") return c > 0;
    return c >= 0;  // ge
  }

  const TemplateData& d_;
};

bool has_action(const Node& n) {
  for (const auto& c : n.body)
    if (c->kind != Node::Kind::kText) return true;
  return false;
}

std::string humanize_scaled(double v, double base, const char* const* up, const char* const* down,
                            bool down_allowed) {
  if (v == 0 || std::isnan(v) || std::isinf(v)) return go_g4(v);
  const char* prefix = "";
  if (std::fabs(v) >= 1 || !down_allowed) {
    for (int i = 0; up[i]; ++i) {
      if (std::fabs(v) < base) break;
      prefix = up[i];
      v /= base;
    }
    return go_g4(v, prefix);
  }
  for (int i = 0; down[i]; ++i) {
    if (std::fabs(v) >= 1) break;
    prefix = down[i];
    v *= 1000;
  }
  return go_g4(v, prefix);
}

}  // namespace

Template Template::parse(std::string_view text) {
  Template t;
  t.root_ = Parser(text).parse();
  return t;
}

bool Template::is_literal() const { return !has_action(*root_); }

std::string Template::render(const TemplateData& data) const {
  std::string out;
  try {
    Evaluator(data).run(root_->body, out);
  } catch (const EvalError& e) {
    return std::string("<error expanding template: ") + e.what() + ">";
  }
  return out;
}

std::string go_float(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == 0) return std::signbit(v) ? "-0" : "0";
  // Shortest round-trip digits in Go's %v layout (strconv 'g', precision -1):
  // exponent form when the decimal exponent is < -4 or >= 6, so 1e+06 and
  // 1.5e-05 but 123456 and 0.0001, with at least two exponent digits.
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string sci(buf, r.ptr);  // d.ddddde[+-]XX
  auto epos = sci.find('e');
  int exp = std::stoi(sci.substr(epos + 1));
  std::string mant = sci.substr(0, epos);
  bool neg = mant[0] == '-';
  if (neg) mant.erase(0, 1);
  std::string digits;
  for (char c : mant)
    if (c != '.') digits += c;
  std::string out = neg ? "-" : "";
  if (exp < -4 || exp >= 6) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    out += fmt::format("e{}{:02d}", exp < 0 ? '-' : '+', std::abs(exp));
    return out;
  }
  if (exp < 0) return out + "0." + std::string(static_cast<std::size_t>(-exp - 1), '0') + digits;
  auto int_digits = static_cast<std::size_t>(exp + 1);
  if (digits.size() <= int_digits)
    return out + digits + std::string(int_digits - digits.size(), '0');
  return out + digits.substr(0, int_digits) + "." + digits.substr(int_digits);
}

std::string humanize(double v) {
  static const char* const up[] = {"k", "M", "G", "T", "P", "E", "Z", "Y", nullptr};
  static const char* const down[] = {"m", "u", "n", "p", "f", "a", "z", "y", nullptr};
  return humanize_scaled(v, 1000, up, down, true);
}

std::string humanize1024(double v) {
  static const char* const up[] = {"ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi", nullptr};
  if (std::fabs(v) <= 1) return go_g4(v);
  return humanize_scaled(v, 1024, up, nullptr, false);
}

std::string humanize_percentage(double v) { return go_g4(v * 100, "%"); }

std::string humanize_duration(double v) {
  if (std::isnan(v) || std::isinf(v)) return go_g4(v);
  if (v == 0) return go_g4(v, "s");
  if (std::fabs(v) >= 1) {
    std::string sign;
    if (v < 0) {
      sign = "-";
      v = -v;
    }
    auto d = static_cast<std::int64_t>(v);
    std::int64_t seconds = d % 60, minutes = (d / 60) % 60, hours = (d / 3600) % 24,
                 days = d / 86400;
    if (days) return fmt::format("{}{}d {}h {}m {}s", sign, days, hours, minutes, seconds);
    if (hours) return fmt::format("{}{}h {}m {}s", sign, hours, minutes, seconds);
    if (minutes) return fmt::format("{}{}m {}s", sign, minutes, seconds);
    return sign + go_g4(v, "s");
  }
  static const char* const down[] = {"m", "u", "n", "p", "f", "a", "z", "y", nullptr};
  const char* prefix = "";
  for (int i = 0; down[i]; ++i) {
    if (std::fabs(v) >= 1) break;
    prefix = down[i];
    v *= 1000;
  }
  return go_g4(v, (std::string(prefix) + "s").c_str());
}

}  // namespace strata::alerting
