// PromQL engine on a real store (a DB in a temp dir): selectors with
// lookback and staleness, offset and @, rate extrapolation, operators and
// vector matching, aggregations, functions, subqueries and the limits.
// Expected values are computed by hand from Prometheus's definitions.
#include <catch2/catch.hpp>

#include <atomic>
#include <bit>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/wire_format.h"
#include "tests/unit/tsdb_test_db.h"
#include "tsdb/promql/engine.h"
#include "tsdb/query_store.h"

using namespace strata;
using namespace strata::tsdb;
using namespace strata::tsdb::promql;
using Catch::Matchers::Contains;

namespace {

std::int64_t ms(double seconds) { return static_cast<std::int64_t>(std::llround(seconds * 1000)); }

struct Fixture {
  testdb::TempDb tmp;
  DbQueryStore store{*tmp.db};
  Engine engine{store};

  // (seconds, value) pairs.
  void add(const Labels& labels, std::vector<std::pair<double, double>> points) {
    std::vector<wire::Sample> s;
    for (auto [t, v] : points) s.push_back({ms(t), v});
    tmp.db->append(labels, s);
  }
  Vector instant(const std::string& q, double t) {
    auto r = engine.instant_query(q, ms(t));
    REQUIRE(std::holds_alternative<Vector>(r.value));
    return std::get<Vector>(r.value);
  }
  // The value of a query that yields exactly one sample (or a scalar).
  double one(const std::string& q, double t) {
    auto r = engine.instant_query(q, ms(t));
    if (auto* s = std::get_if<Scalar>(&r.value)) return s->v;
    REQUIRE(std::holds_alternative<Vector>(r.value));
    const auto& v = std::get<Vector>(r.value);
    INFO(q);
    REQUIRE(v.size() == 1);
    return v[0].v;
  }
  std::string error_type(const std::string& q, double t) {
    try {
      engine.instant_query(q, ms(t));
    } catch (const QueryError& e) {
      return std::string(e.error_type());
    }
    return "none";
  }
};

// c: counter 1..6 at 10 s .. 60 s; g: gauge; two jobs for matching.
void add_basic(Fixture& f) {
  f.add({{"__name__", "c"}, {"job", "a"}}, {{10, 1}, {20, 2}, {30, 3}, {40, 4}, {50, 5}, {60, 6}});
  f.add({{"__name__", "g"}, {"job", "a"}, {"instance", "1"}}, {{10, 5}, {20, 3}, {30, 4}});
  f.add({{"__name__", "g"}, {"job", "b"}, {"instance", "1"}}, {{10, 7}, {20, 9}, {30, 8}});
  f.add({{"__name__", "g"}, {"job", "b"}, {"instance", "2"}}, {{10, 1}, {20, 2}, {30, 10}});
}

double find(const Vector& v, std::string_view label, std::string_view value) {
  for (const auto& s : v)
    if (s.labels.get(label) == value) return s.v;
  FAIL("no sample with " << label << "=" << value);
  return NAN;
}

}  // namespace

TEST_CASE("promql engine: instant selector lookback is left-open (t-5m excluded, t included)",
          "[promql][engine]") {
  Fixture f;
  f.add({{"__name__", "x"}}, {{10, 1}, {20, 2}});
  CHECK(f.one("x", 20) == 2);
  CHECK(f.one("x", 25) == 2);
  CHECK(f.one("x", 319.999) == 2);
  CHECK(f.instant("x", 320).empty());  // 320 - 300 = 20: the boundary is excluded
  CHECK(f.instant("x", 5).empty());
  // Selector results keep the metric name and carry the evaluation time.
  auto v = f.instant("x", 25);
  CHECK(v[0].labels == Labels{{"__name__", "x"}});
  CHECK(v[0].t == 25000);
  EngineOptions o;
  o.lookback_delta = std::chrono::seconds(3);
  Engine short_lookback(f.store, o);
  CHECK(std::get<Vector>(short_lookback.instant_query("x", 22000).value).size() == 1);
  CHECK(std::get<Vector>(short_lookback.instant_query("x", 23000).value).empty());
}

TEST_CASE("promql engine: a stale marker ends the series", "[promql][engine]") {
  Fixture f;
  f.add({{"__name__", "s"}}, {{10, 1}, {20, wire::stale_nan()}, {40, 3}});
  CHECK(f.one("s", 15) == 1);
  CHECK(f.instant("s", 20).empty());
  CHECK(f.instant("s", 35).empty());
  CHECK(f.one("s", 40) == 3);
  // Range selections skip stale markers.
  CHECK(f.one("count_over_time(s[1m])", 50) == 2);
}

