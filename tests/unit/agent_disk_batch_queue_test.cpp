// The on-disk buffer: order, survival across reopen, the byte bound, and
// recovery from a torn or corrupt tail (what a crash mid-append leaves).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "agent/disk_batch_queue.h"
#include "agent_test_util.h"

using namespace strata;
using namespace strata::agent;
using strata::agent::testing::TempDir;

namespace {

std::vector<std::string> drain(DiskBatchQueue& q) {
  std::vector<std::string> out;
  while (!q.empty()) {
    out.push_back(q.front().body);
    q.pop();
  }
  return out;
}

std::vector<std::filesystem::path> segments(const std::string& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".seg") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("disk queue: batches survive reopening, in order, popped ones stay gone",
          "[unit][agent][buffer]") {
  TempDir dir;
  const std::string q_dir = dir / "q";
  {
    DiskBatchQueue q(q_dir, 1 << 20, /*segment_bytes=*/64);
    CHECK(q.durable());
    for (int i = 0; i < 10; ++i) q.push({"batch " + std::to_string(i), 2, i % 2 == 0});
    CHECK(q.size() == 10);
    CHECK(segments(q_dir).size() > 2);  // small segments: several files
    CHECK(q.front().body == "batch 0");
    CHECK(q.front().zstd);
    q.pop();
    q.pop();
    CHECK(q.front().body == "batch 2");
  }
  DiskBatchQueue q(q_dir, 1 << 20, 64);
  CHECK(q.size() == 8);
  CHECK(q.bytes() == 8 * std::string("batch 0").size());
  CHECK(q.front().items == 2);
  CHECK(q.front().zstd);
  q.push({"batch 10", 1, false});
  auto all = drain(q);
  REQUIRE(all.size() == 9);
  CHECK(all.front() == "batch 2");
  CHECK(all[7] == "batch 9");
  CHECK(all.back() == "batch 10");
  CHECK(segments(q_dir).empty());  // everything delivered: no disk kept
  DiskBatchQueue again(q_dir, 1 << 20, 64);
  CHECK(again.empty());
}

TEST_CASE("disk queue: bounded in bytes, oldest evicted and reported", "[unit][agent][buffer]") {
  TempDir dir;
  DiskBatchQueue q(dir / "q", 100, 64);
  Evicted total;
  for (int i = 0; i < 10; ++i) {
    Evicted ev = q.push({std::string(30, static_cast<char>('a' + i)), 3, false});
    total.batches += ev.batches;
    total.items += ev.items;
  }
  CHECK(q.bytes() <= 100);
  CHECK(q.size() == 3);
  CHECK(total.batches == 7);
  CHECK(total.items == 21);
  CHECK(q.front().body == std::string(30, 'h'));
  // Evictions are durable too.
  DiskBatchQueue reopened(dir / "q", 100, 64);
  CHECK(reopened.size() == 3);
  CHECK(reopened.front().body == std::string(30, 'h'));
}

TEST_CASE("disk queue: a torn or corrupt tail is cut off at the last good record",
          "[unit][agent][buffer]") {
  TempDir dir;
  const std::string q_dir = dir / "q";
  {
    DiskBatchQueue q(q_dir, 1 << 20);
    q.push({"first", 1, false});
    q.push({"second", 1, false});
    q.push({"third", 1, false});
  }
  auto seg = segments(q_dir).at(0);
  const auto size = std::filesystem::file_size(seg);
  SECTION("torn: the last record half written") {
    std::filesystem::resize_file(seg, size - 3);
    DiskBatchQueue q(q_dir, 1 << 20);
    CHECK(q.recovered_bad_bytes() > 0);
    CHECK(drain(q) == std::vector<std::string>{"first", "second"});
  }
  SECTION("corrupt: a flipped byte in the last body fails its CRC") {
    {
      std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(static_cast<std::streamoff>(size - 2));
      f.put('X');
    }
    DiskBatchQueue q(q_dir, 1 << 20);
    CHECK(drain(q) == std::vector<std::string>{"first", "second"});
  }
  SECTION("garbage appended after the last record") {
    {
      std::ofstream f(seg, std::ios::app | std::ios::binary);
      f << "\x05\x00\x00\x00garbage";
    }
    DiskBatchQueue q(q_dir, 1 << 20);
    CHECK(q.size() == 3);
    q.push({"fourth", 1, false});
    CHECK(drain(q) == std::vector<std::string>{"first", "second", "third", "fourth"});
  }
}

TEST_CASE("disk queue: another format version is refused, naming the file",
          "[unit][agent][buffer]") {
  TempDir dir;
  const std::string q_dir = dir / "q";
  { DiskBatchQueue(q_dir, 1 << 20).push({"x", 1, false}); }
  auto seg = segments(q_dir).at(0);
  {
    std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4);
    f.put('\x09');
  }
  CHECK_THROWS_WITH(DiskBatchQueue(q_dir, 1 << 20),
                    Catch::Contains(seg.string()) && Catch::Contains("format version 9"));
}
