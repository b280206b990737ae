// The typed PromQL syntax tree that parse_expr() (parser.h) builds and the
// evaluator walks.
//
// Ownership: every node owns its children through std::unique_ptr (ExprPtr);
// the root returned by the parser owns the whole tree. Nodes are plain
// structs with public fields and an ExprKind tag: switch on `kind` and
// static_cast (or use as<T>()) -- there is no visitor. A parsed tree is
// never mutated afterwards, so it may be read from any number of threads.
//
// Guarantees of a tree returned by the parser (the evaluator may rely on
// them): it type-checks exactly as Prometheus 3 requires (value_type() of
// every node is one of the four PromQL types, function arguments match the
// function table, ...), and it is at most kMaxNesting nodes deep, so a
// recursive walk cannot overflow the stack.
//
// Positions are byte offsets into the query text, [start, end).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tsdb/label_matcher.h"
#include "tsdb/promql/functions.h"

namespace strata::tsdb::promql::ast {

// Deepest tree (and deepest parser recursion) accepted, counted in nodes
// from the root; each operator of a chain like a+b+c is one level. Parsing
// takes about 1 KiB of stack per level in an optimised build (4 KiB under
// AddressSanitizer), well within a thread's default 8 MiB.
inline constexpr int kMaxNesting = 1000;

struct PosRange {
  std::size_t start = 0;
  std::size_t end = 0;
};

enum class ExprKind {
  kNumberLiteral,
  kStringLiteral,
  kVectorSelector,
  kMatrixSelector,
  kSubquery,
  kParen,
  kUnary,
  kBinary,
  kAggregate,
  kCall,
};

struct Expr {
  explicit Expr(ExprKind k) : kind(k) {}
  virtual ~Expr() = default;
  Expr(const Expr&) = delete;
  Expr& operator=(const Expr&) = delete;

  ExprKind kind;
  PosRange pos;

  ValueType value_type() const;