TEST_CASE("promql engine: offset and @ (with start() and end())", "[promql][engine]") {
  Fixture f;
  add_basic(f);
  CHECK(f.one("c offset 10s", 30) == 2);
  CHECK(f.one("c offset -10s", 30) == 4);
  CHECK(f.one("c @ 10", 1000) == 1);
  CHECK(f.one("c @ 30 offset 10s", 1000) == 2);
  auto r = f.engine.range_query("c @ start()", ms(20), ms(60), ms(20));
  const auto& m = std::get<Matrix>(r.value);
  REQUIRE(m.size() == 1);
  REQUIRE(m[0].points.size() == 3);
  for (const auto& p : m[0].points) CHECK(p.v == 2);
  r = f.engine.range_query("c @ end()", ms(20), ms(60), ms(20));
  for (const auto& p : std::get<Matrix>(r.value)[0].points) CHECK(p.v == 6);
  CHECK(f.one("sum_over_time(c[20s] @ 30)", 1000) == 2 + 3);
}

TEST_CASE("promql engine: range selectors are left-open", "[promql][engine]") {
  Fixture f;
  add_basic(f);
  CHECK(f.one("count_over_time(c[50s])", 60) == 5);  // 10 s is excluded
  CHECK(f.one("count_over_time(c[51s])", 60) == 6);
  auto r = f.engine.instant_query("c[20s]", ms(60));
  const auto& m = std::get<Matrix>(r.value);
  REQUIRE(m.size() == 1);
  REQUIRE(m[0].points.size() == 2);
  CHECK(m[0].points[0].t == 50000);
  CHECK(m[0].labels.get("__name__") == "c");
}

TEST_CASE("promql engine: rate/increase/delta extrapolate as Prometheus", "[promql][engine]") {
  Fixture f;
  add_basic(f);
  // Window (0, 60]: 10..60 s, increase 5 over 50 s, 10 s to the start
  // (< 1.1 x 10 s average: extrapolated fully), none to the end -> x 60/50.
  CHECK(f.one("increase(c[1m])", 60) == Approx(6));
  CHECK(f.one("rate(c[1m])", 60) == Approx(0.1));
  // Window (30, 90]: 40..60 s, 30 s to the end is beyond the threshold:
  // extrapolate half an interval (5 s) -> 2 * (20 + 10 + 5) / 20.
  CHECK(f.one("increase(c[1m])", 90) == Approx(3.5));
  CHECK(f.one("rate(c[1m])", 90) == Approx(3.5 / 60));
  // Zero point: 0.2, 1.2, 2.2 at 40..60 s in (0, 60]: the start gap (40 s)
  // is capped at 5 s, then at the zero point 20 * 0.2 / 2 = 2 s.
  f.add({{"__name__", "z"}}, {{40, 0.2}, {50, 1.2}, {60, 2.2}});
  CHECK(f.one("increase(z[1m])", 60) == Approx(2 * 22.0 / 20));
  // A reset: 1 2 3 1 2 -> increase 4 over 40 s, extrapolated to 50 s.
  f.add({{"__name__", "r"}}, {{10, 1}, {20, 2}, {30, 3}, {40, 1}, {50, 2}});
  CHECK(f.one("increase(r[50s])", 50) == Approx(5));
  CHECK(f.one("resets(r[1m])", 50) == 1);
  CHECK(f.one("changes(r[1m])", 50) == 4);
  // delta does not treat drops as resets and does not stop at zero.
  f.add({{"__name__", "d"}}, {{10, 5}, {20, 3}, {30, 4}});
  CHECK(f.one("delta(d[30s])", 30) == Approx(-1.5));
  // One sample: no result.
  CHECK(f.instant("rate(c[5s])", 60).empty());
  // Metric name dropped.
  CHECK(f.instant("rate(c[1m])", 60)[0].labels == Labels{{"job", "a"}});
}

