#include "common/http_server.h"

#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <condition_variable>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <utility>

#include <spdlog/spdlog.h>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace strata::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

// After a response that ends the connection we half-close and drain what the
// client still sends for this long. Closing a socket with unread input makes
// the kernel send RST, which can destroy the response (e.g. a 413) before the
// client has read it.
constexpr std::chrono::milliseconds kLingerTime{1000};
// Accept failures such as EMFILE would otherwise spin the I/O thread.
constexpr std::chrono::milliseconds kAcceptRetryDelay{50};
// Read size while waiting for the first byte of a request. Small, because
// thousands of idle keep-alive connections each hold one such buffer.
constexpr std::size_t kFirstReadBytes = 1024;
// A large request leaves a large buffer behind; keep-alive connections that
// then go idle should not hold on to it.
constexpr std::size_t kIdleBufferKeep = 8 * 1024;
// How long stop() waits for force-closed connections to unwind before it
// stops the event loop outright.
constexpr std::chrono::milliseconds kForceCloseWait{1000};

// Thrown while turning the wire message into a Request; becomes the status.
class RequestError : public std::runtime_error {
 public:
  RequestError(int status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

char lower_ascii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower_ascii(c);
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Malformed escapes ("%zz", a trailing '%') are kept literally: rejecting the
// whole request over them would be less useful than passing them through.
std::string percent_decode(std::string_view s, bool plus_as_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_as_space && c == '+' ? ' ' : c);
  }
  return out;
}

void parse_urlencoded(std::string_view s, std::multimap<std::string, std::string>& out) {
  while (!s.empty()) {
    const auto amp = s.find('&');
    const std::string_view piece = s.substr(0, amp);
    s = amp == std::string_view::npos ? std::string_view{} : s.substr(amp + 1);
    if (piece.empty()) continue;
    const auto eq = piece.find('=');
    std::string key = percent_decode(piece.substr(0, eq), true);
    std::string value =
        eq == std::string_view::npos ? std::string{} : percent_decode(piece.substr(eq + 1), true);
    out.emplace(std::move(key), std::move(value));
  }
}

[[noreturn]] void throw_too_large(std::size_t cap) {
  throw RequestError(
      413, "decompressed request body exceeds max_body_bytes (" + std::to_string(cap) + " bytes)");
}

// HTTP "deflate" is meant to be zlib-wrapped, but some clients send raw
// deflate; the zlib header carries a checksum, so sniffing is reliable.
bool looks_like_zlib(std::string_view in) {
  if (in.size() < 2) return false;
  const auto b0 = static_cast<unsigned char>(in[0]);
  const auto b1 = static_cast<unsigned char>(in[1]);
  return (b0 & 0x0f) == 8 && (b0 * 256 + b1) % 31 == 0;
}

std::string inflate_body(std::string_view in, bool gzip, std::size_t cap) {
  const char* name = gzip ? "gzip" : "deflate";
  const int window_bits = gzip ? 15 + 16 : (looks_like_zlib(in) ? 15 : -15);
  z_stream zs{};
  if (inflateInit2(&zs, window_bits) != Z_OK) throw std::runtime_error("zlib inflateInit2 failed");
  struct Guard {
    z_stream* z;
    ~Guard() { inflateEnd(z); }
  } guard{&zs};

  std::string out;
  unsigned char buf[16 * 1024];
  std::size_t fed = 0;
  for (;;) {
    if (zs.avail_in == 0 && fed < in.size()) {
      // avail_in is 32-bit; a body beyond 4 GiB is fed in slices.
      const std::size_t n = std::min<std::size_t>(in.size() - fed, UINT_MAX);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + fed));
      zs.avail_in = static_cast<uInt>(n);
      fed += n;
    }
    zs.next_out = buf;
    zs.avail_out = sizeof buf;
    const int rc = inflate(&zs, Z_NO_FLUSH);
    out.append(reinterpret_cast<const char*>(buf), sizeof buf - zs.avail_out);
    if (out.size() > cap) throw_too_large(cap);
    if (rc == Z_STREAM_END) {
      // gzip allows several members back to back (e.g. `cat a.gz b.gz`).
      if (gzip && (zs.avail_in > 0 || fed < in.size())) {
        inflateReset(&zs);
        continue;
      }
      return out;
    }
    if (rc == Z_BUF_ERROR && zs.avail_in == 0 && fed == in.size()) {
      throw RequestError(400, std::string("malformed ") + name + " body: truncated stream");
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      throw RequestError(
          400, std::string("malformed ") + name +
                   " body: " + (zs.msg != nullptr ? zs.msg : "zlib error " + std::to_string(rc)));
    }
  }
}

