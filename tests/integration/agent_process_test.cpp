// The strata-agent binary as a process, against a fake collector: SIGKILL
// mid-stream and restart (every line delivered, none twice, thanks to the
// checkpoints and the on-disk buffer), a collector outage (everything written
// meanwhile arrives in order, memory stays bounded while the agent buffers
// to disk), and SIGHUP reload.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "../unit/agent_test_util.h"
#include "agent_fake_collector.h"
#include "tests/support/process.h"

using namespace strata;
using namespace std::chrono_literals;
using agent::testing::FakeCollector;
using agent::testing::TempDir;

namespace {

struct AgentProcess {
  TempDir dir;
  std::string data = dir / "data";
  std::string proc = dir / "proc";

  AgentProcess() { agent::testing::write_fake_proc(proc); }

  std::vector<std::string> args(const std::string& collector, const std::string& files,
                                std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {
        "--agent.listen=127.0.0.1:0",   "--agent.collector_url=" + collector,
        "--agent.files=" + files,       "--agent.data_dir=" + data,
        "--agent.flush_interval=200ms", "--agent.interval=1h",
        "--agent.proc_path=" + proc,    "--agent.instance=test-host"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  std::unique_ptr<strata::testing::ChildProcess> start(const std::vector<std::string>& a) {
    return std::make_unique<strata::testing::ChildProcess>("strata-agent", STRATA_AGENT_BIN, a);
  }
};

// Appends `count` numbered lines ("<tag> 000123") to `path`, `per_tick` lines
// every millisecond-ish tick, from a thread.
class Writer {
 public:
  Writer(std::string path, std::string tag, int count, int per_tick,
         std::chrono::microseconds tick = 2ms)
      : thread_([=, this] {
          std::ofstream out(path, std::ios::app);
          for (int i = 0; i < count;) {
            for (int k = 0; k < per_tick && i < count; ++k, ++i)
              out << fmt::format("{} {:06}\n", tag, i);
            out.flush();
            written_.store(i);
            std::this_thread::sleep_for(tick);
          }
        }) {}
  ~Writer() { join(); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  int written() const { return written_.load(); }

 private:
  std::atomic<int> written_{0};
  std::thread thread_;
};

// Every expected line exactly once and in order.
void check_exactly_once_in_order(const std::vector<std::string>& got, const std::string& tag,
                                 int count) {
  std::map<std::string, int> seen;
  int out_of_order = 0;
  std::string prev;
  for (const auto& l : got) {
    ++seen[l];
    if (!prev.empty() && l < prev) ++out_of_order;
    prev = l;
  }
  int missing = 0, twice = 0;
  for (int i = 0; i < count; ++i) {
    auto it = seen.find(fmt::format("{} {:06}", tag, i));
    if (it == seen.end())
      ++missing;
    else if (it->second > 1)
      ++twice;
  }
  CHECK(missing == 0);
  CHECK(twice == 0);
  CHECK(out_of_order == 0);
  CHECK(got.size() == static_cast<std::size_t>(count));
}

long rss_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      long kb = 0;
      in >> kb;
      return kb;
    }
    std::getline(in, key);
  }
  return 0;
}

}  // namespace

