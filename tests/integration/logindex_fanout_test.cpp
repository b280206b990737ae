// The log query fan-out (logindex/fanout.h) against real servers: three
// in-process strata-logindex shards, each holding the streams that hash to
// it (as the collector's Kafka keys place them), a fan-out node listing them
// as peers, and a "single" node holding every line. The fan-out's answers
// -- searches, Loki log and metric queries, labels, series -- must equal the
// single node's exactly (parsed JSON compared). Then: replicas taking over,
// a missing shard (partial answer with a warning), every shard down (503),
// bad queries (400 before any shard is asked) and a line stored on two
// shards (kept once).
//
// No Kafka: lines are appended to the stores directly and only the HTTP
// service of each LogIndexServer is started.
#include <simdjson.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/http_client.h"
#include "common/service.h"
#include "common/wire_format.h"
#include "logindex/logindex_server.h"
#include "tests/support/process.h"

using namespace strata;

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000'000'000;  // 2023-11-14T22:13:20Z
constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kS = 1'000'000'000;
constexpr std::size_t kShards = 3;

using Params = std::vector<std::pair<std::string, std::string>>;
using Streams = std::map<Labels, std::vector<wire::LogEntry>>;

// One strata-logindex node: its store and HTTP service (no ingester).
class Node {
 public:
  explicit Node(const std::string& peers = "", int port = 0)
      : dir_(testing::temp_dir("logindex-fanout")) {
    config::Schema s;
    add_logging_options(s);
    add_kafka_options(s);
    logindex::add_options(s);
    config::Config c(s);
    c.set("kafka.brokers", "127.0.0.1:9", "test");  // never contacted
    c.set("logindex.listen", "127.0.0.1:" + std::to_string(port), "test");
    c.set("logindex.data_dir", dir_, "test");
    c.set("logindex.wal.fsync", "never", "test");
    c.set("logindex.query.peer_timeout", "5s", "test");
    if (!peers.empty()) c.set("logindex.query.peers", peers, "test");
    server_ = std::make_unique<logindex::LogIndexServer>(c);
    server_->service().start();
  }
  ~Node() {
    stop();
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  void stop() {
    if (running_) server_->service().stop();
    running_ = false;
  }
  void add(const Streams& streams) {
    for (const auto& [labels, entries] : streams) server_->store().append(labels, entries);
  }
  std::string url() const { return server_->url(); }
  std::string address() const { return server_->service().address(); }

 private:
  std::string dir_;
  std::unique_ptr<logindex::LogIndexServer> server_;
  bool running_ = true;
};

// Real loghub lines, round-robin over the files so that the jobs overlap in
// time, each at its own 50 ms tick (unique times: the order of hits with
// equal nanoseconds is not specified across shards). Streams: job x host.
Streams loghub_streams() {
  const std::string dir = STRATA_LOGHUB_DIR;
  const std::vector<std::string> jobs = {"Apache",  "HDFS",      "Linux",
                                         "OpenSSH", "Zookeeper", "HealthApp"};
  std::vector<std::vector<std::string>> lines;
  for (const auto& job : jobs) {
    std::ifstream in(dir + "/" + job + "_2k.log");
    REQUIRE(in);
    lines.emplace_back();
    for (std::string l; std::getline(in, l) && lines.back().size() < 400;)
      if (!l.empty()) lines.back().push_back(l);
  }
  Streams out;
  std::int64_t tick = 0;
  for (std::size_t k = 0; k < 400; ++k) {
    for (std::size_t j = 0; j < jobs.size(); ++j) {
      if (k >= lines[j].size()) continue;
      std::vector<Label> labels = {{"job", jobs[j]}, {"host", "h" + std::to_string(k % 4)}};
      // One stream carries a level label, so `by (level)` sees both kinds.
      if (jobs[j] == "Linux" && k % 4 == 0) labels.emplace_back("level", "info");
      out[Labels(labels)].push_back({kT0 + tick++ * 50 * kMs, lines[j][k], {}});
    }
  }
  return out;
}

std::size_t shard_of(const Labels& l) { return l.fingerprint() % kShards; }

std::string get_url(const std::string& base, const std::string& path, const Params& params,
                    int* status = nullptr) {
  std::string url = base + path;
  char sep = '?';
  for (const auto& [k, v] : params) {
    url += sep + http::HttpClient::url_encode(k) + "=" + http::HttpClient::url_encode(v);
    sep = '&';
  }
  http::HttpClient client(
      http::ClientOptions{std::chrono::milliseconds(5000), std::chrono::milliseconds(30000), 1});
  auto r = client.get(url);
  INFO(url << " -> " << r.status << " " << r.error << " " << r.body.substr(0, 500));
  if (status)
    *status = r.status;
  else
    REQUIRE(r.status == 200);
  return r.body;
}

// The answer as canonical JSON, without the top-level "warnings" (returned
// in `warnings` when given).
std::string canonical(const std::string& body, std::vector<std::string>* warnings = nullptr) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  auto err = parser.parse(body).get(doc);
  INFO(body.substr(0, 500));
  REQUIRE(!err);
  if (!doc.is_object()) return simdjson::minify(doc);
  std::string out = "{";
  simdjson::dom::object obj = doc.get_object();
  for (auto [key, value] : obj) {
    if (key == "warnings") {
      simdjson::dom::array list = value.get_array();
      if (warnings)
        for (auto w : list) warnings->emplace_back(std::string_view(w.get_string()));
      continue;
    }
    if (out.size() > 1) out += ',';
    out += "\"" + std::string(key) + "\":" + simdjson::minify(value);
  }
  return out + "}";
}