std::string zstd_body(std::string_view in, std::size_t cap) {
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  if (dctx == nullptr) throw std::runtime_error("ZSTD_createDCtx failed");
  struct Guard {
    ZSTD_DCtx* d;
    ~Guard() { ZSTD_freeDCtx(d); }
  } guard{dctx};
  // The frame header chooses the window the decoder allocates. Bound it by
  // max_body_bytes (but never below zstd's common 1 MiB) so a tiny hostile
  // frame cannot make us reserve zstd's default maximum of 128 MiB.
  int window_log = 20;
  while (window_log < 27 && (std::size_t{1} << window_log) < cap) ++window_log;
  ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, window_log);

  std::string out;
  char buf[16 * 1024];
  ZSTD_inBuffer inb{in.data(), in.size(), 0};
  std::size_t rc = 0;
  for (;;) {
    ZSTD_outBuffer outb{buf, sizeof buf, 0};
    rc = ZSTD_decompressStream(dctx, &outb, &inb);
    if (ZSTD_isError(rc)) {
      if (ZSTD_getErrorCode(rc) == ZSTD_error_frameParameter_windowTooLarge) {
        throw RequestError(413,
                           "zstd frame window exceeds the limit derived from max_body_bytes (" +
                               std::to_string(cap) + " bytes)");
      }
      throw RequestError(400, std::string("malformed zstd body: ") + ZSTD_getErrorName(rc));
    }
    out.append(buf, outb.pos);
    if (out.size() > cap) throw_too_large(cap);
    // A full output buffer may mean the decoder still holds data to flush.
    if (inb.pos == inb.size && outb.pos < outb.size) break;
  }
  if (rc != 0) throw RequestError(400, "malformed zstd body: truncated frame");
  return out;
}

// Content-Encoding lists codings in the order they were applied, so they are
// undone last to first. Undoing stops at the last-applied pass-through coding
// (ServerOptions::passthrough_encodings): that one and every coding applied
// before it are left to the handler, and returned (comma-separated, in header
// order) so that it can see them.
std::string decode_body(std::string& body, std::string_view header, std::size_t cap,
                        const std::vector<std::string>& passthrough) {
  std::vector<std::string> codings;
  while (!header.empty()) {
    const auto comma = header.find(',');
    const std::string coding = to_lower(trim(header.substr(0, comma)));
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    if (coding.empty() || coding == "identity") continue;
    codings.push_back(coding);
  }
  std::size_t keep = 0;  // codings[0, keep) go to the handler undecoded
  for (std::size_t i = codings.size(); i > 0; --i) {
    if (std::find(passthrough.begin(), passthrough.end(), codings[i - 1]) != passthrough.end()) {
      keep = i;
      break;
    }
  }
  for (std::size_t i = keep; i < codings.size(); ++i) {
    const std::string& c = codings[i];
    if (c != "gzip" && c != "x-gzip" && c != "deflate" && c != "zstd") {
      throw RequestError(
          415, "unsupported Content-Encoding: " + c + " (supported: gzip, deflate, zstd)");
    }
  }
  for (std::size_t i = codings.size(); i > keep && !body.empty(); --i) {
    if (codings[i - 1] == "zstd") {
      body = zstd_body(body, cap);
    } else {
      body = inflate_body(body, codings[i - 1] != "deflate", cap);
    }
  }
  std::string left;
  for (std::size_t i = 0; i < keep; ++i) left += (i ? ", " : "") + codings[i];
  return left;
}

std::string media_type(std::string_view content_type) {
  return to_lower(trim(content_type.substr(0, content_type.find(';'))));
}

struct HostPort {
  std::string host;
  std::string port;
};

// Accepts "host:port", ":port", "[v6]:port".
HostPort split_listen(const std::string& listen) {
  HostPort hp;
  if (!listen.empty() && listen.front() == '[') {
    const auto close = listen.find("]:");
    if (close == std::string::npos)
      throw std::runtime_error("cannot listen on " + listen + ": bad address");
    hp.host = listen.substr(1, close - 1);
    hp.port = listen.substr(close + 2);
  } else {
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos) {
      throw std::runtime_error("cannot listen on " + listen + ": expected host:port");
    }
    hp.host = listen.substr(0, colon);
    hp.port = listen.substr(colon + 1);
  }
  if (hp.host.empty()) hp.host = "0.0.0.0";
  return hp;
}

