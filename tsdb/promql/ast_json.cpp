#include "tsdb/promql/ast_json.h"

#include <string_view>

#include "common/logging.h"
#include "tsdb/promql/printer.h"

namespace strata::tsdb::promql {
namespace {

using namespace ast;

void append_string(std::string& out, std::string_view s) {
  out += '"';
  logging::append_json_escaped(out, s);
  out += '"';
}

void append_strings(std::string& out, const std::vector<std::string>& list) {
  out += '[';
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (i) out += ',';
    append_string(out, list[i]);
  }
  out += ']';
}

// Prometheus's ValueType strings, which differ from the documented names
// ("vector", not "instant vector").
std::string_view type_name(ValueType type) {
  switch (type) {
    case ValueType::kScalar:
      return "scalar";
    case ValueType::kString:
      return "string";
    case ValueType::kVector:
      return "vector";
    case ValueType::kMatrix:
      return "matrix";
    case ValueType::kNone:
      break;
  }
  return "none";
}

std::string_view cardinality_name(Cardinality card) {
  switch (card) {
    case Cardinality::kOneToOne:
      return "one-to-one";
    case Cardinality::kManyToOne:
      return "many-to-one";
    case Cardinality::kOneToMany:
      return "one-to-many";
    case Cardinality::kManyToMany:
      return "many-to-many";
  }
  return "";
}

void append_matcher(std::string& out, const LabelMatcher& m) {
  out += "{\"name\":";
  append_string(out, m.name());
  out += ",\"type\":";
  append_string(out, to_string(m.op()));
  out += ",\"value\":";
  append_string(out, m.value());
  out += '}';
}

// Our parser puts the matcher of a bare metric name first; Prometheus
// appends it after the braces' matchers, and its order is what we print.
void append_matchers(std::string& out, const VectorSelector& vs) {
  const auto& ms = vs.matchers;
  bool name_first = !vs.name.empty() && !ms.empty() && ms[0].name() == "__name__";
  out += '[';
  bool first = true;
  for (std::size_t i = name_first ? 1 : 0; i < ms.size(); ++i) {
    if (!first) out += ',';
    first = false;
    append_matcher(out, ms[i]);
  }
  if (name_first) {
    if (!first) out += ',';
    append_matcher(out, ms[0]);
  }
  out += ']';
}

void append_at(std::string& out, AtModifier at) {
  out += ",\"startOrEnd\":";
  out += at == AtModifier::kStart ? "\"start\"" : at == AtModifier::kEnd ? "\"end\"" : "null";
}

void append_timestamp(std::string& out, AtModifier at, std::int64_t at_ms) {
  out += ",\"timestamp\":";
  out += at == AtModifier::kTimestamp ? std::to_string(at_ms) : "null";
}

// A vector selector, or the selector of a matrix selector with its range.
void append_selector(std::string& out, const VectorSelector& vs, const char* type,
                     const std::chrono::milliseconds* range) {
  out += "{\"matchers\":";
  append_matchers(out, vs);
  out += ",\"name\":";
  append_string(out, vs.name);
  out += ",\"offset\":";
  out += std::to_string(vs.offset.count());
  if (range) {
    out += ",\"range\":";
    out += std::to_string(range->count());
  }
  append_at(out, vs.at);
  append_timestamp(out, vs.at, vs.at_ms);
  out += ",\"type\":\"";
  out += type;
  out += "\"}";
}

const char* json_bool(bool b) { return b ? "true" : "false"; }

}  // namespace