struct Cluster {
  std::vector<std::unique_ptr<Node>> shards;  // shard k, then its replica (when asked)
  std::unique_ptr<Node> single;
  std::unique_ptr<Node> fanout;
  Streams all;
  std::vector<Streams> parts{kShards};

  explicit Cluster(bool replicas = false) : all(loghub_streams()) {
    for (const auto& [labels, entries] : all) parts[shard_of(labels)][labels] = entries;
    const std::size_t copies = replicas ? 2 : 1;
    std::vector<int> ports;
    for (std::size_t k = 0; k < kShards * copies; ++k) ports.push_back(testing::free_port());
    // One entry per node; with replicas, copy c of every shard is replica
    // group "r<c>" (common/peer_groups.h).
    std::string peers;
    for (std::size_t s = 0; s < kShards; ++s)
      for (std::size_t c = 0; c < copies; ++c) {
        if (!peers.empty()) peers += ',';
        if (replicas) peers += "r" + std::to_string(c) + "=";
        peers += "127.0.0.1:" + std::to_string(ports[s * copies + c]);
      }
    // The shards list the peers too: the fan-out's requests (with the
    // fan-out header) must still be answered from their own stores.
    for (std::size_t s = 0; s < kShards; ++s)
      for (std::size_t c = 0; c < copies; ++c) {
        shards.push_back(std::make_unique<Node>(peers, ports[s * copies + c]));
        shards.back()->add(parts[s]);
      }
    single = std::make_unique<Node>();
    single->add(all);
    fanout = std::make_unique<Node>(peers);
  }
  Node& shard(std::size_t s, std::size_t copy = 0) {
    return *shards[s * (shards.size() / kShards) + copy];
  }

  // Both answers, compared as parsed JSON; the fan-out's warnings returned.
  std::vector<std::string> same(const std::string& path, const Params& params,
                                const Node* reference = nullptr) {
    const Node& ref = reference ? *reference : *single;
    std::string want = get_url(ref.url(), path, params);
    std::string got = get_url(fanout->url(), path, params);
    std::vector<std::string> warnings;
    INFO(path << " " << (params.empty() ? "" : params[0].second));
    CHECK(canonical(got, &warnings) == canonical(want));
    // An empty answer would prove nothing.
    simdjson::dom::parser parser;
    simdjson::dom::element data = parser.parse(want)["data"];
    simdjson::dom::array list = data.is_array() ? data.get_array() : data["result"].get_array();
    CHECK(list.size() > 0);
    return warnings;
  }
};

std::string ns(std::int64_t t) { return std::to_string(t); }

const std::int64_t kEnd = kT0 + 130 * kS;  // 6 jobs x 400 lines x 50 ms = 120 s

