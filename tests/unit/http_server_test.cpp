#include "common/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cctype>
#include <chrono>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "common/http_client.h"

using namespace std::chrono_literals;
using strata::http::ClientOptions;
using strata::http::HttpClient;
using strata::http::HttpServer;
using strata::http::Request;
using strata::http::Response;
using strata::http::ServerOptions;

namespace {

using Clock = std::chrono::steady_clock;

std::string url(const HttpServer& s, const std::string& path) {
  return "http://127.0.0.1:" + std::to_string(s.port()) + path;
}

ClientOptions no_retry() {
  ClientOptions o;
  o.max_attempts = 1;
  o.request_timeout = 5s;
  return o;
}

std::string gzip(const std::string& in, int window_bits = 15 + 16) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&zs, in.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string zstd(const std::string& in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  const std::size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
  REQUIRE_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

// Echoes what the server parsed, so tests can check the Request it built.
Response echo(const Request& r) {
  std::string out = r.method + " " + r.path + "\n";
  for (const auto& [k, v] : r.params) out += "param " + k + "=" + v + "\n";
  out += "body " + r.body + "\n";
  return Response::text(200, out);
}

// A plain blocking socket with poll() timeouts: a misbehaving server makes
// the test fail instead of hang.
class RawConn {
 public:
  struct Reply {
    int status = 0;
    std::map<std::string, std::string> headers;
    std::string body;
  };

  explicit RawConn(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~RawConn() { ::close(fd_); }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  void send(const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send failed");
      off += static_cast<std::size_t>(n);
    }
  }

  // Appends whatever arrives within `timeout`; false on EOF, error or timeout.
  bool fill(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    buffered_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  std::optional<Reply> read_reply(std::chrono::milliseconds timeout = 5000ms) {
    const auto deadline = Clock::now() + timeout;
    auto left = [&] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    };
    std::size_t end;
    while ((end = buffered_.find("\r\n\r\n")) == std::string::npos) {
      if (left() <= 0ms || !fill(left())) return std::nullopt;
    }
    Reply r;
    const std::string head = buffered_.substr(0, end + 2);
    r.status = std::stoi(head.substr(9, 3));
    std::size_t pos = head.find("\r\n") + 2;
    while (pos < head.size()) {
      const auto eol = head.find("\r\n", pos);
      const std::string line = head.substr(pos, eol - pos);
      const auto colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
      pos = eol + 2;
    }
    const std::size_t length =
        r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0;
    while (buffered_.size() < end + 4 + length) {
      if (left() <= 0ms || !fill(left())) return std::nullopt;
    }
    r.body = buffered_.substr(end + 4, length);
    buffered_.erase(0, end + 4 + length);
    return r;
  }

  // Everything received until `needle` shows up (or the timeout).
  std::string read_until(const std::string& needle, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (buffered_.find(needle) == std::string::npos) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left <= 0ms || !fill(left)) break;
    }
    return buffered_;
  }

  // True when the server closes the connection (EOF or reset) within timeout.
  bool closed_within(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left <= 0ms) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return true;
      buffered_.append(buf, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  std::string buffered_;
};

std::string get_request(const std::string& path, const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: test\r\n" + extra + "\r\n";
}

}  // namespace

TEST_CASE("Request accessors and Response helpers", "[http_server]") {
  Request r;
  r.params = {{"a", "1"}, {"b", "x"}, {"a", "2"}};
  r.headers = {{"content-type", "text/plain"}};
  CHECK(r.param("a") == "1");
  CHECK_FALSE(r.param("zz").has_value());
  CHECK(r.params_all("a") == std::vector<std::string>{"1", "2"});
  CHECK(r.params_all("zz").empty());
  CHECK(r.header("content-type") == "text/plain");
  CHECK_FALSE(r.header("accept").has_value());

  const Response j = Response::json(201, "{}");
  CHECK(j.status == 201);
  CHECK(j.content_type == "application/json");
  const Response later = Response::retry_later(503, 7, "busy");
  CHECK(later.status == 503);
  CHECK(later.body == "busy");
  REQUIRE(later.headers.size() == 1);
  CHECK(later.headers[0] == std::pair<std::string, std::string>{"Retry-After", "7"});
}

