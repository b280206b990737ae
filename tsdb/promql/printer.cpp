#include "tsdb/promql/printer.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace strata::tsdb::promql {

namespace {

using namespace ast;

// Go's unicode.IsPrint, approximated without Unicode tables: controls,
// spaces other than ' ', format characters, private use, non-characters and
// the big unassigned planes are escaped. (Go also escapes code points that
// are unassigned inside assigned blocks; we print those as they are.)
bool go_is_print(std::uint32_t r) {
  if (r < 0x20 || (r >= 0x7f && r <= 0xa0) || r == 0xad) return false;
  if (r < 0x100) return true;
  struct Range {
    std::uint32_t lo, hi;
  };
  static constexpr Range kNotPrint[] = {
      {0x600, 0x605},     {0x61c, 0x61c},     {0x6dd, 0x6dd},     {0x70f, 0x70f},
      {0x890, 0x891},     {0x8e2, 0x8e2},     {0x1680, 0x1680},   {0x180e, 0x180e},
      {0x2000, 0x200f},   {0x2028, 0x202f},   {0x205f, 0x2064},   {0x2066, 0x206f},
      {0x3000, 0x3000},   {0xd800, 0xf8ff},   {0xfdd0, 0xfdef},   {0xfeff, 0xfeff},
      {0xfff9, 0xfffb},   {0x110bd, 0x110bd}, {0x110cd, 0x110cd}, {0x13430, 0x1343f},
      {0x1bca0, 0x1bca3}, {0x1d173, 0x1d17a}, {0x323b0, 0xe00ff}, {0xe01f0, 0x10ffff},
  };
  if ((r & 0xfffe) == 0xfffe) return false;
  for (const auto& range : kNotPrint)
    if (r >= range.lo && r <= range.hi) return false;
  return true;
}

// Decodes one UTF-8 sequence at s[i]; returns its length, or 0 if invalid.
std::size_t decode_utf8(std::string_view s, std::size_t i, std::uint32_t& cp) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  cp = n == 1 ? c : n == 2 ? (c & 0x1f) : n == 3 ? (c & 0x0f) : (c & 0x07);
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(k) & 0x3f);
  }
  static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

void append_hex(std::string& out, std::uint32_t v, int digits) {
  static const char* hex = "0123456789abcdef";
  for (int s = (digits - 1) * 4; s >= 0; s -= 4) out += hex[(v >> s) & 0xf];
}

bool legacy_label_name(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// A label name as Prometheus 3 prints it: bare when it can be, else quoted.
std::string label_name(std::string_view name) {
  return legacy_label_name(name) ? std::string(name) : quote_string(name);
}

void append_labels(std::string& out, const std::vector<std::string>& labels) {
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ", ";
    out += label_name(labels[i]);
  }
}

std::string matcher_string(const LabelMatcher& m) {
  return label_name(m.name()) + std::string(tsdb::to_string(m.op())) + quote_string(m.value());
}

std::string at_string(AtModifier at, std::int64_t at_ms) {
  switch (at) {
    case AtModifier::kTimestamp: {
      char buf[64];
      std::snprintf(buf, sizeof buf, " @ %.3f", static_cast<double>(at_ms) / 1000.0);
      return buf;
    }
    case AtModifier::kStart:
      return " @ start()";
    case AtModifier::kEnd:
      return " @ end()";
    case AtModifier::kNone:
      break;
  }
  return "";
}

std::string offset_string(std::chrono::milliseconds offset) {
  if (offset.count() > 0) return " offset " + format_duration(offset);
  if (offset.count() < 0) return " offset -" + format_duration(-offset);
  return "";
}

// The selector without its @ and offset (a matrix selector prints those
// after the range).
std::string selector_body(const VectorSelector& vs) {
  std::vector<std::string> parts;
  for (const auto& m : vs.matchers) {
    if (!vs.name.empty() && m.name() == "__name__" && m.op() == MatchOp::kEqual &&
        m.value() == vs.name)
      continue;
    parts.push_back(matcher_string(m));
  }
  std::string out = vs.name;
  if (!parts.empty()) {
    std::sort(parts.begin(), parts.end());
    out += '{';
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (i > 0) out += ',';
      out += parts[i];
    }
    out += '}';
  }
  return out;
}

void print(std::string& out, const Expr& e);

void print_binary(std::string& out, const BinaryExpr& b) {
  print(out, *b.lhs);
  out += ' ';
  out += to_string(b.op);
  if (b.return_bool) out += " bool";
  if (b.matching) {
    const VectorMatching& vm = *b.matching;
    bool grouped = vm.card == Cardinality::kManyToOne || vm.card == Cardinality::kOneToMany;
    if (!vm.matching_labels.empty() || vm.on || grouped) {
      out += vm.on ? " on (" : " ignoring (";
      append_labels(out, vm.matching_labels);
      out += ')';
    }
    if (grouped) {
      out += vm.card == Cardinality::kManyToOne ? " group_left (" : " group_right (";
      append_labels(out, vm.include);
      out += ')';
    }
  }
  out += ' ';
  print(out, *b.rhs);
}

