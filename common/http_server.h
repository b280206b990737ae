// HttpServer: an asynchronous HTTP/1.1 server on Boost.Beast, shared by every
// Strata service.
//
// Model. A small pool of I/O threads runs the Asio event loop and owns every
// socket; it never runs user code. Route handlers run on a separate pool of
// handler threads, so a handler may block (the collector waits for Kafka to
// acknowledge) without stalling the thousands of idle keep-alive connections
// an agent fleet holds open. A handler's Response is posted back to its
// connection's strand and written from there.
//
// Guarantees.
//  - Keep-alive per HTTP/1.1; pipelined requests are answered in order.
//  - Limits: request header bytes, body bytes (after decompression too: a
//    gzip/zstd bomb is cut at the same limit) -> 413; header read timeout and
//    body read timeout (slowloris) -> connection closed; idle keep-alive timeout.
//  - Request bodies with Content-Encoding gzip, deflate or zstd are decoded
//    before the handler sees them; an unknown encoding -> 415. Codings listed
//    in ServerOptions::passthrough_encodings (e.g. the collector's "snappy",
//    which remote-write puts in Content-Encoding) are left to the handler,
//    which must then apply max_body_bytes to what it decodes.
//  - Unknown path -> 404, known path with wrong method -> 405 (with Allow).
//  - A handler that throws -> 500 with the exception's message; never a crash.
//  - stop() is graceful: stop accepting, let in-flight requests finish (up to
//    a deadline), close idle connections, then return.
//  - HTTPS (optional, ServerOptions::tls_cert_file): every connection is then
//    TLS 1.2 or later, with the same session logic, limits and timeouts as
//    plain HTTP (the handshake gets header_timeout); with tls_client_ca_file
//    clients must present a certificate that CA signed (mutual TLS). The files
//    are read once, by start(). Plain HTTP is the default.
// Thread-safety: add_route() before start(); everything else is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strata::http {

// Marks a query node's request to one shard (lower-cased, as
// Request::header() looks names up): the shard answers from its own data and
// never fans the request out again, even when it has peers configured.
inline constexpr std::string_view kFanoutHeader = "x-strata-fanout";

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // raw target, e.g. "/api/v1/query?query=up"
  std::string path;    // decoded path without query string
  // Query-string parameters merged with application/x-www-form-urlencoded
  // POST bodies (as Prometheus does). Repeated keys keep every value in order.
  std::multimap<std::string, std::string> params;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;                            // decoded (decompressed) body
  std::string remote_address;

  // First value of a parameter, if present.
  std::optional<std::string> param(std::string_view name) const;
  // Every value of a repeated parameter (e.g. match[]).
  std::vector<std::string> params_all(std::string_view name) const;
  std::optional<std::string> header(std::string_view lower_name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers

  static Response text(int status, std::string body);
  static Response json(int status, std::string body);
  // Convenience for back-pressure: 503 (or 429) with Retry-After seconds.
  static Response retry_later(int status, int retry_after_seconds, std::string message);
};

using Handler = std::function<Response(const Request&)>;

struct ServerOptions {
  std::string listen = "127.0.0.1:0";  // host:port; port 0 picks a free one
  int io_threads = 1;
  int handler_threads = 4;
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 16 * 1024 * 1024;  // also applied after decompression
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_timeout{30'000};
  std::chrono::milliseconds idle_timeout{120'000};
  std::chrono::milliseconds shutdown_grace{10'000};
  std::size_t max_connections = 20'000;
  // Content codings (lower case) the server does not decode: from the last
  // applied such coding backwards, the body reaches the handler still
  // encoded, with Content-Encoding naming what is left to undo.
  std::vector<std::string> passthrough_encodings;
  // HTTPS. Empty tls_cert_file: plain HTTP. Otherwise both PEM files are
  // required: the certificate chain (leaf first) and its private key.
  std::string tls_cert_file;
  std::string tls_key_file;
  // PEM file of CA certificates; set: a client must present a certificate
  // signed by one of them, or its handshake fails (mutual TLS).
  std::string tls_client_ca_file;
};

class HttpServer {
 public:
  explicit HttpServer(ServerOptions options);
  ~HttpServer();  // calls stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Registers a handler for an exact path and method. Call before start().
  void add_route(std::string method, std::string path, Handler handler);
  // Registers a handler for every path that starts with `prefix`.
  void add_prefix_route(std::string method, std::string prefix, Handler handler);

  // Binds and starts serving. Throws std::runtime_error naming the address
  // when it cannot bind, or the file when a TLS certificate, key or CA file
  // cannot be loaded.
  void start();
  // Graceful shutdown (see above). Idempotent.
  void stop();

  // The bound port (useful with port 0) and "host:port".
  uint16_t port() const;
  std::string address() const;
  // True when the server speaks HTTPS (tls_cert_file set): "https" vs "http".
  bool tls() const;

  // Live figures, also exported by the service's /metrics.
  std::size_t open_connections() const;
  std::uint64_t requests_total() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::http