TEST_CASE("agent process: SIGKILL mid-stream and restart, every line delivered once",
          "[integration][agent][restart]") {
  FakeCollector collector;
  AgentProcess p;
  const std::string log = p.dir / "app.log";
  agent::testing::write_file(log, "");
  const auto args = p.args(collector.url(), log);
  auto agent = p.start(args);
  REQUIRE(
      agent::testing::eventually([&] { return std::filesystem::exists(p.data + "/lock"); }, 10s));
  std::this_thread::sleep_for(500ms);  // it has opened the file at its (empty) end

  constexpr int kLines = 20'000;
  Writer writer(log, "line", kLines, 20);
  for (int round = 0; round < 2; ++round) {
    // Kill when a good part of this round's lines went out and more are
    // being read: batches in flight, queued on disk, lines not yet batched.
    const int target = (round + 1) * kLines / 3;
    REQUIRE(agent::testing::eventually([&] { return writer.written() >= target; }, 60s));
    agent->kill9();
    agent.reset();
    std::this_thread::sleep_for(300ms);  // lines keep coming while it is down
    agent = p.start(args);
  }
  writer.join();
  REQUIRE(agent::testing::eventually(
      [&] { return collector.line_count() >= static_cast<std::size_t>(kLines); }, 60s));
  std::this_thread::sleep_for(1s);  // would-be duplicates have time to arrive
  // A batch in flight at the SIGKILL may have reached the collector and be
  // sent again (at-least-once); the store keeps its identical entries once.
  auto by_file = collector.lines_by_file(/*distinct=*/true);
  REQUIRE(by_file.size() == 1);
  check_exactly_once_in_order(by_file.begin()->second, "line", kLines);
  if (collector.line_count() != kLines) agent->dump();
}