void print_aggregate(std::string& out, const AggregateExpr& a) {
  out += to_string(a.op);
  if (a.without) {
    out += " without (";
    append_labels(out, a.grouping);
    out += ") ";
  } else if (!a.grouping.empty()) {
    out += " by (";
    append_labels(out, a.grouping);
    out += ") ";
  }
  out += '(';
  if (a.param) {
    print(out, *a.param);
    out += ", ";
  }
  print(out, *a.expr);
  out += ')';
}

void print(std::string& out, const Expr& e) {
  switch (e.kind) {
    case ExprKind::kNumberLiteral:
      out += format_number(e.as<NumberLiteral>().value);
      return;
    case ExprKind::kStringLiteral:
      out += quote_string(e.as<StringLiteral>().value);
      return;
    case ExprKind::kVectorSelector: {
      const auto& vs = e.as<VectorSelector>();
      out += selector_body(vs);
      out += at_string(vs.at, vs.at_ms);
      out += offset_string(vs.offset);
      return;
    }
    case ExprKind::kMatrixSelector: {
      const auto& m = e.as<MatrixSelector>();
      out += selector_body(*m.selector);
      out += '[';
      out += format_duration(m.range);
      out += ']';
      out += at_string(m.selector->at, m.selector->at_ms);
      out += offset_string(m.selector->offset);
      return;
    }
    case ExprKind::kSubquery: {
      const auto& sq = e.as<SubqueryExpr>();
      print(out, *sq.expr);
      out += '[';
      out += format_duration(sq.range);
      out += ':';
      if (sq.step.count() != 0) out += format_duration(sq.step);
      out += ']';
      out += at_string(sq.at, sq.at_ms);
      out += offset_string(sq.offset);
      return;
    }
    case ExprKind::kParen:
      out += '(';
      print(out, *e.as<ParenExpr>().expr);
      out += ')';
      return;
    case ExprKind::kUnary: {
      const auto& u = e.as<UnaryExpr>();
      out += u.op == UnaryOp::kSub ? '-' : '+';
      print(out, *u.expr);
      return;
    }
    case ExprKind::kBinary:
      print_binary(out, e.as<BinaryExpr>());
      return;
    case ExprKind::kAggregate:
      print_aggregate(out, e.as<AggregateExpr>());
      return;
    case ExprKind::kCall: {
      const auto& c = e.as<Call>();
      out += c.func->name;
      out += '(';
      for (std::size_t i = 0; i < c.args.size(); ++i) {
        if (i > 0) out += ", ";
        print(out, *c.args[i]);
      }
      out += ')';
      return;
    }
  }
}

}  // namespace

std::string to_string(const Expr& expr) {
  std::string out;
  print(out, expr);
  return out;
}

std::string format_duration(std::chrono::milliseconds d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  auto unit = [&](const char* name, std::int64_t mult, bool exact) {
    if (exact && ms % mult != 0) return;
    if (std::int64_t v = ms / mult; v > 0) {
      out += std::to_string(v);
      out += name;
      ms -= v * mult;
    }
  };
  unit("y", 1000LL * 60 * 60 * 24 * 365, true);
  unit("w", 1000LL * 60 * 60 * 24 * 7, true);
  unit("d", 1000LL * 60 * 60 * 24, false);
  unit("h", 1000LL * 60 * 60, false);
  unit("m", 1000LL * 60, false);
  unit("s", 1000, false);
  unit("ms", 1, false);
  return out;
}

std::string quote_string(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    std::uint32_t r = 0;
    std::size_t n = decode_utf8(s, i, r);
    if (n == 0) {
      out += "\\x";
      append_hex(out, static_cast<unsigned char>(s[i]), 2);
      ++i;
      continue;
    }
    if (r == '"' || r == '\\') {
      out += '\\';
      out += static_cast<char>(r);
    } else if (go_is_print(r)) {
      out.append(s.substr(i, n));
    } else {
      switch (r) {
        case '\a':
          out += "\\a";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\v':
          out += "\\v";
          break;
        default:
          if (r < ' ' || r == 0x7f) {
            out += "\\x";
            append_hex(out, r, 2);
          } else if (r < 0x10000) {
            out += "\\u";
            append_hex(out, r, 4);
          } else {
            out += "\\U";
            append_hex(out, r, 8);
          }
      }
    }
    i += n;
  }
  out += '"';
  return out;
}

std::string format_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // The longest shortest-fixed form of a double is ~330 characters (1e308
  // or 5e-324 spelled out).
  char buf[400];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  if (ec != std::errc()) return "NaN";  // unreachable: the buffer is large enough
  return std::string(buf, end);
}

}  // namespace strata::tsdb::promql
