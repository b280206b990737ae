// TokenAuth: bearer-token authentication of ingest requests, with per-tenant
// labels.
//
// The tokens file (collector.auth.tokens_file, YAML) maps each token to a
// tenant and optional labels:
//
//     tokens:
//       "9f6c...e1":
//         tenant: team-a
//         labels: {env: prod}
//
// A request carries its token as `Authorization: Bearer <token>` (Prometheus
// remote_write `authorization`, Loki clients' `bearer_token`) or as the
// password of `Authorization: Basic` (clients that only do basic auth; the
// user name is ignored). An accepted request's series and streams get the
// tenant's labels plus `<tenant_label>="<tenant>"`, overriding what the client
// sent: a tenant cannot write into another tenant's series. A missing, malformed
// or unknown token gets the same 401 answer, so that the answer tells an
// attacker nothing. With no tokens file configured, auth is off and every
// request is accepted with no tenant.
//
// Tokens are kept only as SHA-256 digests, so lookups compare digests and not
// secrets. The file is re-read when its modification time, size or inode
// changes (checked at most once a second, on the request path) and on
// reload() (SIGHUP). A file that fails to load keeps the previous tokens in
// force (logged and counted); at startup it is a configuration error.
//
// Thread-safety: authenticate() and reload() may run concurrently.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/http_server.h"
#include "common/labels.h"
#include "common/metrics_registry.h"

namespace strata::collector {

struct Tenant {
  std::string id;
  Labels labels;  // includes <tenant_label>="<id>"
};

class TokenAuth {
 public:
  // `path` empty: auth off. Throws config::ConfigError when the file cannot
  // be loaded.
  TokenAuth(std::string path, std::string tenant_label, metrics::Registry& registry);

  bool enabled() const { return !path_.empty(); }

  // The tenant of the request's token; nullptr when auth is off. Throws
  // nothing: an unauthenticated request gets nullopt, answered with
  // unauthorized().
  std::optional<std::shared_ptr<const Tenant>> authenticate(const http::Request& req);
  static http::Response unauthorized();

  // Re-reads the file now. Returns false (keeping the previous tokens) and
  // logs why when it cannot be loaded.
  bool reload();

  std::size_t tokens() const;

  // Parses a tokens file's text; throws config::ConfigError naming `origin`
  // and the line. Keys are SHA-256 digests of the tokens (raw bytes).
  using TokenMap = std::unordered_map<std::string, std::shared_ptr<const Tenant>>;
  static TokenMap parse(const std::string& yaml_text, const std::string& origin,
                        const std::string& tenant_label);
  static std::string digest(std::string_view token);

 private:
  struct FileId {
    std::int64_t mtime_ns = 0;
    std::int64_t size = -1;
    ino_t inode = 0;
    friend bool operator==(const FileId&, const FileId&) = default;
  };
  void maybe_reload();
  std::optional<FileId> stat_file() const;

  const std::string path_;
  const std::string tenant_label_;
  mutable std::mutex mu_;
  std::shared_ptr<const TokenMap> tokens_;
  FileId loaded_;
  std::chrono::steady_clock::time_point next_check_;
  metrics::Counter& rejected_;
  metrics::Counter& reloads_ok_;
  metrics::Counter& reloads_failed_;
};

}  // namespace strata::collector
