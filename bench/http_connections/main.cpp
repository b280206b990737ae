// strata-bench-http-connections: can one HttpServer hold thousands of idle
// keep-alive connections (an agent fleet) and still answer on all of them?
//
// Opens N connections with Asio from one client thread, sends one GET on
// each, keeps them all open, then sends a second GET on every connection at
// once and checks every one is answered on the same connection. Prints the
// server's open_connections(), timings and latency percentiles. See README.md.
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/http_client.h"
#include "common/http_server.h"

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  int connections = 5000;
  int io_threads = 1;
  int handler_threads = 2;
  int ramp = 256;  // connections being opened at once
  int hold_ms = 0;
  std::string serve;   // --serve ADDR: server only (for wrk or --target)
  std::string target;  // --target HOST:PORT: client only
};

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--connections N] [--io-threads N] [--handler-threads N]\n"
               "          [--ramp N] [--hold-ms MS] [--serve HOST:PORT | --target HOST:PORT]\n",
               argv0);
  std::exit(2);
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage(argv[0]);
    const std::string value = argv[++i];
    if (flag == "--connections") {
      a.connections = std::stoi(value);
    } else if (flag == "--io-threads") {
      a.io_threads = std::stoi(value);
    } else if (flag == "--handler-threads") {
      a.handler_threads = std::stoi(value);
    } else if (flag == "--ramp") {
      a.ramp = std::max(1, std::stoi(value));
    } else if (flag == "--hold-ms") {
      a.hold_ms = std::stoi(value);
    } else if (flag == "--serve") {
      a.serve = value;
    } else if (flag == "--target") {
      a.target = value;
    } else {
      usage(argv[0]);
    }
  }
  return a;
}

// Each connection costs a descriptor on both sides when client and server
// share the process, so the usual soft limit of 1024 is far too low.
void raise_fd_limit(std::size_t wanted) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  std::printf("RLIMIT_NOFILE soft=%llu hard=%llu (need ~%zu)\n",
              static_cast<unsigned long long>(rl.rlim_cur),
              static_cast<unsigned long long>(rl.rlim_max), wanted);
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < wanted) {
    std::printf("WARNING: descriptor limit below what this run needs; expect failures\n");
  }
}

long rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

strata::http::ServerOptions server_options(const Args& a, std::string listen) {
  strata::http::ServerOptions o;
  o.listen = std::move(listen);
  o.io_threads = a.io_threads;
  o.handler_threads = a.handler_threads;
  o.max_connections = static_cast<std::size_t>(a.connections) + 1000;
  return o;
}

void add_routes(strata::http::HttpServer& server) {
  using strata::http::Request;
  using strata::http::Response;
  server.add_route("GET", "/ping", [](const Request&) { return Response::text(200, "pong\n"); });
  server.add_route("GET", "/stats", [&server](const Request&) {
    return Response::text(200, "open=" + std::to_string(server.open_connections()) +
                                   " requests=" + std::to_string(server.requests_total()) +
                                   " rss_kib=" + std::to_string(rss_kib()) + "\n");
  });
}

struct Conn {
  explicit Conn(net::io_context& ioc) : socket(ioc) {}
  tcp::socket socket;
  beast::flat_buffer buffer;
  bhttp::request<bhttp::empty_body> request;
  std::optional<bhttp::response<bhttp::string_body>> response;
  Clock::time_point sent;
  bool failed = false;
};

struct Phase {
  int done = 0;
  int failed = 0;
  std::vector<double> latency_ms;
  std::vector<std::string> errors;

  void fail(Conn& c, const std::string& what) {
    c.failed = true;
    ++failed;
    ++done;
    if (errors.size() < 5) errors.push_back(what);
  }
};

class Client {
 public:
  Client(int n, tcp::endpoint server, int ramp) : server_(server), ramp_(ramp) {
    conns_.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) conns_.push_back(std::make_unique<Conn>(ioc_));
  }

  // Opens every connection and sends its first request, at most `ramp_` in
  // progress at once so the listen backlog never overflows (an overflow costs
  // a one-second SYN retransmit and says nothing about the server).
  Phase open_all() {
    phase_ = Phase{};
    next_ = 0;
    for (int i = 0; i < ramp_; ++i) open_next();
    ioc_.restart();
    ioc_.run();
    return std::move(phase_);
  }

  // Sends the second request on every open connection simultaneously.
  Phase request_all() {
    phase_ = Phase{};
    for (auto& c : conns_) {
      if (c->failed) {
        ++phase_.done;
        ++phase_.failed;
        continue;
      }
      send(*c, nullptr);
    }
    ioc_.restart();
    ioc_.run();
    return std::move(phase_);
  }

  void close_all() {
    for (auto& c : conns_) {
      beast::error_code ec;
      c->socket.close(ec);
    }
  }

 private:
  void open_next() {
    if (next_ >= conns_.size()) return;
    Conn& c = *conns_[next_++];
    c.socket.async_connect(server_, [this, &c](beast::error_code ec) {
      if (ec) {
        phase_.fail(c, "connect: " + ec.message());
        return open_next();
      }
      c.socket.set_option(tcp::no_delay(true), ec);
      send(c, [this] { open_next(); });
    });
  }

  void send(Conn& c, std::function<void()> then) {
    c.request = {bhttp::verb::get, "/ping", 11};
    c.request.set(bhttp::field::host, "bench");
    c.response.emplace();
    c.sent = Clock::now();
    bhttp::async_write(c.socket, c.request, [this, &c, then](beast::error_code ec, std::size_t) {
      if (ec) {
        phase_.fail(c, "write: " + ec.message());
        if (then) then();
        return;
      }
      bhttp::async_read(c.socket, c.buffer, *c.response,
                        [this, &c, then](beast::error_code rec, std::size_t) {
                          on_response(c, rec);
                          if (then) then();
                        });
    });
  }

  void on_response(Conn& c, beast::error_code ec) {
    if (ec) return phase_.fail(c, "read: " + ec.message());
    if (c.response->result_int() != 200) {
      return phase_.fail(c, "status " + std::to_string(c.response->result_int()));
    }
    if (!c.response->keep_alive()) return phase_.fail(c, "server closed the connection");
    phase_.latency_ms.push_back(ms_since(c.sent));
    ++phase_.done;
  }

  net::io_context ioc_{1};
  tcp::endpoint server_;
  int ramp_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::size_t next_ = 0;
  Phase phase_;
};

