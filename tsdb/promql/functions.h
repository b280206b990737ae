// The PromQL function table: every function Prometheus 3 knows (including
// the ones it gates behind --enable-feature=promql-experimental-functions,
// which Strata always enables), with the types of its arguments and result.
// The parser type-checks calls against it; the evaluator dispatches on
// Function::name.
//
// The table is static and immutable: Function pointers stay valid for the
// life of the process and may be shared between threads.
#pragma once

#include <span>
#include <string_view>
#include <vector>

namespace strata::tsdb::promql {

// The four PromQL value types; kNone only for what is not an expression.
enum class ValueType { kNone, kScalar, kString, kVector, kMatrix };

// As Prometheus documents them (and words its errors): "scalar", "string",
// "instant vector", "range vector".
inline std::string_view documented_name(ValueType type) {
  switch (type) {
    case ValueType::kScalar:
      return "scalar";
    case ValueType::kString:
      return "string";
    case ValueType::kVector:
      return "instant vector";
    case ValueType::kMatrix:
      return "range vector";
    case ValueType::kNone:
      break;
  }
  return "none";
}

struct Function {
  std::string_view name;
  std::vector<ValueType> arg_types;
  // 0: exactly arg_types.size() arguments. N > 0: the last argument is
  // optional and may be given up to N times (round(v), round(v, s)).
  // -1: the last argument may be given any number of times, even zero
  // (label_join, sort_by_label).
  int variadic = 0;
  ValueType return_type = ValueType::kVector;
};

// Null when `name` is not a function (names are case-sensitive).
const Function* find_function(std::string_view name);

// All functions, sorted by name.
std::span<const Function> all_functions();

}  // namespace strata::tsdb::promql
