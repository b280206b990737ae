#include "collector/token_auth.h"

#include <openssl/evp.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/config.h"
#include "common/wire_format.h"

namespace strata::collector {
namespace {

using config::ConfigError;

constexpr auto kCheckEvery = std::chrono::seconds(1);

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot read tokens file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string base64_decode(std::string_view in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  unsigned buf = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const int v = val(c);
    if (v < 0) return {};
    buf = (buf << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buf >> bits) & 0xff);
    }
  }
  return out;
}

// The token of an Authorization header, or empty.
std::string token_of(const http::Request& req) {
  auto h = req.header("authorization");
  if (!h) return {};
  std::string_view v = *h;
  auto scheme_is = [&](std::string_view s) {
    if (v.size() <= s.size() || v[s.size()] != ' ') return false;
    for (std::size_t i = 0; i < s.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(v[i])) != s[i]) return false;
    return true;
  };
  auto rest = [&](std::size_t n) {
    std::string_view r = v.substr(n);
    while (!r.empty() && r.front() == ' ') r.remove_prefix(1);
    while (!r.empty() && r.back() == ' ') r.remove_suffix(1);
    return r;
  };
  if (scheme_is("bearer")) return std::string(rest(6));
  if (scheme_is("basic")) {
    std::string decoded = base64_decode(rest(5));
    auto colon = decoded.find(':');
    return colon == std::string::npos ? std::string() : decoded.substr(colon + 1);
  }
  return {};
}

}  // namespace

TokenAuth::TokenAuth(std::string path, std::string tenant_label, metrics::Registry& registry)
    : path_(std::move(path)),
      tenant_label_(std::move(tenant_label)),
      rejected_(registry.counter("strata_collector_unauthorized_requests_total",
                                 "Requests answered 401 (missing or unknown token).")),
      reloads_ok_(registry.counter("strata_collector_tokens_reloads_total",
                                   "Loads of the tokens file by outcome.",
                                   Labels{{"outcome", "ok"}})),
      reloads_failed_(registry.counter("strata_collector_tokens_reloads_total",
                                       "Loads of the tokens file by outcome.",
                                       Labels{{"outcome", "failed"}})) {
  if (!wire::valid_label_name(tenant_label_))
    throw ConfigError("config key 'collector.auth.tenant_label': '" + tenant_label_ +
                      "' is not a valid label name");
  if (path_.empty()) return;
  auto id = stat_file();
  tokens_ = std::make_shared<const TokenMap>(parse(read_file(path_), path_, tenant_label_));
  if (id) loaded_ = *id;
  next_check_ = std::chrono::steady_clock::now() + kCheckEvery;
  reloads_ok_.inc();
}

std::string TokenAuth::digest(std::string_view token) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(token.data(), token.size(), d, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(d), len);
}

TokenAuth::TokenMap TokenAuth::parse(const std::string& yaml_text, const std::string& origin,
                                     const std::string& tenant_label) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("{}: not valid YAML: {}", origin, e.what()));
  }
  TokenMap out;
  if (root.IsNull()) return out;
  if (!root.IsMap() || !root["tokens"] || !(root["tokens"].IsMap() || root["tokens"].IsNull()))
    throw ConfigError(origin + ": expected a map with a 'tokens' map (token -> tenant, labels)");
  try {
    for (const auto& kv : root["tokens"]) {
      const std::string where = fmt::format("{} line {}", origin, kv.first.Mark().line + 1);
      const auto token = kv.first.as<std::string>();
      if (token.size() < 8) throw ConfigError(where + ": token shorter than 8 characters");
      const YAML::Node& t = kv.second;
      if (!t.IsMap() || !t["tenant"] || !t["tenant"].IsScalar() ||
          t["tenant"].as<std::string>().empty())
        throw ConfigError(where + ": expected {tenant: NAME, labels: {...}} for the token");
      for (const auto& f : t) {
        const auto key = f.first.as<std::string>();
        if (key != "tenant" && key != "labels")
          throw ConfigError(fmt::format("{}: unknown field '{}' (tenant, labels)", where, key));
      }
      auto tenant = std::make_shared<Tenant>();
      tenant->id = t["tenant"].as<std::string>();
      std::vector<Label> labels;
      if (const YAML::Node l = t["labels"]) {
        if (!l.IsMap()) throw ConfigError(where + ": 'labels' must be a map of strings");
        for (const auto& lv : l) {
          auto name = lv.first.as<std::string>();
          if (!wire::valid_label_name(name) || name == tenant_label)
            throw ConfigError(
                fmt::format("{}: '{}' is not a valid label name for tenant labels", where, name));
          if (!lv.second.IsScalar())
            throw ConfigError(fmt::format("{}: label '{}' must be a string", where, name));
          labels.emplace_back(std::move(name), lv.second.as<std::string>());
        }
      }
      labels.emplace_back(tenant_label, tenant->id);
      tenant->labels = Labels(std::move(labels));
      if (!out.emplace(digest(token), std::move(tenant)).second)
        throw ConfigError(where + ": the same token appears twice");
    }
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("{}: {}", origin, e.what()));
  }
  return out;
}

std::optional<TokenAuth::FileId> TokenAuth::stat_file() const {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) return std::nullopt;
  FileId id;
  id.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  id.size = st.st_size;
  id.inode = st.st_ino;
  return id;
}

bool TokenAuth::reload() {
  if (path_.empty()) return true;
  auto id = stat_file();
  try {
    auto map = std::make_shared<const TokenMap>(parse(read_file(path_), path_, tenant_label_));
    std::lock_guard lock(mu_);
    tokens_ = std::move(map);
    if (id) loaded_ = *id;
  } catch (const std::exception& e) {
    reloads_failed_.inc();
    spdlog::error("collector: tokens file not reloaded, the previous tokens stay in force: {}",
                  e.what());
    std::lock_guard lock(mu_);
    if (id) loaded_ = *id;  // do not retry the same broken file every second
    return false;
  }
  reloads_ok_.inc();
  spdlog::info("collector: reloaded {} tokens from {}", tokens(), path_);
  return true;
}

void TokenAuth::maybe_reload() {
  {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (now < next_check_) return;
    next_check_ = now + kCheckEvery;
  }
  auto id = stat_file();
  bool changed;
  {
    std::lock_guard lock(mu_);
    changed = id && !(*id == loaded_);
  }
  if (changed) reload();
}

std::size_t TokenAuth::tokens() const {
  std::lock_guard lock(mu_);
  return tokens_ ? tokens_->size() : 0;
}

std::optional<std::shared_ptr<const Tenant>> TokenAuth::authenticate(const http::Request& req) {
  if (path_.empty()) return std::shared_ptr<const Tenant>();
  maybe_reload();
  const std::string token = token_of(req);
  if (!token.empty()) {
    std::shared_ptr<const TokenMap> map;
    {
      std::lock_guard lock(mu_);
      map = tokens_;
    }
    if (auto it = map->find(digest(token)); it != map->end()) return it->second;
  }
  rejected_.inc();
  return std::nullopt;
}

http::Response TokenAuth::unauthorized() {
  auto r = http::Response::text(
      401, "unauthorized: a valid token is required (Authorization: Bearer <token>)\n");
  r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"strata-collector\"");
  return r;
}

}  // namespace strata::collector
