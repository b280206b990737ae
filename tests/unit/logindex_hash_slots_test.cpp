// HashSlots: ids found by hash and predicate across growth, ids sharing a
// hash (including every id on one hash: collisions), and the empty table.
#include <catch2/catch.hpp>

#include <set>
#include <vector>

#include "logindex/hash_slots.h"

using strata::logindex::HashSlots;

TEST_CASE("hash slots: every id is found again after the table grows", "[logindex][hash_slots]") {
  HashSlots t;
  CHECK_FALSE(t.find(42, [](std::uint32_t) { return true; }).has_value());
  std::vector<std::uint64_t> hashes;
  for (std::uint32_t i = 0; i < 100'000; ++i) {
    hashes.push_back(0x9E3779B97F4A7C15ull * (i + 1));
    t.insert(hashes.back(), i);
  }
  CHECK(t.size() == 100'000);
  CHECK(t.memory_bytes() >= 2 * 100'000 * 12);  // at most half full
  for (std::uint32_t i = 0; i < 100'000; i += 7) {
    auto id = t.find(hashes[i], [&](std::uint32_t c) { return c == i; });
    REQUIRE(id.has_value());
    CHECK(*id == i);
  }
  CHECK_FALSE(t.find(12345, [](std::uint32_t) { return true; }).has_value());
}

TEST_CASE("hash slots: ids sharing a hash are told apart by the predicate",
          "[logindex][hash_slots]") {
  HashSlots t;
  // Low bits equal too: every id lands in one probe run.
  for (std::uint32_t i = 0; i < 300; ++i) t.insert(7, i);
  for (std::uint32_t i = 0; i < 300; ++i) t.insert(7 + (1ull << 40), 1000 + i);
  std::set<std::uint32_t> seen;
  // A predicate that never matches visits every id stored with the hash.
  CHECK_FALSE(t.find(7, [&](std::uint32_t id) {
                 seen.insert(id);
                 return false;
               }).has_value());
  CHECK(seen.size() == 300);
  CHECK(*seen.begin() == 0);
  CHECK(*seen.rbegin() == 299);
  CHECK(t.find(7, [](std::uint32_t id) { return id == 250; }) == std::optional<std::uint32_t>(250));
  CHECK(t.find(7 + (1ull << 40), [](std::uint32_t id) { return id == 1299; }) ==
        std::optional<std::uint32_t>(1299));
  CHECK_FALSE(t.find(7, [](std::uint32_t id) { return id == 1000; }).has_value());
}
