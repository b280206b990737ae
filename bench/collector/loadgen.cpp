// strata-bench-collector-load: a load generator for ingest endpoints.
//
// Holds --connections keep-alive TCP connections to one server (Asio, one
// thread, epoll underneath) and keeps --inflight requests running on them,
// round-robin, so that every connection is used while the server is loaded.
// The requests are built once, before the run: Prometheus remote-write 1.0
// (snappy protobuf, --series x --samples per request) or Loki push (snappy
// protobuf, --streams x --lines). After --warmup seconds it measures for
// --duration seconds what the server accepted (2xx) and how much CPU the
// server process --pid used meanwhile (utime + stime from /proc/PID/stat),
// and prints key=value lines for run.sh. See README.md.
#include <snappy.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  std::string host = "127.0.0.1";
  std::string port;
  std::string kind = "remote_write";  // or "loki"
  int series = 1000;
  int samples = 10;
  int streams = 100;
  int lines = 100;
  int variants = 16;  // distinct request bodies, cycled
  int connections = 10000;
  int inflight = 32;
  int ramp = 256;
  double warmup_s = 3;
  double duration_s = 15;
  int pid = 0;
  // Sent once on every new connection: a server may close a connection that
  // has not sent its first request within a few seconds (Go's
  // ReadHeaderTimeout), but keeps a used keep-alive one much longer.
  std::string ping_path = "/health";
  // Gauge(s) on the server's /metrics counting its open connections; summed.
  std::string conns_metric;
};

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s --target HOST:PORT --pid SERVER_PID [--kind remote_write|loki]\n"
               "          [--series N] [--samples N] [--streams N] [--lines N] [--variants N]\n"
               "          [--connections N] [--inflight N] [--ramp N] [--warmup S] "
               "[--duration S]\n"
               "          [--ping-path PATH] [--conns-metric NAME]\n",
               argv0);
  std::exit(2);
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage(argv[0]);
    const std::string v = argv[++i];
    if (flag == "--target") {
      const auto colon = v.rfind(':');
      if (colon == std::string::npos) usage(argv[0]);
      a.host = v.substr(0, colon);
      a.port = v.substr(colon + 1);
    } else if (flag == "--pid") {
      a.pid = std::stoi(v);
    } else if (flag == "--kind") {
      a.kind = v;
    } else if (flag == "--series") {
      a.series = std::stoi(v);
    } else if (flag == "--samples") {
      a.samples = std::stoi(v);
    } else if (flag == "--streams") {
      a.streams = std::stoi(v);
    } else if (flag == "--lines") {
      a.lines = std::stoi(v);
    } else if (flag == "--variants") {
      a.variants = std::max(1, std::stoi(v));
    } else if (flag == "--connections") {
      a.connections = std::max(1, std::stoi(v));
    } else if (flag == "--inflight") {
      a.inflight = std::max(1, std::stoi(v));
    } else if (flag == "--ramp") {
      a.ramp = std::max(1, std::stoi(v));
    } else if (flag == "--warmup") {
      a.warmup_s = std::stod(v);
    } else if (flag == "--duration") {
      a.duration_s = std::stod(v);
    } else if (flag == "--ping-path") {
      a.ping_path = v;
    } else if (flag == "--conns-metric") {
      a.conns_metric = v;
    } else {
      usage(argv[0]);
    }
  }
  if (a.port.empty() || (a.kind != "remote_write" && a.kind != "loki")) usage(argv[0]);
  return a;
}

// Protobuf wire format, just what the two request types need.
class Pb {
 public:
  Pb& bytes(int field, std::string_view v) {
    tag(field, 2);
    varint(v.size());
    out_.append(v);
    return *this;
  }
  Pb& msg(int field, const Pb& m) { return bytes(field, m.out_); }
  Pb& dbl(int field, double v) {
    tag(field, 1);
    const auto bits = std::bit_cast<std::uint64_t>(v);
    for (int i = 0; i < 8; ++i) out_ += static_cast<char>((bits >> (8 * i)) & 0xff);
    return *this;
  }
  Pb& int64(int field, std::int64_t v) {
    tag(field, 0);
    varint(static_cast<std::uint64_t>(v));
    return *this;
  }
  const std::string& str() const { return out_; }

