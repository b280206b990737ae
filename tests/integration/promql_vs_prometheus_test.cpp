// The PromQL engine against the real thing: one deterministic dataset
// (counters with resets, gauges, a classic histogram, a series that stops
// mid-way; several jobs and instances; 15 s interval over an hour) is
// written as OpenMetrics, turned into Prometheus blocks with promtool and
// served by Debian's Prometheus on a free loopback port; the same samples
// are appended to a Strata DB. Every query is then run by both, as instant
// queries at a few times and as range queries, and the results must agree:
// same label sets, values equal within 1e-9 relative, NaN == NaN, and an
// error on one side only is a mismatch.
//
// The installed Prometheus is 2.42; Strata implements Prometheus 3. The
// data and times are chosen so the semantic changes between them do not
// show: sample timestamps carry 1..499 ms of jitter and evaluation times
// end in .777 s, so no sample ever sits exactly on a left-open range or
// lookback boundary (closed in 2.42, open in 3.x). Queries that still
// differ by design are listed in kSkipped with the reason;
// docs/promql_engine.md explains them.
#include <catch2/catch.hpp>

#include <simdjson.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/http_client.h"
#include "common/metrics_registry.h"
#include "tests/support/process.h"
#include "tests/support/prometheus_server.h"
#include "tests/unit/tsdb_test_db.h"
#include "tsdb/promql/engine.h"
#include "tsdb/query_api.h"

using namespace strata;
using namespace std::chrono_literals;
namespace promql = strata::tsdb::promql;

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;  // 2023-11-14T22:13:20Z, a multiple of 60 s
constexpr std::int64_t kInterval = 15'000;
constexpr int kSamples = 240;  // one hour