std::vector<std::pair<std::string, Params>> searches() {
  const std::string start = ns(kT0), end = ns(kEnd);
  return {
      {"/api/v1/logs/search", {{"q", "error"}, {"limit", "50"}}},
      {"/api/v1/logs/search", {{"q", "\"session opened\""}, {"limit", "20"}}},
      {"/api/v1/logs/search", {{"q", "NOT INFO"}, {"limit", "30"}}},
      {"/api/v1/logs/search", {{"q", "job:/Linux|HDFS/ failure"}, {"limit", "40"}}},
      {"/api/v1/logs/search", {{"q", "blk_38*"}, {"limit", "25"}}},
      {"/api/v1/logs/search",
       {{"q", "user"}, {"start", ns(kT0 + 20 * kS)}, {"end", ns(kT0 + 50 * kS)}, {"limit", "500"}}},
      {"/api/v1/logs/search", {{"q", "failed OR failure"}, {"limit", "5"}}},
      {"/api/v1/logs/search",
       {{"q", "connection"}, {"start", start}, {"end", end}, {"step", "10s"}, {"limit", "10"}}},
      {"/api/v1/logs/search", {{"q", ""}, {"stream", "host=h1"}, {"limit", "100"}}},
      {"/api/v1/search", {{"q", "(closed OR terminating) AND -root"}, {"limit", "60"}}},
  };
}

