// Segment line blocks (format version 3): blocks of one stream each, the
// doc-streams table, per-stream zstd dictionaries and the time index. Many
// streams and blocks read back exactly, in order and at random; a block
// damaged after open is reported by the read, naming the file and block;
// segments of another format version are refused, naming the version.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "logindex/segment.h"
#include "logindex/segment_writer.h"
#include "tests/support/process.h"

using namespace strata;
using namespace strata::logindex;
namespace fs = std::filesystem;

namespace {

struct Doc {
  std::uint32_t stream;  // index into the labels below
  std::int64_t ts;
  std::string line;
};

std::vector<Labels> make_streams(int n) {
  std::vector<Labels> out;
  for (int i = 0; i < n; ++i) out.push_back(Labels{{"job", "j" + std::to_string(i)}});
  return out;
}

// `n` docs in time order over `streams` streams of very uneven volume, with
// timestamp ties, empty lines and lines longer than a block.
std::vector<Doc> make_docs(std::size_t n, std::uint32_t streams, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Doc> docs;
  std::int64_t ts = 1'000;
  for (std::size_t i = 0; i < n; ++i) {
    // Stream 0 gets about half the docs, the last streams only a handful.
    std::uint32_t s = 0;
    while (s + 1 < streams && rng() % 2 == 1) ++s;
    ts += rng() % 3;  // ties
    std::string line;
    const auto kind = rng() % 100;
    if (kind == 0) {
      line = "";
    } else if (kind == 1) {
      line = std::string(5000 + rng() % 3000, static_cast<char>('a' + s % 26));
    } else {
      line = "job" + std::to_string(s) + " request " + std::to_string(rng() % 100000) +
             " served in " + std::to_string(rng() % 977) +
             "ms status=" + std::to_string(200 + rng() % 4);
    }
    docs.push_back({s, ts, std::move(line)});
  }
  return docs;
}

std::shared_ptr<const Segment> write(const fs::path& path, const std::vector<Labels>& streams,
                                     const std::vector<Doc>& docs, SegmentWriterOptions o) {
  SegmentWriter w(path, o);
  for (const auto& d : docs) w.add(streams[d.stream], d.ts, d.line);
  w.finish();
  return Segment::open(path);
}

void check_reads_back(const Segment& seg, const std::vector<Labels>& streams,
                      const std::vector<Doc>& docs) {
  REQUIRE(seg.doc_count() == docs.size());
  // Every block holds docs of one stream, and the blocks cover every doc once.
  std::uint64_t covered = 0;
  for (std::size_t b = 0; b < seg.block_count(); ++b) {
    const auto e = seg.block(b);
    CHECK(seg.streams()[e.stream] == streams[docs[e.first_doc].stream]);
    CHECK(seg.streams()[e.stream] == streams[docs[e.last_doc].stream]);
    covered += e.doc_count;
  }
  CHECK(covered == docs.size());
  // In order (each block decompressed once), then at random.
  const auto before = seg.blocks_decompressed();
  DocReader in_order(seg);
  for (DocId d = 0; d < docs.size(); ++d) {
    const SegmentDoc got = in_order.get(d);
    INFO("doc " << d);
    REQUIRE(seg.streams()[got.stream] == streams[docs[d].stream]);
    REQUIRE(seg.doc_stream(d) == got.stream);
    REQUIRE(got.timestamp_ns == docs[d].ts);
    REQUIRE(got.line == docs[d].line);
  }
  CHECK(seg.blocks_decompressed() - before == seg.block_count());
  std::mt19937 rng(7);
  DocReader random(seg);
  for (int i = 0; i < 3000; ++i) {
    const DocId d = rng() % docs.size();
    const SegmentDoc got = random.get(d);
    INFO("doc " << d);
    REQUIRE(got.timestamp_ns == docs[d].ts);
    REQUIRE(got.line == docs[d].line);
  }
  // Time ranges: every doc in the range is inside doc_range(), which is
  // no more than a time chunk wider on each side.
  for (int i = 0; i < 200; ++i) {
    std::int64_t a = docs.front().ts + static_cast<std::int64_t>(rng() % 40'000);
    std::int64_t b = a + static_cast<std::int64_t>(rng() % 5'000);
    auto [lo, hi] = seg.doc_range(a, b);
    std::size_t first = docs.size(), last = 0;
    for (std::size_t d = 0; d < docs.size(); ++d)
      if (docs[d].ts >= a && docs[d].ts <= b) {
        first = std::min(first, d);
        last = d + 1;
      }
    INFO("range " << a << ".." << b);
    if (first == docs.size()) continue;
    CHECK(lo <= first);
    CHECK(hi >= last);
    CHECK(first - lo <= kTimeIndexInterval);
    CHECK(hi - last <= kTimeIndexInterval);
  }
}

void flip_byte(const fs::path& path, std::uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 0x01));
}

}  // namespace

