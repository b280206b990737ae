// strata-bench-agent-driver: what bench/agent/run.sh runs around strata-agent.
//
//   serve    --listen HOST:PORT --series N
//            A collector stand-in (POST /api/v1/push/{metrics,logs} -> 204,
//            counting requests, decoded body bytes and log lines) and a
//            scrape target (GET /metrics: N gauge series whose values change
//            on every scrape). GET /stats prints the counters as key=value.
//   write    --file PATH --rate LINES_PER_S --seconds S [--line-bytes B]
//            Appends B-byte lines at a steady rate (in 10 ms ticks), like a
//            busy service writing its log.
//   generate --file PATH --bytes N [--line-bytes B]
//            Writes N bytes of distinct B-byte lines as fast as possible (the
//            input of the throughput run).
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "common/http_server.h"

using namespace strata;

namespace {

std::map<std::string, std::string> args_of(int argc, char** argv, int first) {
  std::map<std::string, std::string> a;
  for (int i = first; i + 1 < argc; i += 2) {
    if (std::strncmp(argv[i], "--", 2) != 0) {
      std::cerr << "expected --name value, got " << argv[i] << "\n";
      std::exit(2);
    }
    a[argv[i] + 2] = argv[i + 1];
  }
  return a;
}

std::string need(const std::map<std::string, std::string>& a, const std::string& k) {
  auto it = a.find(k);
  if (it == a.end()) {
    std::cerr << "missing --" << k << "\n";
    std::exit(2);
  }
  return it->second;
}

std::string line_of(std::uint64_t n, std::size_t bytes) {
  std::string l =
      fmt::format("2026-01-01T00:00:00Z level=info msg=\"request served\" seq={:012} ", n);
  while (l.size() + 1 < bytes) l += static_cast<char>('a' + (l.size() + n) % 26);
  l.resize(bytes - 1);
  return l + "\n";
}

int serve(const std::map<std::string, std::string>& a) {
  const int series = std::stoi(need(a, "series"));
  http::ServerOptions o;
  o.listen = need(a, "listen");
  o.max_body_bytes = 64u << 20;
  http::HttpServer server(o);
  std::atomic<std::uint64_t> metrics_requests{0}, logs_requests{0}, body_bytes{0}, scrapes{0};
  server.add_route("POST", "/api/v1/push/metrics", [&](const http::Request& r) {
    ++metrics_requests;
    body_bytes += r.body.size();
    return http::Response::text(204, "");
  });
  server.add_route("POST", "/api/v1/push/logs", [&](const http::Request& r) {
    ++logs_requests;
    body_bytes += r.body.size();
    return http::Response::text(204, "");
  });
  server.add_route("GET", "/metrics", [&](const http::Request&) {
    const std::uint64_t n = ++scrapes;
    std::string page =
        "# HELP bench_value A value that changes every scrape.\n"
        "# TYPE bench_value gauge\n";
    for (int i = 0; i < series; ++i)
      page += fmt::format("bench_value{{shard=\"{}\",kind=\"k{}\"}} {}\n", i, i % 10,
                          static_cast<double>(n * 7 + static_cast<std::uint64_t>(i)) / 3.0);
    return http::Response::text(200, page);
  });
  server.add_route("GET", "/stats", [&](const http::Request&) {
    return http::Response::text(
        200, fmt::format("metrics_requests={}\nlogs_requests={}\nbody_bytes={}\nscrapes={}\n",
                         metrics_requests.load(), logs_requests.load(), body_bytes.load(),
                         scrapes.load()));
  });
  server.start();
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  int sig = 0;
  sigwait(&set, &sig);
  server.stop();
  return 0;
}

int write_lines(const std::map<std::string, std::string>& a) {
  const std::string path = need(a, "file");
  const double rate = std::stod(need(a, "rate"));
  const double seconds = std::stod(need(a, "seconds"));
  const std::size_t bytes = a.count("line-bytes") ? std::stoul(a.at("line-bytes")) : 120;
  std::ofstream out(path, std::ios::app | std::ios::binary);
  const auto start = std::chrono::steady_clock::now();
  std::uint64_t written = 0;
  for (;;) {
    const double t =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (t >= seconds) break;
    const auto due = static_cast<std::uint64_t>(t * rate);
    for (; written < due; ++written) out << line_of(written, bytes);
    out.flush();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::cout << "lines=" << written << "\n";
  return 0;
}

int generate(const std::map<std::string, std::string>& a) {
  const std::string path = need(a, "file");
  const std::uint64_t total = std::stoull(need(a, "bytes"));
  const std::size_t bytes = a.count("line-bytes") ? std::stoul(a.at("line-bytes")) : 120;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) {
    std::perror(path.c_str());
    return 1;
  }
  std::uint64_t n = 0, done = 0;
  std::string chunk;
  while (done < total) {
    chunk.clear();
    while (chunk.size() < (1u << 20) && done + chunk.size() < total) chunk += line_of(n++, bytes);
    std::fwrite(chunk.data(), 1, chunk.size(), f);
    done += chunk.size();
  }
  std::fclose(f);
  std::cout << "lines=" << n << "\nbytes=" << done << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: strata-bench-agent-driver serve|write|generate --name value ...\n";
    return 2;
  }
  const std::string mode = argv[1];
  const auto a = args_of(argc, argv, 2);
  if (mode == "serve") return serve(a);
  if (mode == "write") return write_lines(a);
  if (mode == "generate") return generate(a);
  std::cerr << "unknown mode " << mode << "\n";
  return 2;
}