TEST_CASE("promql engine: irate, idelta, deriv, predict_linear", "[promql][engine]") {
  Fixture f;
  add_basic(f);
  f.add({{"__name__", "r"}}, {{10, 1}, {20, 3}, {30, 2}});
  CHECK(f.one("irate(c[1m])", 60) == Approx(0.1));
  CHECK(f.one("irate(r[1m])", 30) == Approx(0.2));  // reset: the last value over 10 s
  CHECK(f.one("idelta(r[1m])", 30) == Approx(-1));
  CHECK(f.one("deriv(c[1m])", 60) == Approx(0.1));
  // c grows 0.1/s; at 60 s it is 6, 100 s later 16.
  CHECK(f.one("predict_linear(c[1m], 100)", 60) == Approx(16));
}

TEST_CASE("promql engine: *_over_time", "[promql][engine]") {
  Fixture f;
  f.add({{"__name__", "v"}}, {{10, 2}, {20, 4}, {30, 4}, {40, 5}, {50, 5}, {60, 7}, {70, 9}});
  // window (0, 80]: 2 4 4 5 5 7 9, mean 36/7
  CHECK(f.one("avg_over_time(v[80s])", 80) == Approx(36.0 / 7));
  CHECK(f.one("sum_over_time(v[80s])", 80) == 36);
  CHECK(f.one("min_over_time(v[80s])", 80) == 2);
  CHECK(f.one("max_over_time(v[80s])", 80) == 9);
  CHECK(f.one("count_over_time(v[80s])", 80) == 7);
  CHECK(f.one("last_over_time(v[80s])", 80) == 9);
  CHECK(f.instant("last_over_time(v[80s])", 80)[0].labels.get("__name__") == "v");
  CHECK(f.one("present_over_time(v[80s])", 80) == 1);
  CHECK(f.one("quantile_over_time(0.5, v[80s])", 80) == 5);
  CHECK(f.one("quantile_over_time(0.25, v[80s])", 80) == 4);  // rank 1.5 between 4 and 4
  CHECK(f.one("mad_over_time(v[80s])", 80) == 1);             // |x - 5|: 3 1 1 0 0 2 4
  double mean = 36.0 / 7, var = 0;
  for (double x : {2, 4, 4, 5, 5, 7, 9}) var += (x - mean) * (x - mean);
  var /= 7;
  CHECK(f.one("stdvar_over_time(v[80s])", 80) == Approx(var));
  CHECK(f.one("stddev_over_time(v[80s])", 80) == Approx(std::sqrt(var)));
  CHECK(f.instant("absent_over_time(v[80s])", 80).empty());
  auto a = f.instant("absent_over_time(nope{job=\"j\",x=~\"y\"}[1m])", 80);
  REQUIRE(a.size() == 1);
  CHECK(a[0].labels == Labels{{"job", "j"}});
  // s1 = x1 + (1-sf)(s0 + b) ... for 2,4 with sf=tf=0.5: b = 2, s = 0.5*4 + 0.5*(2+2) = 4
  f.add({{"__name__", "h"}}, {{10, 2}, {20, 4}});
  CHECK(f.one("double_exponential_smoothing(h[1m], 0.5, 0.5)", 20) == Approx(4));
  CHECK(f.error_type("double_exponential_smoothing(h[1m], 1, 0.5)", 20) == "execution");
}

TEST_CASE("promql engine: arithmetic drops the name, comparisons filter", "[promql][engine]") {
  Fixture f;
  add_basic(f);
  auto v = f.instant("g + 1", 30);
  REQUIRE(v.size() == 3);
  CHECK(v[0].labels.get("__name__").empty());
  CHECK(find(v, "instance", "2") == 11);
  CHECK(f.instant("g > 5", 30).size() == 2);  // 4, 8, 10
  CHECK(f.instant("g > 5", 30)[0].labels.get("__name__") == "g");
  CHECK(f.instant("g > bool 5", 30).size() == 3);
  CHECK(f.instant("g > bool 5", 30)[0].labels.get("__name__").empty());
  // Scalar on the left of a comparison keeps the vector's value.
  CHECK(f.one("9 < g", 30) == 10);
  CHECK(f.one("2 ^ 3 * 2 - 1", 30) == 15);
  CHECK(f.one("7 % 4", 30) == 3);
  CHECK(f.one("1 == bool 1", 30) == 1);
  CHECK(f.one("-c", 60) == -6);
  CHECK(f.one("c atan2 c", 60) == Approx(std::atan2(6, 6)));
  CHECK(f.one("time()", 30) == 30);
  CHECK(f.one("scalar(c) * 2", 60) == 12);
  CHECK(std::isnan(f.one("scalar(g)", 30)));  // three samples
  CHECK(f.one("vector(3)", 30) == 3);
  CHECK(std::get<String>(f.engine.instant_query("\"hi\"", 1000).value).v == "hi");
}

