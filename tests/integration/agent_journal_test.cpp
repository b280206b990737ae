// The agent's journald source against real journal files: Debian's
// systemd-journal-remote writes them from journal export format (the same
// binary files journald writes), the agent reads them through libsystemd.
// Covers: the start at the end, new entries picked up, the unit label,
// timestamps, truncation of long messages, and a restart that resumes after
// the saved cursor with no entry lost or shipped twice.
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../unit/agent_test_util.h"
#include "agent/agent.h"
#include "agent/journal_reader.h"
#include "agent/options.h"
#include "agent_fake_collector.h"
#include "tests/support/process.h"

using namespace strata;
using namespace strata::agent;
using namespace std::chrono_literals;

namespace {

constexpr const char* kJournalRemote = "/lib/systemd/systemd-journal-remote";
constexpr std::int64_t kBaseUsec = 1'764'770'000'000'000;

struct Message {
  std::string unit;  // _SYSTEMD_UNIT; empty: only SYSLOG_IDENTIFIER=kernel
  std::string text;
};

// Appends `messages` to <dir>/remote.journal, the i-th overall at
// kBaseUsec + i ms (`first` is the index of messages[0]).
void append_journal(const std::string& dir, const std::vector<Message>& messages,
                    std::size_t first) {
  const std::string export_file = dir + "/batch.export";
  {
    std::ofstream out(export_file, std::ios::binary | std::ios::trunc);
    for (std::size_t i = 0; i < messages.size(); ++i) {
      const std::int64_t usec = kBaseUsec + static_cast<std::int64_t>(first + i) * 1000;
      out << "__REALTIME_TIMESTAMP=" << usec << "\n__MONOTONIC_TIMESTAMP=" << (first + i + 1) * 1000
          << "\n_BOOT_ID=0123456789abcdef0123456789abcdef\nMESSAGE=" << messages[i].text
          << "\nPRIORITY=6\n_HOSTNAME=h1\n";
      if (messages[i].unit.empty())
        out << "SYSLOG_IDENTIFIER=kernel\n";
      else
        out << "_SYSTEMD_UNIT=" << messages[i].unit << "\nSYSLOG_IDENTIFIER=daemon\n";
      out << "\n";
    }
  }
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const std::string output = "--output=" + dir + "/remote.journal";
    execl(kJournalRemote, kJournalRemote, output.c_str(), export_file.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
}

AgentOptions journal_agent(const std::string& collector, const agent::testing::TempDir& dir) {
  AgentOptions o;
  o.http.listen = "127.0.0.1:0";
  o.collector_urls = {collector};
  o.proc_path = dir / "proc";
  o.interval = std::chrono::hours(1);
  o.instance = "test-host";
  o.journal = true;
  o.journal_path = dir / "journal";
  o.data_dir = dir / "data";
  o.max_line_bytes = 100;
  o.flush_interval = 100ms;
  return o;
}

struct Shipped {
  std::string unit, line;
  std::int64_t ts;
};

std::vector<Shipped> shipped(const agent::testing::FakeCollector& c) {
  std::vector<Shipped> out;
  for (const auto& b : c.logs())
    for (const auto& s : b.streams)
      for (const auto& e : s.entries)
        out.push_back({std::string(s.labels.get("unit")), e.line, e.timestamp_ns});
  return out;
}

}  // namespace

TEST_CASE("journal reader: from the end, then after a cursor", "[integration][agent][journal]") {
  if (access(kJournalRemote, X_OK) != 0)
    FAIL("systemd-journal-remote missing: run scripts/setup.sh");
  agent::testing::TempDir dir;
  const std::string jdir = dir / "journal";
  std::filesystem::create_directories(jdir);
  append_journal(jdir, {{"a.service", "one"}, {"", "two"}}, 0);

  JournalReader from_end(jdir, "", 1000);
  CHECK(from_end.read(100).empty());

  JournalReader all(jdir, "", 1000);
  append_journal(jdir, {{"a.service", "three"}, {"b.service", "four"}}, 2);
  auto e = all.read(1);
  REQUIRE(e.size() == 1);
  CHECK(e[0].message == "three");
  CHECK(e[0].unit == "a.service");
  CHECK(e[0].timestamp_ns == (kBaseUsec + 2000) * 1000);
  const std::string after_three = all.cursor();

  JournalReader resumed(jdir, after_three, 1000);
  e = resumed.read(100);
  REQUIRE(e.size() == 1);
  CHECK(e[0].message == "four");
  CHECK(e[0].unit == "b.service");

  CHECK_THROWS_WITH(JournalReader(dir / "nope", "", 1000), Catch::Contains("not a directory"));
}

TEST_CASE("agent ships the journal: unit streams, truncation, restart resumes after the cursor",
          "[integration][agent][journal]") {
  if (access(kJournalRemote, X_OK) != 0)
    FAIL("systemd-journal-remote missing: run scripts/setup.sh");
  agent::testing::FakeCollector collector;
  agent::testing::TempDir dir;
  agent::testing::write_fake_proc(dir / "proc");
  std::filesystem::create_directories(dir / "journal");
  append_journal(dir / "journal", {{"old.service", "before the agent: not shipped"}}, 0);

  const std::string long_text(300, 'x');
  {
    Agent a(journal_agent(collector.url(), dir));
    a.start();
    std::this_thread::sleep_for(300ms);  // the reader is at the end
    append_journal(dir / "journal",
                   {{"ssh.service", "Accepted publickey for alice"},
                    {"", "kernel: eth0 link up"},
                    {"ssh.service", long_text}},
                   1);
    REQUIRE(strata::testing::eventually([&] { return shipped(collector).size() == 3; }, 15s));
    a.stop();
  }
  // Order holds per stream (unit), as for files.
  auto got = shipped(collector);
  REQUIRE(got.size() == 3);
  std::map<std::string, std::vector<Shipped>> by_unit;
  for (const auto& g : got) by_unit[g.unit].push_back(g);
  REQUIRE(by_unit["ssh.service"].size() == 2);
  REQUIRE(by_unit["kernel"].size() == 1);
  CHECK(by_unit["ssh.service"][0].line == "Accepted publickey for alice");
  CHECK(by_unit["ssh.service"][0].ts == (kBaseUsec + 1000) * 1000);
  CHECK(by_unit["ssh.service"][1].line == std::string(100, 'x'));  // cut at agent.max_line_bytes
  CHECK(by_unit["kernel"][0].line == "kernel: eth0 link up");
  CHECK(by_unit["kernel"][0].ts == (kBaseUsec + 2000) * 1000);
  const std::string cursor_file = std::filesystem::path(dir / "data") / "journal.cursor";
  {
    std::ifstream in(cursor_file);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(text.starts_with("strata-journal-cursor 1 s="));  // docs/format/journal_cursor.md
  }

  // Written while the agent is down: shipped after the restart, and nothing
  // of the first run again.
  append_journal(dir / "journal",
                 {{"ssh.service", "while down 1"}, {"cron.service", "while down 2"}}, 4);
  {
    Agent b(journal_agent(collector.url(), dir));
    b.start();
    REQUIRE(strata::testing::eventually([&] { return shipped(collector).size() >= 5; }, 15s));
    std::this_thread::sleep_for(500ms);  // nothing more may come
    b.stop();
  }
  got = shipped(collector);
  REQUIRE(got.size() == 5);
  std::multiset<std::pair<std::string, std::string>> second_run;
  for (std::size_t i = 3; i < got.size(); ++i) second_run.emplace(got[i].unit, got[i].line);
  CHECK(second_run == std::multiset<std::pair<std::string, std::string>>{
                          {"ssh.service", "while down 1"}, {"cron.service", "while down 2"}});
}
