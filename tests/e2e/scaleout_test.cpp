// End-to-end scale-out: several real strata-tsdb processes in one Kafka
// consumer group (shards), a second group (replica), and strata-query
// fanning PromQL out over them with remote read. Data goes in through two
// collectors; answers through the query node must equal, byte for byte, a
// single node that consumed everything; a SIGKILLed shard's partitions move
// to the others and nothing is lost or counted twice.
#include <simdjson.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <map>
#include <thread>

#include <fmt/format.h>

#include "common/http_client.h"
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

// A process with the HTTP port it serves on.
struct Node {
  int port = free_port();
  std::unique_ptr<ChildProcess> proc;
};

struct Cluster {
  std::string dir = strata::testing::temp_dir("strata-scaleout");
  std::string brokers;
  std::unique_ptr<ChildProcess> broker;
  std::vector<Node> collectors;
  std::map<std::string, Node> tsdbs;     // by name
  std::map<std::string, Node> logindex;  // by name
  Node query;

  explicit Cluster(int partitions) {
    std::string addr_file = dir + "/broker.addr";
    broker = std::make_unique<ChildProcess>(
        "broker", STRATA_BROKER_BIN,
        std::vector<std::string>{"--broker.address_file=" + addr_file,
                                 fmt::format("--broker.partitions={}", partitions)});
    REQUIRE(eventually(
        [&] {
          std::ifstream in(addr_file);
          return bool(std::getline(in, brokers)) && !brokers.empty();
        },
        20s));
  }

  void add_collector() {
    Node& n = collectors.emplace_back();
    n.proc = std::make_unique<ChildProcess>(
        fmt::format("collector{}", collectors.size()), STRATA_COLLECTOR_BIN,
        std::vector<std::string>{"--kafka.brokers=" + brokers,
                                 "--collector.listen=" + addr(n.port)});
    ready(n);
  }

  // A tsdb node `name` in consumer group `group`, keeping its data dir
  // across restarts.
  void start_tsdb(const std::string& name, const std::string& group) {
    Node& n = tsdbs[name];
    n.proc = std::make_unique<ChildProcess>(
        name, STRATA_TSDB_BIN,
        std::vector<std::string>{"--kafka.brokers=" + brokers, "--tsdb.listen=" + addr(n.port),
                                 "--tsdb.data_dir=" + dir + "/" + name,
                                 "--tsdb.consumer_group=" + group});
    ready(n);
  }

  void start_logindex(const std::string& name, const std::string& group) {
    Node& n = logindex[name];
    n.proc = std::make_unique<ChildProcess>(
        name, STRATA_LOGINDEX_BIN,
        std::vector<std::string>{"--kafka.brokers=" + brokers, "--logindex.listen=" + addr(n.port),
                                 "--logindex.data_dir=" + dir + "/" + name,
                                 "--logindex.consumer_group=" + group});
    ready(n);
  }

  void start_query(const std::vector<std::string>& peers,
                   const std::vector<std::string>& log_peers = {}) {
    auto join = [](const std::vector<std::string>& v) {
      std::string list;
      for (const auto& p : v) list += (list.empty() ? "" : ",") + p;
      return list;
    };
    std::vector<std::string> args = {"--query.listen=" + addr(query.port),
                                     "--tsdb.query.peers=" + join(peers),
                                     "--tsdb.query.peer_timeout=5s"};
    if (!log_peers.empty()) args.push_back("--logindex.query.peers=" + join(log_peers));
    query.proc = std::make_unique<ChildProcess>("query", STRATA_QUERY_BIN, std::move(args));
    ready(query);
  }

  std::string peer(const std::string& name, const std::string& group = "") {
    return (group.empty() ? "" : group + "=") + addr(tsdbs.at(name).port);
  }

  void ready(const Node& n) {
    bool ok = wait_http_ok(url(n.port) + "/readyz", 60s);
    if (!ok) dump();
    REQUIRE(ok);
  }

  void dump() const {
    if (broker) broker->dump();
    for (const auto& c : collectors)
      if (c.proc) c.proc->dump();
    for (const auto& [name, n] : tsdbs)
      if (n.proc) n.proc->dump();
    for (const auto& [name, n] : logindex)
      if (n.proc) n.proc->dump();
    if (query.proc) query.proc->dump();
  }
};

