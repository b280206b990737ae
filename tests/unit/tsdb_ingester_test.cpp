// The decode/apply half of the tsdb ingester, without a broker: poison
// messages are skipped, replays are absorbed, conflicts are counted.
#include <catch2/catch.hpp>

#include "tests/unit/tsdb_test_db.h"

#include "tsdb/ingester.h"

using namespace strata;
using namespace strata::tsdb;

namespace {

kafka::InMessage message(std::string value, std::int64_t offset) {
  kafka::InMessage m;
  m.topic = "metrics";
  m.partition = 0;
  m.offset = offset;
  m.value = std::move(value);
  return m;
}

std::string batch_of(const std::string& name, std::vector<wire::Sample> samples) {
  wire::MetricsBatch b;
  b.series.push_back({Labels{{"__name__", name}, {"job", "j"}}, std::move(samples)});
  return wire::encode(b);
}

}  // namespace

TEST_CASE("tsdb ingest: poison messages are skipped, the rest applied", "[tsdb][ingest]") {
  testdb::TempDb tmp;
  DB& store = *tmp.db;
  std::vector<kafka::InMessage> batch{
      message(batch_of("a", {{1000, 1}, {2000, 2}}), 0),
      message("this is not JSON", 1),
      message(R"({"version":1,"series":[{"labels":{"__name__":"x"},"samples":[[1,"bogus"]]}]})", 2),
      message(batch_of("b", {{1000, 3}}), 3),
  };
  BatchStats s = apply_metrics_messages(batch, store);
  CHECK(s.messages == 4);
  CHECK(s.rejected_messages == 2);
  CHECK(s.series == 2);
  CHECK(s.samples.appended == 3);
  CHECK(store.series_count() == 2);

  // The same batch again (a replay after a crash before commit).
  BatchStats again = apply_metrics_messages(batch, store);
  CHECK(again.samples.appended == 0);
  CHECK(again.samples.duplicates == 3);
  CHECK(again.rejected_messages == 2);
  CHECK(store.sample_count() == 3);
}

TEST_CASE("tsdb ingest: conflicting values are counted and named", "[tsdb][ingest]") {
  testdb::TempDb tmp;
  DB& store = *tmp.db;
  apply_metrics_messages(std::vector<kafka::InMessage>{message(batch_of("a", {{1000, 1}}), 0)},
                         store);
  BatchStats s = apply_metrics_messages(
      std::vector<kafka::InMessage>{message(batch_of("a", {{1000, 5}, {2000, 6}}), 1)}, store);
  CHECK(s.samples.conflicts == 1);
  CHECK(s.samples.appended == 1);
  CHECK(s.first_conflict.find("__name__=\"a\"") != std::string::npos);
  CHECK(s.first_conflict.find("1000 ms") != std::string::npos);
  CHECK(store.samples(Labels{{"__name__", "a"}, {"job", "j"}})[0].value == 1);
}