using WireRequest = bhttp::request<bhttp::string_body>;
using WireResponse = bhttp::response<bhttp::string_body>;

WireResponse to_wire(Response res, unsigned version, bool head) {
  WireResponse w;
  w.version(version);
  // Throws std::invalid_argument for codes beyond 999; the caller maps it to 500.
  w.result(static_cast<unsigned>(res.status));
  w.set(bhttp::field::server, "strata");
  if (!res.content_type.empty()) w.set(bhttp::field::content_type, res.content_type);
  for (auto& [name, value] : res.headers) w.insert(name, value);
  if (head) {
    w.content_length(res.body.size());
  } else {
    w.body() = std::move(res.body);
    w.prepare_payload();
  }
  return w;
}

WireResponse error_response(int status, std::string message, unsigned version) {
  return to_wire(Response::text(status, std::move(message) + "\n"), version, false);
}

// The server's TLS settings: TLS 1.2 or later, the certificate chain and key
// from PEM files (checked to match), and, with a client CA file, mandatory
// client certificates signed by it. Errors name the file and OpenSSL's reason.
net::ssl::context make_tls_context(const ServerOptions& o) {
  if (o.tls_cert_file.empty() || o.tls_key_file.empty()) {
    throw std::runtime_error("TLS needs both a certificate file and a key file (got certificate '" +
                             o.tls_cert_file + "', key '" + o.tls_key_file + "')");
  }
  net::ssl::context ctx(net::ssl::context::tls_server);
  ctx.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                  net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                  net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use);
  // Idle keep-alive connections (thousands, from an agent fleet) should not
  // each hold OpenSSL's ~34 KiB of record buffers.
  SSL_CTX_set_mode(ctx.native_handle(), SSL_MODE_RELEASE_BUFFERS);
  const auto load = [](const char* what, const std::string& path, auto&& fn) {
    beast::error_code ec;
    fn(ec);
    if (ec) {
      throw std::runtime_error(std::string("cannot load TLS ") + what + " file " + path + ": " +
                               ec.message());
    }
  };
  load("certificate", o.tls_cert_file,
       [&](beast::error_code& ec) { ctx.use_certificate_chain_file(o.tls_cert_file, ec); });
  load("private key", o.tls_key_file, [&](beast::error_code& ec) {
    ctx.use_private_key_file(o.tls_key_file, net::ssl::context::pem, ec);
  });
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    throw std::runtime_error("TLS private key " + o.tls_key_file +
                             " does not match the certificate " + o.tls_cert_file);
  }
  if (!o.tls_client_ca_file.empty()) {
    load("client CA", o.tls_client_ca_file,
         [&](beast::error_code& ec) { ctx.load_verify_file(o.tls_client_ca_file, ec); });
    // Tells clients which CAs we accept, so they pick the right certificate.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.tls_client_ca_file.c_str())) {
      SSL_CTX_set_client_CA_list(ctx.native_handle(), names);
    }
    ctx.set_verify_mode(net::ssl::verify_peer | net::ssl::verify_fail_if_no_peer_cert);
  }
  return ctx;
}

}  // namespace

// ---------------------------------------------------------------------------
// Request / Response helpers