TEST_CASE("routing: exact, prefix, 404 and 405 with Allow", "[http_server]") {
  HttpServer server(ServerOptions{});
  server.add_route("GET", "/a", [](const Request&) { return Response::text(200, "get a"); });
  server.add_route("POST", "/a", [](const Request&) { return Response::text(200, "post a"); });
  server.add_prefix_route("GET", "/files/",
                          [](const Request& r) { return Response::text(200, "file " + r.path); });
  server.add_prefix_route("GET", "/files/special/",
                          [](const Request&) { return Response::text(200, "special"); });
  server.start();
  HttpClient client(no_retry());

  CHECK(client.get(url(server, "/a")).body == "get a");
  CHECK(client.post(url(server, "/a"), "").body == "post a");
  CHECK(client.get(url(server, "/files/x/y.txt")).body == "file /files/x/y.txt");
  CHECK(client.get(url(server, "/files/special/z")).body == "special");
  // Path is percent-decoded (but '+' stays a plus in a path).
  CHECK(client.get(url(server, "/files/a%20b+c")).body == "file /files/a b+c");

  auto missing = client.get(url(server, "/nope"));
  CHECK(missing.status == 404);
  CHECK(missing.body.find("/nope") != std::string::npos);

  auto wrong = client.post(url(server, "/files/x"), "");
  CHECK(wrong.status == 405);
  CHECK(wrong.headers["allow"] == "GET, HEAD");

  // DELETE is not exposed by HttpClient; use a raw connection.
  RawConn raw(server.port());
  raw.send("DELETE /a HTTP/1.1\r\nHost: t\r\n\r\n");
  auto del = raw.read_reply();
  REQUIRE(del);
  CHECK(del->status == 405);
  CHECK(del->headers["allow"] == "GET, HEAD, POST");
}

TEST_CASE("HEAD answers with the GET route's headers and no body", "[http_server]") {
  HttpServer server(ServerOptions{});
  server.add_route("GET", "/h", [](const Request&) { return Response::text(200, "hello"); });
  server.start();
  RawConn raw(server.port());
  raw.send("HEAD /h HTTP/1.1\r\nHost: t\r\n\r\n" + get_request("/h"));
  // The GET's status line must directly follow the HEAD's headers: HEAD
  // announces Content-Length 5 yet writes no body bytes.
  std::string text = raw.read_until("hello", 3000ms);
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto first_end = text.find("\r\n\r\n");
  REQUIRE(first_end != std::string::npos);
  CHECK(text.substr(0, first_end).find("content-length: 5") != std::string::npos);
  CHECK(text.substr(first_end + 4, 12) == "http/1.1 200");
  CHECK(text.size() >= 5);
  CHECK(text.substr(text.size() - 5) == "hello");
}

TEST_CASE("query string parameters are percent-decoded, '+' is a space", "[http_server]") {
  HttpServer server(ServerOptions{});
  server.add_route("GET", "/q", echo);
  std::optional<Request> seen;
  std::mutex mu;
  server.add_route("GET", "/keep", [&](const Request& r) {
    std::lock_guard lock(mu);
    seen = r;
    return Response::text(200, "ok");
  });
  server.start();
  HttpClient client(no_retry());

  auto r = client.get(url(server, "/q?a=1&b=hello+world&c=%2Fx%20y%3D&a=2&flag&&d=%zz"));
  REQUIRE(r.status == 200);
  CHECK(r.body ==
        "GET /q\n"
        "param a=1\nparam a=2\nparam b=hello world\nparam c=/x y=\nparam d=%zz\nparam flag=\n"
        "body \n");

  auto k = client.get(url(server, "/keep?match%5B%5D=up&match[]=down"), {{"X-Thing", "v1"}});
  REQUIRE(k.status == 200);
  std::lock_guard lock(mu);
  REQUIRE(seen);
  CHECK(seen->params_all("match[]") == std::vector<std::string>{"up", "down"});
  CHECK(seen->target == "/keep?match%5B%5D=up&match[]=down");
  CHECK(seen->header("x-thing") == "v1");
  CHECK(seen->remote_address.rfind("127.0.0.1:", 0) == 0);
}