std::int64_t at(int minutes, int ms) { return kT0 + minutes * 60'000LL + ms; }

// Deterministic pseudo-random numbers (an LCG), so both stores get the
// same data on every run.
struct Rng {
  std::uint64_t s;
  double next() {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(s >> 11) / 9007199254740992.0;
  }
};

struct GenSeries {
  Labels labels;
  std::vector<wire::Sample> samples;
};

std::vector<GenSeries> dataset() {
  std::vector<GenSeries> out;
  Rng rng{42};
  auto jitter = [&] { return 1 + static_cast<std::int64_t>(rng.next() * 498); };
  const char* jobs[] = {"api", "web"};
  const char* methods[] = {"get", "post"};
  for (const char* job : jobs)
    for (int inst = 0; inst < 3; ++inst) {
      std::string instance = std::to_string(inst);
      for (const char* method : methods) {
        GenSeries s{{{"__name__", "http_requests_total"},
                     {"job", job},
                     {"instance", instance},
                     {"method", method}},
                    {}};
        double v = 100 * rng.next();
        for (int i = 0; i < kSamples; ++i) {
          v += std::floor(20 * rng.next());
          // Resets: instance 1 at 25 min, instance 2 at 40 min.
          if ((inst == 1 && i == 100) || (inst == 2 && i == 160)) v = std::floor(5 * rng.next());
          s.samples.push_back({kT0 + i * kInterval + jitter(), v});
        }
        out.push_back(std::move(s));
      }
      GenSeries g{{{"__name__", "cpu_temp"}, {"job", job}, {"instance", instance}}, {}};
      GenSeries up{{{"__name__", "up"}, {"job", job}, {"instance", instance}}, {}};
      for (int i = 0; i < kSamples; ++i) {
        double v = 50 + 10 * std::sin(i / 20.0 + inst) + std::round(rng.next() * 1000) / 1000;
        g.samples.push_back({kT0 + i * kInterval + jitter(), v});
        up.samples.push_back(
            {kT0 + i * kInterval + jitter(), (i / 30 + inst) % 5 == 0 ? 0.0 : 1.0});
      }
      out.push_back(std::move(g));
      out.push_back(std::move(up));
    }
  // A series that stops after 40 minutes.
  GenSeries partial{{{"__name__", "partial_gauge"}, {"job", "api"}}, {}};
  for (int i = 0; i < 160; ++i)
    partial.samples.push_back({kT0 + i * kInterval + jitter(), static_cast<double>(i % 7)});
  out.push_back(std::move(partial));
  // A classic histogram per api instance.
  const char* les[] = {"0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"};
  const double bounds[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, INFINITY};
  for (int inst = 0; inst < 2; ++inst) {
    std::string instance = std::to_string(inst);
    std::vector<GenSeries> buckets;
    for (const char* le : les)
      buckets.push_back({{{"__name__", "request_duration_seconds_bucket"},
                          {"job", "api"},
                          {"instance", instance},
                          {"le", le}},
                         {}});
    GenSeries sum{
        {{"__name__", "request_duration_seconds_sum"}, {"job", "api"}, {"instance", instance}}, {}};
    GenSeries count{
        {{"__name__", "request_duration_seconds_count"}, {"job", "api"}, {"instance", instance}},
        {}};
    std::vector<double> counts(7, 0);
    double total = 0;
    for (int i = 0; i < kSamples; ++i) {
      std::int64_t t = kT0 + i * kInterval + jitter();
      int n = 1 + static_cast<int>(rng.next() * 30);
      for (int k = 0; k < n; ++k) {
        double d = std::pow(rng.next(), 2) * (inst == 0 ? 1.5 : 3);
        total += d;
        for (int b = 0; b < 7; ++b)
          if (d <= bounds[b]) counts[b] += 1;
      }
      for (int b = 0; b < 7; ++b) buckets[b].samples.push_back({t, counts[b]});
      sum.samples.push_back({t, total});
      count.samples.push_back({t, counts[6]});
    }
    for (auto& b : buckets) out.push_back(std::move(b));
    out.push_back(std::move(sum));
    out.push_back(std::move(count));
  }
  return out;
}

std::string format_double(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

void write_openmetrics(const std::vector<GenSeries>& data, const std::string& path) {
  std::ofstream out(path);
  for (const auto& s : data) {
    std::string name(s.labels.get("__name__"));
    std::string labels;
    for (const auto& [k, v] : s.labels.items()) {
      if (k == "__name__") continue;
      labels += (labels.empty() ? "" : ",") + k + "=\"" + v + "\"";
    }
    for (const auto& p : s.samples) {
      char ts[64];
      std::snprintf(ts, sizeof ts, "%lld.%03lld", static_cast<long long>(p.timestamp_ms / 1000),
                    static_cast<long long>(p.timestamp_ms % 1000));
      out << name << "{" << labels << "} " << format_double(p.value) << " " << ts << "\n";
    }
  }
  out << "# EOF\n";
}

// One query's result in a form both sides convert to: label set -> points.
struct Canon {
  bool ok = true;
  std::string error;
  std::string type;
  std::map<Labels, std::vector<std::pair<std::int64_t, double>>> series;
};

double parse_value(std::string_view s) {
  std::string str(s);
  return std::strtod(str.c_str(), nullptr);  // handles NaN, +Inf, -Inf
}

Canon canon_ours(const promql::QueryResult& r) {
  Canon c;
  if (auto* s = std::get_if<promql::Scalar>(&r.value)) {
    c.type = "scalar";
    c.series[Labels{}].push_back({s->t, s->v});
  } else if (auto* v = std::get_if<promql::Vector>(&r.value)) {
    c.type = "vector";
    for (const auto& x : *v) c.series[x.labels].push_back({x.t, x.v});
  } else if (auto* m = std::get_if<promql::Matrix>(&r.value)) {
    c.type = "matrix";
    for (const auto& x : *m)
      for (const auto& p : x.points) c.series[x.labels].push_back({p.t, p.v});
  } else {
    c.type = "string";
  }
  return c;
}

class Prometheus : public testing::PrometheusServer {
 public:
  using PrometheusServer::PrometheusServer;

  http::ClientResponse raw(const std::string& path) { return client_.get(base() + path); }

  Canon query(const std::string& path) {
    auto r = client_.get(base() + path);
    Canon c;
    simdjson::dom::element doc;
    if (parser_.parse(r.body).get(doc)) {
      c.ok = false;
      c.error = "unparsable response: " + r.body;
      return c;
    }
    std::string_view status;
    if (doc["status"].get(status) || status != "success") {
      c.ok = false;
      std::string_view err;
      if (!doc["error"].get(err)) c.error = std::string(err);
      return c;
    }
    std::string_view type = doc["data"]["resultType"].get_string().value();
    c.type = std::string(type);
    auto result = doc["data"]["result"];
    auto point = [](simdjson::dom::array a) {
      auto it = a.begin();
      double t = (*it).get_double().value();
      ++it;
      double v = parse_value((*it).get_string().value());
      return std::pair<std::int64_t, double>{std::llround(t * 1000), v};
    };
    if (type == "scalar") {
      c.series[Labels{}].push_back(point(result.get_array().value()));
      return c;
    }
    for (simdjson::dom::element s : result.get_array()) {
      std::vector<Label> items;
      for (auto field : s["metric"].get_object())
        items.emplace_back(std::string(field.key), std::string(field.value.get_string().value()));
      Labels labels(std::move(items));
      auto& pts = c.series[labels];
      if (type == "vector") {
        pts.push_back(point(s["value"].get_array().value()));
      } else {
        for (simdjson::dom::element p : s["values"].get_array())
          pts.push_back(point(p.get_array().value()));
      }
    }
    return c;
  }

 private:
  http::HttpClient client_;
  simdjson::dom::parser parser_;
};

bool same_value(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (a == b) return true;
  return std::fabs(a - b) <= 1e-9 * std::max(std::fabs(a), std::fabs(b));
}

// "" when equal, else what differs.
std::string diff(const Canon& ours, const Canon& theirs) {
  if (!ours.ok || !theirs.ok) {
    if (ours.ok != theirs.ok)
      return std::string("error on one side only: ours=") + (ours.ok ? "ok" : ours.error) +
             " theirs=" + (theirs.ok ? "ok" : theirs.error);
    return "";
  }
  if (ours.type != theirs.type) return "result type " + ours.type + " vs " + theirs.type;
  for (const auto& [labels, pts] : theirs.series)
    if (!ours.series.contains(labels)) return "missing series " + labels.to_string();
  for (const auto& [labels, pts] : ours.series) {
    auto it = theirs.series.find(labels);
    if (it == theirs.series.end()) return "extra series " + labels.to_string();
    const auto& tp = it->second;
    if (pts.size() != tp.size())
      return labels.to_string() + ": " + std::to_string(pts.size()) + " points vs " +
             std::to_string(tp.size());
    for (std::size_t i = 0; i < pts.size(); ++i) {
      if (pts[i].first != tp[i].first)
        return labels.to_string() + ": timestamp " + std::to_string(pts[i].first) + " vs " +
               std::to_string(tp[i].first);
      if (!same_value(pts[i].second, tp[i].second)) {
        char buf[128];
        std::snprintf(buf, sizeof buf, " at %lld: %.17g vs %.17g",
                      static_cast<long long>(pts[i].first), pts[i].second, tp[i].second);
        return labels.to_string() + buf;
      }
    }
  }
  return "";
}

std::string secs(std::int64_t t) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%lld.%03lld", static_cast<long long>(t / 1000),
                static_cast<long long>(t % 1000));
  return buf;
}