TEST_CASE(
    "agent process: collector outage -- buffered to disk, all lines arrive in order, "
    "memory bounded",
    "[integration][agent][outage]") {
  AgentProcess p;
  // A port below the ephemeral range: while nothing listens there, the
  // agent's reconnect attempts could otherwise be given that very port as
  // their source and connect to themselves (a TCP self-connect), taking it.
  std::unique_ptr<FakeCollector> collector;
  std::string address;
  for (int port = 20'000 + getpid() % 5'000; !collector; ++port) {
    address = "127.0.0.1:" + std::to_string(port);
    try {
      collector = std::make_unique<FakeCollector>(address);
    } catch (const std::exception&) {
    }
  }
  std::vector<std::string> got_a, got_b;
  auto harvest = [&] {
    auto m = collector->lines_by_file();
    for (auto& [file, lines] : m) {
      auto& dst = file.ends_with("a.log") ? got_a : got_b;
      dst.insert(dst.end(), lines.begin(), lines.end());
    }
  };
  const std::string a = p.dir / "a.log", b = p.dir / "b.log";
  agent::testing::write_file(a, "");
  agent::testing::write_file(b, "");
  // Under ASan, freed memory sits in a quarantine (256 MiB by default) and
  // counts in RSS: cap it for the agent so RSS shows what the agent keeps.
  const char* asan = std::getenv("ASAN_OPTIONS");
  const std::string saved_asan = asan ? asan : "";
  setenv("ASAN_OPTIONS",
         (saved_asan + ":quarantine_size_mb=4:thread_local_quarantine_size_kb=64").c_str(), 1);
  auto agent =
      p.start(p.args("http://" + address, p.dir / "*.log", {"--agent.queue_max_bytes=1048576"}));
  if (asan)
    setenv("ASAN_OPTIONS", saved_asan.c_str(), 1);
  else
    unsetenv("ASAN_OPTIONS");
  std::this_thread::sleep_for(1s);
  {
    Writer w(a, "a", 2'000, 20);
    w.join();
  }
  REQUIRE(agent::testing::eventually([&] { return collector->line_count() == 2'000; }, 30s));
  const long rss_before = rss_kb(agent->pid());

  harvest();
  collector.reset();  // down: connections refused
  // ~20 MB of lines per file while it is down: far beyond queue_max_bytes
  // (1 MiB), which would have evicted them without the on-disk buffer.
  const std::string pad(190, 'x');
  long rss_max = rss_before;
  {
    std::atomic<bool> done{false};
    std::thread sampler([&] {
      while (!done) {
        rss_max = std::max(rss_max, rss_kb(agent->pid()));
        std::this_thread::sleep_for(100ms);
      }
    });
    std::ofstream fa(a, std::ios::app), fb(b, std::ios::app);
    for (int i = 2'000; i < 102'000; ++i) {
      fa << fmt::format("a {:06} {}\n", i, pad);
      fb << fmt::format("b {:06} {}\n", i - 2'000, pad);
      if (i % 5'000 == 0) {
        fa.flush();
        fb.flush();
        std::this_thread::sleep_for(20ms);
      }
    }
    fa.close();
    fb.close();
    // Let the agent read all of it into the buffer while still down.
    std::this_thread::sleep_for(8s);
    done = true;
    sampler.join();
  }
  INFO("RSS before " << rss_before << " kB, max during the outage " << rss_max << " kB");
  // 40 MB went through the agent into the disk buffer; its memory grew by
  // far less (ASan's quarantine, capped for the child below, holds freed
  // memory too).
  CHECK(rss_max - rss_before < 24 * 1024);
  const auto buffered = std::filesystem::exists(p.data + "/buffer/logs");
  CHECK(buffered);

  // Back at the same address (retried: the port may linger a moment).
  REQUIRE(agent::testing::eventually(
      [&] {
        try {
          collector = std::make_unique<FakeCollector>(address);
          return true;
        } catch (const std::exception&) {
          return false;
        }
      },
      60s));
  REQUIRE(agent::testing::eventually(
      [&] {
        std::size_t n = collector->line_count();
        return n >= 200'000;
      },
      180s));
  std::this_thread::sleep_for(1s);
  harvest();
  if (got_a.size() != 102'000 || got_b.size() != 100'000) agent->dump();
  // The file names differ: strip the "a "/"b " lines' padding for the check.
  auto strip = [](std::vector<std::string> v) {
    for (auto& l : v)
      if (l.size() > 8) l.resize(8);
    return v;
  };
  check_exactly_once_in_order(strip(got_a), "a", 102'000);
  check_exactly_once_in_order(strip(got_b), "b", 100'000);
}

TEST_CASE("agent process: SIGHUP reloads files and labels without losing or repeating lines",
          "[integration][agent][reload]") {
  FakeCollector collector;
  AgentProcess p;
  const std::string a = p.dir / "a.log", b = p.dir / "b.log";
  agent::testing::write_file(a, "");
  agent::testing::write_file(b, "");
  const std::string config = p.dir / "agent.yaml";
  auto write_config = [&](const std::string& files, const std::string& env) {
    std::ofstream(config) << "agent:\n  files: [" << files << "]\n  labels: {env: " << env << "}\n";
  };
  write_config(a, "one");
  auto args = p.args(collector.url(), a);
  args.erase(std::remove_if(args.begin(), args.end(),
                            [](const std::string& s) { return s.starts_with("--agent.files"); }),
             args.end());
  args.push_back("--config=" + config);
  auto agent = p.start(args);
  std::this_thread::sleep_for(1s);

  Writer wa(a, "a", 3'000, 10, 3ms);
  REQUIRE(agent::testing::eventually([&] { return wa.written() >= 1'000; }, 30s));
  write_config(a + ", " + b, "two");
  REQUIRE(kill(agent->pid(), SIGHUP) == 0);
  REQUIRE(agent::testing::eventually(
      [&] { return agent->output().find("SIGHUP: reloading") != std::string::npos; }, 10s));
  std::this_thread::sleep_for(1s);
  Writer wb(b, "b", 500, 10);
  wa.join();
  wb.join();
  REQUIRE(agent::testing::eventually([&] { return collector.line_count() >= 3'500; }, 60s));
  std::this_thread::sleep_for(1s);
  auto by_file = collector.lines_by_file();
  check_exactly_once_in_order(by_file[a], "a", 3'000);
  check_exactly_once_in_order(by_file[b], "b", 500);
  // b's lines all carry the new label; a's switched from one to two.
  std::set<std::string> b_env, a_env;
  for (const auto& batch : collector.logs())
    for (const auto& s : batch.streams)
      (s.labels.get("filename") == b ? b_env : a_env).insert(std::string(s.labels.get("env")));
  CHECK(b_env == std::set<std::string>{"two"});
  CHECK(a_env == std::set<std::string>{"one", "two"});
  CHECK(agent->stop() == 0);
}