TEST_CASE("promql engine: vector matching", "[promql][engine]") {
  Fixture f;
  add_basic(f);
  f.add({{"__name__", "w"}, {"job", "b"}}, {{30, 100}});
  f.add({{"__name__", "w"}, {"job", "a"}}, {{30, 200}});
  // one-to-one on(job): g{job=a} matches w{job=a}
  auto v = f.instant("g{job=\"a\"} + on(job) w", 30);
  REQUIRE(v.size() == 1);
  CHECK(v[0].v == 204);
  CHECK(v[0].labels == Labels{{"job", "a"}});
  // many-to-one needs group_left
  CHECK_THROWS_WITH(f.engine.instant_query("g + on(job) w", ms(30)),
                    Contains("many-to-one matching must be explicit"));
  v = f.instant("g + on(job) group_left w", 30);
  REQUIRE(v.size() == 3);
  CHECK(find(v, "instance", "2") == 110);
  CHECK(v[0].labels.get("__name__").empty());
  v = f.instant("w + on(job) group_right g", 30);
  REQUIRE(v.size() == 3);
  CHECK(find(v, "instance", "1") + 0 > 0);
  // group_left(label) copies the label from the one side.
  f.add({{"__name__", "info"}, {"job", "b"}, {"team", "t1"}}, {{30, 1}});
  v = f.instant("g * on(job) group_left(team) info", 30);
  REQUIRE(v.size() == 2);
  for (const auto& s : v) CHECK(s.labels.get("team") == "t1");
  // many-to-many: duplicates on the "one" side.
  CHECK_THROWS_WITH(f.engine.instant_query("w + on(job) group_left g", ms(30)),
                    Contains("many-to-many matching not allowed"));
  try {
    f.engine.instant_query("w + on(job) group_left g", ms(30));
  } catch (const QueryError& e) {
    CHECK(e.error_type() == "execution");
  }
  // ignoring(instance): g{job=b} has two series with the same signature.
  CHECK_THROWS_WITH(f.engine.instant_query("w + ignoring(instance) g", ms(30)),
                    Contains("many-to-many matching not allowed"));
  // No match: empty.
  CHECK(f.instant("g + w", 30).empty());
}

TEST_CASE("promql engine: and, or, unless", "[promql][engine]") {
  Fixture f;
  add_basic(f);
  CHECK(f.instant("g and g > 5", 30).size() == 2);
  CHECK(f.instant("g unless g > 5", 30).size() == 1);
  CHECK(f.instant("g > 5 or g", 30).size() == 3);
  // The right side adds only the job it does not share with the left.
  auto v = f.instant("g{job=\"a\"} or on(job) g", 30);
  CHECK(v.size() == 3);
  v = f.instant("g{job=\"b\"} or on(job) g", 30);
  CHECK(v.size() == 3);
  v = f.instant("g{instance=\"1\"} or on(job) g", 30);
  CHECK(v.size() == 2);
  v = f.instant("c or vector(1)", 60);
  CHECK(v.size() == 2);
  CHECK(f.instant("g and on(job) c", 30).size() == 1);
}

