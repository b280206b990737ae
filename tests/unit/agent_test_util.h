// Helpers shared by the agent's tests: a scratch directory removed at scope
// exit, file writing, and polling for a condition with a deadline.
#pragma once

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>

namespace strata::agent::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "strata-agent-test-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void write_file(const std::string& path, const std::string& content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path);
}

inline void append_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << content;
  if (!out) throw std::runtime_error("cannot append to " + path);
}

inline bool eventually(const std::function<bool()>& cond,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

// A procfs look-alike with known values (see the expectations in the tests).
inline void write_fake_proc(const std::string& dir) {
  write_file(dir + "/loadavg", "0.52 1.25 2.00 3/389 12345\n");
  write_file(dir + "/stat",
             "cpu  300 20 100 4000 50 6 7 8 0 0\n"
             "cpu0 100 10 50 2000 25 3 4 5 0 0\n"
             "cpu1 200 10 50 2000 25 3 3 3 0 0\n"
             "intr 12345 1 2 3\n"
             "ctxt 987654\n"
             "btime 1700000000\n"
             "processes 4242\n"
             "procs_running 3\n"
             "procs_blocked 0\n");
  write_file(dir + "/meminfo",
             "MemTotal:       16318852 kB\n"
             "MemFree:         1000000 kB\n"
             "MemAvailable:    8000000 kB\n"
             "Buffers:          200000 kB\n"
             "Cached:          4000000 kB\n"
             "SwapCached:            0 kB\n"
             "SwapTotal:       2097148 kB\n"
             "SwapFree:        2097148 kB\n"
             "HugePages_Total:       0\n");
  write_file(dir + "/uptime", "3600.50 7000.00\n");
}

}  // namespace strata::agent::testing