// `series` series of metric `name`, `samples` samples each from `t0` every
// second; values distinct per series and sample.
wire::MetricsBatch make_batch(const std::string& name, int series, int samples, std::int64_t t0,
                              int first_sample = 0) {
  wire::MetricsBatch batch;
  for (int s = 0; s < series; ++s) {
    wire::Series ser;
    ser.labels = Labels{{"__name__", name},
                        {"job", fmt::format("job{}", s % 7)},
                        {"instance", fmt::format("host{}", s)}};
    for (int i = first_sample; i < first_sample + samples; ++i)
      ser.samples.push_back({t0 + i * 1000, s * 10.0 + i * 0.5});
    batch.series.push_back(std::move(ser));
  }
  return batch;
}

void push(http::HttpClient& client, const Node& collector, const wire::MetricsBatch& batch) {
  auto r = client.post(url(collector.port) + "/api/v1/push/metrics", wire::encode(batch),
                       {{"Content-Type", "application/json"}});
  INFO(r.body);
  REQUIRE(r.status == 204);
}

struct Answer {
  int status = 0;
  std::string data;  // the raw "data" member
  std::vector<std::string> warnings;
};

Answer api(http::HttpClient& client, int port, const std::string& path_and_query) {
  auto r = client.get(url(port) + path_and_query);
  Answer a;
  a.status = r.status;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(r.body).get(doc) != simdjson::SUCCESS) return a;
  simdjson::dom::element data;
  if (doc["data"].get(data) == simdjson::SUCCESS) a.data = simdjson::minify(data);
  simdjson::dom::array warnings;
  if (doc["warnings"].get(warnings) == simdjson::SUCCESS)
    for (auto w : warnings) a.warnings.emplace_back(std::string_view(w));
  return a;
}

std::string instant(const std::string& expr, std::int64_t t_ms) {
  return fmt::format("/api/v1/query?query={}&time={:.3f}", http::HttpClient::url_encode(expr),
                     t_ms / 1000.0);
}

// The scalar value of a one-element vector answer, or -1.
double single_value(const Answer& a) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(a.data).get(doc) != simdjson::SUCCESS) return -1;
  simdjson::dom::array result;
  if (doc["result"].get(result) != simdjson::SUCCESS || result.size() != 1) return -1;
  std::string_view v;
  if (result.at(0)["value"].at(1).get(v) != simdjson::SUCCESS) return -1;
  return std::stod(std::string(v));
}

// Series (by their labels' JSON) -> points, of a vector or matrix answer.
std::map<std::string, std::vector<std::pair<double, double>>> points_of(const std::string& data) {
  std::map<std::string, std::vector<std::pair<double, double>>> out;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(data).get(doc) != simdjson::SUCCESS) return out;
  for (auto item : doc["result"].get_array()) {
    auto& pts = out[simdjson::minify(item["metric"])];
    auto add = [&](simdjson::dom::element p) {
      pts.emplace_back(double(p.at(0)), std::stod(std::string(std::string_view(p.at(1)))));
    };
    simdjson::dom::element v;
    if (item["value"].get(v) == simdjson::SUCCESS) add(v);
    simdjson::dom::array vs;
    if (item["values"].get(vs) == simdjson::SUCCESS)
      for (auto p : vs) add(p);
  }
  return out;
}

// Equal series and timestamps, values within 1e-9 relative (push-down sums
// partial sums, so the last bits may differ from one node's sum).
bool close_results(const std::string& a, const std::string& b) {
  auto pa = points_of(a), pb = points_of(b);
  if (pa.size() != pb.size() || pa.empty()) return false;
  for (const auto& [labels, points] : pa) {
    auto it = pb.find(labels);
    if (it == pb.end() || it->second.size() != points.size()) return false;
    for (std::size_t i = 0; i < points.size(); ++i) {
      const auto [t, v] = points[i];
      const auto [t2, v2] = it->second[i];
      if (t != t2 || std::abs(v - v2) > 1e-9 * std::max(std::abs(v), std::abs(v2))) return false;
    }
  }
  return true;
}

double count_samples(http::HttpClient& client, int port, const std::string& metric,
                     std::int64_t at_ms, Answer* out = nullptr) {
  auto a = api(client, port, instant(fmt::format("sum(count_over_time({}[1h]))", metric), at_ms));
  if (out) *out = a;
  return a.status == 200 ? single_value(a) : -1;
}

}  // namespace

