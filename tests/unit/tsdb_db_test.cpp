// DB (head path): idempotent appends (the at-least-once contract), conflicts,
// ordering, NaN bit-equality, staleness, lookback and selection.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <thread>

#include "tests/unit/tsdb_test_db.h"
#include "tsdb/promql/selector.h"

using namespace strata;
using namespace strata::tsdb;
using namespace std::chrono_literals;

namespace {

std::vector<LabelMatcher> sel(const std::string& s) {
  return promql::parse_vector_selector(s).matchers;
}

std::vector<std::int64_t> timestamps(const std::vector<wire::Sample>& v) {
  std::vector<std::int64_t> out;
  for (const auto& s : v) out.push_back(s.timestamp_ms);
  return out;
}

double from_bits(std::uint64_t b) { return std::bit_cast<double>(b); }

const Labels kUp{{"__name__", "up"}, {"job", "api"}};

}  // namespace

TEST_CASE("store: append stores samples and counts them", "[tsdb][store]") {
  testdb::TempDb tmp;
  DB& store = *tmp.db;
  auto r = store.append(kUp, std::vector<wire::Sample>{{1000, 1}, {2000, 2}});
  CHECK(r.appended == 2);
  CHECK(r.duplicates == 0);
  CHECK(r.conflicts == 0);
  CHECK(store.series_count() == 1);
  CHECK(store.sample_count() == 2);
  CHECK(timestamps(store.samples(kUp)) == std::vector<std::int64_t>{1000, 2000});
  CHECK(store.samples(Labels{{"__name__", "nope"}}).empty());
}

TEST_CASE("store: re-appending identical samples is a no-op (replay)", "[tsdb][store]") {
  testdb::TempDb tmp;
  DB& store = *tmp.db;
  std::vector<wire::Sample> batch{{1000, 1.5}, {2000, 2.5}, {3000, -0.0}};
  store.append(kUp, batch);
  auto r = store.append(kUp, batch);
  CHECK(r.appended == 0);
  CHECK(r.duplicates == 3);
  CHECK(r.conflicts == 0);
  CHECK(store.sample_count() == 3);
  CHECK(store.samples(kUp).size() == 3);
  // Label order as sent does not matter: same series.
  store.append(Labels{{"job", "api"}, {"__name__", "up"}}, batch);
  CHECK(store.series_count() == 1);
}

TEST_CASE("store: a different value at an existing timestamp is rejected, first wins",
          "[tsdb][store]") {
  testdb::TempDb tmp;
  DB& store = *tmp.db;
  store.append(kUp, std::vector<wire::Sample>{{1000, 1}, {2000, 2}});
  auto r = store.append(kUp, std::vector<wire::Sample>{{1000, 9}, {2000, 2}, {3000, 3}});
  CHECK(r.appended == 1);
  CHECK(r.duplicates == 1);
  CHECK(r.conflicts == 1);
  CHECK(r.first_conflict_ms == 1000);
  auto s = store.samples(kUp);
  REQUIRE(s.size() == 3);
  CHECK(s[0].value == 1);
  // +0 and -0 compare equal as doubles but differ in bits: a conflict.
  CHECK(store.append(kUp, std::vector<wire::Sample>{{3000, 3}}).duplicates == 1);
  store.append(kUp, std::vector<wire::Sample>{{4000, 0.0}});
  CHECK(store.append(kUp, std::vector<wire::Sample>{{4000, -0.0}}).conflicts == 1);
}

TEST_CASE("store: out-of-order samples are kept sorted", "[tsdb][store]") {
  testdb::TempDb tmp;
  DB& store = *tmp.db;
  store.append(kUp, std::vector<wire::Sample>{{5000, 5}, {1000, 1}, {3000, 3}});
  store.append(kUp, std::vector<wire::Sample>{{2000, 2}, {6000, 6}, {4000, 4}, {0, 0}});
  auto s = store.samples(kUp);
  CHECK(timestamps(s) == std::vector<std::int64_t>{0, 1000, 2000, 3000, 4000, 5000, 6000});
  for (const auto& x : s) CHECK(x.value == static_cast<double>(x.timestamp_ms / 1000));
  // Duplicates within one batch, out of order.
  auto r = store.append(kUp, std::vector<wire::Sample>{{7000, 7}, {2000, 2}, {7000, 7}});
  CHECK(r.appended == 1);
  CHECK(r.duplicates == 2);
}

