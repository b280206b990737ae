// Token authentication: parsing, lookups, the uniform 401, and reloading when
// the file changes.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <thread>

#include "collector/token_auth.h"
#include "common/config.h"
#include "tests/support/process.h"

using namespace strata;
using namespace strata::collector;
using namespace std::chrono_literals;

namespace {

http::Request with_auth(const std::string& value) {
  http::Request r;
  if (!value.empty()) r.headers["authorization"] = value;
  return r;
}

void write_file(const std::string& path, const std::string& text) {
  // Written aside and renamed, as config management does: the inode changes.
  std::ofstream(path + ".tmp") << text;
  std::rename((path + ".tmp").c_str(), path.c_str());
}

}  // namespace

TEST_CASE("token auth: tokens map to tenants and labels", "[collector][auth]") {
  const std::string path = testing::temp_dir("collector-auth") + "/tokens.yaml";
  write_file(path,
             "tokens:\n"
             "  token-aaaa-1111:\n"
             "    tenant: team-a\n"
             "    labels: {env: prod}\n"
             "  token-bbbb-2222: {tenant: team-b}\n");
  metrics::Registry registry;
  TokenAuth auth(path, "tenant", registry);
  CHECK(auth.enabled());
  CHECK(auth.tokens() == 2);

  auto a = auth.authenticate(with_auth("Bearer token-aaaa-1111"));
  REQUIRE(a);
  REQUIRE(*a);
  CHECK((*a)->id == "team-a");
  CHECK((*a)->labels == Labels{{"env", "prod"}, {"tenant", "team-a"}});
  auto b = auth.authenticate(with_auth("bearer   token-bbbb-2222 "));
  REQUIRE(b);
  CHECK((*b)->labels == Labels{{"tenant", "team-b"}});
  // Basic auth: the password is the token ("user:token-bbbb-2222").
  auto basic = auth.authenticate(with_auth("Basic dXNlcjp0b2tlbi1iYmJiLTIyMjI="));
  REQUIRE(basic);
  CHECK((*basic)->id == "team-b");

  for (const char* bad : {"", "Bearer", "Bearer wrong-token-123", "Token token-aaaa-1111",
                          "Basic !!!", "Bearer token-aaaa-111"})
    CHECK_FALSE(auth.authenticate(with_auth(bad)));
  auto r = TokenAuth::unauthorized();
  CHECK(r.status == 401);
  CHECK(r.headers.size() == 1);
}

TEST_CASE("token auth: off without a file", "[collector][auth]") {
  metrics::Registry registry;
  TokenAuth auth("", "tenant", registry);
  CHECK_FALSE(auth.enabled());
  auto t = auth.authenticate(with_auth(""));
  REQUIRE(t);
  CHECK(*t == nullptr);
}

TEST_CASE("token auth: a changed file is picked up, a broken one keeps the old tokens",
          "[collector][auth]") {
  const std::string path = testing::temp_dir("collector-auth") + "/tokens.yaml";
  write_file(path, "tokens:\n  first-token-1: {tenant: a}\n");
  metrics::Registry registry;
  TokenAuth auth(path, "tenant", registry);
  REQUIRE(auth.authenticate(with_auth("Bearer first-token-1")));

  write_file(path, "tokens:\n  second-token-2: {tenant: b}\n");
  // Checked at most once a second on the request path.
  CHECK(testing::eventually(
      [&] { return auth.authenticate(with_auth("Bearer second-token-2")).has_value(); }, 5s));
  CHECK_FALSE(auth.authenticate(with_auth("Bearer first-token-1")));

  write_file(path, "tokens: [this is: not valid");
  CHECK_FALSE(auth.reload());
  CHECK(auth.authenticate(with_auth("Bearer second-token-2")));  // still in force
  CHECK(registry.render().find("strata_collector_tokens_reloads_total{outcome=\"failed\"} 1") !=
        std::string::npos);
}

TEST_CASE("token auth: file errors name the file and line", "[collector][auth]") {
  auto error = [](const std::string& text) -> std::string {
    try {
      TokenAuth::parse(text, "tokens.yaml", "tenant");
    } catch (const config::ConfigError& e) {
      return e.what();
    }
    return "(no error)";
  };
  CHECK_THAT(error("tokens:\n  short: {tenant: a}\n"),
             Catch::Contains("tokens.yaml line 2: token shorter than 8 characters"));
  CHECK_THAT(error("tokens:\n  long-enough-1: {labels: {a: b}}\n"),
             Catch::Contains("tokens.yaml line 2: expected {tenant: NAME"));
  CHECK_THAT(error("tokens:\n  long-enough-1: {tenant: a, labels: {bad-name: b}}\n"),
             Catch::Contains("'bad-name' is not a valid label name"));
  CHECK_THAT(error("tokens:\n  long-enough-1: {tenant: a, labels: {tenant: b}}\n"),
             Catch::Contains("'tenant' is not a valid label name for tenant labels"));
  CHECK_THAT(error("tokens:\n  long-enough-1: {tenant: a, role: admin}\n"),
             Catch::Contains("unknown field 'role'"));
  CHECK_THAT(error("users: {}"), Catch::Contains("expected a map with a 'tokens' map"));
  CHECK_THAT(error("tokens: {"), Catch::Contains("not valid YAML"));
}
