// Immutable segments: write/open round trip, the term dictionary (exact and
// prefix), label postings, block time skipping, dedup lookups, equality with
// the head's answers on real logs, and damage detection naming the file.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <span>

#include "logindex/entry_hash.h"
#include "logindex/memory_index.h"
#include "logindex/segment.h"
#include "logindex/segment_writer.h"
#include "logindex/tokenizer.h"
#include "tests/support/process.h"

using namespace strata;
using namespace strata::logindex;
namespace fs = std::filesystem;

namespace {

const Labels kApp{{"host", "h1"}, {"job", "app"}};
const Labels kDb{{"host", "h2"}, {"job", "db"}};

SearchQuery words(std::string q, std::size_t limit = 100) {
  SearchQuery s;
  s.words.push_back(std::move(q));
  s.limit = limit;
  return s;
}

std::vector<std::string> lines(const SearchResult& r) {
  std::vector<std::string> out;
  for (const auto& h : r.hits) out.push_back(h.line);
  return out;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
  }
  return out;
}

// Writes `head` out as a segment at `path`, as the store's flush does.
std::shared_ptr<const Segment> write_segment(const MemoryIndex& head, const fs::path& path,
                                             SegmentWriterOptions o = {}) {
  SegmentWriter w(path, o);
  head.for_each_in_time_order(
      [&](DocId, const EntryView& e) { w.add(e.stream, e.timestamp_ns, e.line); });
  w.finish();
  return Segment::open(path);
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

TEST_CASE("segment: round trip of lines, streams and searches", "[logindex][segment]") {
  auto dir = fs::path(testing::temp_dir("lseg"));
  MemoryIndex head;
  head.add(kApp, 30, "User alice logged in");
  head.add(kApp, 10, "user bob logged out");
  head.add(kDb, 20, "disk full on /dev/sda1");
  head.add(kDb, 20, "second line at the same ns");
  auto seg = write_segment(head, dir / "1.seg");
  CHECK(seg->doc_count() == 4);
  CHECK(seg->summary().min_ts == 10);
  CHECK(seg->summary().max_ts == 30);
  CHECK(seg->streams().size() == 2);
  CHECK(seg->summary().file_bytes == fs::file_size(dir / "1.seg"));
  CHECK_FALSE(fs::exists(dir / "1.seg.tmp"));

  // Docs are numbered in time order (ties in arrival order).
  DocReader reader(*seg);
  CHECK(reader.get(0).line == "user bob logged out");
  CHECK(reader.get(1).line == "disk full on /dev/sda1");
  CHECK(reader.get(2).line == "second line at the same ns");
  CHECK(reader.get(3).timestamp_ns == 30);
  CHECK(seg->streams()[reader.get(3).stream] == kApp);

  CHECK(lines(seg->search(words("user"))) ==
        std::vector<std::string>{"User alice logged in", "user bob logged out"});
  CHECK(lines(seg->search(words("LOGGED alice"))) ==
        std::vector<std::string>{"User alice logged in"});
  CHECK(seg->search(words("alice bob")).matched == 0);
  CHECK(seg->search(words("nothing")).hits.empty());
  // Same semantics as the head for every filter.
  for (auto q : {words("line"), words("sda1 disk"), words("logged", 1)}) {
    auto a = head.search(q), b = seg->search(q);
    CHECK(a.matched == b.matched);
    CHECK(lines(a) == lines(b));
  }
  auto q = words("logged");
  q.stream_equals = {{"job", "app"}};
  q.start_ns = 11;
  CHECK(lines(seg->search(q)) == std::vector<std::string>{"User alice logged in"});
  q.stream_equals = {{"region", ""}};  // absent label == ""
  q.start_ns = 0;
  CHECK(seg->search(q).matched == 2);
  q.stream_equals = {{"job", "db"}};
  CHECK(seg->search(q).matched == 0);
  SearchQuery all;
  all.stream_equals = {{"host", "h2"}};
  CHECK(lines(seg->search(all)) ==
        std::vector<std::string>{"second line at the same ns", "disk full on /dev/sda1"});
  fs::remove_all(dir);
}

TEST_CASE("segment: exact and prefix term lookups, label and field terms", "[logindex][segment]") {
  auto dir = fs::path(testing::temp_dir("lseg"));
  {
    SegmentWriter w(dir / "1.seg");
    w.add(kApp, 1, "connection refused by upstream");
    w.add_field_term("level=error");
    w.add(kApp, 2, "connected to upstream");
    w.add_field_term("level=info");
    w.add(kDb, 3, "connecting again, conn=7");
    w.finish();
  }
  auto seg = Segment::open(dir / "1.seg");
  CHECK(collect(*seg->postings(TermKind::kToken, "upstream")) == std::vector<DocId>{0, 1});
  CHECK(seg->doc_frequency(TermKind::kToken, "upstream") == 2);
  CHECK(seg->doc_frequency(TermKind::kToken, "absent") == 0);
  CHECK(collect(*seg->postings(TermKind::kToken, "absent")).empty());
  CHECK(seg->terms_with_prefix(TermKind::kToken, "conn", 100) ==
        std::vector<std::string>{"conn", "connected", "connecting", "connection"});
  CHECK(seg->terms_with_prefix(TermKind::kToken, "conn", 2) ==
        std::vector<std::string>{"conn", "connected"});
  CHECK(seg->terms_with_prefix(TermKind::kToken, "zzz", 10).empty());
  // Kinds never mix: "job=app" is a label term, not a token.
  CHECK(seg->terms_with_prefix(TermKind::kLabel, "", 10) ==
        std::vector<std::string>{"host=h1", "host=h2", "job=app", "job=db"});
  CHECK(collect(*seg->postings(TermKind::kLabel, "job=app")) == std::vector<DocId>{0, 1});
  CHECK(collect(*seg->postings(TermKind::kField, "level=error")) == std::vector<DocId>{0});
  CHECK(seg->terms_with_prefix(TermKind::kField, "level=", 10) ==
        std::vector<std::string>{"level=error", "level=info"});
  // A query evaluator: conn* AND NOT job=db.
  std::vector<std::unique_ptr<PostingsIterator>> any;
  for (const auto& t : seg->terms_with_prefix(TermKind::kToken, "conn", 100))
    any.push_back(seg->postings(TermKind::kToken, t));
  auto ors = make_vector_postings(unite(std::move(any)));
  auto db = seg->postings(TermKind::kLabel, "job=db");
  CHECK(subtract(*ors, *db) == std::vector<DocId>{0, 1});
  fs::remove_all(dir);
}

TEST_CASE("segment: time ranges skip blocks by the time index", "[logindex][segment]") {
  auto dir = fs::path(testing::temp_dir("lseg"));
  MemoryIndex head;
  // 20,000 lines over 20,000 s, small blocks: many blocks.
  std::vector<wire::LogEntry> entries;
  for (int i = 0; i < 20'000; ++i)
    entries.push_back(
        {std::int64_t{i} * 1'000'000'000,
         "request " + std::to_string(i) + " served in " + std::to_string(i % 97) + "ms",
         {}});
  head.add(kApp, entries);
  SegmentWriterOptions o;
  o.block_bytes = 4096;
  auto seg = write_segment(head, dir / "1.seg", o);
  REQUIRE(seg->summary().blocks > 50);

  auto [lo, hi] = seg->doc_range(5000LL * 1'000'000'000, 5099LL * 1'000'000'000);
  CHECK(lo <= 5000);
  CHECK(hi >= 5100);
  CHECK(hi - lo < 1000);  // a few blocks, not the segment
  CHECK(seg->doc_range(-10, -1) == std::pair<DocId, DocId>{0, 0});
  CHECK(seg->doc_range(30'000LL * 1'000'000'000, 40'000LL * 1'000'000'000).first ==
        seg->doc_range(30'000LL * 1'000'000'000, 40'000LL * 1'000'000'000).second);

  auto q = words("request");
  q.start_ns = 5000LL * 1'000'000'000;
  q.end_ns = 5099LL * 1'000'000'000;
  q.limit = 3;
  auto before = seg->blocks_decompressed();
  auto r = seg->search(q);
  CHECK(r.matched == 100);
  CHECK(lines(r) == std::vector<std::string>{"request 5099 served in 55ms",
                                             "request 5098 served in 54ms",
                                             "request 5097 served in 53ms"});
  // Only the edge blocks of the range were opened (plus the hits' block).
  CHECK(seg->blocks_decompressed() - before <= 3);
  // Without a time range, counting needs no block at all: postings alone.
  before = seg->blocks_decompressed();
  CHECK(seg->search(words("request", 1)).matched == 20'000);
  CHECK(seg->blocks_decompressed() - before == 1);  // the one hit
  fs::remove_all(dir);
}

TEST_CASE("segment: long query words are confirmed against whole words", "[logindex][segment]") {
  auto dir = fs::path(testing::temp_dir("lseg"));
  MemoryIndex head;
  std::string prefix(70, 'k');
  head.add(kApp, 1, "token " + prefix + "AAA end");
  head.add(kApp, 2, "token " + prefix + "BBB end");
  auto seg = write_segment(head, dir / "1.seg");
  CHECK(lines(seg->search(words(prefix + "bbb"))) ==
        std::vector<std::string>{"token " + prefix + "BBB end"});
  CHECK(seg->search(words(prefix)).matched == 0);
  fs::remove_all(dir);
}

TEST_CASE("segment: dedup table finds exactly the stored entries", "[logindex][segment]") {
  auto dir = fs::path(testing::temp_dir("lseg"));
  MemoryIndex head;
  for (int i = 0; i < 500; ++i) head.add(i % 2 ? kApp : kDb, i, "line " + std::to_string(i));
  auto seg = write_segment(head, dir / "1.seg", SegmentWriterOptions{1024, 3});
  auto has = [&](const Labels& l, std::int64_t ts, const std::string& line) {
    return seg->contains(l, entry_hash(l.fingerprint(), ts, line), ts, line);
  };
  CHECK(has(kDb, 0, "line 0"));
  CHECK(has(kApp, 499, "line 499"));
  CHECK_FALSE(has(kApp, 0, "line 0"));      // other stream
  CHECK_FALSE(has(kDb, 1, "line 0"));       // other time
  CHECK_FALSE(has(kDb, 0, "line 0 "));      // other line
  CHECK_FALSE(has(kDb, 10'000, "line 0"));  // outside the segment's time range
  fs::remove_all(dir);
}

TEST_CASE("segment: real logs (loghub) answer like the head", "[logindex][segment][loghub]") {
  const std::string dir_logs = STRATA_LOGHUB_DIR;
  auto dir = fs::path(testing::temp_dir("lseg"));
  MemoryIndex head;
  std::int64_t ts = 0;
  for (const auto& [name, file] : std::map<std::string, std::string>{
           {"openssh", "OpenSSH_300.log"}, {"hdfs", "HDFS_300.log"}, {"apache", "Apache_200.log"}})
    for (const auto& l : read_lines(dir_logs + "/" + file))
      head.add(Labels{{"job", name}}, (ts++ * 7919) % 1000, l);
  auto seg = write_segment(head, dir / "1.seg", SegmentWriterOptions{2048, 3});
  CHECK(seg->doc_count() == 800);
  // With 64 KiB blocks, lines plus index take less room than the bare text
  // (these excerpts are rich in unique terms: ids, IPs, numbers).
  auto big = write_segment(head, dir / "2.seg", SegmentWriterOptions{64u << 10, 3});
  CHECK(big->summary().blocks == 3);  // a block holds one stream's lines
  CHECK(big->summary().file_bytes < head.line_bytes());
  for (const std::string q :
       {"Failed password", "invalid user", "PacketResponder terminating", "jk2_init Found child",
        "error", "blk_ 38865049064139660", "173.234.31.186", "preauth", "no such word here"}) {
    INFO(q);
    for (std::size_t limit : {1, 5, 1000}) {
      auto a = head.search(words(q, limit)), b = seg->search(words(q, limit));
      CHECK(a.matched == b.matched);
      REQUIRE(a.hits.size() == b.hits.size());
      for (std::size_t i = 0; i < a.hits.size(); ++i)
        CHECK(a.hits[i].timestamp_ns == b.hits[i].timestamp_ns);
    }
    auto sq = words(q, 1000);
    sq.start_ns = 200;
    sq.end_ns = 700;
    sq.stream_equals = {{"job", "openssh"}};
    auto a = head.search(sq), b = seg->search(sq);
    CHECK(a.matched == b.matched);
    auto la = lines(a), lb = lines(b);
    CHECK(std::multiset<std::string>(la.begin(), la.end()) ==
          std::multiset<std::string>(lb.begin(), lb.end()));
  }
  fs::remove_all(dir);
}

// Every posting list of a segment, by key.
std::map<std::string, std::vector<DocId>> all_postings(const Segment& seg) {
  std::map<std::string, std::vector<DocId>> out;
  seg.for_each_posting_list([&](std::string_view key, std::span<const DocId> ids) {
    out.emplace(std::string(key), std::vector<DocId>(ids.begin(), ids.end()));
  });
  return out;
}

TEST_CASE("segment: lists handed over by a flush or merge equal re-tokenizing the lines",
          "[logindex][segment][loghub]") {
  const std::string dir_logs = STRATA_LOGHUB_DIR;
  auto dir = fs::path(testing::temp_dir("lseg"));
  MemoryIndex head;
  std::int64_t ts = 0;
  for (const auto& l : read_lines(dir_logs + "/OpenSSH_300.log"))
    head.add(Labels{{"job", "ssh"}}, (ts++ * 7919) % 1000, l);  // arrival != time order
  auto slow = write_segment(head, dir / "slow.seg");

  SegmentWriter w(dir / "fast.seg");
  std::vector<DocId> renumber(head.doc_count());
  DocId next = 0;
  head.for_each_in_time_order([&](DocId id, const EntryView& e) {
    renumber[id] = next++;
    w.add_untokenized(e.stream, e.timestamp_ns, e.line);
  });
  head.for_each_posting_list([&](std::string_view key, std::span<const DocId> ids) {
    std::vector<DocId> mapped;
    for (DocId id : ids) mapped.push_back(renumber[id]);
    std::sort(mapped.begin(), mapped.end());
    w.add_postings(key, mapped);
  });
  w.finish();
  auto fast = Segment::open(dir / "fast.seg");
  CHECK(all_postings(*fast) == all_postings(*slow));
  CHECK(fast->summary().file_bytes == slow->summary().file_bytes);

  // Lists added in pieces, out of order and overlapping, come out sorted
  // and unique; label lists are refused (they come from the streams).
  SegmentWriter pieces(dir / "pieces.seg");
  for (int i = 0; i < 4; ++i) pieces.add_untokenized(kApp, i, "x");
  const std::string key = term_key(TermKind::kToken, "x");
  pieces.add_postings(key, std::vector<DocId>{2, 3});
  pieces.add_postings(key, std::vector<DocId>{0, 2});
  CHECK_THROWS_AS(pieces.add_postings(term_key(TermKind::kLabel, "job=app"), std::vector<DocId>{0}),
                  std::logic_error);
  CHECK_THROWS_AS(pieces.add_postings(key, std::vector<DocId>{4}), std::logic_error);
  pieces.finish();
  auto p = all_postings(*Segment::open(dir / "pieces.seg"));
  CHECK(p[key] == std::vector<DocId>{0, 2, 3});
  fs::remove_all(dir);
}

TEST_CASE("segment: sorted lists and stream ids (the store's path) equal re-tokenizing",
          "[logindex][segment][loghub]") {
  auto dir = fs::path(testing::temp_dir("lseg"));
  const std::string dir_logs = STRATA_LOGHUB_DIR;
  MemoryIndex head;
  std::int64_t ts = 0;
  const Labels streams[] = {kApp, kDb, Labels{{"job", "app"}}};
  for (const auto& l : read_lines(dir_logs + "/OpenSSH_300.log")) {
    head.add(streams[ts % 3], (ts * 7919) % 1000, l);  // arrival != time order
    ++ts;
  }
  auto slow = write_segment(head, dir / "slow.seg");

  SegmentWriter w(dir / "fast.seg");
  std::vector<DocId> renumber(head.doc_count());
  DocId next = 0;
  std::map<const Labels*, std::uint32_t> ids_of;
  head.for_each_in_time_order([&](DocId id, const EntryView& e) {
    renumber[id] = next++;
    auto it = ids_of.find(&e.stream);
    if (it == ids_of.end()) it = ids_of.emplace(&e.stream, w.add_stream(e.stream)).first;
    w.add_untokenized(it->second, e.timestamp_ns, e.line);
  });
  std::string prev;
  head.for_each_posting_list([&](std::string_view key, std::span<const DocId> ids) {
    CHECK(prev < key);  // the head hands its lists over in key order
    prev = key;
    std::vector<DocId> mapped;
    for (DocId id : ids) mapped.push_back(renumber[id]);
    std::sort(mapped.begin(), mapped.end());
    w.add_sorted_postings(key, mapped);
  });
  CHECK_THROWS_AS(w.add_sorted_postings(term_key(TermKind::kToken, "a"), std::vector<DocId>{0}),
                  std::logic_error);  // out of key order
  CHECK_THROWS_AS(w.add_postings(term_key(TermKind::kToken, "zzz"), std::vector<DocId>{0}),
                  std::logic_error);  // not mixed with the map path
  w.finish();
  auto fast = Segment::open(dir / "fast.seg");
  CHECK(all_postings(*fast) == all_postings(*slow));
  CHECK(fast->summary().terms == slow->summary().terms);
  CHECK(fast->streams() == slow->streams());
  CHECK(fast->search(words("sshd")).matched == slow->search(words("sshd")).matched);

  // A registered stream needs a doc; unsorted ids are refused.
  SegmentWriter bad(dir / "bad.seg");
  bad.add_untokenized(bad.add_stream(kApp), 1, "x y");
  CHECK_THROWS_AS(
      bad.add_sorted_postings(term_key(TermKind::kToken, "x"), std::vector<DocId>{1, 0}),
      std::logic_error);
  bad.add_stream(kDb);
  CHECK_THROWS_AS(bad.finish(), std::logic_error);
  fs::remove_all(dir);
}

TEST_CASE("segment: damage is detected on open and names the file", "[logindex][segment]") {
  auto dir = fs::path(testing::temp_dir("lseg"));
  MemoryIndex head;
  for (int i = 0; i < 2000; ++i) head.add(kApp, i, "some log line " + std::to_string(i));
  auto good = write_segment(head, dir / "good.seg", SegmentWriterOptions{2048, 3});
  const auto size = good->summary().file_bytes;
  good.reset();

  auto expect_error = [&](const fs::path& p, const std::string& what) {
    try {
      Segment::open(p);
      FAIL("opened a damaged segment: " << what);
    } catch (const SegmentError& e) {
      INFO(e.what());
      CHECK(e.file() == p);
      CHECK(std::string(e.what()).find(p.string()) != std::string::npos);
      CHECK(std::string(e.what()).find(what) != std::string::npos);
    }
  };
  // A bit flip anywhere: in a line block, in the index sections, in the footer.
  for (std::uint64_t offset :
       {std::uint64_t{100}, size / 2, size - 200, size - 30, std::uint64_t{9}}) {
    INFO("offset " << offset);
    auto p = dir / ("flip" + std::to_string(offset) + ".seg");
    fs::copy_file(dir / "good.seg", p);
    flip_byte(p, offset);
    expect_error(p, offset == 9 ? "version" : "");
  }
  auto lines_flip = dir / "lines.seg";
  fs::copy_file(dir / "good.seg", lines_flip);
  flip_byte(lines_flip, 100);
  expect_error(lines_flip, "CRC mismatch in section 'lines'");
  // Truncated (a copy cut short), or empty.
  auto cut = dir / "cut.seg";
  fs::copy_file(dir / "good.seg", cut);
  fs::resize_file(cut, size - 10);
  expect_error(cut, "footer");
  std::ofstream(dir / "empty.seg").close();
  expect_error(dir / "empty.seg", "truncated");
  // The undamaged original still opens.
  CHECK(Segment::open(dir / "good.seg")->doc_count() == 2000);
  fs::remove_all(dir);
}