TEST_CASE("form-encoded POST bodies merge into params", "[http_server]") {
  HttpServer server(ServerOptions{});
  server.add_route("POST", "/f", echo);
  server.start();
  HttpClient client(no_retry());

  auto r = client.post(url(server, "/f?a=q"), "a=b%26c&query=up+%7Bjob%3D%22x%22%7D",
                       {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}});
  REQUIRE(r.status == 200);
  CHECK(r.body.find("param a=q\nparam a=b&c\nparam query=up {job=\"x\"}\n") != std::string::npos);

  // Another content type: the body is left alone.
  auto j = client.post(url(server, "/f"), "a=1", {{"Content-Type", "application/json"}});
  CHECK(j.body == "POST /f\nbody a=1\n");
}

TEST_CASE("gzip, deflate and zstd request bodies are decoded", "[http_server]") {
  HttpServer server(ServerOptions{});
  std::mutex mu;
  std::map<std::string, std::string> seen_headers;
  server.add_route("POST", "/p", [&](const Request& r) {
    std::lock_guard lock(mu);
    seen_headers = r.headers;
    return Response::text(200, r.body);
  });
  server.start();
  HttpClient client(no_retry());
  std::string payload;
  for (int i = 0; i < 5000; ++i) payload += "line " + std::to_string(i) + "\n";

  auto g = client.post(url(server, "/p"), gzip(payload), {{"Content-Encoding", "gzip"}});
  CHECK(g.status == 200);
  CHECK(g.body == payload);
  {
    std::lock_guard lock(mu);
    CHECK(seen_headers.count("content-encoding") == 0);
    CHECK(seen_headers["content-length"] == std::to_string(payload.size()));
  }

  auto z = client.post(url(server, "/p"), zstd(payload), {{"Content-Encoding", "zstd"}});
  CHECK(z.status == 200);
  CHECK(z.body == payload);

  auto d = client.post(url(server, "/p"), gzip(payload, 15), {{"Content-Encoding", "deflate"}});
  CHECK(d.status == 200);
  CHECK(d.body == payload);
  auto raw = client.post(url(server, "/p"), gzip(payload, -15), {{"Content-Encoding", "deflate"}});
  CHECK(raw.status == 200);
  CHECK(raw.body == payload);

  // Two gzip members back to back are one body.
  auto two =
      client.post(url(server, "/p"), gzip("ab") + gzip("cd"), {{"Content-Encoding", "gzip"}});
  CHECK(two.body == "abcd");
}

TEST_CASE("bad or unknown Content-Encoding: 400 and 415", "[http_server]") {
  HttpServer server(ServerOptions{});
  std::atomic<int> calls{0};
  server.add_route("POST", "/p", [&](const Request&) {
    ++calls;
    return Response::text(200, "ok");
  });
  server.start();
  HttpClient client(no_retry());

  auto bad = client.post(url(server, "/p"), "definitely not gzip", {{"Content-Encoding", "gzip"}});
  CHECK(bad.status == 400);
  CHECK(bad.body.find("gzip") != std::string::npos);

  std::string truncated = gzip(std::string(10000, 'x'));
  truncated.resize(truncated.size() / 2);
  CHECK(client.post(url(server, "/p"), truncated, {{"Content-Encoding", "gzip"}}).status == 400);

  auto bad_zstd = client.post(url(server, "/p"), "nope nope", {{"Content-Encoding", "zstd"}});
  CHECK(bad_zstd.status == 400);

  auto unknown = client.post(url(server, "/p"), "xx", {{"Content-Encoding", "br"}});
  CHECK(unknown.status == 415);
  CHECK(unknown.body.find("br") != std::string::npos);
  CHECK(calls == 0);
}

TEST_CASE("decompression bombs are cut at max_body_bytes -> 413", "[http_server]") {
  ServerOptions opts;
  opts.max_body_bytes = 64 * 1024;
  HttpServer server(opts);
  std::atomic<int> calls{0};
  server.add_route("POST", "/p", [&](const Request& r) {
    ++calls;
    return Response::text(200, std::to_string(r.body.size()));
  });
  server.start();
  HttpClient client(no_retry());

  const std::string zeros(8 * 1024 * 1024, '\0');
  const std::string gz = gzip(zeros);
  const std::string zs = zstd(zeros);
  REQUIRE(gz.size() < opts.max_body_bytes);  // the wire size itself is allowed
  REQUIRE(zs.size() < opts.max_body_bytes);

  auto g = client.post(url(server, "/p"), gz, {{"Content-Encoding", "gzip"}});
  CHECK(g.status == 413);
  CHECK(g.body.find("65536") != std::string::npos);
  auto z = client.post(url(server, "/p"), zs, {{"Content-Encoding", "zstd"}});
  CHECK(z.status == 413);

  // Exactly at the limit is fine.
  auto ok = client.post(url(server, "/p"), gzip(std::string(opts.max_body_bytes, 'a')),
                        {{"Content-Encoding", "gzip"}});
  CHECK(ok.status == 200);
  CHECK(ok.body == "65536");
  CHECK(calls == 1);
}

