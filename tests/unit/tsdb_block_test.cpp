// Blocks and their index: write, open, select through postings, and
// corruption -- a damaged index refuses the block with file and offset, a
// damaged chunk is reported and skipped while the rest is served.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "common/file.h"
#include "tests/support/process.h"
#include "tsdb/block.h"
#include "tsdb/chunk_encoding.h"
#include "tsdb/querier.h"

using namespace strata;
using namespace strata::tsdb;
namespace fs = std::filesystem;

namespace {

std::vector<BlockSeriesInput> sample_series(int n) {
  std::vector<BlockSeriesInput> out;
  for (int i = 0; i < n; ++i) {
    std::vector<wire::Sample> s;
    for (int k = 0; k < 100; ++k) s.push_back({k * 15'000LL, static_cast<double>(i * 1000 + k)});
    BlockSeriesInput in{
        Labels{{"__name__", i % 2 ? "odd" : "even"}, {"i", std::to_string(i)}, {"job", "node"}},
        {}};
    in.chunks.push_back({0, 99 * 15'000, Aggr::kRaw, 100, encode_chunk(s), {}, {}});
    out.push_back(std::move(in));
  }
  return out;
}

void flip_byte(const fs::path& p, std::size_t at) {
  std::string data = read_file(p);
  data[at] ^= 0x01;
  std::ofstream(p, std::ios::binary | std::ios::trunc) << data;
}

std::vector<LabelMatcher> eq(const std::string& n, const std::string& v) {
  return {LabelMatcher(MatchOp::kEqual, n, v)};
}

}  // namespace

TEST_CASE("block: written, reopened and selected through postings", "[tsdb][block]") {
  auto dir = testing::temp_dir("blocks");
  BlockMeta meta;
  meta.min_time = 0;
  meta.max_time = 7'200'000;
  auto path = write_block(dir, meta, sample_series(50));
  CHECK(meta.num_series == 50);
  CHECK(meta.num_samples == 5000);
  CHECK_FALSE(fs::exists(path.string() + ".tmp"));

  auto b = Block::open(path);
  CHECK(b->meta().id == meta.id);
  CHECK(b->meta().num_samples == 5000);
  CHECK(b->index().series_count() == 50);
  CHECK(b->corrupt_chunks().empty());

  auto odd = b->select(eq("__name__", "odd"), kMinTime, kMaxTime);
  CHECK(odd.size() == 25);
  auto one = b->select({LabelMatcher(MatchOp::kEqual, "__name__", "even"),
                        LabelMatcher(MatchOp::kRegexMatch, "i", "1[02]")},
                       kMinTime, kMaxTime);
  REQUIRE(one.size() == 2);
  Series s{one[0].labels, one[0].chunks, kMinTime, kMaxTime, std::nullopt};
  auto samples = s.samples();
  REQUIRE(samples.size() == 100);
  CHECK(samples[5].value == 10005);
  // Time filtering at the chunk level.
  CHECK(b->select(eq("job", "node"), 2'000'000, 3'000'000).empty());

  CHECK(b->index().label_names() == std::vector<std::string>{"__name__", "i", "job"});
  CHECK(b->index().label_values("__name__") == std::vector<std::string>{"even", "odd"});
  fs::remove_all(dir);
}

TEST_CASE("block: a flipped bit in the index refuses the block, naming file and offset",
          "[tsdb][block]") {
  auto dir = testing::temp_dir("blocks");
  BlockMeta meta;
  meta.min_time = 0;
  meta.max_time = 7'200'000;
  auto path = write_block(dir, meta, sample_series(20));
  auto size = fs::file_size(path / "index");
  for (std::size_t at : {std::size_t{10}, size / 2, size - 20}) {
    INFO("flipped byte " << at);
    flip_byte(path / "index", at);
    try {
      Block::open(path);
      FAIL("a corrupt index was accepted");
    } catch (const BlockError& e) {
      CHECK(e.file() == (path / "index").string());
      CHECK(std::string(e.what()).find("offset") != std::string::npos);
    }
    flip_byte(path / "index", at);  // restore
  }
  CHECK_NOTHROW(Block::open(path));
  fs::remove_all(dir);
}

TEST_CASE("block: a flipped bit in a chunk is reported and only that series' chunk skipped",
          "[tsdb][block]") {
  auto dir = testing::temp_dir("blocks");
  BlockMeta meta;
  meta.min_time = 0;
  meta.max_time = 7'200'000;
  auto path = write_block(dir, meta, sample_series(20));
  flip_byte(path / "chunks", 10);  // inside the first chunk (header 8, length 1)
  auto b = Block::open(path);
  REQUIRE(b->corrupt_chunks().size() == 1);
  CHECK(b->corrupt_chunks()[0].find((path / "chunks").string() + " at offset 8") !=
        std::string::npos);
  CHECK(b->select(eq("job", "node"), kMinTime, kMaxTime).size() == 19);
  fs::remove_all(dir);
}

TEST_CASE("block: truncated files are refused with an offset", "[tsdb][block]") {
  auto dir = testing::temp_dir("blocks");
  BlockMeta meta;
  meta.min_time = 0;
  meta.max_time = 7'200'000;
  auto path = write_block(dir, meta, sample_series(5));
  fs::resize_file(path / "index", fs::file_size(path / "index") / 2);
  CHECK_THROWS_AS(Block::open(path), BlockError);
  fs::remove_all(dir);
}

TEST_CASE("block: meta.json round-trips and rejects bad versions", "[tsdb][block]") {
  BlockMeta m;
  m.id = "x";
  m.min_time = -5;
  m.max_time = 10;
  m.resolution = 300000;
  m.level = 3;
  m.parents = {"a", "b"};
  m.num_samples = 12;
  auto back = BlockMeta::parse(m.to_json(), "meta.json");
  CHECK(back.parents == m.parents);
  CHECK(back.resolution == 300000);
  CHECK(back.min_time == -5);
  CHECK(back.num_samples == 12);
  CHECK_THROWS_AS(BlockMeta::parse(R"({"version":9})", "meta.json"), BlockError);
  CHECK_THROWS_AS(BlockMeta::parse("not json", "meta.json"), BlockError);
}

TEST_CASE("block: chunks with the same timestamps share one column", "[tsdb][block]") {
  auto dir = testing::temp_dir("blocks");
  // 20 series scraped together (same jittered timestamps) and one scraped
  // on its own.
  std::vector<wire::Sample> together, alone;
  for (int k = 0; k < 200; ++k) {
    together.push_back({k * 15'000LL + (k * 7919) % 13, 0});
    alone.push_back({k * 15'000LL + 5 + (k * 104729) % 11, 0});
  }
  auto input = [&](bool shared) {
    std::vector<BlockSeriesInput> out;
    for (int i = 0; i <= 20; ++i) {
      auto s = i < 20 ? together : alone;
      for (int k = 0; k < 200; ++k) s[k].value = i * 100 + k * (i + 1);
      BlockSeriesInput in{Labels{{"__name__", "m"}, {"i", std::to_string(i)}}, {}};
      in.chunks.push_back(shared ? encode_for_block(s, Aggr::kRaw)
                                 : EncodedChunk{s.front().timestamp_ms,
                                                s.back().timestamp_ms,
                                                Aggr::kRaw,
                                                200,
                                                encode_chunk(s),
                                                {},
                                                {}});
      out.push_back(std::move(in));
    }
    return out;
  };
  BlockMeta meta;
  meta.min_time = 0;
  meta.max_time = 7'200'000;
  auto path = write_block(dir, meta, input(true));
  BlockMeta plain_meta = meta;
  auto plain_path = write_block(dir, plain_meta, input(false));
  auto b = Block::open(path);
  CHECK(b->corrupt_chunks().empty());
  INFO("chunks file: shared " << b->chunks_file_bytes() << " B, standalone "
                              << Block::open(plain_path)->chunks_file_bytes() << " B");
  CHECK(b->chunks_file_bytes() * 2 < Block::open(plain_path)->chunks_file_bytes());

  auto all = b->select({}, kMinTime, kMaxTime);
  REQUIRE(all.size() == 21);
  std::size_t with_column = 0;
  for (const auto& d : all) {
    const int i = std::stoi(std::string(d.labels.get("i")));
    REQUIRE(d.chunks.size() == 1);
    with_column += !d.chunks[0].timestamps.empty();
    auto got = Series{d.labels, d.chunks, kMinTime, kMaxTime, std::nullopt}.samples();
    const auto& ts = i < 20 ? together : alone;
    REQUIRE(got.size() == 200);
    for (int k = 0; k < 200; ++k) {
      REQUIRE(got[k].timestamp_ms == ts[k].timestamp_ms);
      REQUIRE(got[k].value == i * 100 + k * (i + 1));
    }
  }
  CHECK(with_column == 20);  // the lone series keeps its own timestamps
  // Through a query's column cache: the same samples, one column decoded.
  TimestampColumnCache columns;
  for (const auto& d : all) {
    auto want = Series{d.labels, d.chunks, kMinTime, kMaxTime, std::nullopt}.samples();
    auto it = Series{d.labels, d.chunks, kMinTime, kMaxTime, std::nullopt}.iterator(&columns);
    std::size_t k = 0;
    while (it.next()) {
      REQUIRE(k < want.size());
      REQUIRE(it.t() == want[k].timestamp_ms);
      REQUIRE(it.v() == want[k].value);
      ++k;
    }
    REQUIRE(k == want.size());
  }

  // A damaged column takes down the chunks that use it, and only those.
  auto c = b->index().series(b->index().all_postings().front()).chunks.at(0);
  REQUIRE(c.ts_offset != 0);
  all.clear();
  b.reset();
  flip_byte(path / "chunks", c.ts_offset + 5);
  b = Block::open(path);
  CHECK(b->corrupt_chunks().size() == 20);
  CHECK(b->corrupt_chunks()[0].find("timestamp column") != std::string::npos);
  auto left = b->select({}, kMinTime, kMaxTime);
  REQUIRE(left.size() == 1);
  CHECK(left[0].labels.get("i") == "20");
  fs::remove_all(dir);
}