TEST_CASE("segment blocks: many streams and blocks read back exactly",
          "[logindex][segment][blocks]") {
  auto dir = fs::path(testing::temp_dir("lsegb"));
  const auto streams = make_streams(40);
  const auto docs = make_docs(30'000, 40, 1);

  SECTION("per-stream dictionaries") {
    SegmentWriterOptions o;
    o.block_bytes = 1024;
    o.dictionary_sample_bytes = 96 << 10;  // the busy streams train their own
    auto seg = write(dir / "1.seg", streams, docs, o);
    REQUIRE(seg->block_count() > 200);
    check_reads_back(*seg, streams, docs);
  }
  SECTION("default options") {
    auto seg = write(dir / "2.seg", streams, docs, {});
    check_reads_back(*seg, streams, docs);
  }
  SECTION("no dictionaries") {
    SegmentWriterOptions o;
    o.block_bytes = 2048;
    o.dictionary_bytes = 0;
    auto seg = write(dir / "3.seg", streams, docs, o);
    check_reads_back(*seg, streams, docs);
  }
  SECTION("one stream, a handful of docs (no doc-streams bits, no dictionary)") {
    std::vector<Doc> few;
    for (int i = 0; i < 5; ++i) few.push_back({0, 10 + i, "line " + std::to_string(i)});
    auto seg = write(dir / "4.seg", streams, few, {});
    CHECK(seg->block_count() == 1);
    check_reads_back(*seg, streams, few);
  }
  fs::remove_all(dir);
}

TEST_CASE("segment blocks: a block damaged after open is named by the read",
          "[logindex][segment][blocks]") {
  auto dir = fs::path(testing::temp_dir("lsegb"));
  const auto streams = make_streams(3);
  const auto docs = make_docs(5'000, 3, 2);
  SegmentWriterOptions o;
  o.block_bytes = 1024;
  const auto path = dir / "1.seg";
  auto seg = write(path, streams, docs, o);
  REQUIRE(seg->block_count() > 10);
  // Damage one block in place (the file is mapped shared, so the mapping
  // sees it): reading a doc of that block fails, naming file and block.
  const std::size_t victim = seg->block_count() / 2;
  const auto e = seg->block(victim);
  flip_byte(path, e.offset + e.compressed_bytes / 2);
  DocReader reader(*seg);
  DocId other = 0;
  while (seg->doc_stream(other) == e.stream) ++other;
  CHECK(reader.get(other).line == docs[other].line);  // other blocks still read
  try {
    reader.get(e.first_doc);
    FAIL("read a damaged block");
  } catch (const SegmentError& err) {
    const std::string what = err.what();
    INFO(what);
    CHECK(err.file() == path);
    CHECK(what.find(path.string()) != std::string::npos);
    CHECK(what.find("line block " + std::to_string(victim)) != std::string::npos);
    CHECK(what.find("CRC mismatch") != std::string::npos);
  }
  // Opening the damaged file fails on the lines section's CRC.
  seg.reset();
  try {
    Segment::open(path);
    FAIL("opened a damaged segment");
  } catch (const SegmentError& err) {
    CHECK(std::string(err.what()).find("CRC mismatch in section 'lines'") != std::string::npos);
  }
  fs::remove_all(dir);
}

TEST_CASE("segment blocks: segments of format version 2 are refused, naming file and version",
          "[logindex][segment][blocks]") {
  auto dir = fs::path(testing::temp_dir("lsegb"));
  const auto streams = make_streams(2);
  const auto path = dir / "old.seg";
  write(path, streams, make_docs(100, 2, 3), {}).reset();
  {  // rewrite the header's version as 2
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(8);
    const char v2[4] = {2, 0, 0, 0};
    f.write(v2, 4);
  }
  try {
    Segment::open(path);
    FAIL("opened a version 2 segment");
  } catch (const SegmentError& err) {
    const std::string what = err.what();
    INFO(what);
    CHECK(what.find(path.string()) != std::string::npos);
    CHECK(what.find("unsupported format version 2") != std::string::npos);
    CHECK(what.find("reads 3") != std::string::npos);
  }
  fs::remove_all(dir);
}