TEST_CASE("oversized body -> 413 naming the limit, then the connection closes", "[http_server]") {
  ServerOptions opts;
  opts.max_body_bytes = 1000;
  HttpServer server(opts);
  server.add_route("POST", "/p", [](const Request&) { return Response::text(200, "ok"); });
  server.start();

  HttpClient client(no_retry());
  auto r = client.post(url(server, "/p"), std::string(1001, 'x'));
  CHECK(r.status == 413);
  CHECK(r.body.find("max_body_bytes (1000 bytes)") != std::string::npos);
  CHECK(client.post(url(server, "/p"), std::string(1000, 'x')).status == 200);

  // Chunked bodies have no Content-Length to check up front.
  RawConn raw(server.port());
  std::string chunked = "POST /p HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) chunked += "190\r\n" + std::string(400, 'y') + "\r\n";
  chunked += "0\r\n\r\n";
  raw.send(chunked);
  auto reply = raw.read_reply();
  REQUIRE(reply);
  CHECK(reply->status == 413);
  CHECK(reply->headers["connection"] == "close");
  CHECK(raw.closed_within(3000ms));
}

TEST_CASE("oversized request header -> 431", "[http_server]") {
  ServerOptions opts;
  opts.max_header_bytes = 1024;
  HttpServer server(opts);
  server.add_route("GET", "/", [](const Request&) { return Response::text(200, "ok"); });
  server.start();
  RawConn raw(server.port());
  raw.send(get_request("/", "X-Big: " + std::string(2000, 'h') + "\r\n"));
  auto reply = raw.read_reply();
  REQUIRE(reply);
  CHECK(reply->status == 431);
  CHECK(reply->body.find("max_header_bytes") != std::string::npos);
  CHECK(raw.closed_within(3000ms));
}

TEST_CASE("malformed request line -> 400", "[http_server]") {
  HttpServer server(ServerOptions{});
  server.start();
  RawConn raw(server.port());
  raw.send("THIS IS NOT HTTP\r\n\r\n");
  auto reply = raw.read_reply();
  REQUIRE(reply);
  CHECK(reply->status == 400);
}

TEST_CASE("slow headers (slowloris) are cut off at header_timeout", "[http_server]") {
  ServerOptions opts;
  opts.header_timeout = 300ms;
  HttpServer server(opts);
  server.add_route("GET", "/", [](const Request&) { return Response::text(200, "ok"); });
  server.start();

  RawConn raw(server.port());
  const auto t0 = Clock::now();
  raw.send("GET / HTTP/1.1\r\nHost: t\r\n");
  // Trickling bytes does not extend the deadline.
  std::this_thread::sleep_for(150ms);
  raw.send("X-A: 1\r\n");
  REQUIRE(raw.closed_within(3000ms));
  const auto waited = Clock::now() - t0;
  CHECK(waited >= 250ms);
  CHECK(waited < 2000ms);
  CHECK(server.requests_total() == 0);

  // A connection that never sends a byte gets the same treatment.
  RawConn silent(server.port());
  CHECK(silent.closed_within(3000ms));
}

TEST_CASE("slow body is cut off at body_timeout", "[http_server]") {
  ServerOptions opts;
  opts.body_timeout = 300ms;
  HttpServer server(opts);
  std::atomic<int> calls{0};
  server.add_route("POST", "/p", [&](const Request&) {
    ++calls;
    return Response::text(200, "ok");
  });
  server.start();
  RawConn raw(server.port());
  raw.send("POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly a bit");
  CHECK(raw.closed_within(3000ms));
  CHECK(calls == 0);
}

