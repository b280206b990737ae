// HttpClient: a blocking HTTP client on libcurl for shipping batches, scraping
// and webhooks.
//
// One HttpClient keeps one curl easy handle and so reuses its connection
// (keep-alive) across calls; it is NOT thread-safe -- use one per thread.
// Retries: connection errors, timeouts, 429 and 5xx are retried with
// exponential backoff and full jitter, honouring Retry-After when the server
// sends one, until max_attempts is reached. Other 4xx are returned at once:
// retrying a request the server rejected as malformed cannot succeed.
// Response bodies are decoded (gzip, deflate, br, zstd) unless the request
// carries its own Accept-Encoding header: then the body arrives as sent and
// the caller undoes the coding (remote read's snappy).
// HTTPS servers are verified (certificate chain and host name) against the
// system's CAs or ClientOptions::ca_file; a server that fails verification is
// a permanent error, not retried.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace strata::http {

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{2'000};
  std::chrono::milliseconds request_timeout{10'000};
  int max_attempts = 5;  // 1 = no retry
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{10'000};
  // (The `{}` initialisers keep -Wmissing-field-initializers quiet for callers
  // that aggregate-initialise only the fields above.)
  // HTTPS: PEM file of the CAs to verify servers against; empty: the system's.
  std::string ca_file{};
  // HTTPS with mutual TLS: the client's certificate and private key (PEM).
  std::string client_cert_file{};
  std::string client_key_file{};
};

struct ClientResponse {
  int status = 0;  // 0 when no HTTP response was received
  std::string body;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string error;                           // transport error, empty on success
  int attempts = 0;
  bool ok() const { return error.empty() && status >= 200 && status < 300; }
};

class HttpClient {
 public:
  explicit HttpClient(ClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  ClientResponse get(const std::string& url,
                     const std::vector<std::pair<std::string, std::string>>& headers = {});
  ClientResponse post(const std::string& url, const std::string& body,
                      const std::vector<std::pair<std::string, std::string>>& headers = {});

  // URL-encodes a query-string component.
  static std::string url_encode(const std::string& s);

 private:
  ClientResponse perform(const std::string& method, const std::string& url, const std::string* body,
                         const std::vector<std::pair<std::string, std::string>>& headers);
  ClientOptions options_;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::http