 private:
  void tag(int field, int wire_type) { varint(static_cast<std::uint64_t>(field << 3 | wire_type)); }
  void varint(std::uint64_t v) {
    while (v >= 0x80) {
      out_ += static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    out_ += static_cast<char>(v);
  }
  std::string out_;
};

std::string snappy_compress(const std::string& raw) {
  std::string out;
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Workload {
  std::vector<std::string> requests;  // full HTTP requests, header + body
  double units_per_request = 0;       // samples, or log-line bytes
  std::size_t body_bytes = 0;         // of the first request
};

std::string http_request(const Args& a, const std::string& path, const std::string& body,
                         const std::string& extra_headers) {
  return "POST " + path + " HTTP/1.1\r\nHost: " + a.host + ":" + a.port +
         "\r\nUser-Agent: strata-bench-collector-load\r\n" + extra_headers +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Series as a node_exporter-like fleet sends them: a few metric names, the
// usual target labels, counter-like values, 15 s apart.
Workload remote_write_workload(const Args& a) {
  Workload w;
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> inc(0, 1000);
  const std::int64_t t0 = now_ms() - 5 * 60 * 1000;
  for (int v = 0; v < a.variants; ++v) {
    Pb req;
    for (int i = 0; i < a.series; ++i) {
      Pb ts;
      ts.msg(1, Pb().bytes(1, "__name__").bytes(2, "node_bench_metric_" + std::to_string(i % 50)));
      ts.msg(1, Pb().bytes(1, "cpu").bytes(2, std::to_string(i / 50)));
      ts.msg(1, Pb().bytes(1, "instance").bytes(2, "host-" + std::to_string(v) + ":9100"));
      ts.msg(1, Pb().bytes(1, "job").bytes(2, "node"));
      ts.msg(1, Pb().bytes(1, "mode").bytes(2, i % 2 ? "user" : "system"));
      double value = inc(rng);
      for (int s = 0; s < a.samples; ++s) {
        value += inc(rng);
        ts.msg(2, Pb().dbl(1, value).int64(2, t0 + (v * a.samples + s) * 15'000 / a.variants));
      }
      req.msg(1, ts);
    }
    const std::string body = snappy_compress(req.str());
    if (v == 0) w.body_bytes = body.size();
    w.requests.push_back(http_request(a, "/api/v1/write", body,
                                      "Content-Type: application/x-protobuf\r\n"
                                      "Content-Encoding: snappy\r\n"
                                      "X-Prometheus-Remote-Write-Version: 0.1.0\r\n"));
  }
  w.units_per_request = static_cast<double>(a.series) * a.samples;
  return w;
}

// Application log lines of 100 to 300 bytes, logfmt-ish, as promtail ships
// them (snappy protobuf).
Workload loki_workload(const Args& a) {
  Workload w;
  std::mt19937_64 rng(7);
  static const char* kPaths[] = {"/api/v1/users", "/api/v1/orders", "/healthz", "/login",
                                 "/api/v1/search"};
  static const char* kLevels[] = {"info", "info", "info", "warn", "error", "debug"};
  const std::int64_t t0_ns = (now_ms() - 5 * 60 * 1000) * 1'000'000;
  double line_bytes = 0;
  for (int v = 0; v < a.variants; ++v) {
    Pb req;
    double bytes = 0;
    for (int s = 0; s < a.streams; ++s) {
      Pb stream;
      stream.bytes(1, "{job=\"app\", host=\"host-" + std::to_string(v) + "\", pod=\"api-" +
                          std::to_string(s) + "\", namespace=\"prod\"}");
      for (int l = 0; l < a.lines; ++l) {
        const std::int64_t ts = t0_ns + (static_cast<std::int64_t>(v) * a.lines + l) * 1'000'000;
        std::string line =
            "level=" + std::string(kLevels[rng() % 6]) + " ts=" + std::to_string(ts) +
            " caller=handler.go:" + std::to_string(rng() % 500) +
            " method=GET path=" + kPaths[rng() % 5] + "/" + std::to_string(rng() % 100000) +
            " status=200 duration_ms=" + std::to_string(rng() % 2000) +
            " trace_id=" + std::to_string(rng()) + " msg=\"request handled\"";
        line.append(rng() % 150, 'x');
        bytes += static_cast<double>(line.size());
        stream.msg(2, Pb().msg(1, Pb().int64(1, ts / 1'000'000'000).int64(2, ts % 1'000'000'000))
                          .bytes(2, line));
      }
      req.msg(1, stream);
    }
    line_bytes += bytes;
    const std::string body = snappy_compress(req.str());
    if (v == 0) w.body_bytes = body.size();
    w.requests.push_back(
        http_request(a, "/loki/api/v1/push", body, "Content-Type: application/x-protobuf\r\n"));
  }
  w.units_per_request = line_bytes / a.variants;
  return w;
}

// utime + stime of a process, in seconds.
double cpu_seconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return -1;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0;
  // Fields after the name start at 3 (state); utime is 14, stime 15.
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long rss_mib(int pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10) / 1024;
  return -1;
}

// The sum of the gauges named `metric` (any labels) on the server's
// /metrics; -1 when it cannot be read. Blocking: called once, at the end of
// the measurement.
double server_gauge(const Args& a, const tcp::endpoint& ep, const std::string& metric) {
  if (metric.empty()) return -1;
  try {
    net::io_context ioc;
    tcp::socket s(ioc);
    s.connect(ep);
    bhttp::request<bhttp::empty_body> req(bhttp::verb::get, "/metrics", 11);
    req.set(bhttp::field::host, a.host);
    bhttp::write(s, req);
    beast::flat_buffer buf;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 << 20);
    bhttp::read(s, buf, parser);
    std::istringstream body(parser.get().body());
    std::string line;
    double sum = 0;
    bool found = false;
    while (std::getline(body, line)) {
      if (line.rfind(metric, 0) != 0) continue;
      const char next = line.size() > metric.size() ? line[metric.size()] : '\0';
      if (next != ' ' && next != '{') continue;
      sum += std::stod(line.substr(line.rfind(' ') + 1));
      found = true;
    }
    return found ? sum : -1;
  } catch (const std::exception&) {
    return -1;
  }
}

struct Conn {
  explicit Conn(net::io_context& ioc) : socket(ioc) {}
  tcp::socket socket;
  beast::flat_buffer buffer;
  std::optional<bhttp::response_parser<bhttp::string_body>> parser;
  bool open = false;
  bool busy = false;
};

struct Counts {
  std::uint64_t ok = 0, limited = 0, unavailable = 0, other = 0, errors = 0;
  double units = 0;
};

class Load {
 public:
  Load(const Args& a, Workload w) : args_(a), work_(std::move(w)) {
    tcp::resolver resolver(ioc_);
    endpoint_ = *resolver.resolve(a.host, a.port).begin();
    for (int i = 0; i < a.connections; ++i) conns_.push_back(std::make_unique<Conn>(ioc_));
  }

  // Opens every connection, at most `ramp` being opened at once (a listen
  // backlog overflow would cost a 1 s SYN retransmit and say nothing).
  int open_all() {
    for (int i = 0; i < args_.ramp; ++i) open_next();
    ioc_.run();
    ioc_.restart();
    int open = 0;
    for (auto& c : conns_) open += c->open;
    return open;
  }

  void run() {
    const auto warm =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(args_.warmup_s));
    const auto measured = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(args_.duration_s));
    for (int i = 0; i < args_.inflight; ++i) next_request();
    net::steady_timer start_timer(ioc_, warm), end_timer(ioc_, warm + measured);
    start_timer.async_wait([this](beast::error_code) {
      at_start_ = counts_;
      cpu_start_ = cpu_seconds(args_.pid);
      t_start_ = Clock::now();
    });
    end_timer.async_wait([this](beast::error_code) {
      at_end_ = counts_;
      cpu_end_ = cpu_seconds(args_.pid);
      t_end_ = Clock::now();
      rss_end_ = rss_mib(args_.pid);
      held_ = 0;
      for (auto& c : conns_) held_ += c->open;
      server_conns_ = server_gauge(args_, endpoint_, args_.conns_metric);
      stopping_ = true;
    });
    ioc_.run();
  }

  void report(int opened) const {
    const double window = std::chrono::duration<double>(t_end_ - t_start_).count();
    const double cpu = cpu_end_ - cpu_start_;
    const double units = at_end_.units - at_start_.units;
    std::printf("kind=%s\n", args_.kind.c_str());
    std::printf("body_bytes=%zu\nunits_per_request=%.0f\n", work_.body_bytes,
                work_.units_per_request);
    std::printf("connections_requested=%d\nconnections_opened=%d\nconnections_held=%d\n",
                args_.connections, opened, held_);
    std::printf("inflight=%d\nwindow_s=%.2f\n", args_.inflight, window);
    std::printf("requests_ok=%llu\nrequests_429=%llu\nrequests_503=%llu\nrequests_other=%llu\n",
                static_cast<unsigned long long>(at_end_.ok - at_start_.ok),
                static_cast<unsigned long long>(at_end_.limited - at_start_.limited),
                static_cast<unsigned long long>(at_end_.unavailable - at_start_.unavailable),
                static_cast<unsigned long long>(at_end_.other - at_start_.other));
    std::printf("transport_errors=%llu\nreconnects=%llu\n",
                static_cast<unsigned long long>(counts_.errors),
                static_cast<unsigned long long>(reconnects_));
    std::printf("server_open_connections=%.0f\n", server_conns_);
    std::printf("units_accepted=%.0f\nunits_per_s=%.0f\n", units, units / window);
    std::printf("server_cpu_s=%.3f\nserver_cpu_cores=%.2f\nunits_per_cpu_s=%.0f\n", cpu,
                cpu / window, cpu > 0 ? units / cpu : 0);
    std::printf("server_rss_mib=%ld\n", rss_end_);
    if (!first_error_.empty()) std::printf("first_error=%s\n", first_error_.c_str());
  }

 private:
  void open_next() {
    if (next_open_ >= conns_.size()) return;
    connect(*conns_[next_open_++], [this] { open_next(); });
  }

  // Connects and sends the ping request; `then` runs when c is ready (open,
  // idle) or has failed.
  template <class Then>
  void connect(Conn& c, Then then) {
    c.busy = true;
    c.buffer.consume(c.buffer.size());
    c.socket.async_connect(endpoint_, [this, &c, then](beast::error_code ec) {
      if (ec) {
        note_error("connect: " + ec.message());
        c.busy = false;
        return then();
      }
      c.socket.set_option(tcp::no_delay(true), ec);
      c.open = true;
      auto ping = std::make_shared<std::string>("GET " + args_.ping_path +
                                                " HTTP/1.1\r\nHost: " + args_.host + "\r\n\r\n");
      net::async_write(c.socket, net::buffer(*ping),
                       [this, &c, ping, then](beast::error_code wec, std::size_t) {
                         if (wec) {
                           note_error("ping write: " + wec.message());
                           close(c);
                           c.busy = false;
                           return then();
                         }
                         c.parser.emplace();
                         bhttp::async_read(c.socket, c.buffer, *c.parser,
                                           [this, &c, then](beast::error_code rec, std::size_t) {
                                             if (rec) {
                                               note_error("ping read: " + rec.message());
                                               close(c);
                                             }
                                             c.parser.reset();
                                             c.busy = false;
                                             then();
                                           });
                       });
    });
  }

  void note_error(const std::string& what) {
    ++counts_.errors;
    if (first_error_.empty()) first_error_ = what;
  }

  // Starts one request on the next open, idle connection (round-robin).
  void next_request() {
    if (stopping_) return;
    for (std::size_t tries = 0; tries < conns_.size(); ++tries) {
      Conn& c = *conns_[rr_++ % conns_.size()];
      if (!c.open || c.busy) continue;
      send(c);
      return;
    }
  }

  void send(Conn& c) {
    c.busy = true;
    const std::string& req = work_.requests[variant_++ % work_.requests.size()];
    net::async_write(c.socket, net::buffer(req), [this, &c](beast::error_code ec, std::size_t) {
      if (ec) return fail(c, "write: " + ec.message());
      c.parser.emplace();
      c.parser->body_limit(1 << 20);
      bhttp::async_read(
          c.socket, c.buffer, *c.parser, [this, &c](beast::error_code rec, std::size_t) {
            if (rec) return fail(c, "read: " + rec.message());
            const unsigned status = c.parser->get().result_int();
            const bool keep = c.parser->get().keep_alive();
            if (status >= 200 && status < 300) {
              ++counts_.ok;
              counts_.units += work_.units_per_request;
            } else if (status == 429) {
              ++counts_.limited;
            } else if (status == 503) {
              ++counts_.unavailable;
            } else {
              ++counts_.other;
              if (first_error_.empty())
                first_error_ =
                    "HTTP " + std::to_string(status) + ": " + c.parser->get().body().substr(0, 200);
            }
            c.parser.reset();
            c.busy = false;
            if (!keep) close(c);
            next_request();
          });
    });
  }

  // The server closed a connection (its idle timeout, say): reopen it, so
  // that the number held stays what was asked for, and go on elsewhere.
  void fail(Conn& c, const std::string& what) {
    note_error(what);
    close(c);
    c.busy = false;
    next_request();
    if (!stopping_) {
      ++reconnects_;
      connect(c, [] {});
    }
  }

  void close(Conn& c) {
    beast::error_code ec;
    c.socket.close(ec);
    c.open = false;
  }

  const Args& args_;
  Workload work_;
  net::io_context ioc_{1};
  tcp::endpoint endpoint_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::size_t next_open_ = 0;
  std::size_t rr_ = 0;
  std::size_t variant_ = 0;
  bool stopping_ = false;
  Counts counts_, at_start_, at_end_;
  double cpu_start_ = 0, cpu_end_ = 0;
  Clock::time_point t_start_, t_end_;
  long rss_end_ = -1;
  int held_ = 0;
  double server_conns_ = -1;
  std::uint64_t reconnects_ = 0;
  std::string first_error_;
};

void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse_args(argc, argv);
  if (args.pid <= 0) usage(argv[0]);
  raise_fd_limit();
  Workload w = args.kind == "loki" ? loki_workload(args) : remote_write_workload(args);
  Load load(args, std::move(w));
  const int opened = load.open_all();
  load.run();
  load.report(opened);
  return 0;
}