std::optional<std::string> Request::param(std::string_view name) const {
  const auto it = params.find(std::string(name));
  if (it == params.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> Request::params_all(std::string_view name) const {
  std::vector<std::string> out;
  const auto [lo, hi] = params.equal_range(std::string(name));
  for (auto it = lo; it != hi; ++it) out.push_back(it->second);
  return out;
}

std::optional<std::string> Request::header(std::string_view lower_name) const {
  const auto it = headers.find(std::string(lower_name));
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

Response Response::text(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response Response::json(int status, std::string body) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

Response Response::retry_later(int status, int retry_after_seconds, std::string message) {
  Response r = text(status, std::move(message));
  r.headers.emplace_back("Retry-After", std::to_string(retry_after_seconds));
  return r;
}

// ---------------------------------------------------------------------------
// Server internals

struct HttpServer::Impl {
  class SessionBase;
  template <class Stream>
  class Session;

  struct PrefixRoute {
    std::string prefix;
    std::map<std::string, Handler> by_method;
  };

  struct Prepared {
    WireResponse msg;
    bool keep_alive = false;
  };

  explicit Impl(ServerOptions o) : options(std::move(o)) {}

  void do_accept();
  void on_accept(beast::error_code ec, tcp::socket socket);
  void refuse(tcp::socket& socket);
  void unregister(std::uint64_t id);
  std::vector<std::shared_ptr<SessionBase>> live_sessions();
  bool wait_until_empty(std::chrono::steady_clock::time_point deadline);

  Prepared process(WireRequest& msg, const std::string& remote);
  Request build_request(WireRequest& msg, const std::string& remote) const;
  Response route(const Request& req) const;

  const ServerOptions options;
  std::unordered_map<std::string, std::map<std::string, Handler>> exact_routes;
  std::vector<PrefixRoute> prefix_routes;

  // Lifecycle: start()/stop() serialise on this.
  std::mutex lifecycle_mu;
  enum class Phase { kCreated, kRunning, kStopped } phase = Phase::kCreated;

  // The session registry is declared before the io_context on purpose:
  // sessions still queued in the io_context are destroyed with it and
  // unregister themselves here, so these must outlive it.
  std::mutex mu;
  std::condition_variable cv;
  std::unordered_map<std::uint64_t, std::weak_ptr<SessionBase>> sessions;
  std::uint64_t next_id = 0;
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> open{0};
  std::atomic<std::uint64_t> requests{0};

  net::io_context ioc;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  // The acceptor lives on its own strand so stop() can close it from another
  // thread without racing a pending async_accept.
  tcp::acceptor acceptor{net::make_strand(ioc)};
  net::steady_timer accept_retry{acceptor.get_executor()};
  std::optional<net::thread_pool> pool;
  // Set by start() when options.tls_cert_file is: every session is TLS.
  std::optional<net::ssl::context> tls;
  std::vector<std::thread> io_threads;
  std::uint16_t bound_port = 0;
  std::string bound_host;
};

// What the registry and stop() need of a connection, whatever it runs over.
class HttpServer::Impl::SessionBase {
 public:
  SessionBase(Impl& server, net::any_io_executor strand, std::uint64_t id)
      : server_(server), strand_(std::move(strand)), id_(id) {}
  virtual ~SessionBase() { server_.unregister(id_); }
  SessionBase(const SessionBase&) = delete;
  SessionBase& operator=(const SessionBase&) = delete;

  virtual void start() = 0;
  // Posted by stop(): connections between requests close now; one with a
  // request in the handler finishes it and closes after the response.
  virtual void stop_gracefully() = 0;
  virtual void force_close() = 0;
  const net::any_io_executor& strand() const { return strand_; }

 protected:
  Impl& server_;
  const net::any_io_executor strand_;
  const std::uint64_t id_;
};

// One connection, over plain TCP (Stream = beast::tcp_stream) or TLS
// (beast::ssl_stream<beast::tcp_stream>): one session logic for both; only
// the handshake and the closing differ (`kTls`). Every member is touched only
// on the connection's strand, except the immutable ones (strand_, remote_,
// id_) which handler threads read. Requests are handled one at a time, which
// is what makes pipelined responses come out in order.
template <class Stream>
class HttpServer::Impl::Session : public SessionBase,
                                  public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

 public:
  template <class... TlsContext>
  Session(Impl& server, tcp::socket&& socket, std::uint64_t id, std::string remote,
          TlsContext&... tls)
      : SessionBase(server, socket.get_executor(), id),
        stream_(std::move(socket), tls...),
        remote_(std::move(remote)) {}

  void start() override {
    net::dispatch(strand_, [self = this->shared_from_this()] {
      if constexpr (kTls) {
        self->handshake();
      } else {
        self->next_request();
      }
    });
  }

  void stop_gracefully() override {
    stop_requested_ = true;
    if (state_ == State::kIdle || state_ == State::kReading) close();
  }

  void force_close() override { close(); }

 private:
  enum class State { kIdle, kReading, kHandling, kWriting, kLingering, kClosed };

  // Timeouts and the socket live on the TCP layer, under TLS if any.
  beast::tcp_stream& tcp() { return beast::get_lowest_layer(stream_); }

  // A client that connects and never completes the handshake is a slowloris
  // like one that never sends its header: same limit. A failed handshake
  // (untrusted certificate, plain HTTP on the HTTPS port) gets no answer.
  void handshake() {
    state_ = State::kReading;
    tcp().expires_after(server_.options.header_timeout);
    stream_.async_handshake(
        net::ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
          if (ec) {
            spdlog::debug("http server {}: TLS handshake with {} failed: {}",
                          self->server_.bound_host, self->remote_, ec.message());
            return self->close();
          }
          self->next_request();
        });
  }

  bool should_stop() const { return stop_requested_ || server_.stopping.load(); }

  void next_request() {
    if (state_ == State::kClosed) return;
    if (should_stop()) return close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(server_.options.max_header_bytes, UINT32_MAX)));
    parser_->body_limit(server_.options.max_body_bytes);
    if (buffer_.size() > 0) return read_header();  // pipelined request already here
    if (buffer_.capacity() > kIdleBufferKeep) buffer_.shrink_to_fit();
    state_ = State::kIdle;
    // A fresh connection that sends nothing is a slowloris, not an idle
    // keep-alive client, so it only gets the header timeout.
    tcp().expires_after(first_request_ ? server_.options.header_timeout
                                       : server_.options.idle_timeout);
    stream_.async_read_some(buffer_.prepare(kFirstReadBytes),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                              if (ec) return self->close();
                              self->buffer_.commit(n);
                              self->read_header();
                            });
  }

  void read_header() {
    if (state_ == State::kClosed) return;
    state_ = State::kReading;
    first_request_ = false;
    // The clock starts at the request's first byte: the whole header must
    // arrive within header_timeout however slowly it trickles in.
    tcp().expires_after(server_.options.header_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                               self->on_header(ec);
                             });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    if (parser_->is_done()) return dispatch();
    const auto expect = parser_->get()[bhttp::field::expect];
    if (beast::iequals(expect, "100-continue")) {
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      tcp().expires_after(server_.options.body_timeout);
      net::async_write(stream_, net::buffer(kContinue),
                       [self = this->shared_from_this()](beast::error_code wec, std::size_t) {
                         if (wec) return self->close();
                         self->read_body();
                       });
      return;
    }
    read_body();
  }

  void read_body() {
    if (state_ == State::kClosed) return;
    tcp().expires_after(server_.options.body_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return self->on_read_error(ec);
                        self->dispatch();
                      });
  }

  void on_read_error(beast::error_code ec) {
    if (state_ == State::kClosed) return;
    const auto& opt = server_.options;
    if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
      return send_error_and_close(431, "request header exceeds max_header_bytes (" +
                                           std::to_string(opt.max_header_bytes) + " bytes)");
    }
    if (ec == bhttp::error::body_limit) {
      return send_error_and_close(413, "request body exceeds max_body_bytes (" +
                                           std::to_string(opt.max_body_bytes) + " bytes)");
    }
    // Timeouts (slowloris), resets and a client that went away mid-request
    // get no answer: there is nobody, or nobody worth, answering.
    static const auto& http_category = make_error_code(bhttp::error::end_of_stream).category();
    if (ec == beast::error::timeout || ec == bhttp::error::end_of_stream ||
        ec == bhttp::error::partial_message || ec.category() != http_category) {
      return close();
    }
    send_error_and_close(400, "malformed request: " + ec.message());
  }

  void dispatch() {
    state_ = State::kHandling;
    server_.requests.fetch_add(1, std::memory_order_relaxed);
    tcp().expires_never();
    // Handlers may block; they run on the handler pool, never on the I/O
    // thread. The result comes back through the strand.
    auto msg = std::make_shared<WireRequest>(parser_->release());
    parser_.reset();
    net::post(*server_.pool, [self = this->shared_from_this(), msg] {
      auto prepared = std::make_shared<Prepared>(self->server_.process(*msg, self->remote_));
      net::post(self->strand_, [self, prepared] { self->on_handled(std::move(*prepared)); });
    });
  }

  void on_handled(Prepared prepared) {
    if (state_ == State::kClosed) return;
    response_ = std::move(prepared.msg);
    const bool close_after = !prepared.keep_alive || should_stop();
    response_.keep_alive(!close_after);
    write_response(close_after);
  }

  void send_error_and_close(int status, std::string message) {
    server_.requests.fetch_add(1, std::memory_order_relaxed);
    response_ = error_response(status, std::move(message), 11);
    response_.keep_alive(false);
    write_response(true);
  }

  void write_response(bool close_after) {
    state_ = State::kWriting;
    // A client that stops reading its response is as much a slowloris as one
    // that stops sending; it gets body_timeout too.
    tcp().expires_after(server_.options.body_timeout);
    bhttp::async_write(
        stream_, response_,
        [self = this->shared_from_this(), close_after](beast::error_code ec, std::size_t) {
          self->response_ = {};
          if (ec) return self->close();
          if (close_after) return self->linger_close();
          self->next_request();
        });
  }

  void linger_close() {
    if (state_ == State::kClosed) return;
    state_ = State::kLingering;
    if constexpr (kTls) {
      // close_notify, then read (and discard) what the client still sends
      // until its own close_notify, for at most kLingerTime.
      tcp().expires_after(kLingerTime);
      stream_.async_shutdown(
          [self = this->shared_from_this()](beast::error_code) { self->close(); });
      return;
    }
    beast::error_code ec;
    tcp().socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return close();
    buffer_.consume(buffer_.size());
    tcp().expires_after(kLingerTime);
    drain();
  }

  void drain() {
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) return self->close();
                              self->drain();
                            });
  }

  void close() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    beast::error_code ec;
    tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
    tcp().close();
    parser_.reset();
  }

  Stream stream_;
  const std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  WireResponse response_;
  State state_ = State::kIdle;
  bool first_request_ = true;
  bool stop_requested_ = false;
};

