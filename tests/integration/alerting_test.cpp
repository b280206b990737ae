// Alerting against real processes and servers: strata-alerting killed and
// restarted, a real Alertmanager (Debian's prometheus-alertmanager) as the
// receiver, a flaky webhook receiver, recording rules written through a
// collector-shaped push endpoint. The stores are a small fake query server
// answering Prometheus JSON, which the test controls.
#include <simdjson.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "alerting/alerting_server.h"
#include "alerting/notifier.h"
#include "common/http_client.h"
#include "common/http_server.h"
#include "common/wire_format.h"
#include "tests/support/process.h"

using namespace strata;
using namespace strata::alerting;
using namespace std::chrono_literals;
using strata::testing::ChildProcess;
using strata::testing::eventually;
using strata::testing::free_port;
using strata::testing::wait_http_ok;

namespace {

std::string addr(int port) { return fmt::format("127.0.0.1:{}", port); }
std::string url(int port) { return fmt::format("http://127.0.0.1:{}", port); }

// A store answering /api/v1/query and /loki/api/v1/query: each query string
// maps to a value (one series {instance="i1"}), absent = empty vector.
class FakeStore {
 public:
  FakeStore() : server_(http::ServerOptions{}) {
    auto handler = [this](const http::Request& req) {
      std::string q = req.param("query").value_or("");
      std::lock_guard lock(mu_);
      ++queries_[q];
      std::string result;
      if (auto it = values_.find(q); it != values_.end())
        result = fmt::format(R"({{"metric":{{"__name__":"m","instance":"i1"}},"value":[{},"{}"]}})",
                             req.param("time").value_or("0"), wire::format_value(it->second));
      return http::Response::json(
          200, R"({"status":"success","data":{"resultType":"vector","result":[)" + result + "]}}");
    };
    server_.add_route("GET", "/api/v1/query", handler);
    server_.add_route("GET", "/loki/api/v1/query", handler);
    server_.start();
  }
  void set(const std::string& q, double v) {
    std::lock_guard lock(mu_);
    values_[q] = v;
  }
  void clear(const std::string& q) {
    std::lock_guard lock(mu_);
    values_.erase(q);
  }
  int queries(const std::string& q) {
    std::lock_guard lock(mu_);
    return queries_[q];
  }
  std::string url() const { return "http://" + server_.address(); }