TEST_CASE("promql engine: aggregations", "[promql][engine]") {
  Fixture f;
  add_basic(f);
  // At 30 s: g = a/1:4, b/1:8, b/2:10
  CHECK(f.one("sum(g)", 30) == 22);
  auto v = f.instant("sum by (job) (g)", 30);
  REQUIRE(v.size() == 2);
  CHECK(find(v, "job", "b") == 18);
  CHECK(v[0].labels.get("__name__").empty());
  v = f.instant("sum without (instance) (g)", 30);
  REQUIRE(v.size() == 2);
  CHECK(v[0].labels.get("__name__").empty());
  CHECK(f.one("avg(g)", 30) == Approx(22.0 / 3));
  CHECK(f.one("count(g)", 30) == 3);
  CHECK(f.one("min(g)", 30) == 4);
  CHECK(f.one("max(g)", 30) == 10);
  CHECK(f.one("group(g)", 30) == 1);
  double mean = 22.0 / 3;
  double var = ((4 - mean) * (4 - mean) + (8 - mean) * (8 - mean) + (10 - mean) * (10 - mean)) / 3;
  CHECK(f.one("stdvar(g)", 30) == Approx(var));
  CHECK(f.one("stddev(g)", 30) == Approx(std::sqrt(var)));
  CHECK(f.one("quantile(0.5, g)", 30) == 8);
  CHECK(f.one("quantile(0.75, g)", 30) == 9);
  v = f.instant("topk(2, g)", 30);
  REQUIRE(v.size() == 2);
  CHECK(v[0].v == 10);
  CHECK(v[1].v == 8);
  CHECK(v[0].labels.get("__name__") == "g");  // topk keeps the labels
  v = f.instant("bottomk(1, g)", 30);
  REQUIRE(v.size() == 1);
  CHECK(v[0].v == 4);
  CHECK(f.instant("topk(1, g) by (job)", 30).size() == 2);
  CHECK(f.instant("topk(0, g)", 30).empty());
  v = f.instant("count_values(\"val\", g)", 30);
  REQUIRE(v.size() == 3);
  CHECK(find(v, "val", "10") == 1);
  f.add({{"__name__", "g"}, {"job", "c"}, {"instance", "9"}}, {{30, 4}});
  CHECK(find(f.instant("count_values(\"val\", g)", 30), "val", "4") == 2);
  CHECK(f.instant("limitk(2, g)", 30).size() == 2);
  CHECK(f.instant("limit_ratio(1, g)", 30).size() == 4);
  CHECK(f.instant("limit_ratio(0, g)", 30).empty());
  // limit_ratio(r) and limit_ratio(r - 1) split the series between them.
  CHECK(f.instant("limit_ratio(0.5, g)", 30).size() +
            f.instant("limit_ratio(-0.5, g)", 30).size() ==
        4);
}

TEST_CASE("promql engine: histogram_quantile on classic buckets", "[promql][engine]") {
  Fixture f;
  auto bucket = [&](const char* le, double v) {
    f.add({{"__name__", "lat_bucket"}, {"job", "a"}, {"le", le}}, {{10, v}});
  };
  bucket("0.1", 10);
  bucket("0.5", 30);
  bucket("1", 40);
  bucket("+Inf", 40);
  // rank 20 falls into (0.1, 0.5] holding 20 of them, 10 below: 0.1 + 0.4 * 10/20
  CHECK(f.one("histogram_quantile(0.5, lat_bucket)", 10) == Approx(0.3));
  CHECK(f.one("histogram_quantile(0.99, lat_bucket)", 10) == Approx(0.98));
  CHECK(f.one("histogram_quantile(1, lat_bucket)", 10) == Approx(1));
  CHECK(f.one("histogram_quantile(2, lat_bucket)", 10) == INFINITY);
  auto v = f.instant("histogram_quantile(0.5, lat_bucket)", 10);
  CHECK(v[0].labels == Labels{{"job", "a"}});
  // Without a +Inf bucket the result is NaN.
  f.add({{"__name__", "n_bucket"}, {"le", "1"}}, {{10, 1}});
  CHECK(std::isnan(f.one("histogram_quantile(0.5, n_bucket)", 10)));
}

TEST_CASE("promql engine: label_replace and label_join", "[promql][engine]") {
  Fixture f;
  add_basic(f);
  auto v = f.instant("label_replace(c, \"dst\", \"x-$1-${1}\", \"job\", \"(.*)\")", 60);
  REQUIRE(v.size() == 1);
  CHECK(v[0].labels.get("dst") == "x-a-a");
  CHECK(v[0].labels.get("__name__") == "c");
  // No match: unchanged; regex is anchored.
  v = f.instant("label_replace(c, \"dst\", \"$1\", \"job\", \"b|x\")", 60);
  CHECK(v[0].labels.get("dst").empty());
  // Empty replacement deletes the label.
  v = f.instant("label_replace(c, \"job\", \"\", \"job\", \".*\")", 60);
  CHECK(v[0].labels.get("job").empty());
  // Named groups.
  v = f.instant("label_replace(c, \"d\", \"$name\", \"job\", \"(?P<name>a)\")", 60);
  CHECK(v[0].labels.get("d") == "a");
  CHECK(f.error_type("label_replace(c, \"d\", \"\", \"job\", \"(\")", 60) == "execution");
  // Two series ending up with the same labels.
  CHECK_THROWS_WITH(
      f.engine.instant_query("label_replace(g, \"instance\", \"\", \"instance\", \".*\")", ms(30)),
      Contains("same labelset"));
  v = f.instant("label_join(g{job=\"a\"}, \"j\", \"-\", \"job\", \"instance\")", 30);
  CHECK(v[0].labels.get("j") == "a-1");
}