void HttpServer::Impl::do_accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    on_accept(ec, std::move(socket));
  });
}

void HttpServer::Impl::on_accept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || stopping.load() || !acceptor.is_open()) return;
  if (ec) {
    spdlog::warn("http server {}: accept failed: {}", bound_host, ec.message());
    accept_retry.expires_after(kAcceptRetryDelay);
    accept_retry.async_wait([this](beast::error_code wec) {
      if (!wec) do_accept();
    });
    return;
  }
  beast::error_code opt_ec;
  socket.set_option(tcp::no_delay(true), opt_ec);
  std::string remote;
  if (auto ep = socket.remote_endpoint(opt_ec); !opt_ec) {
    remote = ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  std::shared_ptr<SessionBase> session;
  {
    std::lock_guard lock(mu);
    // Checked under the registry lock so stop() either sees this session in
    // its snapshot or the session sees `stopping` and closes itself.
    if (!stopping.load() && open.load() < options.max_connections) {
      const auto id = next_id++;
      if (tls) {
        session = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
            *this, std::move(socket), id, std::move(remote), *tls);
      } else {
        session = std::make_shared<Session<beast::tcp_stream>>(*this, std::move(socket), id,
                                                               std::move(remote));
      }
      sessions.emplace(id, session);
      open.fetch_add(1);
    }
  }
  if (session) {
    session->start();
  } else if (tls) {
    // A plain-text 503 would be garbage to a TLS client; just close.
    beast::error_code cec;
    socket.close(cec);
  } else {
    refuse(socket);
  }
  do_accept();
}

