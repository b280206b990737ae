#include "tests/support/process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/http_client.h"

namespace strata::testing {

std::string temp_dir(const std::string& prefix) {
  std::string tmpl = (std::getenv("TMPDIR") ? std::string(std::getenv("TMPDIR")) : "/tmp") + "/" +
                     prefix + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed for " + tmpl);
  return buf.data();
}

ChildProcess::ChildProcess(std::string name, std::string binary, std::vector<std::string> args)
    : name_(std::move(name)) {
  log_path_ = temp_dir("strata-proc") + "/" + name_ + ".log";
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    // Nothing else of the test process may leak into the child: an inherited
    // listening socket (Asio does not open them close-on-exec) would keep a
    // test server's port bound -- and accepting into the void -- after the
    // test closed its own copy, e.g. when it stops a fake collector.
    close_range(3, ~0U, 0);
    // Unblock the signals the test runner may have blocked, so SIGTERM reaches
    // the child's own handling.
    sigset_t set;
    sigemptyset(&set);
    sigprocmask(SIG_SETMASK, &set, nullptr);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(binary.c_str()));
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    std::fprintf(stderr, "execv %s: %s\n", binary.c_str(), std::strerror(errno));
    _exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) stop(std::chrono::milliseconds(5000));
  // Tests print output() when they fail; the log's directory would otherwise
  // pile up in /tmp, one per child of every run. STRATA_KEEP_TEST_LOGS keeps it.
  if (!std::getenv("STRATA_KEEP_TEST_LOGS")) {
    std::error_code ec;
    std::filesystem::remove_all(std::filesystem::path(log_path_).parent_path(), ec);
  }
}

bool ChildProcess::running() {
  if (pid_ <= 0) return false;
  int st = 0;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
    pid_ = -1;
    return false;
  }
  return true;
}

int ChildProcess::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return status_;
  ::kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!running()) return status_;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::cerr << name_ << " did not stop within the grace period; SIGKILL\n";
  kill9();
  return status_;
}

void ChildProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int st = 0;
  waitpid(pid_, &st, 0);
  status_ = -SIGKILL;
  pid_ = -1;
}

std::string ChildProcess::output() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void ChildProcess::dump() const {
  std::cerr << "----- " << name_ << " output -----\n" << output() << "----- end " << name_ << "\n";
}

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    throw std::runtime_error("cannot bind a loopback port");
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

bool wait_http_ok(const std::string& url, std::chrono::milliseconds timeout) {
  http::ClientOptions o;
  o.max_attempts = 1;
  o.request_timeout = std::chrono::milliseconds(1000);
  http::HttpClient client(o);
  return eventually([&] { return client.get(url).status == 200; }, timeout);
}

}  // namespace strata::testing