void print_phase(const char* name, Phase& p, double wall_ms) {
  std::sort(p.latency_ms.begin(), p.latency_ms.end());
  auto pct = [&](double q) {
    if (p.latency_ms.empty()) return 0.0;
    const auto i = static_cast<std::size_t>(q * static_cast<double>(p.latency_ms.size() - 1));
    return p.latency_ms[i];
  };
  const int ok = p.done - p.failed;
  std::printf(
      "%-8s ok=%d failed=%d wall=%.1f ms rate=%.0f req/s latency p50=%.2f p99=%.2f max=%.2f ms\n",
      name, ok, p.failed, wall_ms, wall_ms > 0 ? ok / (wall_ms / 1000.0) : 0.0, pct(0.50),
      pct(0.99), pct(1.0));
  for (const auto& e : p.errors) std::printf("  error: %s\n", e.c_str());
}

tcp::endpoint resolve(const std::string& host_port) {
  const auto colon = host_port.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("expected HOST:PORT: " + host_port);
  net::io_context ioc;
  tcp::resolver resolver(ioc);
  return resolver.resolve(host_port.substr(0, colon), host_port.substr(colon + 1))
      .begin()
      ->endpoint();
}

// For --target runs the server is another process; ask it.
std::string remote_stats(const std::string& host_port) {
  strata::http::ClientOptions o;
  o.max_attempts = 1;
  strata::http::HttpClient client(o);
  auto r = client.get("http://" + host_port + "/stats");
  return r.ok() ? r.body.substr(0, r.body.find('\n')) : "unavailable (" + r.error + ")";
}

int serve(const Args& a) {
  raise_fd_limit(static_cast<std::size_t>(a.connections) + 100);
  // Block the signals before the server spawns threads so they inherit the
  // mask and sigwait() below is the only receiver.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  strata::http::HttpServer server(server_options(a, a.serve));
  add_routes(server);
  server.start();
  std::printf("serving on %s (GET /ping, GET /stats); Ctrl-C to stop\n", server.address().c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  std::printf("open_connections=%zu requests_total=%llu; stopping\n", server.open_connections(),
              static_cast<unsigned long long>(server.requests_total()));
  server.stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse_args(argc, argv);
  if (!a.serve.empty()) return serve(a);

  const bool in_process = a.target.empty();
  raise_fd_limit(static_cast<std::size_t>(a.connections) * (in_process ? 2 : 1) + 100);

  std::unique_ptr<strata::http::HttpServer> server;
  std::string address = a.target;
  if (in_process) {
    server = std::make_unique<strata::http::HttpServer>(server_options(a, "127.0.0.1:0"));
    add_routes(*server);
    server->start();
    address = server->address();
  }
  std::printf("server %s (%s), io_threads=%d handler_threads=%d, connections=%d\n", address.c_str(),
              in_process ? "in-process" : "external", a.io_threads, a.handler_threads,
              a.connections);
  const long rss0 = rss_kib();

  Client client(a.connections, resolve(address), a.ramp);
  auto t0 = Clock::now();
  Phase first = client.open_all();
  print_phase("open+1st", first, ms_since(t0));

  const long rss1 = rss_kib();
  if (server) {
    std::printf("server open_connections=%zu requests_total=%llu\n", server->open_connections(),
                static_cast<unsigned long long>(server->requests_total()));
  } else {
    std::printf("server /stats: %s\n", remote_stats(address).c_str());
  }
  std::printf("process RSS %ld KiB -> %ld KiB (+%.1f KiB per connection, client+server)\n", rss0,
              rss1, a.connections > 0 ? double(rss1 - rss0) / a.connections : 0.0);

  if (a.hold_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(a.hold_ms));

  t0 = Clock::now();
  Phase second = client.request_all();
  print_phase("2nd", second, ms_since(t0));

  bool ok = first.failed == 0 && second.failed == 0 && second.done == a.connections;
  if (server) {
    const std::size_t open = server->open_connections();
    std::printf("server open_connections=%zu requests_total=%llu after 2nd round\n", open,
                static_cast<unsigned long long>(server->requests_total()));
    ok = ok && open == static_cast<std::size_t>(a.connections);
  } else {
    std::printf("server /stats: %s\n", remote_stats(address).c_str());
  }

  if (server) {
    // stop() with every connection still open: measures closing them all.
    t0 = Clock::now();
    server->stop();
    std::printf("server stop() with %d idle connections: %.1f ms\n", a.connections, ms_since(t0));
  }
  client.close_all();
  std::printf("%s\n", ok ? "RESULT: OK, every connection answered twice on the same socket"
                         : "RESULT: FAILED");
  return ok ? 0 : 1;
}