// Best effort: the socket is fresh, so a tiny non-blocking write nearly always
// fits in the send buffer, and the client learns why it was turned away.
void HttpServer::Impl::refuse(tcp::socket& socket) {
  static const std::string kBody = "too many connections\n";
  static const std::string kResponse =
      "HTTP/1.1 503 Service Unavailable\r\nServer: strata\r\nContent-Type: text/plain\r\n"
      "Connection: close\r\nContent-Length: " +
      std::to_string(kBody.size()) + "\r\n\r\n" + kBody;
  beast::error_code ec;
  socket.non_blocking(true, ec);
  socket.write_some(net::buffer(kResponse), ec);
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

void HttpServer::Impl::unregister(std::uint64_t id) {
  {
    std::lock_guard lock(mu);
    if (sessions.erase(id) > 0) open.fetch_sub(1);
  }
  cv.notify_all();
}

std::vector<std::shared_ptr<HttpServer::Impl::SessionBase>> HttpServer::Impl::live_sessions() {
  std::vector<std::shared_ptr<SessionBase>> out;
  std::lock_guard lock(mu);
  out.reserve(sessions.size());
  for (auto& [id, weak] : sessions) {
    // lock() fails for a session whose destructor is waiting on `mu`.
    if (auto s = weak.lock()) out.push_back(std::move(s));
  }
  return out;
}

bool HttpServer::Impl::wait_until_empty(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu);
  return cv.wait_until(lock, deadline, [this] { return sessions.empty(); });
}