// A query as Strata and as Prometheus 2.42 spell it (they differ only for
// renamed functions).
struct Query {
  std::string ours;
  std::string theirs;
};

std::vector<Query> queries() {
  const std::string at_t = secs(at(20, 777));
  std::vector<std::string> q = {
      // selectors, offset, @
      "http_requests_total",
      "http_requests_total{job=\"api\"}",
      "http_requests_total{method!=\"get\"}",
      "http_requests_total{instance=~\"0|1\"}",
      "http_requests_total{instance!~\"0\", job=\"web\"}",
      "{__name__=~\"cpu_.*\"}",
      "{__name__=~\"request_duration_seconds_(sum|count)\"}",
      "cpu_temp offset 5m",
      "cpu_temp offset -2m",
      "cpu_temp offset 1h",
      "cpu_temp @ " + at_t,
      "cpu_temp @ start()",
      "cpu_temp @ end()",
      "cpu_temp @ " + at_t + " offset 1m",
      "partial_gauge",
      "up",
      "nonexistent",
      // range functions
      "rate(http_requests_total[5m])",
      "rate(http_requests_total[1m])",
      "rate(http_requests_total[10m])",
      "rate(http_requests_total[30s])",
      "rate(http_requests_total{job=\"api\"}[5m] offset 10m)",
      "rate(http_requests_total[5m] @ " + at_t + ")",
      "rate(http_requests_total[5m] @ end())",
      "increase(http_requests_total[5m])",
      "increase(http_requests_total[15m])",
      "increase(request_duration_seconds_count[10m])",
      "delta(cpu_temp[5m])",
      "delta(cpu_temp[20m])",
      "irate(http_requests_total[5m])",
      "irate(http_requests_total[1m])",
      "idelta(cpu_temp[2m])",
      "deriv(cpu_temp[10m])",
      "deriv(http_requests_total[5m])",
      "predict_linear(cpu_temp[10m], 600)",
      "predict_linear(http_requests_total[15m], 3600)",
      "resets(http_requests_total[30m])",
      "resets(http_requests_total[10m])",
      "changes(cpu_temp[10m])",
      "changes(up[30m])",
      "avg_over_time(cpu_temp[5m])",
      "avg_over_time(partial_gauge[10m])",
      "min_over_time(cpu_temp[5m])",
      "max_over_time(cpu_temp[5m])",
      "sum_over_time(cpu_temp[5m])",
      "sum_over_time(up[10m])",
      "count_over_time(cpu_temp[5m])",
      "count_over_time(partial_gauge[30m])",
      "last_over_time(cpu_temp[5m])",
      "last_over_time(partial_gauge[15m])",
      "present_over_time(partial_gauge[10m])",
      "stddev_over_time(cpu_temp[10m])",
      "stdvar_over_time(cpu_temp[10m])",
      "quantile_over_time(0.9, cpu_temp[10m])",
      "quantile_over_time(0.1, cpu_temp[10m])",
      "quantile_over_time(0.5, up[20m])",
      "absent_over_time(nonexistent[5m])",
      "absent_over_time(nonexistent{job=\"x\", instance=~\"y\"}[5m])",
      "absent_over_time(cpu_temp[5m])",
      "absent_over_time(partial_gauge[5m])",
      // subqueries
      "max_over_time(rate(http_requests_total[5m])[30m:1m])",
      "avg_over_time(cpu_temp[10m:])",
      "min_over_time(sum(cpu_temp)[15m:30s])",
      "rate(http_requests_total[10m:1m])",
      "deriv(sum(cpu_temp)[10m:1m])",
      "max_over_time(cpu_temp[10m:1m] offset 5m)",
      "sum_over_time(up[20m:2m])",
      "count_over_time(cpu_temp[7m:45s])",
      "last_over_time(rate(http_requests_total[2m])[5m:20s] @ " + at_t + ")",
      "max_over_time(deriv(cpu_temp[5m])[20m:1m])",
      // elementwise functions
      "abs(cpu_temp - 50)",
      "ceil(cpu_temp)",
      "floor(cpu_temp)",
      "round(cpu_temp)",
      "round(cpu_temp, 0.5)",
      "round(cpu_temp, 5)",
      "exp(cpu_temp / 100)",
      "sqrt(cpu_temp)",
      "ln(cpu_temp)",
      "log2(cpu_temp)",
      "log10(cpu_temp)",
      "sgn(cpu_temp - 50)",
      "clamp(cpu_temp, 45, 55)",
      "clamp(cpu_temp, 55, 45)",
      "clamp_min(cpu_temp, 50)",
      "clamp_max(cpu_temp, 50)",
      "sin(cpu_temp)",
      "cos(cpu_temp)",
      "tan(cpu_temp)",
      "asin(cpu_temp / 100)",
      "acos(cpu_temp / 100)",
      "atan(cpu_temp)",
      "sinh(cpu_temp / 50)",
      "cosh(cpu_temp / 50)",
      "tanh(cpu_temp / 50)",
      "asinh(cpu_temp)",
      "acosh(cpu_temp)",
      "atanh(cpu_temp / 100)",
      "deg(cpu_temp)",
      "rad(cpu_temp)",
      "timestamp(cpu_temp)",
      "timestamp(sum(cpu_temp))",
      "time() - timestamp(cpu_temp)",
      "hour()",
      "minute()",
      "month()",
      "year()",
      "day_of_week()",
      "day_of_month()",
      "day_of_year()",
      "days_in_month()",
      "minute(timestamp(cpu_temp))",
      "hour(vector(1700000000 + 3600 * 30))",
      "vector(1)",
      "vector(time())",
      "scalar(sum(cpu_temp))",
      "scalar(cpu_temp)",
      "time()",
      "pi()",
      "sort(cpu_temp)",
      "sort_desc(cpu_temp)",
      "label_replace(cpu_temp, \"host\", \"h-$1\", \"instance\", \"(.*)\")",
      "label_replace(cpu_temp, \"job\", \"$2:$1\", \"job\", \"(a)(p.)\")",
      "label_replace(cpu_temp, \"instance\", \"\", \"instance\", \".*\")",
      "label_replace(up, \"__name__\", \"renamed\", \"job\", \"api\")",
      "label_join(cpu_temp, \"id\", \"/\", \"job\", \"instance\")",
      "label_join(up, \"x\", \"-\")",
      "absent(nonexistent)",
      "absent(nonexistent{job=\"x\", a=~\"b\"})",
      "absent(cpu_temp)",
      "absent(partial_gauge)",
      // histograms
      "histogram_quantile(0.5, request_duration_seconds_bucket)",
      "histogram_quantile(0.9, rate(request_duration_seconds_bucket[5m]))",
      "histogram_quantile(0.99, sum by (le) (rate(request_duration_seconds_bucket[5m])))",
      "histogram_quantile(0.5, sum by (job, le) (request_duration_seconds_bucket))",
      "histogram_quantile(0, request_duration_seconds_bucket)",
      "histogram_quantile(1, request_duration_seconds_bucket)",
      "histogram_quantile(1.5, request_duration_seconds_bucket)",
      "histogram_quantile(-0.5, request_duration_seconds_bucket)",
      "rate(request_duration_seconds_sum[5m]) / rate(request_duration_seconds_count[5m])",
      // aggregations
      "sum(http_requests_total)",
      "sum by (job) (rate(http_requests_total[5m]))",
      "sum without (instance) (rate(http_requests_total[5m]))",
      "sum by (__name__) ({__name__=~\"cpu_temp|up\"})",
      "avg(cpu_temp)",
      "avg by (job) (cpu_temp)",
      "count(cpu_temp)",
      "count by (method) (http_requests_total)",
      "count without (job, instance) (up)",
      "min(cpu_temp)",
      "min by (job) (cpu_temp)",
      "max(cpu_temp)",
      "max without (instance) (cpu_temp)",
      "group by (job) (cpu_temp)",
      "group(up)",
      "stddev(cpu_temp)",
      "stdvar by (job) (cpu_temp)",
      "stddev by (method) (rate(http_requests_total[5m]))",
      "topk(3, cpu_temp)",
      "topk by (job) (2, rate(http_requests_total[5m]))",
      "bottomk(2, cpu_temp)",
      "bottomk by (job) (1, cpu_temp)",
      "topk(scalar(count(up)) - 4, cpu_temp)",
      "quantile(0.5, cpu_temp)",
      "quantile by (job) (0.9, rate(http_requests_total[5m]))",
      "quantile(0, cpu_temp)",
      "count_values(\"value\", up)",
      "count_values(\"v\", round(cpu_temp))",
      "count_values by (job) (\"v\", up)",
      "sum(rate(http_requests_total[5m])) by (job, method)",
      "avg(avg_over_time(cpu_temp[5m]))",
      // binary operators
      "cpu_temp + 1",
      "1 - cpu_temp",
      "cpu_temp * 2",
      "cpu_temp / 3",
      "cpu_temp % 7",
      "cpu_temp ^ 2",
      "2 ^ (cpu_temp / 50)",
      "cpu_temp atan2 10",
      "cpu_temp > 50",
      "cpu_temp >= 50",
      "50 < cpu_temp",
      "cpu_temp != 50",
      "cpu_temp <= 50",
      "cpu_temp > bool 50",
      "50 >= bool cpu_temp",
      "up == 0",
      "up == bool 1",
      "1 + 2 * 3",
      "2 > bool 1",
      "(1 + 2) / 0",
      "-1 / 0 - 1",
      "0 / 0",
      "-cpu_temp",
      "- - cpu_temp",
      "+cpu_temp",
      "cpu_temp + cpu_temp",
      "cpu_temp - on(job, instance) cpu_temp",
      "cpu_temp / ignoring(job) cpu_temp",
      "http_requests_total / ignoring(method) group_left cpu_temp",
      "rate(http_requests_total[5m]) / on(job, instance) group_left cpu_temp",
      "sum by (job, instance) (rate(http_requests_total[5m])) / on(job, instance) cpu_temp",
      "cpu_temp * on(job) group_left sum by (job) (up)",
      "sum by (job, instance) (up) * on(job, instance) group_right http_requests_total",
      "cpu_temp * on(job, instance) group_left(method) http_requests_total{method=\"get\"}",
      "cpu_temp + on(job) cpu_temp",
      "http_requests_total + ignoring(method) cpu_temp",
      "cpu_temp > on(job, instance) up",
      "cpu_temp > bool on(job, instance) (cpu_temp offset 1m)",
      "scalar(sum(up)) * cpu_temp",
      // set operators
      "cpu_temp and cpu_temp > 50",
      "cpu_temp or up",
      "cpu_temp unless cpu_temp > 50",
      "up and on(job) (cpu_temp > 55)",
      "http_requests_total unless on(instance) (cpu_temp > 50)",
      "rate(http_requests_total[5m]) > 0.8 or rate(http_requests_total[5m]) < 0.2",
      "vector(1) or vector(2)",
      "partial_gauge or on() vector(0)",
      "up unless ignoring(job) up offset 10m",
      // more of each kind, to cover argument and modifier variants
      "http_requests_total{job=\"web\", method=\"post\"}",
      "http_requests_total{job=~\"a.*\", method!~\"g.*\"}",
      "{job=\"api\", __name__!=\"up\"}",
      "{__name__=\"cpu_temp\", instance!=\"2\"}",
      "cpu_temp offset 30s",
      "cpu_temp offset 15m",
      "up offset 20m",
      "http_requests_total @ start() offset -5m",
      "partial_gauge offset 10m",
      "partial_gauge @ end()",
      "rate(http_requests_total[2m])",
      "rate(http_requests_total[3m] offset 2m)",
      "increase(http_requests_total[2m])",
      "increase(http_requests_total[5m] offset 5m)",
      "delta(cpu_temp[1m])",
      "delta(partial_gauge[5m])",
      "irate(http_requests_total[30s])",
      "idelta(http_requests_total[5m])",
      "idelta(partial_gauge[3m])",
      "deriv(cpu_temp[2m])",
      "deriv(partial_gauge[10m])",
      "predict_linear(cpu_temp[5m], 0)",
      "predict_linear(cpu_temp[5m], -300)",
      "resets(cpu_temp[10m])",
      "changes(http_requests_total[5m])",
      "changes(partial_gauge[30m])",
      "avg_over_time(up[15m])",
      "min_over_time(http_requests_total[3m])",
      "max_over_time(partial_gauge[20m])",
      "sum_over_time(cpu_temp[1m])",
      "count_over_time(up[1h])",
      "last_over_time(up[1m])",
      "present_over_time(cpu_temp[1m])",
      "stddev_over_time(http_requests_total[5m])",
      "stdvar_over_time(up[30m])",
      "quantile_over_time(0.99, cpu_temp[30m])",
      "quantile_over_time(0, http_requests_total[5m])",
      "quantile_over_time(1, cpu_temp[5m])",
      "avg_over_time(rate(http_requests_total[1m])[10m:30s])",
      "min_over_time(cpu_temp[5m:1m] @ end())",
      "stddev_over_time(sum by (job) (cpu_temp)[20m:1m])",
      "quantile_over_time(0.5, max(cpu_temp)[15m:1m])",
      "changes(max(up)[30m:1m])",
      "sum_over_time(count(cpu_temp > 52)[10m:1m])",
      "abs(-cpu_temp)",
      "ceil(cpu_temp / 7)",
      "floor(-cpu_temp / 3)",
      "round(cpu_temp, 0.1)",
      "round(-cpu_temp)",
      "exp(up)",
      "ln(up)",
      "sqrt(cpu_temp - 55)",
      "clamp_min(cpu_temp, 60)",
      "clamp_max(up, 0.5)",
      "sgn(up - 1)",
      "cos(deg(pi()))",
      "rad(180) - pi()",
      "day_of_week(vector(1700000000))",
      "day_of_month(vector(1709251200))",
      "days_in_month(vector(1709251200))",
      "month(vector(1709251200))",
      "year(vector(0))",
      "minute(vector(1700000123))",
      "hour(timestamp(up))",
      "sum(cpu_temp) by (job)",
      "sum without (method) (http_requests_total)",
      "avg without (instance) (up)",
      "count(up == 1)",
      "max by (method) (rate(http_requests_total[5m]))",
      "min without () (cpu_temp)",
      "group without (job) (up)",
      "stddev without (job) (cpu_temp)",
      "stdvar(up)",
      "topk(1, sum by (job) (rate(http_requests_total[5m])))",
      "bottomk(3, rate(http_requests_total[5m]))",
      "topk by (method) (1, http_requests_total)",
      "quantile(0.25, rate(http_requests_total[5m]))",
      "quantile without (instance) (0.75, cpu_temp)",
      "count_values without (instance) (\"v\", up)",
      "sum(count_values(\"v\", up))",
      "avg(rate(http_requests_total[5m])) by (method)",
      "max(max_over_time(cpu_temp[10m]))",
      "sum by (le) (request_duration_seconds_bucket)",
      "count by (le) (request_duration_seconds_bucket)",
      "cpu_temp - 50 > 0",
      "(cpu_temp > 50) * 2",
      "up * 100 - 50",
      "cpu_temp < bool 52",
      "cpu_temp == bool cpu_temp",
      "http_requests_total > bool ignoring(method) group_left cpu_temp",
      "sum by (job) (http_requests_total) / ignoring(job) group_left sum(http_requests_total)",
      "up / on(job, instance) (cpu_temp > 0)",
      "rate(http_requests_total[5m]) * on(job, instance) group_left up",
      "cpu_temp and on(instance) up == 1",
      "cpu_temp or on(job) partial_gauge",
      "http_requests_total unless on(job) up == 0",
      "vector(3) * vector(4)",
      "scalar(vector(2)) ^ 3",
      "time() % 60",
      "-(cpu_temp)",
      "histogram_quantile(0.75, sum by (le, instance) (request_duration_seconds_bucket))",
      "histogram_quantile(0.25, rate(request_duration_seconds_bucket[2m]))",
      "sort_desc(sum by (job) (cpu_temp))",
      "label_replace(up, \"dst\", \"$1\", \"src\", \"(.*)\")",
      "label_join(http_requests_total, \"jm\", \",\", \"job\", \"method\")",
  };
  std::vector<Query> out;
  for (auto& s : q) out.push_back({s, s});
  // Renamed in Prometheus 3 (holt_winters in 2.42).
  out.push_back({"double_exponential_smoothing(cpu_temp[10m], 0.5, 0.3)",
                 "holt_winters(cpu_temp[10m], 0.5, 0.3)"});
  out.push_back(
      {"double_exponential_smoothing(up[20m], 0.1, 0.9)", "holt_winters(up[20m], 0.1, 0.9)"});
  return out;
}

