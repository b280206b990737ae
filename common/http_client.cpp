#include "common/http_client.h"

#include <curl/curl.h>
#include <strings.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string_view>
#include <thread>

namespace strata::http {

namespace {

void global_init_once() {
  // curl_global_init is not guaranteed thread-safe on every libcurl build;
  // clients are created from several threads.
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw std::runtime_error("curl_global_init failed");
    }
  });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  static_cast<ClientResponse*>(user)->body.append(data, size * n);
  return size * n;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  auto* r = static_cast<ClientResponse*>(user);
  const std::string_view line = trim(std::string_view(data, size * n));
  if (line.starts_with("HTTP/")) {
    // A new status line: the previous headers belonged to an interim
    // response (100 Continue) and must not leak into the final one.
    r->headers.clear();
    return size * n;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  const std::string name = to_lower(trim(line.substr(0, colon)));
  const std::string_view value = trim(line.substr(colon + 1));
  auto [it, inserted] = r->headers.emplace(name, std::string(value));
  if (!inserted) it->second.append(", ").append(value);
  return size * n;
}

// Failures that say nothing about the request itself, so a later attempt may
// succeed. Anything else (bad URL, unsupported protocol, ...) is permanent.
bool retryable(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

// Retry-After is either delta-seconds or an HTTP-date (RFC 9110 10.2.3).
std::optional<std::chrono::milliseconds> parse_retry_after(const std::string& value) {
  const std::string_view v = trim(value);
  if (v.empty()) return std::nullopt;
  if (std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (v.size() > 9) return std::chrono::hours(24 * 365);  // absurd; the cap applies
    return std::chrono::seconds(std::stol(std::string(v)));
  }
  const std::time_t when = curl_getdate(std::string(v).c_str(), nullptr);
  if (when < 0) return std::nullopt;
  const std::time_t now = std::time(nullptr);
  return std::chrono::seconds(std::max<std::time_t>(0, when - now));
}

}  // namespace

struct HttpClient::Impl {
  CURL* curl = nullptr;
  std::mt19937_64 rng{std::random_device{}()};
  char error[CURL_ERROR_SIZE] = {};

  ~Impl() {
    if (curl != nullptr) curl_easy_cleanup(curl);
  }
};

HttpClient::HttpClient(ClientOptions options) : options_(options), impl_(std::make_unique<Impl>()) {
  global_init_once();
  impl_->curl = curl_easy_init();
  if (impl_->curl == nullptr) throw std::runtime_error("curl_easy_init failed");
}

HttpClient::~HttpClient() = default;

ClientResponse HttpClient::get(const std::string& url,
                               const std::vector<std::pair<std::string, std::string>>& headers) {
  return perform("GET", url, nullptr, headers);
}

ClientResponse HttpClient::post(const std::string& url, const std::string& body,
                                const std::vector<std::pair<std::string, std::string>>& headers) {
  return perform("POST", url, &body, headers);
}

std::string HttpClient::url_encode(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    // RFC 3986 unreserved characters pass through; everything else, space
    // included, is escaped so the result is safe in a path or a query.
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0f]);
    }
  }
  return out;
}

ClientResponse HttpClient::perform(
    const std::string& method, const std::string& url, const std::string* body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  CURL* curl = impl_->curl;

  struct HeaderList {
    curl_slist* list = nullptr;
    ~HeaderList() { curl_slist_free_all(list); }
  } header_list;
  for (const auto& [name, value] : headers) {
    const std::string line = name + ": " + value;
    curl_slist* next = curl_slist_append(header_list.list, line.c_str());
    if (next == nullptr) throw std::bad_alloc();
    header_list.list = next;
  }
  // "Expect: 100-continue" (curl's default for large bodies) costs a round
  // trip per request for no benefit against our own servers.
  if (curl_slist* next = curl_slist_append(header_list.list, "Expect:"); next != nullptr) {
    header_list.list = next;
  }

  const int max_attempts = std::max(1, options_.max_attempts);
  for (int attempt = 1;; ++attempt) {
    ClientResponse r;
    r.attempts = attempt;
    impl_->error[0] = '\0';

    // reset() clears options but keeps the connection cache, so keep-alive
    // survives across calls.
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // we run in multi-threaded processes
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout.count()));
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, impl_->error);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r);
    // By default accept and decode what curl supports. A caller that sends
    // its own Accept-Encoding (remote read's "snappy", which curl does not
    // know) gets the body exactly as it came and undoes the coding itself.
    const bool own_coding = std::any_of(headers.begin(), headers.end(), [](const auto& h) {
      return strcasecmp(h.first.c_str(), "Accept-Encoding") == 0;
    });
    curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, own_coding ? nullptr : "");
    curl_easy_setopt(curl, CURLOPT_HTTP_CONTENT_DECODING, own_coding ? 0L : 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list.list);
    if (!options_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
    if (!options_.client_cert_file.empty()) {
      curl_easy_setopt(curl, CURLOPT_SSLCERT, options_.client_cert_file.c_str());
      curl_easy_setopt(curl, CURLOPT_SSLKEY,
                       options_.client_key_file.empty() ? options_.client_cert_file.c_str()
                                                        : options_.client_key_file.c_str());
    }
    if (method == "GET") {
      curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    } else if (method == "POST") {
      curl_easy_setopt(curl, CURLOPT_POST, 1L);
    } else {
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    }
    if (body != nullptr) {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body->data());
    }

    const CURLcode code = curl_easy_perform(curl);
    bool retry = false;
    if (code == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
      r.status = static_cast<int>(status);
      retry = r.status == 429 || r.status >= 500;
    } else {
      r.error = impl_->error[0] != '\0' ? std::string(impl_->error) : curl_easy_strerror(code);
      r.status = 0;
      r.headers.clear();
      r.body.clear();
      retry = retryable(code);
    }
    if (!retry || attempt >= max_attempts) return r;

    // Full jitter: uniform in [0, min(max, initial * 2^(attempt-1))], so a
    // fleet of agents that failed together does not retry together.
    const auto initial = std::max<std::int64_t>(0, options_.backoff_initial.count());
    const auto cap_ms = std::max<std::int64_t>(0, options_.backoff_max.count());
    std::int64_t ceiling = initial;
    for (int i = 1; i < attempt && ceiling < cap_ms; ++i) ceiling *= 2;
    ceiling = std::min(ceiling, cap_ms);
    std::uniform_int_distribution<std::int64_t> dist(0, ceiling);
    std::chrono::milliseconds delay(dist(impl_->rng));
    if (auto it = r.headers.find("retry-after"); it != r.headers.end()) {
      // The server's own estimate beats ours, but backoff_max still bounds a
      // single wait so a bogus "Retry-After: 86400" cannot wedge the caller.
      if (auto after = parse_retry_after(it->second)) {
        delay = std::min(std::max(delay, *after), options_.backoff_max);
      }
    }
    std::this_thread::sleep_for(delay);
  }
}

}  // namespace strata::http
