// The agent's pure pieces: options validation, UTF-8 repair, the bounded
// batch queue and log batch building.
#include <catch2/catch.hpp>

#include "agent/batch_queue.h"
#include "agent/options.h"
#include "agent/shipper.h"
#include "agent/utf8.h"
#include "common/service.h"

using namespace strata;
using namespace strata::agent;

namespace {

config::Schema schema() {
  config::Schema s;
  add_logging_options(s);
  add_options(s);
  return s;
}

}  // namespace

TEST_CASE("agent options: defaults", "[unit][agent][options]") {
  auto s = schema();
  config::Config cfg(s);
  AgentOptions o = AgentOptions::from_config(cfg);
  CHECK(o.http.listen == "127.0.0.1:9101");
  CHECK(o.collector_url == "http://127.0.0.1:8080");
  CHECK(o.interval == std::chrono::seconds(15));
  CHECK(o.flush_interval == std::chrono::seconds(1));
  CHECK(o.files.empty());
  CHECK(o.labels.empty());
  CHECK(o.instance == local_hostname());
  CHECK_FALSE(o.instance.empty());
  CHECK(o.proc_path == "/proc");
  CHECK(o.max_line_bytes == 262144);
}

TEST_CASE("agent options: values from YAML and flags", "[unit][agent][options]") {
  auto s = schema();
  config::Config cfg(s);
  cfg.merge_yaml(
      "agent:\n"
      "  collector_url: http://collector:8080/\n"
      "  interval: 5s\n"
      "  files: [/var/log/syslog, '/var/log/*.log']\n"
      "  labels: {env: prod, dc: eu1}\n"
      "  instance: web-1\n",
      "test.yaml");
  cfg.set("agent.max_line_bytes", "1024", "flag");
  AgentOptions o = AgentOptions::from_config(cfg);
  CHECK(o.collector_url == "http://collector:8080");  // trailing '/' removed
  CHECK(o.interval == std::chrono::seconds(5));
  CHECK(o.files == std::vector<std::string>{"/var/log/syslog", "/var/log/*.log"});
  CHECK(o.labels == std::map<std::string, std::string>{{"dc", "eu1"}, {"env", "prod"}});
  CHECK(o.instance == "web-1");
  CHECK(o.max_line_bytes == 1024);
}

TEST_CASE("agent options: invalid settings are rejected naming the key", "[unit][agent][options]") {
  auto s = schema();
  auto rejects = [&](const std::string& key, const std::string& value, const std::string& what) {
    config::Config cfg(s);
    cfg.set(key, value, "flag");
    try {
      AgentOptions::from_config(cfg);
      FAIL("accepted " << key << "=" << value);
    } catch (const config::ConfigError& e) {
      std::string msg = e.what();
      INFO(msg);
      CHECK(msg.find(key) != std::string::npos);
      CHECK(msg.find(what) != std::string::npos);
    }
  };
  rejects("agent.collector_url", "collector:8080", "http://");
  rejects("agent.interval", "0s", "greater than 0");
  rejects("agent.flush_interval", "0", "greater than 0");
  rejects("agent.max_line_bytes", "0", "greater than 0");
  rejects("agent.labels", "job=x", "job");
  rejects("agent.labels", "instance=x", "instance");
  rejects("agent.labels", "filename=x", "filename");
  rejects("agent.labels", "__name__=x", "__name__");
  rejects("agent.labels", "bad-name=x", "bad-name");
  rejects("agent.listen", "nocolon", "host:port");
}