// Keys are written in sorted order because Prometheus serialises Go maps,
// whose keys encoding/json sorts: the output is byte-identical to its.
void append_ast_json(std::string& out, const Expr& expr) {
  switch (expr.kind) {
    case ExprKind::kNumberLiteral:
      out += R"({"type":"numberLiteral","val":")";
      out += format_number(expr.as<NumberLiteral>().value);
      out += "\"}";
      return;
    case ExprKind::kStringLiteral:
      out += R"({"type":"stringLiteral","val":)";
      append_string(out, expr.as<StringLiteral>().value);
      out += '}';
      return;
    case ExprKind::kVectorSelector:
      append_selector(out, expr.as<VectorSelector>(), "vectorSelector", nullptr);
      return;
    case ExprKind::kMatrixSelector: {
      const auto& m = expr.as<MatrixSelector>();
      append_selector(out, *m.selector, "matrixSelector", &m.range);
      return;
    }
    case ExprKind::kSubquery: {
      const auto& s = expr.as<SubqueryExpr>();
      out += "{\"expr\":";
      append_ast_json(out, *s.expr);
      out += ",\"offset\":";
      out += std::to_string(s.offset.count());
      out += ",\"range\":";
      out += std::to_string(s.range.count());
      append_at(out, s.at);
      out += ",\"step\":";
      out += std::to_string(s.step.count());
      append_timestamp(out, s.at, s.at_ms);
      out += R"(,"type":"subquery"})";
      return;
    }
    case ExprKind::kParen:
      out += "{\"expr\":";
      append_ast_json(out, *expr.as<ParenExpr>().expr);
      out += R"(,"type":"parenExpr"})";
      return;
    case ExprKind::kUnary: {
      const auto& u = expr.as<UnaryExpr>();
      out += "{\"expr\":";
      append_ast_json(out, *u.expr);
      out += u.op == UnaryOp::kSub ? R"(,"op":"-")" : R"(,"op":"+")";
      out += R"(,"type":"unaryExpr"})";
      return;
    }
    case ExprKind::kBinary: {
      const auto& b = expr.as<BinaryExpr>();
      out += "{\"bool\":";
      out += json_bool(b.return_bool);
      out += ",\"lhs\":";
      append_ast_json(out, *b.lhs);
      out += ",\"matching\":";
      if (b.matching) {
        out += "{\"card\":";
        append_string(out, cardinality_name(b.matching->card));
        out += ",\"include\":";
        append_strings(out, b.matching->include);
        out += ",\"labels\":";
        append_strings(out, b.matching->matching_labels);
        out += ",\"on\":";
        out += json_bool(b.matching->on);
        out += '}';
      } else {
        out += "null";
      }
      out += ",\"op\":";
      append_string(out, to_string(b.op));
      out += ",\"rhs\":";
      append_ast_json(out, *b.rhs);
      out += R"(,"type":"binaryExpr"})";
      return;
    }
    case ExprKind::kAggregate: {
      const auto& a = expr.as<AggregateExpr>();
      out += "{\"expr\":";
      append_ast_json(out, *a.expr);
      out += ",\"grouping\":";
      append_strings(out, a.grouping);
      out += ",\"op\":";
      append_string(out, to_string(a.op));
      out += ",\"param\":";
      if (a.param)
        append_ast_json(out, *a.param);
      else
        out += "null";
      out += R"(,"type":"aggregation","without":)";
      out += json_bool(a.without);
      out += '}';
      return;
    }
    case ExprKind::kCall: {
      const auto& c = expr.as<Call>();
      out += "{\"args\":[";
      for (std::size_t i = 0; i < c.args.size(); ++i) {
        if (i) out += ',';
        append_ast_json(out, *c.args[i]);
      }
      out += "],\"func\":{\"argTypes\":[";
      for (std::size_t i = 0; i < c.func->arg_types.size(); ++i) {
        if (i) out += ',';
        append_string(out, type_name(c.func->arg_types[i]));
      }
      out += "],\"name\":";
      append_string(out, c.func->name);
      out += ",\"returnType\":";
      append_string(out, type_name(c.func->return_type));
      out += ",\"variadic\":";
      out += std::to_string(c.func->variadic);
      out += R"(},"type":"call"})";
      return;
    }
  }
}

}  // namespace strata::tsdb::promql
