// End-to-end: the real binaries as separate processes -- strata-broker (the
// embedded Kafka-protocol broker), strata-collector, strata-tsdb,
// strata-logindex, strata-agent and strata-alerting -- wired over loopback.
// Data goes in through the collector's HTTP API and the agent's file tailing
// and comes back out of the stores' HTTP APIs, value for value and line for
// line.
#include <simdjson.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "common/http_client.h"
#include "common/http_server.h"
#include "common/wire_format.h"
#include "tests/support/process.h"

using namespace strata;
using namespace std::chrono_literals;
using strata::testing::ChildProcess;
using strata::testing::eventually;
using strata::testing::free_port;
using strata::testing::wait_http_ok;

namespace {

std::string addr(int port) { return fmt::format("127.0.0.1:{}", port); }
std::string url(int port) { return fmt::format("http://127.0.0.1:{}", port); }

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Pipeline {
  std::string dir = strata::testing::temp_dir("strata-e2e");
  int collector_port = free_port(), tsdb_port = free_port(), logindex_port = free_port(),
      agent_port = free_port();
  std::string brokers;
  std::unique_ptr<ChildProcess> broker, tsdb, logindex, collector, agent;
  std::string tailed = dir + "/app.log";

  Pipeline() {
    std::string addr_file = dir + "/broker.addr";
    broker = std::make_unique<ChildProcess>(
        "broker", STRATA_BROKER_BIN,
        std::vector<std::string>{"--broker.address_file=" + addr_file, "--broker.partitions=4"});
    REQUIRE(eventually(
        [&] {
          std::ifstream in(addr_file);
          return bool(std::getline(in, brokers)) && !brokers.empty();
        },
        20s));
    std::string kafka = "--kafka.brokers=" + brokers;
    tsdb = std::make_unique<ChildProcess>(
        "tsdb", STRATA_TSDB_BIN,
        std::vector<std::string>{kafka, "--tsdb.listen=" + addr(tsdb_port),
                                 "--tsdb.data_dir=" + dir + "/tsdb"});
    logindex = std::make_unique<ChildProcess>(
        "logindex", STRATA_LOGINDEX_BIN,
        std::vector<std::string>{kafka, "--logindex.listen=" + addr(logindex_port),
                                 "--logindex.data_dir=" + dir + "/logindex"});
    collector = std::make_unique<ChildProcess>(
        "collector", STRATA_COLLECTOR_BIN,
        std::vector<std::string>{kafka, "--collector.listen=" + addr(collector_port),
                                 "--collector.static_labels=region=e2e-region"});
    std::ofstream(tailed).flush();  // exists before the agent starts: tailed from its end
    agent = std::make_unique<ChildProcess>(
        "agent", STRATA_AGENT_BIN,
        std::vector<std::string>{"--agent.listen=" + addr(agent_port),
                                 "--agent.collector_url=" + url(collector_port),
                                 "--agent.files=" + tailed, "--agent.interval=1s",
                                 "--agent.flush_interval=200ms", "--agent.instance=e2e-host"});
    for (auto [name, port] :
         {std::pair{"tsdb", tsdb_port}, std::pair{"logindex", logindex_port},
          std::pair{"collector", collector_port}, std::pair{"agent", agent_port}}) {
      INFO(name << " /readyz");
      bool ok = wait_http_ok(url(port) + "/readyz", 60s);
      if (!ok) dump();
      REQUIRE(ok);
    }
  }
  void dump() const {
    for (auto* p : {broker.get(), tsdb.get(), logindex.get(), collector.get(), agent.get()})
      if (p) p->dump();
  }
};

struct Point {
  std::map<std::string, std::string> labels;
  std::string value;
};

std::vector<Point> query(http::HttpClient& client, int tsdb_port, const std::string& expr,
                         std::int64_t at_ms) {
  auto r = client.get(fmt::format("{}/api/v1/query?query={}&time={:.3f}", url(tsdb_port),
                                  http::HttpClient::url_encode(expr), at_ms / 1000.0));
  REQUIRE(r.status == 200);
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(r.body);
  REQUIRE(std::string_view(doc["status"]) == "success");
  REQUIRE(std::string_view(doc["data"]["resultType"]) == "vector");
  std::vector<Point> out;
  for (auto item : doc["data"]["result"].get_array()) {
    Point p;
    for (auto f : item["metric"].get_object())
      p.labels[std::string(f.key)] = std::string(std::string_view(f.value));
    p.value = std::string(std::string_view(item["value"].at(1)));
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<std::string> search(http::HttpClient& client, int port, const std::string& q) {
  auto r = client.get(
      fmt::format("{}/api/v1/search?q={}&limit=1000", url(port), http::HttpClient::url_encode(q)));
  REQUIRE(r.status == 200);
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(r.body);
  std::vector<std::string> lines;
  for (auto item : doc["data"]["result"].get_array())
    lines.emplace_back(std::string_view(item["line"]));
  return lines;
}

double metric_value(http::HttpClient& client, int port, const std::string& name) {
  auto r = client.get(url(port) + "/metrics");
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  return -1;
}

}  // namespace

TEST_CASE("metrics and logs flow agent -> collector -> Kafka -> stores -> HTTP, exactly once",
          "[e2e]") {
  Pipeline p;
  http::HttpClient client;

  // --- metrics pushed to the collector: 50 series x 20 samples, exact values.
  const std::int64_t t0 = now_ms() - 60'000;
  wire::MetricsBatch batch;
  for (int s = 0; s < 50; ++s) {
    wire::Series series;
    series.labels = Labels{{"__name__", "e2e_metric"}, {"series", std::to_string(s)}};
    for (int i = 0; i < 20; ++i) series.samples.push_back({t0 + i * 1000, s * 1000.0 + i + 0.25});
    batch.series.push_back(std::move(series));
  }
  const std::string body = wire::encode(batch);
  auto r = client.post(url(p.collector_port) + "/api/v1/push/metrics", body,
                       {{"Content-Type", "application/json"}});
  if (r.status != 204) p.dump();
  REQUIRE(r.status == 204);
  // At-least-once: a client resending the same batch must not duplicate anything.
  REQUIRE(client.post(url(p.collector_port) + "/api/v1/push/metrics", body).status == 204);

  REQUIRE(eventually(
      [&] { return query(client, p.tsdb_port, "e2e_metric", t0 + 19'000).size() == 50; }, 30s));
  for (int i : {0, 7, 19}) {
    auto points = query(client, p.tsdb_port, "e2e_metric", t0 + i * 1000);
    REQUIRE(points.size() == 50);
    for (const auto& pt : points) {
      int s = std::stoi(pt.labels.at("series"));
      CHECK(pt.labels.at("region") == "e2e-region");  // collector enrichment
      CHECK(std::stod(pt.value) == s * 1000.0 + i + 0.25);
    }
  }
  auto one = query(client, p.tsdb_port, "e2e_metric{series=\"42\"}", t0 + 5000);
  REQUIRE(one.size() == 1);
  CHECK(one[0].value == "42005.25");

  // --- the agent's own host metrics: node_load1 of this machine.
  REQUIRE(eventually(
      [&] {
        auto pts = query(client, p.tsdb_port, "node_load1{instance=\"e2e-host\"}", now_ms());
        return pts.size() == 1 && std::stod(pts[0].value) >= 0;
      },
      30s));

  // --- logs through the agent's file tailing: every line exactly once.
  {
    std::ofstream out(p.tailed, std::ios::app);
    for (int i = 0; i < 100; ++i) out << "request " << i << " finished token" << i << "x\n";
  }
  REQUIRE(
      eventually([&] { return search(client, p.logindex_port, "finished").size() == 100; }, 30s));
  for (int i : {0, 50, 99}) {
    auto lines = search(client, p.logindex_port, fmt::format("token{}x", i));
    REQUIRE(lines.size() == 1);
    CHECK(lines[0] == fmt::format("request {} finished token{}x", i, i));
  }

  // --- logs pushed straight to the collector, twice: stored once.
  wire::LogsBatch logs;
  wire::LogStream stream;
  stream.labels = Labels{{"job", "e2e"}};
  for (int i = 0; i < 10; ++i)
    stream.entries.push_back({(t0 + i) * 1'000'000, fmt::format("pushed needle{} line", i), {}});
  logs.streams.push_back(stream);
  for (int k = 0; k < 2; ++k)
    REQUIRE(client.post(url(p.collector_port) + "/api/v1/push/logs", wire::encode(logs)).status ==
            204);
  REQUIRE(eventually([&] { return search(client, p.logindex_port, "pushed").size() >= 10; }, 30s));
  std::this_thread::sleep_for(1s);  // let the duplicate batch be consumed too
  CHECK(search(client, p.logindex_port, "pushed").size() == 10);
  CHECK(search(client, p.logindex_port, "needle3").size() == 1);

  // Nothing lost, nothing duplicated, seen from the store's own counters: the
  // second push was recognised as 1000 duplicates, not stored again.
  CHECK(metric_value(client, p.tsdb_port, "strata_tsdb_duplicate_samples_total") >= 1000);
}

TEST_CASE("alerting fires a webhook when a threshold rule holds", "[e2e]") {
  Pipeline p;
  http::HttpClient client;

  std::mutex mu;
  std::vector<std::string> hooks;
  http::ServerOptions so;
  http::HttpServer receiver(so);
  receiver.add_route("POST", "/hook", [&](const http::Request& req) {
    std::lock_guard lock(mu);
    hooks.push_back(req.body);
    return http::Response::text(200, "ok");
  });
  receiver.start();

  int alerting_port = free_port();
  std::ofstream(p.dir + "/rules.yml") << R"(groups:
- name: queues
  interval: 500ms
  rules:
  - alert: QueueTooLong
    expr: queue_length > 100
    labels:
      severity: page
    annotations:
      summary: "queue {{ $labels.queue }} holds {{ $value }} items"
)";
  ChildProcess alerting(
      "alerting", STRATA_ALERTING_BIN,
      {"--alerting.listen=" + addr(alerting_port), "--alerting.query_url=" + url(p.tsdb_port),
       "--alerting.rule_files=" + p.dir + "/rules.yml",
       "--alerting.data_dir=" + p.dir + "/alerting",
       "--alerting.webhook_urls=http://" + receiver.address() + "/hook"});
  REQUIRE(wait_http_ok(url(alerting_port) + "/readyz", 30s));

  wire::MetricsBatch batch;
  wire::Series low{Labels{{"__name__", "queue_length"}, {"queue", "low"}}, {{now_ms(), 5}}};
  wire::Series high{Labels{{"__name__", "queue_length"}, {"queue", "high"}}, {{now_ms(), 500}}};
  batch.series = {low, high};
  REQUIRE(client.post(url(p.collector_port) + "/api/v1/push/metrics", wire::encode(batch)).status ==
          204);

  bool fired = eventually(
      [&] {
        std::lock_guard lock(mu);
        return !hooks.empty();
      },
      30s);
  if (!fired) alerting.dump();
  REQUIRE(fired);
  std::string hook;
  {
    std::lock_guard lock(mu);
    hook = hooks.front();
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(hook);
  CHECK(std::string_view(doc["status"]) == "firing");
  auto alerts = doc["alerts"].get_array();
  REQUIRE(alerts.size() == 1);
  auto labels = alerts.at(0)["labels"];
  CHECK(std::string_view(labels["alertname"]) == "QueueTooLong");
  CHECK(std::string_view(labels["queue"]) == "high");
  CHECK(std::string_view(labels["severity"]) == "page");
  CHECK(std::string_view(alerts.at(0)["annotations"]["summary"]) == "queue high holds 500 items");
  receiver.stop();
}

TEST_CASE("collector answers 503 with Retry-After when Kafka is unreachable", "[e2e]") {
  int port = free_port();
  int dead = free_port();  // nothing listens here
  ChildProcess collector("collector", STRATA_COLLECTOR_BIN,
                         {"--kafka.brokers=" + addr(dead), "--collector.listen=" + addr(port),
                          "--collector.ack_timeout=2s"});
  REQUIRE(wait_http_ok(url(port) + "/healthz", 30s));
  http::ClientOptions o;
  o.max_attempts = 1;
  http::HttpClient client(o);
  CHECK(client.get(url(port) + "/readyz").status == 503);
  wire::MetricsBatch batch;
  batch.series.push_back({Labels{{"__name__", "x"}}, {{now_ms(), 1}}});
  auto r = client.post(url(port) + "/api/v1/push/metrics", wire::encode(batch));
  CHECK(r.status == 503);
  CHECK(r.headers.count("retry-after") == 1);
  CHECK(r.body.find("Kafka") != std::string::npos);
  CHECK(collector.stop() == 0);  // graceful exit on SIGTERM
}

TEST_CASE("every binary rejects a bad config with a message naming the key", "[e2e]") {
  std::string dir = strata::testing::temp_dir("strata-cfg");
  std::ofstream(dir + "/bad.yaml") << "tsdb:\n  listen: 127.0.0.1:0\n  no_such_key: 1\n";
  for (auto [name, bin] :
       {std::pair{"tsdb", STRATA_TSDB_BIN}, std::pair{"collector", STRATA_COLLECTOR_BIN},
        std::pair{"logindex", STRATA_LOGINDEX_BIN}, std::pair{"agent", STRATA_AGENT_BIN},
        std::pair{"alerting", STRATA_ALERTING_BIN}, std::pair{"strata", STRATA_ALLINONE_BIN}}) {
    INFO(name);
    ChildProcess help(std::string(name) + "-help", bin, {"--help"});
    REQUIRE(eventually([&] { return !help.running(); }, 20s));
    CHECK(help.stop() == 0);
    CHECK(help.output().find("--log.level") != std::string::npos);

    ChildProcess bad(std::string(name) + "-bad", bin, {"--config", dir + "/bad.yaml"});
    REQUIRE(eventually([&] { return !bad.running(); }, 20s));
    CHECK(bad.stop() == 2);
    CHECK(bad.output().find("configuration error") != std::string::npos);
    CHECK((bad.output().find("tsdb.no_such_key") != std::string::npos ||
           bad.output().find("'tsdb'") != std::string::npos));

    ChildProcess typo(std::string(name) + "-type", bin, {"--log.level=loud"});
    REQUIRE(eventually([&] { return !typo.running(); }, 20s));
    CHECK(typo.stop() == 2);
    CHECK(typo.output().find("log.level") != std::string::npos);
  }
}

TEST_CASE("the example configurations in deploy/ are valid", "[e2e]") {
  for (auto [bin, file] : {std::pair{STRATA_ALLINONE_BIN, "deploy/config/strata.yaml"},
                           std::pair{STRATA_AGENT_BIN, "deploy/config/agent.yaml"}}) {
    INFO(file);
    ChildProcess check("check", bin,
                       {"--config", std::string(STRATA_SOURCE_DIR) + "/" + file, "--check-config"});
    REQUIRE(eventually([&] { return !check.running(); }, 20s));
    if (check.stop() != 0) check.dump();
    CHECK(check.stop() == 0);
  }
}