// Queries Prometheus 2.42 cannot answer the Prometheus 3 way, with why.
struct Skipped {
  const char* query;
  const char* reason;
};
const Skipped kSkipped[] = {
    {"mad_over_time(cpu_temp[10m])", "mad_over_time is new in Prometheus 3 (experimental)"},
    {"limitk(2, cpu_temp)", "limitk is new in Prometheus 3"},
    {"limit_ratio(0.5, cpu_temp)", "limit_ratio is new in Prometheus 3"},
    {"sort_by_label(cpu_temp, \"instance\")", "sort_by_label is new in Prometheus 3"},
    {"histogram_avg(request_duration_seconds_bucket)",
     "native-histogram functions are new in Prometheus 3; no native histograms are stored"},
    {"timestamp((cpu_temp))",
     "Prometheus 3 looks through parentheses for timestamp(selector); 2.42 returns the "
     "evaluation time"},
};

// Queries whose results differ by design at some evaluation steps; their
// mismatches are reported, not failed.
struct KnownDifference {
  const char* query;
  const char* reason;
};
const KnownDifference kKnownDifferences[] = {
    {"cpu_temp atan2 10",
     "Prometheus 3 drops the metric name for atan2 like the other arithmetic operators; 2.42 "
     "keeps it"},
    // A counter window that reaches before the series' first sample: 3.x
    // caps the start gap at half an interval first and then at the zero
    // point; 2.42 did it the other way round.
    {"increase(request_duration_seconds_count[10m])", "rate extrapolation at series start"},
    {"rate(http_requests_total[10m:1m])", "rate extrapolation at series start"},
    {"histogram_quantile(0.25, rate(request_duration_seconds_bucket[2m]))",
     "rate extrapolation at series start"},
    {"histogram_quantile(0.9, rate(request_duration_seconds_bucket[5m]))",
     "rate extrapolation at series start"},
    {"histogram_quantile(0.99, sum by (le) (rate(request_duration_seconds_bucket[5m])))",
     "rate extrapolation at series start"},
    {"rate(request_duration_seconds_sum[5m]) / rate(request_duration_seconds_count[5m])",
     "rate extrapolation at series start"},
};