TEST_CASE("promql engine: math, clamp, round, date and trig functions", "[promql][engine]") {
  Fixture f;
  f.add({{"__name__", "m"}}, {{10, -2.5}});
  CHECK(f.one("abs(m)", 10) == 2.5);
  CHECK(f.one("ceil(m)", 10) == -2);
  CHECK(f.one("floor(m)", 10) == -3);
  CHECK(f.one("round(m)", 10) == -2);  // floor(x + 0.5)
  CHECK(f.one("round(m, 2)", 10) == -2);
  CHECK(f.one("sgn(m)", 10) == -1);
  CHECK(f.one("clamp(m, -1, 1)", 10) == -1);
  CHECK(f.instant("clamp(m, 1, -1)", 10).empty());
  CHECK(f.one("clamp_min(m, 0)", 10) == 0);
  CHECK(f.one("clamp_max(m, -3)", 10) == -3);
  CHECK(f.one("exp(abs(m) - 2.5)", 10) == 1);
  CHECK(f.one("sqrt(abs(m) * 10 - 16)", 10) == 3);
  CHECK(f.one("ln(abs(m) - 1.5)", 10) == 0);
  CHECK(f.one("log2(abs(m) + 5.5)", 10) == 3);
  CHECK(f.one("log10(abs(m) * 40)", 10) == 2);
  CHECK(f.one("deg(vector(pi()))", 10) == Approx(180));
  CHECK(f.one("rad(vector(180))", 10) == Approx(M_PI));
  CHECK(f.one("cos(vector(0))", 10) == 1);
  CHECK(f.one("atanh(vector(0))", 10) == 0);
  CHECK(f.instant("abs(m)", 10)[0].labels.empty());
  CHECK(f.one("hour(vector(5 * 3600 + 7 * 60))", 10) == 5);
  CHECK(f.one("minute(vector(5 * 3600 + 7 * 60))", 10) == 7);
  CHECK(f.one("day_of_week(vector(0))", 10) == 4);  // 1970-01-01 was a Thursday
  CHECK(f.one("month(vector(86400 * 31))", 10) == 2);
  CHECK(f.one("days_in_month(vector(86400 * 31))", 10) == 28);
  CHECK(f.one("day_of_month(vector(86400 * 31))", 10) == 1);
  CHECK(f.one("day_of_year(vector(86400 * 40))", 10) == 41);
  CHECK(f.one("year(vector(1700000000))", 10) == 2023);
  CHECK(f.one("year()", 1700000000) == 2023);
  CHECK(f.one("timestamp(m)", 100) == 10);  // the sample's time, not the evaluation time
  CHECK(f.one("timestamp(abs(m))", 100) == 100);
  auto v = f.instant("absent(nope{job=\"x\"})", 10);
  REQUIRE(v.size() == 1);
  CHECK(v[0].labels == Labels{{"job", "x"}});
  CHECK(f.instant("absent(m)", 10).empty());
}

TEST_CASE("promql engine: sort functions order an instant vector", "[promql][engine]") {
  Fixture f;
  add_basic(f);
  auto v = f.instant("sort(g)", 30);
  REQUIRE(v.size() == 3);
  CHECK(v[0].v == 4);
  CHECK(v[2].v == 10);
  v = f.instant("sort_desc(g)", 30);
  CHECK(v[0].v == 10);
  v = f.instant("sort_by_label_desc(g, \"instance\")", 30);
  CHECK(v[0].labels.get("instance") == "2");
}

TEST_CASE("promql engine: subqueries", "[promql][engine]") {
  Fixture f;
  add_basic(f);
  // c[40s:10s] at 60 s: steps 30, 40, 50, 60 (20 is excluded, left-open).
  CHECK(f.one("count_over_time(c[40s:10s])", 60) == 4);
  CHECK(f.one("sum_over_time(c[40s:10s])", 60) == 3 + 4 + 5 + 6);
  CHECK(f.one("max_over_time(rate(c[20s])[30s:10s])", 60) == Approx(0.1));
  CHECK(f.one("sum_over_time(c[20s:10s] offset 10s)", 60) == 4 + 5);
  CHECK(f.one("sum_over_time(c[20s:10s] @ 30)", 1000) == 2 + 3);
  auto r = f.engine.instant_query("c[20s:10s]", ms(60));
  const auto& m = std::get<Matrix>(r.value);
  REQUIRE(m.size() == 1);
  CHECK(m[0].points.size() == 2);
}

