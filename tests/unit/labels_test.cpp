#include "common/labels.h"

#include <xxhash.h>
#include <catch2/catch.hpp>

#include <set>
#include <stdexcept>
#include <unordered_set>

using strata::Label;
using strata::Labels;

TEST_CASE("Labels sorts by name regardless of input order", "[labels]") {
  Labels a({{"job", "api"}, {"__name__", "up"}, {"instance", "h1"}});
  Labels b({{"instance", "h1"}, {"job", "api"}, {"__name__", "up"}});
  REQUIRE(a == b);
  REQUIRE(a.fingerprint() == b.fingerprint());
  REQUIRE(a.items() == std::vector<Label>{{"__name__", "up"}, {"instance", "h1"}, {"job", "api"}});
  REQUIRE(a.size() == 3);
  REQUIRE_FALSE(a.empty());
  REQUIRE(Labels().empty());
}

TEST_CASE("Labels rejects duplicate names, naming the label", "[labels]") {
  try {
    Labels({{"a", "1"}, {"b", "2"}, {"a", "3"}});
    FAIL("expected std::invalid_argument");
  } catch (const std::invalid_argument& e) {
    REQUIRE_THAT(e.what(), Catch::Contains("\"a\""));
  }
  // Same name and same value is still a duplicate.
  REQUIRE_THROWS_AS(Labels({{"x", "1"}, {"x", "1"}}), std::invalid_argument);
}

TEST_CASE("Labels::get returns the value or empty for an absent name", "[labels]") {
  Labels l({{"b", "2"}, {"a", "1"}, {"c", "3"}});
  REQUIRE(l.get("a") == "1");
  REQUIRE(l.get("b") == "2");
  REQUIRE(l.get("c") == "3");
  REQUIRE(l.get("d").empty());
  REQUIRE(l.get("").empty());
  REQUIRE(l.get("aa").empty());
}

TEST_CASE("Labels::set inserts in order or replaces", "[labels]") {
  Labels l({{"m", "1"}});
  l.set("z", "26");
  l.set("a", "0");
  l.set("n", "x");
  l.set("m", "2");
  REQUIRE(l.items() == std::vector<Label>{{"a", "0"}, {"m", "2"}, {"n", "x"}, {"z", "26"}});
  Labels built({{"z", "26"}, {"n", "x"}, {"a", "0"}, {"m", "2"}});
  REQUIRE(l == built);
  REQUIRE(l.fingerprint() == built.fingerprint());
}

TEST_CASE("Labels fingerprint is XXH64 over name 0xff value 0xff pairs", "[labels]") {
  Labels l({{"job", "api"}, {"__name__", "up"}});
  std::string buf =
      std::string("__name__") + '\xff' + "up" + '\xff' + "job" + '\xff' + "api" + '\xff';
  // Pinned: the fingerprint is the Kafka partition key and is persisted by
  // the stores, so it must never change silently.
  REQUIRE(l.fingerprint() == XXH64(buf.data(), buf.size(), 0));
  REQUIRE(Labels().fingerprint() == XXH64("", 0, 0));
}

TEST_CASE("Labels fingerprint separates names from values", "[labels]") {
  // Without separators these would all hash the same bytes.
  std::vector<Labels> sets = {
      Labels({{"a", "bc"}}),
      Labels({{"ab", "c"}}),
      Labels({{"a", "b"}, {"c", ""}}),
      Labels({{"a", ""}, {"bc", ""}}),
      Labels({{"a", "b"}}),
      Labels({{"a", "b"}, {"b", "a"}}),
      Labels({{"a", "a"}, {"b", "b"}}),
  };
  std::set<std::uint64_t> fps;
  for (const auto& l : sets) fps.insert(l.fingerprint());
  REQUIRE(fps.size() == sets.size());
}

TEST_CASE("Labels fingerprints of many distinct sets do not collide", "[labels]") {
  std::unordered_set<std::uint64_t> fps;
  for (int i = 0; i < 20000; ++i) {
    Labels l({{"__name__", "m"},
              {"instance", "host" + std::to_string(i % 100)},
              {"shard", std::to_string(i / 100)}});
    fps.insert(l.fingerprint());
  }
  REQUIRE(fps.size() == 20000);
}

TEST_CASE("Labels::to_string renders Prometheus style with escaping", "[labels]") {
  REQUIRE(Labels().to_string() == "{}");
  REQUIRE(Labels({{"a", "b"}, {"__name__", "x"}}).to_string() == R"({__name__="x", a="b"})");
  Labels tricky({{"q", "say \"hi\""},
                 {"b", "back\\slash"},
                 {"n", "line1\nline2"},
                 {"t", "tab\there"},
                 {"c", std::string("nul\0bell\a", 9)},
                 {"u", "日本語"}});
  REQUIRE(tricky.to_string() ==
          R"({b="back\\slash", c="nul\x00bell\x07", n="line1\nline2", q="say \"hi\"", )"
          R"(t="tab\there", u="日本語"})");
}

TEST_CASE("Labels order and equality", "[labels]") {
  Labels a({{"a", "1"}});
  Labels b({{"a", "2"}});
  Labels c({{"a", "1"}, {"b", "1"}});
  REQUIRE(a < b);
  REQUIRE(a < c);
  REQUIRE(a != b);
  REQUIRE(a == Labels({{"a", "1"}}));
}
