#include "common/metrics_registry.h"

#include <catch2/catch.hpp>

#include <thread>

using namespace strata;

TEST_CASE("registry renders the Prometheus text format", "[metrics]") {
  metrics::Registry r;
  r.counter("req_total", "Requests.", Labels{{"code", "200"}}).inc(3);
  r.counter("req_total", "Requests.", Labels{{"code", "500"}}).inc();
  r.gauge("temp", "Temperature.").set(-1.5);
  auto& h = r.histogram("lat_seconds", "Latency.", {0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  r.gauge_callback("live", "Live.", [] { return 42.0; });
  std::string out = r.render();
  CHECK_THAT(out, Catch::Contains("# TYPE req_total counter\n"));
  CHECK_THAT(out, Catch::Contains("req_total{code=\"200\"} 3\n"));
  CHECK_THAT(out, Catch::Contains("req_total{code=\"500\"} 1\n"));
  CHECK_THAT(out, Catch::Contains("temp -1.5\n"));
  CHECK_THAT(out, Catch::Contains("lat_seconds_bucket{le=\"0.1\"} 1\n"));
  CHECK_THAT(out, Catch::Contains("lat_seconds_bucket{le=\"1\"} 2\n"));
  CHECK_THAT(out, Catch::Contains("lat_seconds_bucket{le=\"+Inf\"} 3\n"));
  CHECK_THAT(out, Catch::Contains("lat_seconds_sum 5.55\n"));
  CHECK_THAT(out, Catch::Contains("lat_seconds_count 3\n"));
  CHECK_THAT(out, Catch::Contains("live 42\n"));
}

TEST_CASE("label values are escaped", "[metrics]") {
  metrics::Registry r;
  r.counter("x_total", "X.", Labels{{"path", "a\"b\\c\nd"}}).inc();
  CHECK_THAT(r.render(), Catch::Contains("x_total{path=\"a\\\"b\\\\c\\nd\"} 1"));
}

TEST_CASE("same name and labels return the same metric, type clashes are errors", "[metrics]") {
  metrics::Registry r;
  auto& a = r.counter("c_total", "C.");
  auto& b = r.counter("c_total", "C.");
  CHECK(&a == &b);
  CHECK_THROWS_AS(r.gauge("c_total", "C."), std::logic_error);
  CHECK_THROWS_AS(a.inc(-1), std::invalid_argument);
}

TEST_CASE("counters are exact under concurrent increments", "[metrics]") {
  metrics::Registry r;
  auto& c = r.counter("n_total", "N.");
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) c.inc();
    });
  for (auto& t : ts) t.join();
  CHECK(c.value() == 40000);
}
