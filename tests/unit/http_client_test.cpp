#include "common/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cctype>
#include <chrono>
#include <string>
#include <thread>

#include "common/http_server.h"

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

// Backoff small enough to keep the tests fast but non-zero, so the retry
// path really sleeps.
ClientOptions fast_retries(int attempts) {
  ClientOptions o;
  o.max_attempts = attempts;
  o.backoff_initial = 5ms;
  o.backoff_max = 5s;
  o.connect_timeout = 1s;
  o.request_timeout = 5s;
  return o;
}

// A port nothing listens on: bind one, note it, close it.
uint16_t closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace

TEST_CASE("client: GET and POST, headers sent and received (lower-cased)", "[http_client]") {
  HttpServer server(ServerOptions{});
  server.add_route("POST", "/echo", [](const Request& r) {
    Response res = Response::json(201, "{\"got\":\"" + r.body + "\"}");
    res.headers.emplace_back("X-Request-Header", r.header("x-token").value_or("missing"));
    res.headers.emplace_back("X-Multi", "a");
    res.headers.emplace_back("X-Multi", "b");
    return res;
  });
  server.add_route("GET", "/hello", [](const Request&) { return Response::text(200, "hi"); });
  server.start();

  HttpClient client(fast_retries(1));
  auto r = client.post(url(server, "/echo"), "payload", {{"X-Token", "t0k"}});
  CHECK(r.ok());
  CHECK(r.status == 201);
  CHECK(r.attempts == 1);
  CHECK(r.error.empty());
  CHECK(r.body == "{\"got\":\"payload\"}");
  CHECK(r.headers["content-type"] == "application/json");
  CHECK(r.headers["x-request-header"] == "t0k");
  CHECK(r.headers["x-multi"] == "a, b");
  CHECK(r.headers.count("X-Request-Header") == 0);

  auto g = client.get(url(server, "/hello"));
  CHECK(g.body == "hi");
  // Headers of the previous response do not leak into this one.
  CHECK(g.headers.count("x-multi") == 0);
  // Both calls used one keep-alive connection.
  CHECK(server.open_connections() == 1);
}

TEST_CASE("client: retries 503 honouring Retry-After, then succeeds", "[http_client]") {
  HttpServer server(ServerOptions{});
  std::atomic<int> calls{0};
  server.add_route("POST", "/ingest", [&](const Request&) {
    if (++calls == 1) return Response::retry_later(503, 1, "busy");
    return Response::text(200, "stored");
  });
  server.start();

  HttpClient client(fast_retries(5));
  const auto t0 = Clock::now();
  auto r = client.post(url(server, "/ingest"), "batch");
  const auto took = Clock::now() - t0;
  CHECK(r.ok());
  CHECK(r.body == "stored");
  CHECK(r.attempts == 2);
  CHECK(calls == 2);
  // Our own backoff would have been <= 5 ms; the wait is the server's 1 s.
  CHECK(took >= 950ms);
  CHECK(took < 3s);
}

TEST_CASE("client: Retry-After is capped by backoff_max", "[http_client]") {
  HttpServer server(ServerOptions{});
  std::atomic<int> calls{0};
  server.add_route("GET", "/", [&](const Request&) {
    if (++calls == 1) return Response::retry_later(429, 3600, "slow down");
    return Response::text(200, "ok");
  });
  server.start();
  ClientOptions o = fast_retries(3);
  o.backoff_max = 50ms;
  HttpClient client(o);
  const auto t0 = Clock::now();
  auto r = client.get(url(server, "/"));
  CHECK(r.ok());
  CHECK(r.attempts == 2);
  CHECK(Clock::now() - t0 < 1s);
}

TEST_CASE("client: no retry on 400 and other 4xx", "[http_client]") {
  HttpServer server(ServerOptions{});
  std::atomic<int> calls{0};
  server.add_route("POST", "/bad", [&](const Request&) {
    ++calls;
    return Response::text(400, "malformed batch");
  });
  server.add_route("GET", "/gone", [&](const Request&) {
    ++calls;
    return Response::text(410, "gone");
  });
  server.start();
  HttpClient client(fast_retries(5));
  auto r = client.post(url(server, "/bad"), "x");
  CHECK(r.status == 400);
  CHECK_FALSE(r.ok());
  CHECK(r.error.empty());
  CHECK(r.attempts == 1);
  CHECK(r.body == "malformed batch");
  CHECK(calls == 1);
  CHECK(client.get(url(server, "/gone")).attempts == 1);
  CHECK(calls == 2);
  // 404 from the router is not retried either.
  CHECK(client.get(url(server, "/nothing")).attempts == 1);
}

TEST_CASE("client: persistent 5xx gives up after max_attempts", "[http_client]") {
  HttpServer server(ServerOptions{});
  std::atomic<int> calls{0};
  server.add_route("GET", "/err", [&](const Request&) -> Response {
    ++calls;
    throw std::runtime_error("always broken");
  });
  server.start();
  HttpClient client(fast_retries(3));
  auto r = client.get(url(server, "/err"));
  CHECK(r.status == 500);
  CHECK(r.attempts == 3);
  CHECK(calls == 3);
  CHECK(r.body.find("always broken") != std::string::npos);
}

TEST_CASE("client: transport errors are retried and reported", "[http_client]") {
  HttpClient client(fast_retries(3));
  const std::string target = "http://127.0.0.1:" + std::to_string(closed_port()) + "/";
  auto r = client.get(target);
  CHECK(r.status == 0);
  CHECK_FALSE(r.error.empty());
  CHECK_FALSE(r.ok());
  CHECK(r.attempts == 3);

  // A malformed URL is permanent: no retry.
  auto bad = client.get("nonsense://what");
  CHECK_FALSE(bad.error.empty());
  CHECK(bad.attempts == 1);
}

TEST_CASE("client: request_timeout bounds a slow server", "[http_client]") {
  HttpServer server(ServerOptions{});
  server.add_route("GET", "/slow", [](const Request&) {
    std::this_thread::sleep_for(800ms);
    return Response::text(200, "late");
  });
  server.start();
  ClientOptions o = fast_retries(1);
  o.request_timeout = 200ms;
  HttpClient client(o);
  const auto t0 = Clock::now();
  auto r = client.get(url(server, "/slow"));
  CHECK(Clock::now() - t0 < 700ms);
  CHECK(r.status == 0);
  std::string lower = r.error;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  INFO(r.error);
  CHECK(lower.find("time") != std::string::npos);  // "Operation timed out after ..."
}

TEST_CASE("client: url_encode", "[http_client]") {
  CHECK(HttpClient::url_encode("abc-_.~XYZ019") == "abc-_.~XYZ019");
  CHECK(HttpClient::url_encode("a b&c=d/e") == "a%20b%26c%3Dd%2Fe");
  CHECK(HttpClient::url_encode("up{job=\"x\"}") == "up%7Bjob%3D%22x%22%7D");
  CHECK(HttpClient::url_encode("\xc3\xa9") == "%C3%A9");
  CHECK(HttpClient::url_encode("") == "");
}

TEST_CASE("client: url_encode round-trips through the server's decoder", "[http_client]") {
  HttpServer server(ServerOptions{});
  server.add_route("GET", "/q", [](const Request& r) {
    return Response::text(200, r.param("v").value_or("<none>"));
  });
  server.start();
  HttpClient client(fast_retries(1));
  const std::string value = "rate(http_requests_total{code=~\"5..\"}[5m]) + 1 & more%";
  CHECK(client.get(url(server, "/q?v=" + HttpClient::url_encode(value))).body == value);
}