Request HttpServer::Impl::build_request(WireRequest& msg, const std::string& remote) const {
  Request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  const std::string_view target = req.target;
  const auto q = target.find('?');
  req.path = percent_decode(target.substr(0, q), false);
  if (q != std::string_view::npos) parse_urlencoded(target.substr(q + 1), req.params);
  for (const auto& field : msg) {
    auto [it, inserted] =
        req.headers.emplace(to_lower(field.name_string()), std::string(field.value()));
    // Repeated headers fold into one comma-separated value (RFC 9110 5.3).
    if (!inserted) it->second.append(", ").append(field.value());
  }
  req.remote_address = remote;
  req.body = std::move(msg.body());

  if (auto enc = req.headers.find("content-encoding"); enc != req.headers.end()) {
    std::string left =
        decode_body(req.body, enc->second, options.max_body_bytes, options.passthrough_encodings);
    // The handler sees the body as decoded so far and only the codings left
    // to it; leaving decoded ones in the header would invite a second decode.
    if (left.empty()) {
      req.headers.erase(enc);
    } else {
      enc->second = std::move(left);
    }
    req.headers["content-length"] = std::to_string(req.body.size());
  }
  if (req.method == "POST") {
    if (auto ct = req.headers.find("content-type");
        ct != req.headers.end() && media_type(ct->second) == "application/x-www-form-urlencoded") {
      parse_urlencoded(req.body, req.params);
    }
  }
  return req;
}