 private:
  std::mutex mu_;
  std::map<std::string, double> values_;
  std::map<std::string, int> queries_;
  http::HttpServer server_;
};

// Records webhook bodies (and collector pushes).
class Receiver {
 public:
  Receiver() : server_(http::ServerOptions{}) {
    server_.add_route("POST", "/hook", [this](const http::Request& req) {
      std::lock_guard lock(mu_);
      bodies_.push_back(req.body);
      return http::Response::text(200, "ok");
    });
    server_.add_route("POST", "/api/v1/push/metrics", [this](const http::Request& req) {
      std::lock_guard lock(mu_);
      pushes_.push_back(wire::decode_metrics(req.body));
      return http::Response::text(204, "");
    });
    server_.start();
  }
  std::string url() const { return "http://" + server_.address(); }
  // (status, alertname) of every alert of every webhook received so far.
  std::vector<std::pair<std::string, std::string>> alerts() {
    std::lock_guard lock(mu_);
    std::vector<std::pair<std::string, std::string>> out;
    simdjson::dom::parser p;
    for (const auto& b : bodies_)
      for (auto a : p.parse(b)["alerts"].get_array())
        out.emplace_back(std::string(std::string_view(a["status"])),
                         std::string(std::string_view(a["labels"]["alertname"])));
    return out;
  }
  int count(const std::string& status, const std::string& name) {
    int n = 0;
    for (const auto& [s, a] : alerts()) n += s == status && a == name;
    return n;
  }
  std::vector<wire::MetricsBatch> pushes() {
    std::lock_guard lock(mu_);
    return pushes_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> bodies_;
  std::vector<wire::MetricsBatch> pushes_;
  http::HttpServer server_;
};

std::string write_file(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

simdjson::dom::element get_json(simdjson::dom::parser& p, const std::string& u) {
  http::HttpClient c;
  auto r = c.get(u);
  REQUIRE(r.status == 200);
  return p.parse(r.body);
}

}  // namespace

TEST_CASE(
    "strata-alerting killed while one alert is pending and one firing: the timer "
    "continues and nothing is paged twice",
    "[integration]") {
  std::string dir = strata::testing::temp_dir("strata-alert-restart");
  FakeStore store;
  Receiver hooks;
  store.set("slow_burn > 0", 1);
  store.set("on_fire > 0", 1);
  std::string rules = write_file(dir + "/rules.yml", R"(groups:
- name: restart
  interval: 500ms
  rules:
  - alert: SlowBurn
    expr: slow_burn > 0
    for: 8s
  - alert: OnFire
    expr: on_fire > 0
)");
  int port = free_port();
  std::vector<std::string> args = {
      "--alerting.listen=" + addr(port),     "--alerting.rule_files=" + rules,
      "--alerting.query_url=" + store.url(), "--alerting.data_dir=" + dir + "/data",
      "--alerting.resend_delay=1h",          "--alerting.webhook_urls=" + hooks.url() + "/hook"};
  auto first = std::make_unique<ChildProcess>("alerting-1", STRATA_ALERTING_BIN, args);
  REQUIRE(wait_http_ok(url(port) + "/readyz", 30s));
  // OnFire fires at once; SlowBurn is pending.
  REQUIRE(eventually([&] { return hooks.count("firing", "OnFire") == 1; }, 20s));
  auto started = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(2s);
  CHECK(hooks.count("firing", "SlowBurn") == 0);
  simdjson::dom::parser p;
  auto active_at = [&] {
    for (auto a : get_json(p, url(port) + "/api/v1/alerts")["data"]["alerts"].get_array())
      if (std::string_view(a["labels"]["alertname"]) == "SlowBurn")
        return std::string(std::string_view(a["activeAt"]));
    return std::string("none");
  };
  std::string pending_since = active_at();
  first->kill9();  // no chance to save anything at exit
  first.reset();

  auto second = std::make_unique<ChildProcess>("alerting-2", STRATA_ALERTING_BIN, args);
  REQUIRE(wait_http_ok(url(port) + "/readyz", 30s));
  auto alerts = get_json(p, url(port) + "/api/v1/alerts")["data"]["alerts"].get_array();
  CHECK(alerts.size() == 2);  // both restored before the first evaluation
  CHECK(active_at() == pending_since);
  bool fired = eventually([&] { return hooks.count("firing", "SlowBurn") == 1; }, 30s);
  if (!fired) second->dump();
  REQUIRE(fired);
  // `for` counted from before the restart: 8 s after it went pending (plus
  // delivery), not 8 s after the restart, which came 2 s and more later.
  auto took = std::chrono::steady_clock::now() - started;
  CHECK(took < 9500ms);
  std::this_thread::sleep_for(2s);
  CHECK(hooks.count("firing", "OnFire") == 1);  // not paged again
  CHECK(hooks.count("firing", "SlowBurn") == 1);
  CHECK(second->stop() == 0);
}

TEST_CASE("alerts reach a real Alertmanager with their labels and annotations, and resolve",
          "[integration]") {
  const std::string am_bin = "/usr/bin/prometheus-alertmanager";
  if (access(am_bin.c_str(), X_OK) != 0) {
    WARN("prometheus-alertmanager is not installed; skipped");
    return;
  }
  std::string dir = strata::testing::temp_dir("strata-am");
  std::string am_config = write_file(dir + "/am.yml", R"(route:
  receiver: blackhole
  group_wait: 1s
receivers:
  - name: blackhole
)");
  int am_port = free_port();
  ChildProcess am("alertmanager", am_bin,
                  {"--config.file=" + am_config, "--storage.path=" + dir + "/am-data",
                   "--web.listen-address=" + addr(am_port), "--cluster.listen-address="});
  bool am_up = wait_http_ok(url(am_port) + "/-/ready", 30s);
  if (!am_up) am.dump();
  REQUIRE(am_up);

  FakeStore store;
  store.set("disk_free_ratio < 0.1", 0.05);
  std::string rules = write_file(dir + "/rules.yml", R"(groups:
- name: disks
  interval: 500ms
  rules:
  - alert: DiskAlmostFull
    expr: disk_free_ratio < 0.1
    labels:
      severity: page
    annotations:
      summary: "{{ $labels.instance }} has {{ $value | humanizePercentage }} free"
)");
  config::Schema schema;
  add_logging_options(schema);
  add_options(schema);
  config::Config cfg(schema);
  cfg.set("alerting.listen", "127.0.0.1:0", "test");
  cfg.set("alerting.rule_files", rules, "test");
  cfg.set("alerting.query_url", store.url(), "test");
  cfg.set("alerting.data_dir", "", "test");
  cfg.set("alerting.resend_delay", "1h", "test");  // resolution must come from us, not expiry
  cfg.set("alerting.alertmanager_urls", url(am_port), "test");
  cfg.set("alerting.external_labels", "cluster=test", "test");
  AlertingServer server(cfg);
  server.start();

  simdjson::dom::parser p;
  http::HttpClient client;
  auto am_alerts = [&] {
    auto r = client.get(url(am_port) + "/api/v2/alerts");
    REQUIRE(r.status == 200);
    return r.body;
  };
  bool arrived =
      eventually([&] { return am_alerts().find("DiskAlmostFull") != std::string::npos; }, 30s);
  REQUIRE(arrived);
  auto doc = p.parse(am_alerts());
  auto arr = doc.get_array();
  REQUIRE(arr.size() == 1);
  auto a = arr.at(0);
  CHECK(std::string_view(a["labels"]["alertname"]) == "DiskAlmostFull");
  CHECK(std::string_view(a["labels"]["severity"]) == "page");
  CHECK(std::string_view(a["labels"]["instance"]) == "i1");
  CHECK(std::string_view(a["labels"]["cluster"]) == "test");  // external label
  CHECK(std::string_view(a["annotations"]["summary"]) == "i1 has 5% free");
  CHECK(std::string_view(a["status"]["state"]) == "active");
  CHECK(std::string_view(a["generatorURL"]).find("/graph?g0.expr=") != std::string_view::npos);

  store.clear("disk_free_ratio < 0.1");
  // Alertmanager drops an alert from its API once its endsAt has passed:
  // that can only be our resolved notification (valid-until is hours away).
  bool resolved = eventually([&] { return am_alerts() == "[]" || am_alerts() == "[]\n"; }, 30s);
  if (!resolved) INFO(am_alerts());
  CHECK(resolved);
  server.stop();
}

TEST_CASE(
    "a webhook receiver that fails and times out for a while gets every notification, "
    "in order",
    "[integration]") {
  std::mutex mu;
  std::vector<std::string> delivered;
  std::atomic<int> attempts{0};
  auto t0 = std::chrono::steady_clock::now();
  http::ServerOptions so;
  so.handler_threads = 8;
  http::HttpServer flaky(so);
  flaky.add_route("POST", "/hook", [&](const http::Request& req) {
    ++attempts;
    auto since = std::chrono::steady_clock::now() - t0;
    if (since < 2s) return http::Response::text(503, "down");
    if (since < 4s) {
      std::this_thread::sleep_for(1500ms);  // longer than the notifier's timeout
      return http::Response::text(200, "too late");
    }
    simdjson::dom::parser p;
    auto doc = p.parse(req.body);
    std::lock_guard lock(mu);
    delivered.emplace_back(std::string_view(doc["alerts"].at(0)["labels"]["n"]));
    return http::Response::text(200, "ok");
  });
  flaky.start();

  metrics::Registry registry;
  NotifierOptions o;
  o.webhook_urls = {"http://" + flaky.address() + "/hook"};
  o.timeout = 500ms;
  o.backoff_initial = 100ms;
  o.backoff_max = 400ms;
  Notifier notifier(o, registry);
  notifier.start();
  for (int i = 0; i < 20; ++i) {
    Notification n;
    n.rule = "R";
    Alert a;
    a.labels = Labels{{"alertname", "R"}, {"n", std::to_string(i)}};
    a.state = AlertState::kFiring;
    n.alerts = {a};
    notifier.enqueue(n);
  }
  REQUIRE(eventually([&] { return notifier.pending() == 0; }, 30s));
  std::lock_guard lock(mu);
  REQUIRE(delivered.size() == 20);
  for (int i = 0; i < 20; ++i) CHECK(delivered[static_cast<std::size_t>(i)] == std::to_string(i));
  CHECK(attempts > 20);  // it really was retried
  notifier.stop();
  flaky.stop();
}

TEST_CASE("alerting serves rules and alerts, records through the collector and alerts on logs",
          "[integration]") {
  std::string dir = strata::testing::temp_dir("strata-alert-server");
  FakeStore store;
  Receiver sink;
  store.set("sum by (job) (up)", 3);
  store.set("sum by (service) (count_over_time({service=\"api\"} |= \"error\" [5m]))", 150);
  std::string rules = write_file(dir + "/rules.yml", R"(groups:
- name: rec
  interval: 500ms
  rules:
  - record: job:up:sum
    expr: sum by (job) (up)
    labels: {source: rule}
  - alert: Broken
    expr: broken_metric > 1
- name: logs
  source: logs
  interval: 500ms
  rules:
  - alert: APIErrors
    expr: sum by (service) (count_over_time({service="api"} |= "error" [5m])) > 100
    annotations:
      summary: "{{ $value }} errors"
  - alert: APIErrorsQuiet
    expr: sum by (service) (count_over_time({service="api"} |= "error" [5m])) > 1000
)");
  config::Schema schema;
  add_logging_options(schema);
  add_options(schema);
  config::Config cfg(schema);
  cfg.set("alerting.listen", "127.0.0.1:0", "test");
  cfg.set("alerting.rule_files", rules, "test");
  cfg.set("alerting.query_url", "http://127.0.0.1:1", "test");  // nothing listens: unhealthy
  cfg.set("alerting.logs_query_url", store.url(), "test");
  cfg.set("alerting.push_url", sink.url(), "test");
  cfg.set("alerting.data_dir", dir + "/data", "test");
  cfg.set("alerting.query_timeout", "1s", "test");
  SECTION("a store that is down marks the rules unhealthy") {
    AlertingServer server(cfg);
    server.start();
    simdjson::dom::parser p;
    REQUIRE(eventually(
        [&] {
          auto doc = get_json(p, server.url() + "/api/v1/rules");
          return std::string_view(doc["data"]["groups"].at(0)["rules"].at(0)["health"]) == "err";
        },
        20s));
    auto doc = get_json(p, server.url() + "/api/v1/rules");
    CHECK(std::string_view(doc["data"]["groups"].at(0)["rules"].at(1)["lastError"])
              .find("127.0.0.1:1") != std::string_view::npos);
    // The log rules ran against the Loki API, the comparison applied by alerting.
    REQUIRE(eventually(
        [&] {
          auto a = get_json(p, server.url() + "/api/v1/alerts")["data"]["alerts"].get_array();
          return a.size() == 1;
        },
        20s));
    auto a = get_json(p, server.url() + "/api/v1/alerts")["data"]["alerts"].at(0);
    CHECK(std::string_view(a["labels"]["alertname"]) == "APIErrors");
    CHECK(std::string_view(a["annotations"]["summary"]) == "150 errors");
    CHECK(std::string_view(a["state"]) == "firing");
    CHECK(store.queries("sum by (service) (count_over_time({service=\"api\"} |= \"error\" [5m]))") >
          0);
    server.stop();
  }
  SECTION("recording rules push their results to the collector") {
    cfg.set("alerting.query_url", store.url(), "test");
    AlertingServer server(cfg);
    server.start();
    // The alert rules' ALERTS series are pushed too, in batches of their own.
    auto recorded = [&]() -> std::optional<wire::MetricsBatch> {
      for (const auto& b : sink.pushes())
        if (!b.series.empty() && b.series[0].labels.get("__name__") == "job:up:sum") return b;
      return std::nullopt;
    };
    REQUIRE(eventually([&] { return recorded().has_value(); }, 20s));
    auto batch = *recorded();
    REQUIRE(batch.series.size() == 1);
    CHECK(batch.series[0].labels.get("__name__") == "job:up:sum");
    CHECK(batch.series[0].labels.get("source") == "rule");
    CHECK(batch.series[0].labels.get("instance") == "i1");
    REQUIRE(batch.series[0].samples.size() == 1);
    CHECK(batch.series[0].samples[0].value == 3);
    server.stop();
  }
}

TEST_CASE(
    "alerting reload: new rules take effect, a pending alert keeps its timer, bad files "
    "change nothing",
    "[integration]") {
  std::string dir = strata::testing::temp_dir("strata-alert-reload");
  FakeStore store;
  Receiver sink;
  store.set("errors > 1", 5);
  store.set("latency > 2", 7);
  const std::string rules = dir + "/rules.yml";
  write_file(rules, R"(groups:
- name: g
  interval: 200ms
  rules:
  - alert: Errors
    expr: errors > 1
    for: 1h
)");
  config::Schema schema;
  add_logging_options(schema);
  add_options(schema);
  config::Config cfg(schema);
  cfg.set("alerting.listen", "127.0.0.1:0", "test");
  cfg.set("alerting.rule_files", rules, "test");
  cfg.set("alerting.query_url", store.url(), "test");
  cfg.set("alerting.webhook_urls", sink.url() + "/hook", "test");
  cfg.set("alerting.data_dir", "", "test");  // the hand-over must not need the state file
  AlertingServer server(cfg);
  server.start();
  simdjson::dom::parser p;
  auto alerts = [&] {
    std::map<std::string, std::pair<std::string, std::string>> out;  // name -> (state, activeAt)
    for (auto a : get_json(p, server.url() + "/api/v1/alerts")["data"]["alerts"].get_array())
      out[std::string(std::string_view(a["labels"]["alertname"]))] = {
          std::string(std::string_view(a["state"])), std::string(std::string_view(a["activeAt"]))};
    return out;
  };
  REQUIRE(eventually([&] { return alerts().count("Errors") == 1; }, 20s));
  const auto before = alerts().at("Errors");
  CHECK(before.first == "pending");

  http::HttpClient client;
  auto reload = [&] { return client.post(server.url() + "/-/reload", "", {}); };
  // A second rule, the first unchanged.
  write_file(rules, R"(groups:
- name: g
  interval: 200ms
  rules:
  - alert: Errors
    expr: errors > 1
    for: 1h
  - alert: Latency
    expr: latency > 2
)");
  auto r = reload();
  REQUIRE(r.status == 200);
  REQUIRE(eventually([&] { return alerts().count("Latency") == 1; }, 20s));
  auto after = alerts();
  CHECK(after.at("Errors") == before);  // still pending, same activeAt: the timer goes on
  REQUIRE(eventually([&] { return sink.count("firing", "Latency") >= 1; }, 20s));
  CHECK(sink.count("firing", "Errors") == 0);

  // A broken file: refused with the reason, the running rules stay.
  write_file(rules, "groups:\n- name: g\n  rules:\n  - alert: X\n    expr: sum(\n");
  r = reload();
  CHECK(r.status == 500);
  CHECK(r.body.find("rules.yml") != std::string::npos);
  CHECK(alerts().at("Errors") == before);
  auto m = client.get(server.url() + "/metrics");
  CHECK(m.body.find("strata_alerting_config_last_reload_successful 0") != std::string::npos);
  server.stop();
}

TEST_CASE("strata-alerting check validates rule files", "[integration]") {
  std::string data = STRATA_ALERTING_DATA_DIR;
  ChildProcess good(
      "check-good", STRATA_ALERTING_BIN,
      {"check", data + "/prometheus_docs.yml", data + "/node_mixin.yml", data + "/logs.yml"});
  REQUIRE(eventually([&] { return !good.running(); }, 20s));
  CHECK(good.stop() == 0);
  CHECK(good.output().find("SUCCESS: 8 rules found") != std::string::npos);
  ChildProcess bad("check-bad", STRATA_ALERTING_BIN, {"check", data + "/bad.yml"});
  REQUIRE(eventually([&] { return !bad.running(); }, 20s));
  CHECK(bad.stop() == 1);
  CHECK(bad.output().find(
            "bad.yml:5:48: group \"broken\", rule \"SyntaxError\": expr: parse error") !=
        std::string::npos);
}