TEST_CASE("scale-out: 3 tsdb and 2 logindex shards behind a query node answer like one node",
          "[e2e]") {
  Cluster c(12);
  c.add_collector();
  c.add_collector();
  for (const char* name : {"shard0", "shard1", "shard2"}) c.start_tsdb(name, "shards");
  c.start_tsdb("single", "single");  // the reference: one node consuming everything
  for (const char* name : {"logs0", "logs1"}) c.start_logindex(name, "log-shards");
  c.start_logindex("logs-single", "log-single");
  c.start_query({c.peer("shard0"), c.peer("shard1"), c.peer("shard2")},
                {addr(c.logindex["logs0"].port), addr(c.logindex["logs1"].port)});
  http::HttpClient client;

  // 240 series x 60 samples, half through each collector.
  const std::int64_t t0 = now_ms() - 10 * 60'000;
  constexpr int kSeries = 240, kSamples = 60;
  auto batch = make_batch("scale_metric", kSeries, kSamples, t0);
  wire::MetricsBatch a, b;
  for (std::size_t i = 0; i < batch.series.size(); ++i)
    (i % 2 ? b : a).series.push_back(batch.series[i]);
  push(client, c.collectors[0], a);
  push(client, c.collectors[1], b);
  const std::int64_t at = t0 + kSamples * 1000;
  const double total = kSeries * kSamples;

  bool ingested = eventually(
      [&] {
        return count_samples(client, c.tsdbs["single"].port, "scale_metric", at) == total &&
               count_samples(client, c.query.port, "scale_metric", at) == total;
      },
      60s);
  if (!ingested) c.dump();
  REQUIRE(ingested);

  // Each shard holds a share: disjoint (the shares add up exactly) and none
  // holds everything.
  double sum = 0;
  for (const char* name : {"shard0", "shard1", "shard2"}) {
    double n = count_samples(client, c.tsdbs[name].port, "scale_metric", at);
    INFO(name << " holds " << n);
    CHECK(n < total);
    sum += std::max(n, 0.0);
  }
  CHECK(sum == total);

  // The same answers, byte for byte, from the query node and the single node.
  const std::vector<std::string> exprs = {
      "scale_metric",
      "sum(scale_metric)",
      "sum by (job) (rate(scale_metric[5m]))",
      "count by (job) (scale_metric)",
      "max by (job) (scale_metric)",
      "topk(3, scale_metric)",
      "avg(scale_metric) + 1",
      "quantile(0.9, scale_metric)",
      "scale_metric{instance=~\"host1.*\"}",
      "increase(scale_metric{job=\"job3\"}[2m])",
      "sum(count_over_time(scale_metric[30s]))",
      "scale_metric offset 30s",
      "absent(nonexistent_metric)",
  };
  const int single = c.tsdbs["single"].port, query = c.query.port;
  for (const auto& e : exprs) {
    INFO(e);
    auto want = api(client, single, instant(e, at - 5'000));
    auto got = api(client, query, instant(e, at - 5'000));
    REQUIRE(want.status == 200);
    CHECK(got.status == 200);
    CHECK(got.warnings.empty());
    CHECK(got.data == want.data);
    const std::string range =
        fmt::format("/api/v1/query_range?query={}&start={:.3f}&end={:.3f}&step=7",
                    http::HttpClient::url_encode(e), t0 / 1000.0, at / 1000.0);
    auto want_r = api(client, single, range);
    auto got_r = api(client, query, range);
    CHECK(got_r.status == want_r.status);
    CHECK(got_r.data == want_r.data);
  }
  // Aggregations pushed down to the shards: the same answers (within
  // rounding), and the query node says it pushed them.
  Node pushdown;
  pushdown.proc = std::make_unique<ChildProcess>(
      "query-pushdown", STRATA_QUERY_BIN,
      std::vector<std::string>{"--query.listen=" + addr(pushdown.port),
                               "--tsdb.query.peers=" + c.peer("shard0") + "," + c.peer("shard1") +
                                   "," + c.peer("shard2"),
                               "--tsdb.query.pushdown=true"});
  c.ready(pushdown);
  for (const std::string e :
       {"sum(scale_metric)", "sum by (job) (rate(scale_metric[5m]))",
        "count by (job) (scale_metric)", "max by (job) (scale_metric)",
        "min without (instance) (scale_metric * 2)", "sum(count_over_time(scale_metric[30s]))",
        "sum(rate(scale_metric[1m])) / count(scale_metric)"}) {
    INFO(e);
    auto want = api(client, single, instant(e, at - 5'000));
    auto got = api(client, pushdown.port, instant(e, at - 5'000));
    CHECK(got.status == 200);
    CHECK(close_results(got.data, want.data));
    const std::string range =
        fmt::format("/api/v1/query_range?query={}&start={:.3f}&end={:.3f}&step=7",
                    http::HttpClient::url_encode(e), t0 / 1000.0, at / 1000.0);
    auto want_r = api(client, single, range);
    auto got_r = api(client, pushdown.port, range);
    CHECK(got_r.status == 200);
    CHECK(close_results(got_r.data, want_r.data));
  }
  {
    auto m = client.get(url(pushdown.port) + "/metrics");
    auto p = m.body.find("\nstrata_query_pushdowns ");
    REQUIRE(p != std::string::npos);
    CHECK(std::stod(m.body.substr(p + 24)) >= 14);
  }

  for (const std::string& listing :
       {std::string("/api/v1/labels"), std::string("/api/v1/label/instance/values"),
        "/api/v1/series?match[]=" + http::HttpClient::url_encode("scale_metric{job=\"job2\"}")}) {
    INFO(listing);
    auto want = api(client, single, listing);
    auto got = api(client, query, listing);
    CHECK(got.status == 200);
    CHECK(got.data == want.data);
  }
  // Logs: 40 streams pushed through both collectors; searches and Loki
  // queries through the query node equal the single log node's answers.
  wire::LogsBatch logs[2];
  constexpr int kStreams = 40, kLines = 25;
  for (int s = 0; s < kStreams; ++s) {
    wire::LogStream stream;
    stream.labels = Labels{{"job", fmt::format("svc{}", s % 5)}, {"host", fmt::format("h{}", s)}};
    for (int i = 0; i < kLines; ++i)
      // Distinct timestamps: lines at the same ns on two shards may come in
      // another order than on one node (docs/logindex.md).
      stream.entries.push_back(
          {(t0 + i * 1000) * 1'000'000 + s * 1000,
           fmt::format("{} request {} user=u{} took {}ms", i % 4 ? "INFO" : "ERROR", s * 1000 + i,
                       i % 9, (s * 7 + i * 13) % 500),
           {}});
    logs[s % 2].streams.push_back(std::move(stream));
  }
  for (int k = 0; k < 2; ++k)
    REQUIRE(client.post(url(c.collectors[k].port) + "/api/v1/push/logs", wire::encode(logs[k]))
                .status == 204);
  const int log_single = c.logindex["logs-single"].port;
  auto matched = [&](int port) {
    auto a = api(client, port, "/api/v1/logs/search?q=request&limit=1");
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    std::int64_t n = -1;
    if (parser.parse(a.data).get(doc) == simdjson::SUCCESS)
      if (doc["stats"]["matched"].get(n) != simdjson::SUCCESS) n = -1;
    return n;
  };
  bool logs_in = eventually(
      [&] {
        return matched(log_single) == kStreams * kLines && matched(query) == kStreams * kLines;
      },
      60s);
  if (!logs_in) c.dump();
  REQUIRE(logs_in);
  CHECK(matched(c.logindex["logs0"].port) < kStreams * kLines);
  const std::string start_ns = std::to_string(t0 * 1'000'000);
  const std::string end_ns = std::to_string((t0 + 10 * 60'000) * 1'000'000);
  const std::vector<std::string> log_queries = {
      "/api/v1/logs/search?q=ERROR&limit=30",
      "/api/v1/logs/search?q=" + http::HttpClient::url_encode("request AND NOT user=u3") +
          "&limit=500&start=" + start_ns + "&end=" + end_ns + "&step=60s",
      "/api/v1/logs/search?q=" + http::HttpClient::url_encode("\"took 13ms\"") + "&limit=10",
      "/loki/api/v1/query_range?query=" +
          http::HttpClient::url_encode("{job=~\"svc[12]\"} |= \"ERROR\"") +
          "&limit=50&start=" + start_ns + "&end=" + end_ns,
      "/loki/api/v1/query_range?query=" +
          http::HttpClient::url_encode(
              "sum by (job) (count_over_time({job=~\".+\"} |= \"ERROR\" [1m]))") +
          "&start=" + start_ns + "&end=" + end_ns + "&step=30s",
      "/loki/api/v1/query_range?query=" +
          http::HttpClient::url_encode("topk(3, rate({job=\"svc0\"}[2m]))") + "&start=" + start_ns +
          "&end=" + end_ns + "&step=45s",
      "/loki/api/v1/label/host/values?start=" + start_ns + "&end=" + end_ns,
  };
  for (const auto& q : log_queries) {
    INFO(q);
    auto want = api(client, log_single, q);
    auto got = api(client, query, q);
    REQUIRE(want.status == 200);
    CHECK(got.status == 200);
    CHECK(got.warnings.empty());
    // Loki's stats (bytes processed, timings) differ by construction.
    auto strip_stats = [](std::string data) {
      if (auto p = data.find(",\"stats\":{\"summary\""); p != std::string::npos) data.resize(p);
      return data;
    };
    CHECK(strip_stats(got.data) == strip_stats(want.data));
  }

  // Remote read itself refuses what it cannot answer.
  auto bad =
      client.post(url(single) + "/api/v1/read", "not snappy",
                  {{"Content-Type", "application/x-protobuf"}, {"Content-Encoding", "snappy"}});
  CHECK(bad.status == 400);
}

TEST_CASE("scale-out: a SIGKILLed shard's partitions move, nothing lost or counted twice",
          "[e2e]") {
  Cluster c(12);
  c.add_collector();
  for (const char* name : {"a0", "a1", "a2"}) c.start_tsdb(name, "group-a");
  c.start_tsdb("b0", "group-b");  // a full replica, in one node
  const std::vector<std::string> group_a = {c.peer("a0", "a"), c.peer("a1", "a"),
                                            c.peer("a2", "a")};
  // Query node over both groups: stays complete while one replica is short.
  c.start_query({group_a[0], group_a[1], group_a[2], c.peer("b0", "b")});
  http::HttpClient client;

  // A second query node over group A alone shows what a shard loss does
  // without a replica: flagged partial, never silently short.
  Node only_a;
  only_a.proc = std::make_unique<ChildProcess>(
      "query-a", STRATA_QUERY_BIN,
      std::vector<std::string>{
          "--query.listen=" + addr(only_a.port),
          "--tsdb.query.peers=" + group_a[0] + "," + group_a[1] + "," + group_a[2],
          "--tsdb.query.peer_timeout=5s"});
  c.ready(only_a);

  constexpr int kSeries = 120;
  const std::int64_t t0 = now_ms() - 20 * 60'000;
  std::atomic<int> pushed_rounds{0};
  std::atomic<bool> stop{false};
  // Ingest keeps flowing: one sample per series per round.
  std::thread pusher([&] {
    http::HttpClient pc;
    for (int round = 0; !stop.load() && round < 600; ++round) {
      auto r = pc.post(url(c.collectors[0].port) + "/api/v1/push/metrics",
                       wire::encode(make_batch("failover_metric", kSeries, 1, t0, round)),
                       {{"Content-Type", "application/json"}});
      if (r.status != 204) break;
      pushed_rounds.store(round + 1);
      std::this_thread::sleep_for(20ms);
    }
  });
  REQUIRE(eventually([&] { return pushed_rounds.load() >= 50; }, 30s));
  c.tsdbs["a1"].proc->kill9();

  // While a1 is down, the query node over both groups stays complete:
  // every sample that group B has is answered.
  REQUIRE(eventually([&] { return pushed_rounds.load() >= 150; }, 60s));
  stop.store(true);
  pusher.join();
  const double total = static_cast<double>(kSeries) * pushed_rounds.load();
  const std::int64_t at = t0 + 30 * 60'000;
  Answer both;
  bool complete = eventually(
      [&] { return count_samples(client, c.query.port, "failover_metric", at, &both) == total; },
      60s);
  if (!complete) c.dump();
  REQUIRE(complete);
  CHECK(both.warnings.empty());

  // Group A alone is flagged partial while a1 is down, and a1's partitions
  // moved: the samples pushed after the kill all reached a0 or a2.
  Answer partial;
  count_samples(client, only_a.port, "failover_metric", at, &partial);
  CHECK(partial.status == 200);
  REQUIRE(!partial.warnings.empty());
  CHECK(partial.warnings[0].find(group_a[1]) != std::string::npos);
  // Rounds 100.. were pushed well after the kill; the window (at - range,
  // at] starts just before round 100's timestamp.
  const std::int64_t late_from = t0 + 99'500;
  const std::string late =
      fmt::format("sum(count_over_time(failover_metric[{}ms]))", at - late_from);
  const double late_total = static_cast<double>(kSeries) * (pushed_rounds.load() - 100);
  double late_seen = -1;
  bool moved = eventually(
      [&] {
        late_seen = single_value(api(client, only_a.port, instant(late, at)));
        return late_seen == late_total;
      },
      60s);
  INFO("late samples seen " << late_seen << " of " << late_total);
  if (!moved) c.dump();
  CHECK(moved);

  // a1 returns with its data dir: group A is complete again, each sample
  // counted once although a1's uncommitted tail was consumed twice.
  c.start_tsdb("a1", "group-a");
  Answer after;
  bool back = eventually(
      [&] {
        return count_samples(client, only_a.port, "failover_metric", at, &after) == total &&
               after.warnings.empty();
      },
      60s);
  if (!back) c.dump();
  CHECK(back);
  CHECK(count_samples(client, c.query.port, "failover_metric", at) == total);
}