  template <typename T>
  const T& as() const {
    return static_cast<const T&>(*this);
  }
  template <typename T>
  T& as() {
    return static_cast<T&>(*this);
  }
};

using ExprPtr = std::unique_ptr<Expr>;

// Where an `@` modifier pins evaluation.
enum class AtModifier { kNone, kTimestamp, kStart, kEnd };

struct NumberLiteral : Expr {
  NumberLiteral() : Expr(ExprKind::kNumberLiteral) {}
  double value = 0;
};

struct StringLiteral : Expr {
  StringLiteral() : Expr(ExprKind::kStringLiteral) {}
  std::string value;
};

struct VectorSelector : Expr {
  VectorSelector() : Expr(ExprKind::kVectorSelector) {}
  // The metric name when written bare (`metric{...}`), else empty (also for
  // a quoted name inside the braces, `{"metric.name"}`, as in Prometheus).
  std::string name;
  // Every matcher, including __name__="name" (first) for a bare name.
  std::vector<LabelMatcher> matchers;
  // `offset`: evaluate this much earlier (negative: later). Zero when absent.
  std::chrono::milliseconds offset{0};
  AtModifier at = AtModifier::kNone;
  std::int64_t at_ms = 0;  // the `@` timestamp in ms since the epoch (kTimestamp only)
};

// selector[range]. The offset and @ written after the brackets are stored on
// `selector`, as in Prometheus.
struct MatrixSelector : Expr {
  MatrixSelector() : Expr(ExprKind::kMatrixSelector) {}
  std::unique_ptr<VectorSelector> selector;
  std::chrono::milliseconds range{0};
};

// expr[range:step] offset ... @ ...
struct SubqueryExpr : Expr {
  SubqueryExpr() : Expr(ExprKind::kSubquery) {}
  ExprPtr expr;
  std::chrono::milliseconds range{0};
  std::chrono::milliseconds step{0};  // zero: the query's evaluation interval
  std::chrono::milliseconds offset{0};
  AtModifier at = AtModifier::kNone;
  std::int64_t at_ms = 0;
};

struct ParenExpr : Expr {
  ParenExpr() : Expr(ExprKind::kParen) {}
  ExprPtr expr;
};

enum class UnaryOp { kAdd, kSub };

// A unary minus or plus on anything but a number literal (`-1` is folded into
// NumberLiteral{-1}, as Prometheus does).
struct UnaryExpr : Expr {
  UnaryExpr() : Expr(ExprKind::kUnary) {}
  UnaryOp op = UnaryOp::kSub;
  ExprPtr expr;
};

enum class BinaryOp {
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
  kAtan2,
  kEql,  // ==
  kNeq,
  kLte,
  kLss,
  kGte,
  kGtr,
  kAnd,
  kOr,
  kUnless,
};

std::string_view to_string(BinaryOp op);  // "+", "==", "and", ...
bool is_comparison(BinaryOp op);
bool is_set_operator(BinaryOp op);  // and, or, unless

enum class Cardinality { kOneToOne, kManyToOne, kOneToMany, kManyToMany };

struct VectorMatching {
  Cardinality card = Cardinality::kOneToOne;  // kManyToMany for and/or/unless
  // The labels of on(...) / ignoring(...).
  std::vector<std::string> matching_labels;
  bool on = false;  // on(...) rather than ignoring(...)
  // The extra labels of group_left(...) / group_right(...).
  std::vector<std::string> include;
};

struct BinaryExpr : Expr {
  BinaryExpr() : Expr(ExprKind::kBinary) {}
  BinaryOp op = BinaryOp::kAdd;
  ExprPtr lhs;
  ExprPtr rhs;
  bool return_bool = false;
  // Present exactly when both sides are instant vectors.
  std::optional<VectorMatching> matching;
};

enum class AggregateOp {
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
};

std::string_view to_string(AggregateOp op);
// topk, bottomk, count_values, quantile, limitk and limit_ratio.
bool takes_parameter(AggregateOp op);

struct AggregateExpr : Expr {
  AggregateExpr() : Expr(ExprKind::kAggregate) {}
  AggregateOp op = AggregateOp::kSum;
  ExprPtr expr;
  ExprPtr param;  // null unless takes_parameter(op)
  std::vector<std::string> grouping;
  bool without = false;  // without(...) rather than by(...)
};

struct Call : Expr {
  Call() : Expr(ExprKind::kCall) {}
  const Function* func = nullptr;  // never null in a parsed tree; static storage
  std::vector<ExprPtr> args;
};

inline ValueType Expr::value_type() const {
  switch (kind) {
    case ExprKind::kNumberLiteral:
      return ValueType::kScalar;
    case ExprKind::kStringLiteral:
      return ValueType::kString;
    case ExprKind::kVectorSelector:
    case ExprKind::kAggregate:
      return ValueType::kVector;
    case ExprKind::kMatrixSelector:
    case ExprKind::kSubquery:
      return ValueType::kMatrix;
    case ExprKind::kParen:
      return as<ParenExpr>().expr->value_type();
    case ExprKind::kUnary:
      return as<UnaryExpr>().expr->value_type();
    case ExprKind::kBinary: {
      const auto& b = as<BinaryExpr>();
      bool scalar =
          b.lhs->value_type() == ValueType::kScalar && b.rhs->value_type() == ValueType::kScalar;
      return scalar ? ValueType::kScalar : ValueType::kVector;
    }
    case ExprKind::kCall:
      return as<Call>().func->return_type;
  }
  return ValueType::kNone;
}

inline std::string_view to_string(BinaryOp op) {
  static constexpr std::string_view kNames[] = {"+",     "-",   "*",  "/",     "%", "^",
                                                "atan2", "==",  "!=", "<=",    "<", ">=",
                                                ">",     "and", "or", "unless"};
  return kNames[static_cast<int>(op)];
}

inline bool is_comparison(BinaryOp op) { return op >= BinaryOp::kEql && op <= BinaryOp::kGtr; }

inline bool is_set_operator(BinaryOp op) { return op >= BinaryOp::kAnd; }

inline std::string_view to_string(AggregateOp op) {
  static constexpr std::string_view kNames[] = {
      "sum",    "avg",  "count",   "min",          "max",      "group",  "stddev",
      "stdvar", "topk", "bottomk", "count_values", "quantile", "limitk", "limit_ratio"};
  return kNames[static_cast<int>(op)];
}

inline bool takes_parameter(AggregateOp op) { return op >= AggregateOp::kTopk; }

}  // namespace strata::tsdb::promql::ast
