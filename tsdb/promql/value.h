// PromQL result values, with Prometheus's semantics: a Scalar or String is
// one value at the evaluation time; a Vector holds one Sample per series
// (the series' labels, the evaluation time and the value); a Matrix holds
// one Series per label set with its points in ascending time order.
//
// Plain values: copyable, no shared state, safe to move between threads.
// Label sets within one Vector or Matrix are unique (the engine raises
// "vector cannot contain metrics with the same labelset" otherwise).
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "common/labels.h"
#include "tsdb/promql/functions.h"

namespace strata::tsdb::promql {

struct Point {
  std::int64_t t = 0;
  double v = 0;
};

struct Scalar {
  std::int64_t t = 0;
  double v = 0;
};

struct String {
  std::int64_t t = 0;
  std::string v;
};

struct Sample {
  Labels labels;
  std::int64_t t = 0;
  double v = 0;
};
using Vector = std::vector<Sample>;

struct Series {
  Labels labels;
  std::vector<Point> points;
};
using Matrix = std::vector<Series>;

using Value = std::variant<Scalar, String, Vector, Matrix>;

inline ValueType type_of(const Value& v) {
  switch (v.index()) {
    case 0:
      return ValueType::kScalar;
    case 1:
      return ValueType::kString;
    case 2:
      return ValueType::kVector;
    default:
      return ValueType::kMatrix;
  }
}

}  // namespace strata::tsdb::promql
