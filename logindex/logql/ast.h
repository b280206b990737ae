// The LogQL syntax tree: the subset of Loki's query language the log store
// answers on /loki/api/v1/query and /loki/api/v1/query_range, so Grafana's
// built-in Loki data source works for Explore and dashboards. docs/logql.md
// lists what is supported and how it differs from Loki.
//
//   log query     {job="sshd"} |= "Failed" != "invalid" |~ "user \\w+"
//                   | json | logfmt | regexp "(?P<ip>\\S+)"
//                   | level="error" and status >= 500
//                   | line_format "{{.ip}} {{.msg}}"
//   metric query  count_over_time(<log query>[5m]), rate(...), bytes_over_time,
//                 bytes_rate; sum/avg/min/max/count/topk/bottomk by|without
//                 (...); number literals, vector(n), + - * / between them
//
// Ownership: nodes own their children by value or unique_ptr; a parsed tree
// is immutable and may be evaluated from many threads at once (compiled
// regexes are shared, immutable RE2 objects).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "logindex/stream_selector.h"

namespace re2 {
class RE2;
}

namespace strata::logindex::logql {

// |= "x"   != "x"   |~ "re"   !~ "re"
struct LineFilter {
  enum class Op { kContains, kNotContains, kRegex, kNotRegex };
  Op op = Op::kContains;
  std::string value;
  std::shared_ptr<const re2::RE2> regex;  // unanchored, for the regex ops
};

// One comparison of an extracted or stream label: string (= != =~ !~) or
// numeric (== != > >= < <=, value parsed as a number or a duration in
// seconds).
struct LabelFilter {
  enum class Op { kEq, kNeq, kRegex, kNotRegex, kGt, kGte, kLt, kLte, kNumEq, kNumNeq };
  std::string name;
  Op op = Op::kEq;
  std::string value;
  double number = 0;
  std::shared_ptr<const re2::RE2> regex;  // anchored
};

// A `line_format` template: literal text and {{.name}} references.
struct TemplatePart {
  bool is_label = false;
  std::string text;  // the literal, or the label name
};

struct Stage {
  enum class Kind { kLineFilter, kJson, kLogfmt, kRegexp, kLabelFilter, kLineFormat };
  Kind kind = Kind::kLineFilter;
  LineFilter line_filter;
  std::vector<LabelFilter> label_filters;  // kLabelFilter: all must hold
  std::shared_ptr<const re2::RE2> regexp;  // kRegexp: named groups become labels
  std::vector<TemplatePart> format;        // kLineFormat
};

struct LogQuery {
  StreamSelector selector;
  std::vector<Stage> stages;
  // Whether any stage extracts labels (json, logfmt, regexp): metric queries
  // then group by the extracted labels too, as Loki does.
  bool extracts_labels() const;
};

struct MetricExpr;
using MetricPtr = std::unique_ptr<MetricExpr>;

struct MetricExpr {
  enum class Kind { kRange, kAggregate, kNumber, kVector, kBinary, kParen };
  enum class RangeFn { kCountOverTime, kRate, kBytesOverTime, kBytesRate };
  enum class AggOp { kSum, kAvg, kMin, kMax, kCount, kTopk, kBottomk };
  enum class BinOp { kAdd, kSub, kMul, kDiv };

  Kind kind = Kind::kNumber;
  std::size_t position = 0;
  // kRange: one past its closing ')', so that [position, end_position) of the
  // query text is the range function alone (what a fan-out node asks its
  // shards to evaluate, fanout.h).
  std::size_t end_position = 0;
  // kRange
  RangeFn range_fn = RangeFn::kCountOverTime;
  LogQuery log;
  std::chrono::milliseconds range{0};
  // kAggregate
  AggOp agg = AggOp::kSum;
  std::vector<std::string> grouping;
  bool without = false;
  bool has_grouping = false;
  double param = 0;  // topk/bottomk k
  // kNumber / kVector
  double number = 0;
  // kBinary
  BinOp bin = BinOp::kAdd;
  // kAggregate / kParen: lhs; kBinary: lhs, rhs
  MetricPtr lhs;
  MetricPtr rhs;
};

// A parsed query: exactly one of the two.
struct Query {
  std::unique_ptr<LogQuery> log;
  MetricPtr metric;
  bool is_metric() const { return metric != nullptr; }
};

}  // namespace strata::logindex::logql