TEST_CASE("keep-alive: several requests, sequential and pipelined, on one connection",
          "[http_server]") {
  ServerOptions opts;
  opts.handler_threads = 4;
  HttpServer server(opts);
  server.add_prefix_route("GET", "/n/", [](const Request& r) {
    // Later requests finish first: order must still be preserved.
    const int n = std::stoi(r.path.substr(3));
    std::this_thread::sleep_for(std::chrono::milliseconds(10 * (5 - n)));
    return Response::text(200, "n" + std::to_string(n));
  });
  server.start();

  RawConn raw(server.port());
  for (int i = 0; i < 3; ++i) {
    raw.send(get_request("/n/" + std::to_string(i)));
    auto reply = raw.read_reply();
    REQUIRE(reply);
    CHECK(reply->body == "n" + std::to_string(i));
    CHECK(reply->headers.count("connection") == 0);  // HTTP/1.1 default: keep-alive
  }
  raw.send(get_request("/n/1") + get_request("/n/2") + get_request("/n/3") + get_request("/n/4"));
  for (int i = 1; i <= 4; ++i) {
    auto reply = raw.read_reply();
    REQUIRE(reply);
    CHECK(reply->body == "n" + std::to_string(i));
  }
  CHECK(server.open_connections() == 1);
  CHECK(server.requests_total() == 7);

  // The client reuses its connection too.
  HttpClient client(no_retry());
  for (int i = 0; i < 5; ++i) REQUIRE(client.get(url(server, "/n/4")).status == 200);
  CHECK(server.open_connections() == 2);

  // Connection: close is honoured.
  raw.send(get_request("/n/0", "Connection: close\r\n"));
  auto last = raw.read_reply();
  REQUIRE(last);
  CHECK(last->headers["connection"] == "close");
  CHECK(raw.closed_within(3000ms));
}

TEST_CASE("idle keep-alive connections close after idle_timeout", "[http_server]") {
  ServerOptions opts;
  opts.idle_timeout = 300ms;
  HttpServer server(opts);
  server.add_route("GET", "/", [](const Request&) { return Response::text(200, "ok"); });
  server.start();
  RawConn raw(server.port());
  raw.send(get_request("/"));
  REQUIRE(raw.read_reply());
  const auto t0 = Clock::now();
  REQUIRE(raw.closed_within(3000ms));
  CHECK(Clock::now() - t0 >= 250ms);
  // The session is gone from the books as well.
  for (int i = 0; i < 100 && server.open_connections() != 0; ++i) std::this_thread::sleep_for(10ms);
  CHECK(server.open_connections() == 0);
}

TEST_CASE("a throwing handler yields 500 with its message", "[http_server]") {
  HttpServer server(ServerOptions{});
  server.add_route("GET", "/boom",
                   [](const Request&) -> Response { throw std::runtime_error("kaboom 42"); });
  server.add_route("GET", "/int", [](const Request&) -> Response { throw 7; });
  server.add_route("GET", "/badstatus", [](const Request&) { return Response::text(4242, "x"); });
  server.start();
  HttpClient client(no_retry());
  auto r = client.get(url(server, "/boom"));
  CHECK(r.status == 500);
  CHECK(r.body.find("kaboom 42") != std::string::npos);
  CHECK(client.get(url(server, "/int")).status == 500);
  CHECK(client.get(url(server, "/badstatus")).status == 500);
  // The connection and server survive.
  CHECK(client.get(url(server, "/boom")).status == 500);
  CHECK(server.open_connections() == 1);
}

TEST_CASE("a blocking handler does not stall other connections", "[http_server]") {
  ServerOptions opts;
  opts.handler_threads = 2;
  HttpServer server(opts);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  server.add_route("GET", "/block", [released](const Request&) {
    released.wait_for(5s);
    return Response::text(200, "unblocked");
  });
  server.add_route("GET", "/fast", [](const Request&) { return Response::text(200, "fast"); });
  server.start();

  auto blocked = std::async(std::launch::async, [&] {
    HttpClient c(no_retry());
    return c.get(url(server, "/block"));
  });
  std::this_thread::sleep_for(100ms);
  HttpClient client(no_retry());
  const auto t0 = Clock::now();
  CHECK(client.get(url(server, "/fast")).body == "fast");
  CHECK(Clock::now() - t0 < 1s);
  release.set_value();
  CHECK(blocked.get().body == "unblocked");
}

