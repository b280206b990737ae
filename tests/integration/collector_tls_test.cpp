// The collector over HTTPS (collector.tls.*), against the embedded broker:
// a test CA and server/client certificates are made at test time with the
// openssl CLI; a client that trusts the CA pushes and the data reaches Kafka,
// a client that does not (or that speaks plain HTTP) fails the handshake, and
// with collector.tls.client_ca_file only clients with a certificate the CA
// signed get in. Bad TLS settings are configuration errors naming the key.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "collector/collector_server.h"
#include "common/config.h"
#include "common/embedded_broker.h"
#include "common/http_client.h"
#include "common/service.h"
#include "common/wire_format.h"
#include "tests/support/process.h"

using namespace strata;
using namespace std::chrono_literals;

namespace {

void sh(const std::string& cmd) {
  const int rc = std::system((cmd + " >/dev/null 2>&1").c_str());
  INFO(cmd);
  REQUIRE(rc == 0);
}

// A CA, and certificates it signed: the server's for 127.0.0.1/localhost and
// a client's. Plus a second, unrelated CA that signed nothing of ours.
struct TestPki {
  std::string dir = testing::temp_dir("strata-tls");
  std::string ca = dir + "/ca.pem";
  std::string other_ca = dir + "/other-ca.pem";
  std::string server_cert = dir + "/server.pem";
  std::string server_key = dir + "/server.key";
  std::string client_cert = dir + "/client.pem";
  std::string client_key = dir + "/client.key";

  TestPki() {
    // EC keys: fast to generate, even under the sanitizers.
    const std::string newkey = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const auto make_ca = [&](const std::string& name) {
      sh(
          fmt::format("openssl req -x509 {} -keyout {}/{}.key -out {}/{}.pem -days 2 "
                      "-subj /CN=strata-test-{} -addext basicConstraints=critical,CA:TRUE "
                      "-addext keyUsage=critical,keyCertSign,cRLSign",
                      newkey, dir, name, dir, name, name));
    };
    make_ca("ca");
    make_ca("other-ca");
    const auto issue = [&](const std::string& name, const std::string& ext) {
      std::ofstream(dir + "/" + name + ".ext") << ext << "\n";
      sh(fmt::format("openssl req {} -keyout {}/{}.key -out {}/{}.csr -subj /CN={}", newkey, dir,
                     name, dir, name, name));
      sh(
          fmt::format("openssl x509 -req -in {0}/{1}.csr -CA {0}/ca.pem -CAkey {0}/ca.key "
                      "-CAcreateserial -out {0}/{1}.pem -days 2 -extfile {0}/{1}.ext",
                      dir, name));
    };
    issue("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth");
    issue("client", "extendedKeyUsage=clientAuth");
  }
  ~TestPki() { std::system(("rm -rf " + dir).c_str()); }
};

config::Config collector_config(const std::string& brokers,
                                std::vector<std::pair<std::string, std::string>> extra) {
  config::Schema s;
  add_logging_options(s);
  add_kafka_options(s);
  collector::add_options(s);
  config::Config c(s);
  c.set("kafka.brokers", brokers, "test");
  c.set("collector.listen", "127.0.0.1:0", "test");
  c.set("collector.ack_timeout", "5s", "test");
  for (auto& [k, v] : extra) c.set(k, v, "test");
  return c;
}

http::ClientOptions one_attempt(std::string ca_file = {}) {
  http::ClientOptions o;
  o.max_attempts = 1;
  o.ca_file = std::move(ca_file);
  return o;
}

std::string metrics_body(int i) {
  wire::MetricsBatch batch;
  batch.series.push_back({Labels{{"__name__", "tls_test"}, {"i", std::to_string(i)}}, {{1000, 1}}});
  return wire::encode(batch);
}

kafka::KafkaOptions kafka_at(const std::string& brokers) {
  kafka::KafkaOptions o;
  o.brokers = brokers;
  return o;
}

}  // namespace