TEST_CASE("utf8: valid text passes, invalid bytes become U+FFFD", "[unit][agent][utf8]") {
  CHECK(sanitize_utf8("plain ascii") == "plain ascii");
  CHECK(sanitize_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") ==
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  CHECK(sanitize_utf8("a\xff"
                      "b") ==
        "a\xef\xbf\xbd"
        "b");
  CHECK(sanitize_utf8("a\xff\xfe\xfd"
                      "b") ==
        "a\xef\xbf\xbd"
        "b");                                                  // one per run
  CHECK(sanitize_utf8("\xc0\xaf") == "\xef\xbf\xbd");          // overlong '/'
  CHECK(sanitize_utf8("\xed\xa0\x80") == "\xef\xbf\xbd");      // surrogate
  CHECK(sanitize_utf8("\xf4\x90\x80\x80") == "\xef\xbf\xbd");  // > U+10FFFF
  CHECK(sanitize_utf8("end\xe2\x82") == "end\xef\xbf\xbd");    // cut sequence
  CHECK(sanitize_utf8(std::string("nul\0ok", 6)) == std::string("nul\0ok", 6));
}

TEST_CASE("utf8: cuts fall on character boundaries", "[unit][agent][utf8]") {
  std::string s =
      "ab\xe2\x82\xac"
      "cd";  // a b EURO(3 bytes) c d
  CHECK(utf8_cut(s, 100) == s.size());
  CHECK(utf8_cut(s, 2) == 2);
  CHECK(utf8_cut(s, 3) == 2);
  CHECK(utf8_cut(s, 4) == 2);
  CHECK(utf8_cut(s, 5) == 5);
  CHECK(utf8_cut(s, 6) == 6);
  CHECK(utf8_cut("\x80\x80\x80\x80\x80\x80", 5) == 5);  // not UTF-8: byte cut
}

TEST_CASE("batch queue: bounded by bytes, evicting the oldest", "[unit][agent][queue]") {
  MemoryBatchQueue q(100);
  CHECK(q.empty());
  CHECK(q.push({std::string(40, 'a'), 1}).batches == 0);
  CHECK(q.push({std::string(40, 'b'), 2}).batches == 0);
  CHECK(q.size() == 2);
  CHECK(q.bytes() == 80);
  Evicted ev = q.push({std::string(40, 'c'), 4});  // 120 > 100: 'a' goes
  CHECK(ev.batches == 1);
  CHECK(ev.items == 1);
  CHECK(q.size() == 2);
  CHECK(q.bytes() == 80);
  CHECK(q.front().body[0] == 'b');
  ev = q.push({std::string(500, 'd'), 8});  // larger than the bound: kept alone
  CHECK(ev.batches == 2);
  CHECK(ev.items == 6);
  CHECK(q.size() == 1);
  CHECK(q.front().items == 8);
  q.pop();
  CHECK(q.empty());
  CHECK(q.bytes() == 0);
  q.pop();  // harmless when empty
  CHECK(q.size() == 0);
}

TEST_CASE("log batches: one stream per file, order kept, UTF-8 repaired",
          "[unit][agent][shipper]") {
  Labels base({{"instance", "h"}, {"job", "strata-agent"}, {"env", "t"}});
  std::vector<TailEntry> entries = {
      {"/var/log/a.log", "a1", 1, false},
      {"/var/log/b.log", "b1", 2, false},
      {"/var/log/a.log", "a2 \xff", 3, true},
      {"/var/log/\xfe.log", "c1", 4, false},
  };
  auto batches = make_log_batches(entries, base);
  REQUIRE(batches.size() == 1);
  const auto& streams = batches[0].streams;
  REQUIRE(streams.size() == 3);
  CHECK(streams[0].labels == Labels({{"instance", "h"},
                                     {"job", "strata-agent"},
                                     {"env", "t"},
                                     {"filename", "/var/log/a.log"}}));
  REQUIRE(streams[0].entries.size() == 2);
  CHECK(streams[0].entries[0].line == "a1");
  CHECK(streams[0].entries[0].timestamp_ns == 1);
  CHECK(streams[0].entries[1].line == "a2 \xef\xbf\xbd");
  CHECK(streams[1].labels.get("filename") == "/var/log/b.log");
  CHECK(streams[2].labels.get("filename") == "/var/log/\xef\xbf\xbd.log");
}

TEST_CASE("log batches: split by size", "[unit][agent][shipper]") {
  std::vector<TailEntry> entries;
  for (int i = 0; i < 100; ++i)
    entries.push_back({"/f", std::string(100, static_cast<char>('a' + i % 26)), i, false});
  auto batches = make_log_batches(entries, Labels({{"job", "x"}}), 1000);
  CHECK(batches.size() > 10);
  std::size_t total = 0;
  std::int64_t next_ts = 0;
  for (const auto& b : batches) {
    REQUIRE(b.streams.size() == 1);
    for (const auto& e : b.streams[0].entries) {
      CHECK(e.timestamp_ns == next_ts++);
      ++total;
    }
  }
  CHECK(total == 100);
  // A single line larger than the limit still gets a batch of its own.
  auto big = make_log_batches({{"/f", std::string(5000, 'x'), 0, false}}, Labels(), 1000);
  REQUIRE(big.size() == 1);
  CHECK(big[0].streams[0].entries[0].line.size() == 5000);
}