Params range(const std::string& query, const std::string& step = "7s") {
  // A start off the step grid: the steps must be the single node's.
  return {{"query", query}, {"start", ns(kT0 + 3'300 * kMs)}, {"end", ns(kEnd)}, {"step", step}};
}

}  // namespace

TEST_CASE("log fan-out: searches equal a single node's", "[logindex][integration][fanout]") {
  Cluster c;
  for (const auto& [path, params] : searches()) CHECK(c.same(path, params).empty());
}

TEST_CASE("log fan-out: Loki log queries equal a single node's",
          "[logindex][integration][fanout]") {
  Cluster c;
  const std::string start = ns(kT0), end = ns(kEnd);
  for (const char* dir : {"backward", "forward"}) {
    c.same("/loki/api/v1/query_range", {{"query", R"({job="Linux"})"},
                                        {"start", start},
                                        {"end", end},
                                        {"direction", dir},
                                        {"limit", "40"}});
    c.same("/loki/api/v1/query_range", {{"query", R"({job=~"Apache|HDFS"} |= "error")"},
                                        {"start", start},
                                        {"end", end},
                                        {"direction", dir},
                                        {"limit", "25"}});
    c.same("/loki/api/v1/query_range", {{"query", R"({host="h2"} != "INFO" |~ "[0-9]+")"},
                                        {"start", ns(kT0 + 10 * kS)},
                                        {"end", ns(kT0 + 90 * kS)},
                                        {"direction", dir},
                                        {"limit", "100"}});
  }
  c.same("/loki/api/v1/query_range",
         {{"query", R"({job=~".+"} | logfmt)"}, {"start", start}, {"end", end}, {"limit", "5000"}});
  // An instant log query: the hour up to `time`.
  c.same("/loki/api/v1/query", {{"query", R"({job="OpenSSH"})"}, {"time", ns(kT0 + 60 * kS)}});
}

TEST_CASE("log fan-out: Loki metric queries equal a single node's exactly",
          "[logindex][integration][fanout]") {
  Cluster c;
  const std::vector<std::string> queries = {
      R"(count_over_time({job="HDFS"}[1m]))",
      R"(rate({job=~".+"}[20s]))",
      R"(bytes_over_time({host="h1"}[30s]))",
      R"(bytes_rate({job="Apache"} |= "error" [15s]))",
      R"(sum by (job) (count_over_time({job=~".+"}[1m])))",
      R"(avg by (host) (rate({job=~".+"}[10s])))",
      R"(max(count_over_time({job=~".+"}[25s])))",
      R"(min without (host) (bytes_over_time({job=~".+"}[25s])))",
      R"(topk(3, count_over_time({job=~".+"}[1m])))",
      R"(bottomk(2, sum by (job) (rate({job=~".+"}[30s]))))",
      R"(count(count_over_time({job=~".+"}[10s])))",
      R"(sum by (level, detected_level) (count_over_time({job=~"Linux|Apache"}[30s])))",
      R"(sum(count_over_time({job="Linux"}[1m])) * 2 + 1)",
      R"(sum by (job) (count_over_time({job=~".+"}[1m])) / sum by (job) (count_over_time({job=~".+"}[2m])))",
      R"(1 + 1)",
  };
  for (const auto& q : queries) {
    c.same("/loki/api/v1/query_range", range(q));
    c.same("/loki/api/v1/query_range", range(q, "1m"));
  }
  // Default step (from start and end).
  c.same("/loki/api/v1/query_range",
         {{"query", queries[4]}, {"start", ns(kT0)}, {"end", ns(kEnd)}});
  // Instant queries, Grafana's health check among them.
  for (const std::string q : {R"(sum by (job) (count_over_time({job=~".+"}[10m])))",
                              R"(vector(1)+vector(1))", R"(topk(2, rate({job=~".+"}[1m])))"})
    c.same("/loki/api/v1/query", {{"query", q}, {"time", ns(kT0 + 61'500 * kMs)}});
}

TEST_CASE("log fan-out: labels, label values and series are unions",
          "[logindex][integration][fanout]") {
  Cluster c;
  const Params range_params = {{"start", ns(kT0)}, {"end", ns(kEnd)}};
  c.same("/loki/api/v1/labels", range_params);
  c.same("/loki/api/v1/label/job/values", range_params);
  c.same("/loki/api/v1/label/host/values", range_params);
  Params series = range_params;
  series.emplace_back("match[]", R"({job=~".+"})");
  c.same("/loki/api/v1/series", series);
  series.back().second = R"({host="h3"})";
  series.emplace_back("match[]", R"({job="Linux"})");
  c.same("/loki/api/v1/series", series);

  // index/stats: sums. The stores differ in parts (chunks), not in lines.
  Params stats = range_params;
  stats.emplace_back("query", R"({job=~".+"})");
  auto want = get_url(c.single->url(), "/loki/api/v1/index/stats", stats);
  auto got = get_url(c.fanout->url(), "/loki/api/v1/index/stats", stats);
  for (const char* key : {"streams", "entries", "bytes"}) {
    simdjson::dom::parser p1, p2;
    CHECK(std::int64_t(p1.parse(want)[key]) == std::int64_t(p2.parse(got)[key]));
  }
}

TEST_CASE("log fan-out: a replica takes over a stopped one, with no warning",
          "[logindex][integration][fanout]") {
  Cluster c(true);
  // Two nodes of replica group r0 are gone; group r1 is whole.
  c.shard(0, 0).stop();
  c.shard(2, 0).stop();
  for (const auto& [path, params] : searches()) CHECK(c.same(path, params).empty());
  CHECK(c.same("/loki/api/v1/query_range",
               range(R"(avg by (host) (count_over_time({job=~".+"}[30s])))"))
            .empty());
  CHECK(
      c.same(
           "/loki/api/v1/query_range",
           {{"query", R"({job="Linux"})"}, {"start", ns(kT0)}, {"end", ns(kEnd)}, {"limit", "70"}})
          .empty());
}

TEST_CASE("log fan-out: a missing shard gives a partial answer with a warning",
          "[logindex][integration][fanout]") {
  Cluster c;
  const std::string shard_name = c.shard(1).address();
  c.shard(1).stop();
  Node rest;  // what the remaining shards hold
  rest.add(c.parts[0]);
  rest.add(c.parts[2]);
  auto check_warning = [&](const std::vector<std::string>& warnings) {
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].rfind("peer " + shard_name + " did not answer", 0) == 0);
  };
  for (const auto& [path, params] : searches()) check_warning(c.same(path, params, &rest));
  check_warning(
      c.same("/loki/api/v1/query_range", range(R"(sum by (job) (rate({job=~".+"}[30s])))"), &rest));
  check_warning(
      c.same("/loki/api/v1/query_range",
             {{"query", R"({job=~".+"})"}, {"start", ns(kT0)}, {"end", ns(kEnd)}, {"limit", "300"}},
             &rest));
  check_warning(c.same("/loki/api/v1/labels", {{"start", ns(kT0)}, {"end", ns(kEnd)}}, &rest));
  check_warning(c.same("/loki/api/v1/series",
                       {{"start", ns(kT0)}, {"end", ns(kEnd)}, {"match[]", R"({job=~".+"})"}},
                       &rest));
}

TEST_CASE("log fan-out: every shard down is 503 unavailable", "[logindex][integration][fanout]") {
  Cluster c;
  const std::string second = c.shard(1).address();
  for (std::size_t s = 0; s < kShards; ++s) c.shard(s).stop();
  for (const auto& [path, params] : std::vector<std::pair<std::string, Params>>{
           {"/api/v1/logs/search", {{"q", "error"}}},
           {"/loki/api/v1/query_range", range(R"(sum(count_over_time({job=~".+"}[1m])))")},
           {"/loki/api/v1/labels", {}}}) {
    int status = 0;
    auto body = get_url(c.fanout->url(), path, params, &status);
    CHECK(status == 503);
    CHECK(body.find(R"("errorType":"unavailable")") != std::string::npos);
    CHECK(body.find(second + ": ") != std::string::npos);
  }
}

TEST_CASE("log fan-out: a bad query is 400 with its position, as from one node",
          "[logindex][integration][fanout]") {
  Cluster c;
  // Stopped shards prove the fan-out rejects it without asking them.
  for (std::size_t s = 0; s < kShards; ++s) c.shard(s).stop();
  for (const auto& [path, params] : std::vector<std::pair<std::string, Params>>{
           {"/api/v1/logs/search", {{"q", "failed AND (password"}}},
           {"/api/v1/logs/search", {{"q", "user:/adm(in/"}}},
           {"/loki/api/v1/query_range", range(R"(sum(count_over_time({job="x"}[1m]))")},
           {"/loki/api/v1/query", {{"query", R"({job="x"} |= )"}}},
           {"/loki/api/v1/series", {{"match[]", R"({job=)"}}},
       }) {
    int want_status = 0, got_status = 0;
    auto want = get_url(c.single->url(), path, params, &want_status);
    auto got = get_url(c.fanout->url(), path, params, &got_status);
    CHECK(want_status == 400);
    CHECK(got_status == 400);
    CHECK(got == want);
    CHECK(got.find("parse error at ") != std::string::npos);
  }
}

TEST_CASE("log fan-out: a line stored on two shards appears once",
          "[logindex][integration][fanout]") {
  Cluster c;
  // After a rebalance shard 1 also holds a whole stream of shard 0 (the
  // same stream labels, timestamps and lines).
  auto copied = c.parts[0].begin();
  c.shard(1).add({*copied});
  const std::string job(copied->first.get("job"));
  const std::string host(copied->first.get("host"));
  const std::string selector = "{job=\"" + job + "\",host=\"" + host + "\"}";
  // The results are the single node's; the stats (lines read) count both
  // copies.
  auto same_result = [&](const std::string& path, const Params& params) {
    simdjson::dom::parser p1, p2;
    simdjson::dom::element want = p1.parse(get_url(c.single->url(), path, params));
    simdjson::dom::element got = p2.parse(get_url(c.fanout->url(), path, params));
    CHECK(simdjson::minify(got["data"]["result"]) == simdjson::minify(want["data"]["result"]));
  };
  same_result("/loki/api/v1/query_range",
              {{"query", selector}, {"start", ns(kT0)}, {"end", ns(kEnd)}, {"limit", "5000"}});
  same_result("/loki/api/v1/query_range", range("count_over_time(" + selector + "[30s])"));
  same_result("/loki/api/v1/query_range", range("sum by (job) (rate({job=~\".+\"}[30s]))"));
  // The search's hits are deduplicated; `matched` counts both copies.
  Params search = {
      {"q", ""}, {"stream", "job=" + job}, {"stream", "host=" + host}, {"limit", "5000"}};
  auto want = get_url(c.single->url(), "/api/v1/logs/search", search);
  auto got = get_url(c.fanout->url(), "/api/v1/logs/search", search);
  simdjson::dom::parser p1, p2;
  simdjson::dom::element w = p1.parse(want), g = p2.parse(got);
  CHECK(simdjson::minify(g["data"]["result"]) == simdjson::minify(w["data"]["result"]));
  CHECK(std::int64_t(g["data"]["stats"]["matched"]) ==
        2 * std::int64_t(w["data"]["stats"]["matched"]));
}