TEST_CASE("collector over HTTPS: a client trusting the CA pushes, others fail the handshake",
          "[collector][tls]") {
  TestPki pki;
  kafka::EmbeddedBroker broker({{"metrics", 1}, {"logs", 1}});
  collector::CollectorServer server(collector_config(
      broker.bootstraps(),
      {{"collector.tls.cert_file", pki.server_cert}, {"collector.tls.key_file", pki.server_key}}));
  server.start();
  REQUIRE(server.url().starts_with("https://127.0.0.1:"));
  const std::string push = server.url() + "/api/v1/push/metrics";

  // Trusts the test CA: two pushes on one kept-alive TLS connection.
  http::HttpClient trusting(one_attempt(pki.ca));
  auto r = trusting.post(push, metrics_body(1));
  INFO(r.error << r.body);
  CHECK(r.status == 204);
  CHECK(trusting.post(push, metrics_body(2)).status == 204);
  CHECK(trusting.get(server.url() + "/healthz").status == 200);

  // A CA that signed nothing of ours, and the system's CAs: verification
  // fails, nothing is sent, and it is not retried.
  http::HttpClient other(one_attempt(pki.other_ca));
  r = other.post(push, metrics_body(3));
  CHECK(r.status == 0);
  CHECK_THAT(r.error, Catch::Contains("certificate", Catch::CaseSensitive::No));
  http::HttpClient system_cas(one_attempt());
  r = system_cas.post(push, metrics_body(4));
  CHECK(r.status == 0);
  CHECK_FALSE(r.error.empty());

  // Plain HTTP on the HTTPS port gets no HTTP answer.
  const std::string plain = "http://" + server.url().substr(std::string("https://").size());
  r = system_cas.post(plain + "/api/v1/push/metrics", metrics_body(5));
  CHECK(r.status == 0);

  // Exactly the two trusted pushes reached Kafka.
  kafka::KafkaConsumer consumer(kafka_at(broker.bootstraps()), "tls-test", {"metrics"});
  std::set<std::string> seen;
  auto deadline = std::chrono::steady_clock::now() + 15s;
  while (seen.size() < 2 && std::chrono::steady_clock::now() < deadline)
    for (const auto& m : consumer.poll(100, 200ms))
      seen.insert(std::string(wire::decode_metrics(m.value).series.at(0).labels.get("i")));
  for (const auto& m : consumer.poll(100, 500ms))
    seen.insert(std::string(wire::decode_metrics(m.value).series.at(0).labels.get("i")));
  CHECK(seen == std::set<std::string>{"1", "2"});
}

TEST_CASE("collector with mutual TLS: only clients with a certificate the CA signed get in",
          "[collector][tls]") {
  TestPki pki;
  kafka::EmbeddedBroker broker({{"metrics", 1}, {"logs", 1}});
  collector::CollectorServer server(
      collector_config(broker.bootstraps(), {{"collector.tls.cert_file", pki.server_cert},
                                             {"collector.tls.key_file", pki.server_key},
                                             {"collector.tls.client_ca_file", pki.ca}}));
  server.start();
  const std::string push = server.url() + "/api/v1/push/metrics";

  http::HttpClient anonymous(one_attempt(pki.ca));
  auto r = anonymous.post(push, metrics_body(1));
  CHECK(r.status == 0);
  CHECK_FALSE(r.error.empty());

  auto with_cert = one_attempt(pki.ca);
  with_cert.client_cert_file = pki.client_cert;
  with_cert.client_key_file = pki.client_key;
  http::HttpClient authenticated(with_cert);
  r = authenticated.post(push, metrics_body(2));
  INFO(r.error << r.body);
  CHECK(r.status == 204);

  // A certificate the trusted CA did not sign (the other CA's self-signed one).
  auto wrong = one_attempt(pki.ca);
  wrong.client_cert_file = pki.other_ca;
  wrong.client_key_file = pki.dir + "/other-ca.key";
  http::HttpClient stranger(wrong);
  r = stranger.post(push, metrics_body(3));
  CHECK(r.status == 0);
}

TEST_CASE("collector TLS settings are checked at startup, naming the key", "[collector][tls]") {
  TestPki pki;
  const auto error_of = [](const config::Config& cfg) -> std::string {
    try {
      collector::CollectorServer server(cfg);
    } catch (const config::ConfigError& e) {
      return e.what();
    }
    return "";
  };
  // No broker is needed: the settings fail before anything connects.
  CHECK_THAT(
      error_of(collector_config("127.0.0.1:1", {{"collector.tls.cert_file", pki.server_cert}})),
      Catch::Contains("'collector.tls.cert_file' and 'collector.tls.key_file' go together"));
  CHECK_THAT(
      error_of(collector_config("127.0.0.1:1", {{"collector.tls.cert_file", pki.dir + "/nope.pem"},
                                                {"collector.tls.key_file", pki.server_key}})),
      Catch::Contains("config key 'collector.tls.cert_file' (from test): cannot read " + pki.dir +
                      "/nope.pem"));
  CHECK_THAT(error_of(collector_config("127.0.0.1:1", {{"collector.tls.client_ca_file", pki.ca}})),
             Catch::Contains("'collector.tls.client_ca_file' needs"));

  // A key that is not the certificate's: the server refuses to start.
  kafka::EmbeddedBroker broker({{"metrics", 1}, {"logs", 1}});
  collector::CollectorServer server(collector_config(
      broker.bootstraps(),
      {{"collector.tls.cert_file", pki.server_cert}, {"collector.tls.key_file", pki.client_key}}));
  try {
    server.start();
    FAIL("start() accepted a key that does not match the certificate");
  } catch (const std::runtime_error& e) {
    CHECK_THAT(e.what(), Catch::Contains("TLS private key") && Catch::Contains(pki.client_key) &&
                             Catch::Contains("mismatch"));
  }
}