const char* known_difference(const std::string& q) {
  for (const auto& k : kKnownDifferences)
    if (q == k.query) return k.reason;
  return nullptr;
}

}  // namespace

TEST_CASE("promql engine agrees with Prometheus on a shared dataset", "[promql][prometheus]") {
  if (!testing::prometheus_installed())
    FAIL(testing::kPrometheusBinary
         << " or " << testing::kPromtoolBinary
         << " is not installed: run scripts/setup.sh (it installs prometheus)");
  const auto data = dataset();
  REQUIRE(data.size() >= 20);

  std::string dir = testing::temp_dir("promql-engine-data");
  write_openmetrics(data, dir + "/data.om");
  std::string cmd = std::string(testing::kPromtoolBinary) +
                    " tsdb create-blocks-from openmetrics " + dir + "/data.om " + dir + "/prom > " +
                    dir + "/promtool.log 2>&1";
  int rc = std::system(cmd.c_str());
  if (rc != 0) {
    std::ifstream log(dir + "/promtool.log");
    std::stringstream ss;
    ss << log.rdbuf();
    FAIL("promtool failed: " << ss.str());
  }

  tsdb::testdb::TempDb strata_db;
  for (const auto& s : data) strata_db.db->append(s.labels, s.samples);
  tsdb::DbQueryStore store(*strata_db.db);
  promql::Engine engine(store);

  Prometheus prom(dir + "/prom");
  if (!prom.ready()) {
    prom.dump();
    FAIL("prometheus did not become ready");
  }

  const std::vector<std::int64_t> instants = {at(10, 777), at(35, 777), at(59, 777)};
  struct RangeSpec {
    std::int64_t start, end, step;
  };
  const std::vector<RangeSpec> ranges = {{at(5, 777), at(55, 777), 60'000},
                                         {at(0, 777), at(62, 777), 37'000}};

  std::size_t queries_run = 0, queries_matched = 0, evaluations = 0;
  std::vector<std::string> mismatches, expected;
  for (const auto& q : queries()) {
    ++queries_run;
    bool all = true;
    auto compare = [&](const std::string& what, const Canon& ours, const Canon& theirs) {
      ++evaluations;
      std::string d = diff(ours, theirs);
      if (d.empty()) return;
      all = false;
      if (const char* reason = known_difference(q.ours))
        expected.push_back(q.ours + " [" + what + "]: " + d + " -- " + reason);
      else
        mismatches.push_back(q.ours + " [" + what + "]: " + d);
    };
    auto run_ours = [&](auto&& fn) {
      Canon c;
      try {
        c = canon_ours(fn());
      } catch (const promql::QueryError& e) {
        c.ok = false;
        c.error = e.what();
      }
      return c;
    };
    for (auto t : instants) {
      Canon ours = run_ours([&] { return engine.instant_query(q.ours, t); });
      Canon theirs = prom.query("/api/v1/query?query=" + http::HttpClient::url_encode(q.theirs) +
                                "&time=" + secs(t));
      compare("instant " + secs(t), ours, theirs);
    }
    for (const auto& r : ranges) {
      Canon ours = run_ours([&] { return engine.range_query(q.ours, r.start, r.end, r.step); });
      Canon theirs =
          prom.query("/api/v1/query_range?query=" + http::HttpClient::url_encode(q.theirs) +
                     "&start=" + secs(r.start) + "&end=" + secs(r.end) + "&step=" + secs(r.step));
      compare("range " + secs(r.start) + ".." + secs(r.end) + "/" + secs(r.step), ours, theirs);
    }
    if (all) ++queries_matched;
  }
  std::string skipped;
  for (const auto& s : kSkipped) {
    // They must still evaluate on our side.
    CHECK_NOTHROW(engine.instant_query(s.query, instants[1]));
    skipped += std::string("\n  skipped: ") + s.query + " -- " + s.reason;
  }
  std::string known;
  for (const auto& e : expected) known += "\n  known difference: " + e;
  WARN("queries: " << queries_matched << "/" << queries_run << " matched Prometheus at every "
                   << "evaluation (" << evaluations << " evaluations, " << mismatches.size()
                   << " unexpected mismatches, " << expected.size() << " known differences)"
                   << skipped << known);
  std::string all_mismatches;
  for (const auto& m : mismatches) all_mismatches += "\n  " + m;
  INFO("mismatches:" << all_mismatches);
  CHECK(mismatches.empty());
  CHECK(queries_run >= 300);

  // The HTTP API answers bad requests as Prometheus does: same status and
  // errorType; the same message where it is not a parse error (our parse
  // errors say "parse error at char N", Prometheus's "1:N: parse error").
  metrics::Registry registry;
  tsdb::QueryApi api(store, tsdb::QueryApiOptions{}, registry);
  struct ApiCase {
    std::string path;
    std::vector<std::pair<std::string, std::string>> params;
    bool same_message;
  };
  const std::string t = secs(at(30, 0)), s0 = secs(at(0, 0)), s1 = secs(at(60, 0));
  const std::vector<ApiCase> cases = {
      {"/api/v1/query", {{"query", "up"}, {"time", t}}, true},
      {"/api/v1/query", {{"query", "up"}, {"time", "yesterday"}}, true},
      {"/api/v1/query", {{"query", "up{"}, {"time", t}}, false},
      {"/api/v1/query", {{"query", "rate(up)"}, {"time", t}}, false},
      {"/api/v1/query", {{"query", "up{job=~\"(\"}"}, {"time", t}}, false},
      {"/api/v1/query", {{"query", "{}"}, {"time", t}}, false},
      {"/api/v1/query", {{"query", "cpu_temp + on() cpu_temp"}, {"time", t}}, false},
      {"/api/v1/query", {{"query", "up"}, {"time", t}, {"timeout", "soon"}}, false},
      {"/api/v1/query_range", {{"query", "up"}, {"start", s0}, {"end", s1}, {"step", "60"}}, true},
      {"/api/v1/query_range", {{"query", "up"}, {"start", s1}, {"end", s0}, {"step", "60"}}, true},
      {"/api/v1/query_range", {{"query", "up"}, {"start", s0}, {"end", s1}, {"step", "0"}}, true},
      {"/api/v1/query_range", {{"query", "up"}, {"start", s0}, {"end", s1}, {"step", "-5"}}, true},
      {"/api/v1/query_range",
       {{"query", "up"}, {"start", "0"}, {"end", "20000"}, {"step", "1"}},
       true},
      {"/api/v1/query_range", {{"query", "up"}, {"start", "x"}, {"end", s1}, {"step", "60"}}, true},
      {"/api/v1/query_range", {{"query", "up"}, {"start", s0}, {"end", s1}, {"step", "x"}}, true},
      {"/api/v1/query_range",
       {{"query", "up"}, {"start", s0}, {"end", "2023-11-14T22:13:20Z"}, {"step", "1m"}},
       true},
      {"/api/v1/series", {{"match[]", "up"}, {"start", s0}, {"end", s1}}, true},
      {"/api/v1/series", {{"match[]", "up{"}}, false},
      {"/api/v1/series", {{"match[]", "up"}, {"start", s1}, {"end", s0}}, true},
      {"/api/v1/labels", {{"start", "later"}}, true},
      {"/api/v1/label/job/values", {{"match[]", "up"}, {"start", s1}, {"end", s0}}, true},
      {"/api/v1/format_query", {{"query", "sum(up)by(job)"}}, true},
  };
  auto field = [&](const std::string& body, const char* name) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    std::string_view v;
    if (parser.parse(body).get(doc) || doc[name].get(v)) return std::string();
    return std::string(v);
  };
  for (const auto& c : cases) {
    http::Request req;
    req.method = "GET";
    req.path = c.path;
    std::string query;
    for (const auto& [k, v] : c.params) {
      req.params.emplace(k, v);
      query += (query.empty() ? "?" : "&") + k + "=" + http::HttpClient::url_encode(v);
    }
    req.target = c.path + query;
    http::Response ours = c.path == "/api/v1/query"          ? api.query(req)
                          : c.path == "/api/v1/query_range"  ? api.query_range(req)
                          : c.path == "/api/v1/series"       ? api.series(req)
                          : c.path == "/api/v1/labels"       ? api.labels(req)
                          : c.path == "/api/v1/format_query" ? api.format_query(req)
                                                             : api.label_values(req);
    auto theirs = prom.raw(c.path + query);
    INFO(c.path + query << "\n ours:   " << ours.body << "\n theirs: " << theirs.body);
    CHECK(ours.status == theirs.status);
    CHECK(field(ours.body, "status") == field(theirs.body, "status"));
    CHECK(field(ours.body, "errorType") == field(theirs.body, "errorType"));
    if (c.same_message) CHECK(field(ours.body, "error") == field(theirs.body, "error"));
    if (c.path == "/api/v1/format_query") CHECK(ours.body == theirs.body);
  }
}
