// ChildProcess: runs one of Strata's real binaries as a separate process for
// end-to-end tests. Output goes to a log file that is printed when a test
// fails (dump()). The destructor sends SIGTERM, waits (bounded), then SIGKILL,
// so a failing test never leaves servers behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace strata::testing {

class ChildProcess {
 public:
  ChildProcess(std::string name, std::string binary, std::vector<std::string> args);
  // Stops the child if running and deletes its log (unless the environment
  // has STRATA_KEEP_TEST_LOGS).
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // SIGTERM and wait; returns the exit status (or -signal).
  int stop(std::chrono::milliseconds grace = std::chrono::milliseconds(10000));
  void kill9();
  bool running();
  std::string output() const;  // what it wrote to stdout/stderr so far
  void dump() const;           // prints output() to stderr
  pid_t pid() const { return pid_; }

 private:
  std::string name_;
  std::string log_path_;
  pid_t pid_ = -1;
  int status_ = 0;
};

// A port that was free a moment ago on 127.0.0.1.
int free_port();

// Polls `url` until it answers 200 or `timeout` passes.
bool wait_http_ok(const std::string& url, std::chrono::milliseconds timeout);

// Polls `pred` every 100 ms until it returns true or `timeout` passes.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    struct timespec ts {
      0, 100'000'000
    };
    nanosleep(&ts, nullptr);
  }
  return pred();
}

std::string temp_dir(const std::string& prefix);

}  // namespace strata::testing
