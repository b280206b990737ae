// The Validator: every limit, and how problems are reported.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "collector/validator.h"

using namespace strata;
using namespace strata::collector;
using namespace std::chrono_literals;

namespace {

const Locator kWhere = [](std::size_t i, std::optional<std::size_t> j) {
  return j ? "s" + std::to_string(i) + "." + std::to_string(*j) : "s" + std::to_string(i);
};

constexpr std::int64_t kNow = 1'700'000'000'000;

Problems check(const Validator& v, const wire::MetricsBatch& b) {
  Problems p;
  v.check(b, kWhere, kNow, p);
  return p;
}

}  // namespace

TEST_CASE("validator: names, counts, lengths and UTF-8 of series", "[collector][validator]") {
  Limits l;
  l.max_labels_per_series = 3;
  l.max_label_name_bytes = 8;
  l.max_label_value_bytes = 11;
  Validator v(l);
  wire::MetricsBatch b;
  b.series.push_back({Labels{{"__name__", "ok:metric_1"}, {"a", "1"}},
                      {{kNow, 1}, {kNow, std::nan("")}, {kNow, INFINITY}}});
  CHECK(check(v, b).empty());

  auto one = [&](Labels labels) {
    wire::MetricsBatch x;
    x.series.push_back({std::move(labels), {{kNow, 1}}});
    auto p = check(v, x);
    REQUIRE(p.total() == 1);
    return p.first()[0];
  };
  CHECK(one(Labels{{"__name__", "1bad"}}) ==
        "s0: invalid metric name \"1bad\" (must match [a-zA-Z_:][a-zA-Z0-9_:]*)");
  CHECK(one(Labels{{"job", "x"}}) == "s0: missing metric name (label __name__)");
  CHECK(one(Labels{{"__name__", "m"}, {"bad-name", "x"}}) ==
        "s0: invalid label name \"bad-name\" (must match [a-zA-Z_][a-zA-Z0-9_]*)");
  CHECK(one(Labels{{"__name__", "m"}, {"a_long_name", "x"}}) ==
        "s0: label name \"a_long_name\" is 11 bytes; the limit is 8 "
        "(collector.limits.max_label_name_bytes)");
  CHECK(one(Labels{{"__name__", "m"}, {"a", "012345678901"}}) ==
        "s0: value of label \"a\" is 12 bytes; the limit is 11 "
        "(collector.limits.max_label_value_bytes)");
  CHECK(one(Labels{{"__name__", "m"}, {"a", "\xff"}}) ==
        "s0: value of label \"a\" is not valid UTF-8");
  CHECK(one(Labels{{"__name__", "m"}, {"a", "1"}, {"b", "2"}, {"c", "3"}}) ==
        "s0: 4 labels; the limit is 3 (collector.limits.max_labels_per_series)");
  // Empty values are absent labels: not counted.
  wire::MetricsBatch three;
  three.series.push_back(
      {Labels{{"__name__", "m"}, {"a", "1"}, {"b", "2"}, {"c", ""}}, {{kNow, 1}}});
  CHECK(check(v, three).empty());
}

TEST_CASE("validator: timestamps too old or too far ahead", "[collector][validator]") {
  Limits l;
  l.max_sample_age = 24h;
  l.max_future_skew = 10min;
  Validator v(l);
  wire::MetricsBatch b;
  b.series.push_back({Labels{{"__name__", "m"}},
                      {{kNow - 86'400'000, 1},
                       {kNow - 86'400'001, 1},
                       {kNow + 600'000, 1},
                       {kNow + 600'001, 1},
                       {std::numeric_limits<std::int64_t>::min(), 1}}});
  auto p = check(v, b);
  REQUIRE(p.total() == 3);
  CHECK(p.first()[0] ==
        "s0.1: timestamp 1699913599999 ms is older than 1d (collector.limits.max_sample_age)");
  CHECK(p.first()[1] ==
        "s0.3: timestamp 1700000600001 ms is more than 10m in the future "
        "(collector.limits.max_future_skew)");
  CHECK_THAT(p.first()[2], Catch::StartsWith("s0.4: timestamp -9223372036854775808 ms is older"));

  l.max_sample_age = 0ms;  // off
  l.max_future_skew = 0ms;
  CHECK(check(Validator(l), b).empty());
}

TEST_CASE("validator: logs, request sizes, and the report", "[collector][validator]") {
  Limits l;
  l.max_line_bytes = 5;
  l.max_entries_per_request = 3;
  l.max_series_per_request = 2;
  Validator v(l);
  wire::LogsBatch logs;
  logs.streams.push_back(
      {Labels{{"job", "a"}},
       {{kNow * 1'000'000, "12345", {}}, {kNow * 1'000'000, "123456", {{"bad-field", "x"}}}}});
  Problems p;
  v.check(logs, kWhere, kNow, p);
  REQUIRE(p.total() == 2);
  CHECK(p.first()[0] ==
        "s0.1: log line is 6 bytes; the limit is 5 (collector.limits.max_line_bytes)");
  CHECK(p.first()[1] ==
        "s0.1: invalid field name \"bad-field\" (must match [a-zA-Z_][a-zA-Z0-9_]*)");
  CHECK_FALSE(v.check_size(logs));
  logs.streams.push_back({Labels{{"job", "b"}}, {{0, "x", {}}, {0, "y", {}}}});
  CHECK(*v.check_size(logs) ==
        "the request has 4 log lines; the limit is 3 (collector.limits.max_entries_per_request): "
        "split it");

  wire::MetricsBatch many;
  for (int i = 0; i < 9; ++i) many.series.push_back({Labels{{"__name__", "9"}}, {{kNow, 1}}});
  CHECK_THAT(*v.check_size(many), Catch::StartsWith("the request has 9 series; the limit is 2"));
  auto problems = check(v, many);
  CHECK(problems.total() == 9);
  CHECK(problems.first().size() == Problems::kReported);
  const std::string msg = problems.message("invalid request");
  CHECK_THAT(msg, Catch::StartsWith("invalid request: 9 problems; the whole request was rejected "
                                    "and nothing of it was stored:\n  s0: invalid metric name"));
  CHECK_THAT(msg, Catch::EndsWith("  ... and 4 more\n"));
}