TEST_CASE("promql engine: range queries evaluate every step", "[promql][engine]") {
  Fixture f;
  add_basic(f);
  auto r = f.engine.range_query("sum by (job) (g)", ms(10), ms(30), ms(10));
  const auto& m = std::get<Matrix>(r.value);
  REQUIRE(m.size() == 2);
  CHECK(m[0].labels == Labels{{"job", "a"}});  // sorted by labels
  REQUIRE(m[1].points.size() == 3);
  CHECK(m[1].points[0].v == 8);
  CHECK(m[1].points[1].v == 11);
  CHECK(m[1].points[2].v == 18);
  CHECK(m[1].points[2].t == 30000);
  r = f.engine.range_query("time()", ms(0), ms(20), ms(10));
  const auto& s = std::get<Matrix>(r.value);
  REQUIRE(s.size() == 1);
  CHECK(s[0].points.size() == 3);
  CHECK(s[0].points[2].v == 20);
  // rate over every step agrees with instant queries at those steps.
  r = f.engine.range_query("rate(c[1m])", ms(30), ms(90), ms(15));
  for (const auto& p : std::get<Matrix>(r.value)[0].points)
    CHECK(p.v == Approx(f.one("rate(c[1m])", p.t / 1000.0)));
  CHECK_THROWS_AS(f.engine.range_query("c[1m]", 0, 1000, 10), BadDataError);
  CHECK_THROWS_AS(f.engine.range_query("c", 0, 1000, 0), BadDataError);
}

namespace {

// Counts select() calls and records their hints, over a real DB.
class CountingQueryable : public Queryable {
 public:
  explicit CountingQueryable(const Queryable& inner) : inner_(inner) {}
  std::vector<strata::tsdb::Series> select(const std::vector<LabelMatcher>& m, std::int64_t mint,
                                           std::int64_t maxt,
                                           const SelectHints& hints) const override {
    std::unique_lock lock(mu_);
    ++calls;
    last_hints = hints;
    last_mint = mint;
    last_maxt = maxt;
    cv_.wait(lock, [&] { return !blocked; });
    lock.unlock();
    return inner_.select(m, mint, maxt, hints);
  }
  void unblock() {
    std::lock_guard lock(mu_);
    blocked = false;
    cv_.notify_all();
  }
  int call_count() const {
    std::lock_guard lock(mu_);
    return calls;
  }
  mutable int calls = 0;
  mutable SelectHints last_hints;
  mutable std::int64_t last_mint = 0, last_maxt = 0;
  bool blocked = false;

 private:
  const Queryable& inner_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
};

}  // namespace

TEST_CASE("promql engine: a range query reads each selector once, with hints", "[promql][engine]") {
  Fixture f;
  add_basic(f);
  CountingQueryable counting(f.store);
  Engine e(counting);
  auto r = e.range_query("rate(c[1m] offset 10s)", ms(100), ms(1000), ms(1));  // 901 steps
  CHECK(counting.calls == 1);
  CHECK(counting.last_hints.func == "rate");
  CHECK(counting.last_hints.step_ms == 1000);
  CHECK(counting.last_mint == ms(100 - 10 - 60) + 1);
  CHECK(counting.last_maxt == ms(1000 - 10));
  QueryOptions o;
  o.max_source_resolution = kRes5m;
  e.instant_query("c", ms(60), o);
  CHECK(counting.calls == 2);
  CHECK(counting.last_hints.resolution == kRes5m);
  CHECK(counting.last_hints.step_ms == 0);
}