TEST_CASE("store: NaN compares by bits, so a replayed NaN is a duplicate", "[tsdb][store]") {
  testdb::TempDb tmp;
  DB& store = *tmp.db;
  const double canonical = from_bits(wire::kNormalNaNBits);
  const double other_nan = from_bits(0x7ff8000000000000ULL);
  store.append(kUp, std::vector<wire::Sample>{{1000, canonical}, {2000, wire::stale_nan()}});
  auto r =
      store.append(kUp, std::vector<wire::Sample>{{1000, canonical}, {2000, wire::stale_nan()}});
  CHECK(r.duplicates == 2);
  CHECK(r.conflicts == 0);
  // A NaN with another payload, or a stale marker instead of a NaN, is another value.
  CHECK(store.append(kUp, std::vector<wire::Sample>{{1000, other_nan}}).conflicts == 1);
  CHECK(store.append(kUp, std::vector<wire::Sample>{{1000, wire::stale_nan()}}).conflicts == 1);
  CHECK(store.append(kUp, std::vector<wire::Sample>{{2000, canonical}}).conflicts == 1);
  CHECK(std::bit_cast<std::uint64_t>(store.samples(kUp)[0].value) == wire::kNormalNaNBits);
}

TEST_CASE("store: instant lookup uses a left-open lookback window", "[tsdb][store]") {
  testdb::TempDb tmp;
  DB& store = *tmp.db;
  store.append(kUp, std::vector<wire::Sample>{{100'000, 1}, {200'000, 2}});
  auto at = [&](std::int64_t t) { return store.instant(sel("up"), t, 5min); };
  CHECK(at(99'999).empty());  // before the first sample
  REQUIRE(at(100'000).size() == 1);
  CHECK(at(100'000)[0].value == 1);
  CHECK(at(150'000)[0].value == 1);
  CHECK(at(150'000)[0].timestamp_ms == 100'000);
  CHECK(at(200'000)[0].value == 2);
  CHECK(at(200'000 + 299'999)[0].value == 2);
  CHECK(at(200'000 + 300'000).empty());  // exactly 5 m old: outside (t-5m, t]
  CHECK(store.instant(sel("up"), 250'000, 10s).empty());
  CHECK(store.instant(sel("up"), 205'000, 10s).size() == 1);
}

TEST_CASE("store: a stale marker ends a series until a newer sample", "[tsdb][store]") {
  testdb::TempDb tmp;
  DB& store = *tmp.db;
  Labels other{{"__name__", "up"}, {"job", "db"}};
  store.append(kUp, std::vector<wire::Sample>{{1000, 1}, {2000, wire::stale_nan()}});
  store.append(other, std::vector<wire::Sample>{{1000, 7}});
  auto at = [&](std::int64_t t) { return store.instant(sel("up"), t, 5min); };
  REQUIRE(at(1500).size() == 2);
  auto after = at(2500);
  REQUIRE(after.size() == 1);
  CHECK(after[0].labels == other);
  store.append(kUp, std::vector<wire::Sample>{{3000, 3}});
  REQUIRE(at(3000).size() == 2);
  // Sorted by labels: job="api" first.
  CHECK(at(3000)[0].labels == kUp);
  CHECK(at(3000)[0].value == 3);
  CHECK(at(3000)[1].value == 7);
  // A plain NaN is a value, not a marker.
  store.append(kUp, std::vector<wire::Sample>{{4000, std::nan("")}});
  REQUIRE(at(4000).size() == 2);
  CHECK(std::isnan(at(4000)[0].value));
}

TEST_CASE("store: select by every operator, through the index", "[tsdb][store]") {
  testdb::TempDb tmp;
  DB& store = *tmp.db;
  std::vector<wire::Sample> one{{1000, 1}};
  store.append(Labels{{"__name__", "http_requests"}, {"code", "200"}, {"job", "api"}}, one);
  store.append(Labels{{"__name__", "http_requests"}, {"code", "500"}, {"job", "api"}}, one);
  store.append(Labels{{"__name__", "http_requests"}, {"code", "200"}, {"job", "web"}}, one);
  store.append(Labels{{"__name__", "http_requests"}, {"job", "batch"}}, one);
  store.append(Labels{{"__name__", "up"}, {"job", "api"}}, one);
  auto count = [&](const std::string& s) { return store.series_labels(sel(s)).size(); };
  CHECK(count("http_requests") == 4);
  CHECK(count("http_requests{job=\"api\"}") == 2);
  CHECK(count("http_requests{job=\"api\",code=\"500\"}") == 1);
  CHECK(count("http_requests{job=\"nope\"}") == 0);
  CHECK(count("http_requests{code!=\"200\"}") == 2);  // 500 and the one without `code`
  CHECK(count("http_requests{code=~\"2..\"}") == 2);
  CHECK(count("http_requests{code!~\"2..\"}") == 2);
  CHECK(count("{job=\"api\"}") == 3);
  CHECK(count("{__name__=~\"http_.*|up\"}") == 5);
  CHECK(count("{__name__=~\".+\", job!=\"api\"}") == 2);
  CHECK(count("{code=~\".+\"}") == 3);
  CHECK(count("{code!=\"\"}") == 3);
  CHECK(count("{nolabel=~\".+\"}") == 0);
  // Sorted by label set.
  auto all = store.series_labels(sel("http_requests"));
  CHECK(std::is_sorted(all.begin(), all.end()));
}

TEST_CASE("store: select honours the time range", "[tsdb][store]") {
  testdb::TempDb tmp;
  DB& store = *tmp.db;
  store.append(Labels{{"__name__", "a"}}, std::vector<wire::Sample>{{1000, 1}, {5000, 1}});
  store.append(Labels{{"__name__", "b"}}, std::vector<wire::Sample>{{9000, 1}});
  auto names = [&](std::int64_t mint, std::int64_t maxt) {
    std::vector<std::string> out;
    for (const auto& l : store.series_labels(sel("{__name__=~\".+\"}"), mint, maxt))
      out.emplace_back(l.get("__name__"));
    return out;
  };
  CHECK(names(kMinTime, kMaxTime) == std::vector<std::string>{"a", "b"});
  CHECK(names(2000, 4000).empty());
  CHECK(names(5000, 5000) == std::vector<std::string>{"a"});
  CHECK(names(5001, 9000) == std::vector<std::string>{"b"});
}

TEST_CASE("store: empty label values are dropped, an empty label set is refused", "[tsdb][store]") {
  testdb::TempDb tmp;
  DB& store = *tmp.db;
  store.append(Labels{{"__name__", "m"}, {"a", ""}}, std::vector<wire::Sample>{{1, 1}});
  CHECK(store.samples(Labels{{"__name__", "m"}}).size() == 1);
  CHECK(store.label_names() == std::vector<std::string>{"__name__"});
  CHECK_THROWS_AS(store.append(Labels{{"a", ""}}, std::vector<wire::Sample>{{1, 1}}),
                  std::invalid_argument);
  CHECK_THROWS_AS(store.append(Labels{}, std::vector<wire::Sample>{{1, 1}}), std::invalid_argument);
  // No samples: nothing is created.
  store.append(Labels{{"__name__", "empty"}}, std::vector<wire::Sample>{});
  CHECK(store.series_count() == 1);
}

TEST_CASE("store: label names and values", "[tsdb][store]") {
  testdb::TempDb tmp;
  DB& store = *tmp.db;
  std::vector<wire::Sample> one{{1000, 1}};
  store.append(Labels{{"__name__", "b_metric"}, {"zone", "z1"}}, one);
  store.append(Labels{{"__name__", "a_metric"}, {"job", "x"}, {"zone", "z2"}}, one);
  CHECK(store.label_names() == std::vector<std::string>{"__name__", "job", "zone"});
  CHECK(store.label_values("__name__") == std::vector<std::string>{"a_metric", "b_metric"});
  CHECK(store.label_values("zone") == std::vector<std::string>{"z1", "z2"});
  CHECK(store.label_values("nope").empty());
}

TEST_CASE("store: concurrent appends and queries", "[tsdb][store]") {
  testdb::TempDb tmp;
  DB& store = *tmp.db;
  constexpr int kThreads = 4, kSeries = 50, kSamples = 200;
  std::atomic<bool> done{false};
  std::atomic<int> bad_reads{0};  // Catch2 assertions are not thread-safe
  std::thread reader([&] {
    while (!done) {
      auto v = store.instant(sel("{__name__=\"c\"}"), kSamples * 1000, 5min);
      for (const auto& s : v)
        if (s.timestamp_ms > kSamples * 1000 ||
            s.value != static_cast<double>(s.timestamp_ms / 1000))
          ++bad_reads;
      (void)store.label_values("s");
    }
  });
  std::vector<std::thread> writers;
  // Every thread writes the same data: all but one copy must be duplicates.
  for (int t = 0; t < kThreads; ++t)
    writers.emplace_back([&] {
      for (int i = 0; i < kSamples; ++i)
        for (int s = 0; s < kSeries; ++s)
          store.append(Labels{{"__name__", "c"}, {"s", std::to_string(s)}},
                       std::vector<wire::Sample>{{i * 1000, double(i)}});
    });
  for (auto& w : writers) w.join();
  done = true;
  reader.join();
  CHECK(bad_reads == 0);
  CHECK(store.series_count() == kSeries);
  CHECK(store.sample_count() == static_cast<std::uint64_t>(kSeries * kSamples));
  auto last = store.instant(sel("c"), (kSamples - 1) * 1000, 5min);
  REQUIRE(last.size() == kSeries);
  for (const auto& s : last) CHECK(s.value == kSamples - 1);
}