TEST_CASE("Expect: 100-continue gets an interim response", "[http_server]") {
  HttpServer server(ServerOptions{});
  server.add_route("POST", "/p", [](const Request& r) { return Response::text(200, r.body); });
  server.start();
  RawConn raw(server.port());
  raw.send("POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  auto interim = raw.read_reply();
  REQUIRE(interim);
  CHECK(interim->status == 100);
  raw.send("hello");
  auto reply = raw.read_reply();
  REQUIRE(reply);
  CHECK(reply->status == 200);
  CHECK(reply->body == "hello");
}

TEST_CASE("max_connections refuses connections beyond the limit", "[http_server]") {
  ServerOptions opts;
  opts.max_connections = 2;
  HttpServer server(opts);
  server.add_route("GET", "/", [](const Request&) { return Response::text(200, "ok"); });
  server.start();
  RawConn a(server.port());
  RawConn b(server.port());
  a.send(get_request("/"));
  b.send(get_request("/"));
  REQUIRE(a.read_reply());
  REQUIRE(b.read_reply());
  CHECK(server.open_connections() == 2);

  RawConn c(server.port());
  auto refused = c.read_reply();
  REQUIRE(refused);
  CHECK(refused->status == 503);
  CHECK(c.closed_within(3000ms));
  // The admitted connections still work.
  a.send(get_request("/"));
  CHECK(a.read_reply());
}

TEST_CASE("graceful stop lets an in-flight request finish", "[http_server]") {
  ServerOptions opts;
  opts.shutdown_grace = 5s;
  auto server = std::make_unique<HttpServer>(opts);
  std::atomic<bool> entered{false};
  server->add_route("GET", "/slow", [&](const Request&) {
    entered = true;
    std::this_thread::sleep_for(400ms);
    return Response::text(200, "finished");
  });
  server->add_route("GET", "/", [](const Request&) { return Response::text(200, "ok"); });
  server->start();
  const auto port = server->port();

  // An idle keep-alive connection must not hold up shutdown.
  RawConn idle(port);
  idle.send(get_request("/"));
  REQUIRE(idle.read_reply());

  auto in_flight = std::async(std::launch::async, [&] {
    HttpClient c(no_retry());
    return c.get("http://127.0.0.1:" + std::to_string(port) + "/slow");
  });
  while (!entered) std::this_thread::sleep_for(5ms);

  const auto t0 = Clock::now();
  server->stop();
  const auto took = Clock::now() - t0;
  auto r = in_flight.get();
  CHECK(r.status == 200);
  CHECK(r.body == "finished");
  CHECK(r.headers["connection"] == "close");
  CHECK(took < 3s);
  CHECK(idle.closed_within(1000ms));
  CHECK(server->open_connections() == 0);

  server->stop();  // idempotent
  HttpClient late(no_retry());
  auto refused = late.get("http://127.0.0.1:" + std::to_string(port) + "/");
  CHECK(refused.status == 0);
  CHECK_FALSE(refused.error.empty());
  server.reset();  // destructor after stop: nothing left to do
}

TEST_CASE("stop gives up on a handler that outlives shutdown_grace", "[http_server]") {
  ServerOptions opts;
  opts.shutdown_grace = 100ms;
  HttpServer server(opts);
  std::atomic<bool> entered{false};
  server.add_route("GET", "/stuck", [&](const Request&) {
    entered = true;
    std::this_thread::sleep_for(700ms);
    return Response::text(200, "too late");
  });
  server.start();
  auto in_flight = std::async(std::launch::async, [&] {
    HttpClient c(no_retry());
    return c.get(url(server, "/stuck"));
  });
  while (!entered) std::this_thread::sleep_for(5ms);
  server.stop();
  auto r = in_flight.get();
  CHECK(r.status == 0);  // connection force-closed, response dropped
  CHECK(server.open_connections() == 0);
}

TEST_CASE("start() reports the address it cannot bind", "[http_server]") {
  HttpServer first(ServerOptions{});
  first.start();
  ServerOptions opts;
  opts.listen = "127.0.0.1:" + std::to_string(first.port());
  HttpServer second(opts);
  try {
    second.start();
    FAIL("start() should have thrown");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find(opts.listen) != std::string::npos);
  }
  CHECK(first.address() == "127.0.0.1:" + std::to_string(first.port()));

  ServerOptions bad;
  bad.listen = "no-port-here";
  HttpServer third(bad);
  CHECK_THROWS_AS(third.start(), std::runtime_error);
}