TEST_CASE("promql engine: limits raise errors with Prometheus's errorType", "[promql][engine]") {
  Fixture f;
  add_basic(f);
  EngineOptions o;
  o.max_samples = 5;
  Engine small(f.store, o);
  try {
    small.range_query("c", ms(0), ms(100), ms(1));
    FAIL("expected an error");
  } catch (const ExecutionError& e) {
    CHECK(e.error_type() == "execution");
    CHECK_THAT(e.what(), Contains("too many samples"));
  }
  o = {};
  o.timeout = std::chrono::milliseconds(0);
  Engine instant_timeout(f.store, o);
  try {
    instant_timeout.instant_query("c", ms(60));
    FAIL("expected an error");
  } catch (const QueryError& e) {
    CHECK(e.error_type() == "timeout");
  }
  std::atomic<bool> cancel{true};
  QueryOptions qo;
  qo.cancel = &cancel;
  try {
    f.engine.instant_query("c", ms(60), qo);
    FAIL("expected an error");
  } catch (const CanceledError& e) {
    CHECK(e.error_type() == "canceled");
  }
  CHECK(f.error_type("sum(", 60) == "bad_data");
  CHECK(f.error_type("rate(c)", 60) == "bad_data");
}

TEST_CASE("promql engine: concurrent queries beyond the limit wait, then time out",
          "[promql][engine]") {
  Fixture f;
  add_basic(f);
  CountingQueryable blocking(f.store);
  blocking.blocked = true;
  EngineOptions o;
  o.max_concurrent_queries = 1;
  o.timeout = std::chrono::milliseconds(300);
  Engine e(blocking, o);
  std::thread first([&] {
    try {
      e.instant_query("c", ms(60));
    } catch (const QueryError&) {
      // It may time out itself while blocked; only the second query matters.
    }
  });
  while (blocking.call_count() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  try {
    e.instant_query("c", ms(60));
    FAIL("expected the second query to wait for a slot and time out");
  } catch (const TimeoutError& err) {
    CHECK(err.error_type() == "timeout");
    CHECK_THAT(err.what(), Contains("queue"));
  }
  blocking.unblock();
  first.join();
  // The slot is free again.
  o.timeout = std::chrono::seconds(10);
  CHECK(blocking.call_count() == 1);
}

TEST_CASE("promql engine: a large selection decoded on several threads gives the one-thread answer",
          "[promql]") {
  // 600 series (over the 256 that split decoding), with counter resets,
  // stale markers and gaps, so every part sees each case.
  Fixture f;
  for (int s = 0; s < 600; ++s) {
    std::vector<std::pair<double, double>> pts;
    for (int i = 0; i < 120; ++i) {
      if ((i + s) % 37 == 0) continue;  // a gap
      double v = (i % (20 + s % 7)) * (s + 1);
      if (s % 50 == 0 && i == 80) v = wire::stale_nan();
      pts.push_back({10.0 * i, v});
    }
    f.add({{"__name__", s % 2 ? "m_total" : "n_total"},
           {"job", "j" + std::to_string(s % 3)},
           {"id", std::to_string(s)}},
          pts);
  }
  EngineOptions one;
  one.decode_threads = 1;
  EngineOptions four;
  four.decode_threads = 4;
  Engine serial(f.store, one), parallel(f.store, four);
  for (const char* q : {"{__name__=~\".+_total\"}", "count by (job) ({__name__=~\".+\"})",
                        "sum by (job) (rate({__name__=~\".+_total\"}[1m]))",
                        "topk(3, increase(m_total[2m]))", "timestamp(m_total)"}) {
    INFO(q);
    auto a = serial.range_query(q, ms(0), ms(1200), ms(30));
    auto b = parallel.range_query(q, ms(0), ms(1200), ms(30));
    const auto& ma = std::get<Matrix>(a.value);
    const auto& mb = std::get<Matrix>(b.value);
    REQUIRE(ma.size() == mb.size());
    REQUIRE(!ma.empty());
    for (std::size_t i = 0; i < ma.size(); ++i) {
      REQUIRE(ma[i].labels == mb[i].labels);
      REQUIRE(ma[i].points.size() == mb[i].points.size());
      for (std::size_t k = 0; k < ma[i].points.size(); ++k) {
        REQUIRE(ma[i].points[k].t == mb[i].points[k].t);
        REQUIRE(std::bit_cast<std::uint64_t>(ma[i].points[k].v) ==
                std::bit_cast<std::uint64_t>(mb[i].points[k].v));
      }
    }
  }
  // The sample limit still counts every part.
  EngineOptions limited = four;
  limited.max_samples = 1000;
  Engine small(f.store, limited);
  REQUIRE_THROWS_WITH(small.range_query("{__name__=~\".+_total\"}", ms(0), ms(1200), ms(30)),
                      Contains("too many samples"));
}