Response HttpServer::Impl::route(const Request& req) const {
  std::set<std::string> allowed;
  auto pick = [&](const std::map<std::string, Handler>& by_method) -> const Handler* {
    if (auto it = by_method.find(req.method); it != by_method.end()) return &it->second;
    if (req.method == "HEAD") {
      if (auto it = by_method.find("GET"); it != by_method.end()) return &it->second;
    }
    for (const auto& [method, handler] : by_method) {
      allowed.insert(method);
      if (method == "GET") allowed.insert("HEAD");
    }
    return nullptr;
  };

  const Handler* handler = nullptr;
  if (auto it = exact_routes.find(req.path); it != exact_routes.end()) handler = pick(it->second);
  // prefix_routes is sorted longest first, so the most specific prefix wins.
  for (auto it = prefix_routes.begin(); handler == nullptr && it != prefix_routes.end(); ++it) {
    if (req.path.starts_with(it->prefix)) handler = pick(it->by_method);
  }
  if (handler != nullptr) return (*handler)(req);
  if (allowed.empty()) return Response::text(404, "not found: " + req.path + "\n");
  std::string allow;
  for (const auto& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
  Response r = Response::text(
      405, "method " + req.method + " not allowed for " + req.path + " (allowed: " + allow + ")\n");
  r.headers.emplace_back("Allow", allow);
  return r;
}

HttpServer::Impl::Prepared HttpServer::Impl::process(WireRequest& msg, const std::string& remote) {
  const bool head = msg.method() == bhttp::verb::head;
  const unsigned version = msg.version();
  Prepared out;
  out.keep_alive = msg.keep_alive();
  Response res;
  try {
    res = route(build_request(msg, remote));
  } catch (const RequestError& e) {
    res = Response::text(e.status(), std::string(e.what()) + "\n");
  } catch (const std::exception& e) {
    res = Response::text(500, std::string("internal error: ") + e.what() + "\n");
  } catch (...) {
    res = Response::text(500, "internal error: unknown exception\n");
  }
  try {
    out.msg = to_wire(std::move(res), version, head);
  } catch (const std::exception& e) {
    // e.g. a handler returned status 1000.
    out.msg =
        error_response(500, std::string("internal error: bad response: ") + e.what(), version);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Public API

HttpServer::HttpServer(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::add_route(std::string method, std::string path, Handler handler) {
  impl_->exact_routes[std::move(path)][std::move(method)] = std::move(handler);
}

void HttpServer::add_prefix_route(std::string method, std::string prefix, Handler handler) {
  auto& routes = impl_->prefix_routes;
  auto it = std::find_if(routes.begin(), routes.end(),
                         [&](const Impl::PrefixRoute& r) { return r.prefix == prefix; });
  if (it == routes.end()) {
    routes.push_back({std::move(prefix), {}});
    it = std::prev(routes.end());
  }
  it->by_method[std::move(method)] = std::move(handler);
}

void HttpServer::start() {
  Impl& s = *impl_;
  std::lock_guard lifecycle(s.lifecycle_mu);
  if (s.phase != Impl::Phase::kCreated) throw std::logic_error("HttpServer::start() called twice");

  std::stable_sort(s.prefix_routes.begin(), s.prefix_routes.end(),
                   [](const auto& a, const auto& b) { return a.prefix.size() > b.prefix.size(); });

  if (!s.options.tls_cert_file.empty() || !s.options.tls_key_file.empty() ||
      !s.options.tls_client_ca_file.empty()) {
    s.tls.emplace(make_tls_context(s.options));
  }

  const HostPort hp = split_listen(s.options.listen);
  const auto fail = [&](const std::string& what) {
    return std::runtime_error("cannot listen on " + s.options.listen + ": " + what);
  };
  beast::error_code ec;
  tcp::endpoint endpoint;
  const auto address = net::ip::make_address(hp.host, ec);
  if (!ec) {
    unsigned long port = 0;
    try {
      std::size_t used = 0;
      port = std::stoul(hp.port, &used);
      if (used != hp.port.size() || port > 65535) throw std::out_of_range("port");
    } catch (const std::exception&) {
      throw fail("bad port '" + hp.port + "'");
    }
    endpoint = tcp::endpoint(address, static_cast<std::uint16_t>(port));
  } else {
    tcp::resolver resolver(s.ioc);
    auto results = resolver.resolve(hp.host, hp.port, ec);
    if (ec || results.empty()) throw fail(ec ? ec.message() : "no address");
    endpoint = results.begin()->endpoint();
  }

  s.acceptor.open(endpoint.protocol(), ec);
  if (ec) throw fail(ec.message());
  s.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  s.acceptor.bind(endpoint, ec);
  if (ec) {
    s.acceptor.close(ec);
    throw fail(ec.message());
  }
  s.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    s.acceptor.close(ec);
    throw fail(ec.message());
  }
  const auto local = s.acceptor.local_endpoint(ec);
  s.bound_port = local.port();
  s.bound_host = local.address().to_string();

  s.pool.emplace(static_cast<std::size_t>(std::max(1, s.options.handler_threads)));
  s.work.emplace(s.ioc.get_executor());
  net::post(s.acceptor.get_executor(), [&s] { s.do_accept(); });
  const int n = std::max(1, s.options.io_threads);
  for (int i = 0; i < n; ++i) {
    s.io_threads.emplace_back([&s] {
      for (;;) {
        try {
          s.ioc.run();
          return;
        } catch (const std::exception& e) {
          // Completion handlers are not supposed to throw; if one does, the
          // other connections must not go down with it.
          spdlog::error("http server {}: I/O thread caught: {}", s.bound_host, e.what());
        }
      }
    });
  }
  s.phase = Impl::Phase::kRunning;
}

void HttpServer::stop() {
  Impl& s = *impl_;
  std::lock_guard lifecycle(s.lifecycle_mu);
  if (s.phase != Impl::Phase::kRunning) {
    s.phase = Impl::Phase::kStopped;
    return;
  }
  {
    std::lock_guard lock(s.mu);
    s.stopping.store(true);
  }
  net::post(s.acceptor.get_executor(), [&s] {
    beast::error_code ec;
    s.acceptor.close(ec);
    s.accept_retry.cancel();
  });
  for (auto& session : s.live_sessions()) {
    net::post(session->strand(), [session] { session->stop_gracefully(); });
  }

  const auto deadline = std::chrono::steady_clock::now() + s.options.shutdown_grace;
  if (!s.wait_until_empty(deadline)) {
    spdlog::warn("http server {}: {} connection(s) still busy after shutdown_grace; closing them",
                 s.bound_host, s.open.load());
    for (auto& session : s.live_sessions()) {
      net::post(session->strand(), [session] { session->force_close(); });
    }
  }
  // A handler still running past the grace period cannot be interrupted;
  // joining waits for it, and its response is dropped on the closed socket.
  s.pool->join();
  s.wait_until_empty(std::chrono::steady_clock::now() + kForceCloseWait);
  s.work.reset();
  s.ioc.stop();
  for (auto& t : s.io_threads) t.join();
  s.io_threads.clear();
  // ioc.stop() may have beaten the posted close; with the I/O threads gone
  // nothing else touches the acceptor, and the port must be free on return.
  beast::error_code ec;
  s.acceptor.close(ec);
  s.phase = Impl::Phase::kStopped;
}

uint16_t HttpServer::port() const { return impl_->bound_port; }

std::string HttpServer::address() const {
  const auto& host = impl_->bound_host;
  const auto port = std::to_string(impl_->bound_port);
  return host.find(':') != std::string::npos ? "[" + host + "]:" + port : host + ":" + port;
}

bool HttpServer::tls() const { return !impl_->options.tls_cert_file.empty(); }

std::size_t HttpServer::open_connections() const { return impl_->open.load(); }

std::uint64_t HttpServer::requests_total() const { return impl_->requests.load(); }

}  // namespace strata::http
