#include "logindex/segment.h"

#include <zstd.h>
#include <algorithm>
#include <cstring>

#include "common/byte_codec.h"
#include "logindex/tokenizer.h"

namespace strata::logindex {

namespace fs = std::filesystem;

std::shared_ptr<const Segment> Segment::open(const fs::path& path) {
  std::shared_ptr<Segment> s(new Segment());
  s->summary_.path = path;
  try {
    s->file_ = MappedFile::open(path);
  } catch (const std::exception& e) {
    throw SegmentError(path, e.what());
  }
  s->verify_and_load();
  return s;
}

void Segment::verify_and_load() {
  const auto data = file_->data();
  summary_.file_bytes = data.size();
  if (data.size() < kSegmentHeaderBytes + kSegmentFooterBytes)
    fail("truncated: " + std::to_string(data.size()) + " bytes is smaller than header + footer");
  if (std::memcmp(data.data(), kSegmentMagic.data(), kSegmentMagic.size()) != 0)
    fail("bad magic at offset 0: not a logindex segment");
  if (auto v = load_u32(data.data() + 8); v != kSegmentVersion)
    fail("unsupported format version " + std::to_string(v) + " at offset 8 (this build reads " +
         std::to_string(kSegmentVersion) + ")");

  const std::size_t footer_at = data.size() - kSegmentFooterBytes;
  auto footer = data.subspan(footer_at);
  if (std::memcmp(footer.data() + footer.size() - 8, kSegmentMagic.data(), 8) != 0)
    fail("bad footer magic at offset " + std::to_string(data.size() - 8) +
         " (truncated or not a finished segment)");
  const std::size_t crc_at = footer.size() - 12;
  if (crc32(footer.subspan(0, crc_at)) != load_u32(footer.data() + crc_at))
    fail("footer CRC mismatch at offset " + std::to_string(footer_at + crc_at));
  ByteReader r(footer, footer_at);
  struct Ref {
    std::uint64_t offset, length;
    std::uint32_t crc;
  };
  std::array<Ref, kSectionCount> refs{};
  std::uint64_t expect = kSegmentHeaderBytes;
  for (std::size_t i = 0; i < kSectionCount; ++i) {
    refs[i] = {r.u64(), r.u64(), r.u32()};
    if (refs[i].offset != expect || refs[i].length > footer_at - refs[i].offset)
      fail(std::string("section '") + std::string(kSectionNames[i]) +
           "' has bad bounds in the footer");
    expect = refs[i].offset + refs[i].length;
  }
  if (expect != footer_at) fail("sections do not end where the footer starts");
  summary_.docs = r.u32();
  summary_.min_ts = r.i64();
  summary_.max_ts = r.i64();
  if (auto v = r.u32(); v != kSegmentVersion)
    fail("footer format version " + std::to_string(v) + " differs from the header's");

  auto section = [&](SegmentSection s) { return data.subspan(refs[s].offset, refs[s].length); };
  for (std::size_t i = 0; i < kSectionCount; ++i)
    if (crc32(section(static_cast<SegmentSection>(i))) != refs[i].crc)
      fail(std::string("CRC mismatch in section '") + std::string(kSectionNames[i]) + "' (offset " +
           std::to_string(refs[i].offset) + ", " + std::to_string(refs[i].length) + " bytes)");

  try {
    block_index_ = section(kSectionBlockIndex);
    if (block_index_.size() % kBlockIndexEntryBytes != 0)
      fail("block index size is not a multiple of its entry size");
    summary_.blocks = static_cast<std::uint32_t>(block_count());
    std::uint64_t next_doc = 0;
    std::int64_t prev_max = std::numeric_limits<std::int64_t>::min();
    for (std::size_t b = 0; b < block_count(); ++b) {
      auto e = block(b);
      if (e.first_doc != next_doc || e.doc_count == 0 || e.min_ts > e.max_ts ||
          e.min_ts < prev_max || e.offset < refs[kSectionLines].offset ||
          e.offset + e.compressed_bytes > refs[kSectionLines].offset + refs[kSectionLines].length)
        fail("block index entry " + std::to_string(b) + " is inconsistent (offset " +
             std::to_string(refs[kSectionBlockIndex].offset + b * kBlockIndexEntryBytes) + ")");
      next_doc += e.doc_count;
      prev_max = e.max_ts;
    }
    if (next_doc != summary_.docs)
      fail("block index covers " + std::to_string(next_doc) + " docs, the footer says " +
           std::to_string(summary_.docs));

    ByteReader sr(section(kSectionStreams), refs[kSectionStreams].offset);
    auto n = sr.uvarint();
    if (n > sr.remaining()) fail("stream table claims " + std::to_string(n) + " streams");
    for (std::uint64_t i = 0; i < n; ++i) {
      auto k = sr.uvarint();
      if (k > sr.remaining()) fail("stream " + std::to_string(i) + " claims too many labels");
      std::vector<Label> labels;
      for (std::uint64_t j = 0; j < k; ++j) {
        auto name = sr.str();
        auto value = sr.str();
        labels.emplace_back(std::string(name), std::string(value));
      }
      streams_.emplace_back(std::move(labels));
      const std::int64_t min_ts = sr.i64(), max_ts = sr.i64();
      if (min_ts > max_ts || min_ts < summary_.min_ts || max_ts > summary_.max_ts)
        fail("stream " + std::to_string(i) + " has a time range outside the segment's");
      stream_times_.emplace_back(min_ts, max_ts);
      streams_by_fp_[streams_.back().fingerprint()].push_back(static_cast<std::uint32_t>(i));
    }
    summary_.streams = static_cast<std::uint32_t>(streams_.size());

    postings_ = section(kSectionPostings);
    dictionary_ = section(kSectionDictionary);
    ByteReader dr(dictionary_, refs[kSectionDictionary].offset);
    term_count_ = dr.u32();
    restart_count_ = dr.u32();
    if (restart_count_ !=
            (std::uint64_t{term_count_} + kDictRestartInterval - 1) / kDictRestartInterval ||
        restart_count_ > dr.remaining() / 4)
      fail("dictionary claims " + std::to_string(term_count_) + " terms and " +
           std::to_string(restart_count_) + " restarts");
    restarts_ = dr.bytes(std::uint64_t{restart_count_} * 4).data();
    dict_entries_ = dictionary_.subspan(dr.pos());
    summary_.terms = term_count_;
    for (std::uint32_t i = 0; i < restart_count_; ++i)
      if (load_u32(restarts_ + std::size_t{i} * 4) >= dict_entries_.size())
        fail("dictionary restart " + std::to_string(i) + " points past the dictionary");
    dedup_ = section(kSectionDedup);
    if (dedup_.size() != std::uint64_t{summary_.docs} * kDedupEntryBytes)
      fail("dedup table size does not match the doc count");

    ByteReader mr(section(kSectionMeta), refs[kSectionMeta].offset);
    auto parents = mr.uvarint();
    if (parents > mr.remaining()) fail("meta claims " + std::to_string(parents) + " parents");
    for (std::uint64_t i = 0; i < parents; ++i) summary_.parents.push_back(mr.uvarint());
  } catch (const FormatError& e) {
    fail(e.what());
  } catch (const std::invalid_argument& e) {
    fail(std::string("bad stream labels: ") + e.what());
  }
}

BlockIndexEntry Segment::block(std::size_t b) const {
  const std::uint8_t* p = block_index_.data() + b * kBlockIndexEntryBytes;
  BlockIndexEntry e;
  e.offset = load_u64(p);
  e.compressed_bytes = load_u32(p + 8);
  e.raw_bytes = load_u32(p + 12);
  e.first_doc = load_u32(p + 16);
  e.doc_count = load_u32(p + 20);
  e.min_ts = static_cast<std::int64_t>(load_u64(p + 24));
  e.max_ts = static_cast<std::int64_t>(load_u64(p + 32));
  e.crc = load_u32(p + 40);
  return e;
}

std::size_t Segment::block_of(DocId doc) const {
  std::size_t lo = 0, hi = block_count();
  while (hi - lo > 1) {
    std::size_t mid = (lo + hi) / 2;
    if (block(mid).first_doc <= doc)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

std::string_view Segment::restart_key(std::uint32_t restart) const {
  ByteReader r(dict_entries_.subspan(load_u32(restarts_ + std::size_t{restart} * 4)));
  if (r.uvarint() != 0) fail("dictionary restart " + std::to_string(restart) + " shares a prefix");
  return r.str();
}

std::uint32_t Segment::restart_for(std::string_view key) const {
  // First restart whose key is > key, minus one.
  std::uint32_t lo = 0, hi = restart_count_;
  while (lo < hi) {
    std::uint32_t mid = lo + (hi - lo) / 2;
    if (restart_key(mid) <= key)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo == 0 ? 0 : lo - 1;
}

template <typename Fn>
void Segment::scan_dictionary(std::uint32_t restart, Fn&& fn) const {
  if (restart >= restart_count_) return;
  const std::size_t start = load_u32(restarts_ + std::size_t{restart} * 4);
  ByteReader r(dict_entries_.subspan(start), start);
  DictEntry e;
  for (std::uint64_t i = std::uint64_t{restart} * kDictRestartInterval; i < term_count_; ++i) {
    auto shared = r.uvarint();
    if (shared > e.key.size()) fail("dictionary entry " + std::to_string(i) + " shares too much");
    e.key.resize(shared);
    e.key += r.str();
    e.docs = r.uvarint();
    e.offset = r.uvarint();
    e.length = r.uvarint();
    if (e.offset > postings_.size() || e.length > postings_.size() - e.offset)
      fail("dictionary entry " + std::to_string(i) + " points past the postings section");
    if (!fn(e)) return;
  }
}

std::optional<Segment::DictEntry> Segment::find(TermKind kind, std::string_view text) const {
  const auto key = term_key(kind, text);
  std::optional<DictEntry> out;
  try {
    scan_dictionary(restart_for(key), [&](const DictEntry& e) {
      if (e.key == key) out = e;
      return e.key < key;
    });
  } catch (const FormatError& e) {
    fail(std::string("dictionary: ") + e.what());
  }
  return out;
}

std::unique_ptr<PostingsIterator> Segment::postings(TermKind kind, std::string_view text) const {
  auto e = find(kind, text);
  if (!e) return make_empty_postings();
  try {
    return make_encoded_postings(postings_.subspan(e->offset, e->length));
  } catch (const FormatError& err) {
    fail("postings of a term: " + std::string(err.what()));
  }
}

void Segment::for_each_posting_list(
    const std::function<void(std::string_view, std::span<const DocId>)>& fn) const {
  std::vector<DocId> ids;
  try {
    scan_dictionary(0, [&](const DictEntry& e) {
      ids = decode_postings(postings_.subspan(e.offset, e.length));
      if (ids.size() != e.docs)
        fail("term of " + std::to_string(e.docs) + " docs has " + std::to_string(ids.size()) +
             " postings");
      if (!ids.empty() && ids.back() >= summary_.docs)
        fail("a posting points past the " + std::to_string(summary_.docs) + " docs");
      fn(e.key, ids);
      return true;
    });
  } catch (const FormatError& e) {
    fail(std::string("postings: ") + e.what());
  }
}

std::uint32_t Segment::doc_frequency(TermKind kind, std::string_view text) const {
  auto e = find(kind, text);
  return e ? static_cast<std::uint32_t>(e->docs) : 0;
}

std::vector<std::string> Segment::terms_with_prefix(TermKind kind, std::string_view prefix,
                                                    std::size_t limit) const {
  std::vector<std::string> out;
  const auto key = term_key(kind, prefix);
  if (limit == 0) return out;
  try {
    scan_dictionary(restart_for(key), [&](const DictEntry& e) {
      if (e.key < key) return true;
      if (!e.key.starts_with(key)) return false;
      out.push_back(e.key.substr(1));
      return out.size() < limit;
    });
  } catch (const FormatError& e) {
    fail(std::string("dictionary: ") + e.what());
  }
  return out;
}

std::pair<DocId, DocId> Segment::doc_range(std::int64_t start_ns, std::int64_t end_ns) const {
  const std::size_t n = block_count();
  // Blocks are in time order and do not overlap (max of one <= min of the next).
  std::size_t first = 0, hi = n;
  while (first < hi) {  // first block with max_ts >= start
    std::size_t mid = (first + hi) / 2;
    if (block(mid).max_ts < start_ns)
      first = mid + 1;
    else
      hi = mid;
  }
  std::size_t last = first;
  hi = n;
  while (last < hi) {  // first block with min_ts > end
    std::size_t mid = (last + hi) / 2;
    if (block(mid).min_ts <= end_ns)
      last = mid + 1;
    else
      hi = mid;
  }
  if (first >= last) return {0, 0};
  auto lb = block(last - 1);
  return {block(first).first_doc, lb.first_doc + lb.doc_count};
}

void DocReader::load(std::size_t b) {
  const Segment& s = segment_;
  auto e = s.block(b);
  auto bytes = s.file_->data().subspan(e.offset, e.compressed_bytes);
  if (crc32(bytes) != e.crc)
    s.fail("CRC mismatch in line block " + std::to_string(b) + " (offset " +
           std::to_string(e.offset) + ")");
  raw_.resize(e.raw_bytes);
  std::size_t n = ZSTD_decompress(raw_.data(), raw_.size(), bytes.data(), bytes.size());
  if (ZSTD_isError(n) || n != e.raw_bytes)
    s.fail("line block " + std::to_string(b) + " (offset " + std::to_string(e.offset) +
           ") does not decompress: " + (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size"));
  s.blocks_decompressed_.fetch_add(1, std::memory_order_relaxed);
  docs_.clear();
  try {
    ByteReader r(raw_);
    auto count = r.uvarint();
    if (count != e.doc_count) s.fail("line block " + std::to_string(b) + " doc count mismatch");
    std::vector<std::uint64_t> lens;
    std::int64_t ts = e.min_ts;
    for (std::uint64_t i = 0; i < count; ++i) {
      SegmentDoc d;
      d.stream = static_cast<std::uint32_t>(r.uvarint());
      if (d.stream >= s.streams_.size())
        s.fail("line block " + std::to_string(b) + " names an unknown stream");
      ts = static_cast<std::int64_t>(static_cast<std::uint64_t>(ts) + r.uvarint());
      d.timestamp_ns = ts;
      lens.push_back(r.uvarint());
      docs_.push_back(d);
    }
    for (std::size_t i = 0; i < docs_.size(); ++i) docs_[i].line = as_chars(r.bytes(lens[i]));
  } catch (const FormatError& err) {
    s.fail("line block " + std::to_string(b) + ": " + err.what());
  }
  block_ = b;
}

SegmentDoc DocReader::get(DocId doc) {
  if (doc >= segment_.doc_count()) segment_.fail("doc " + std::to_string(doc) + " out of range");
  if (block_ == static_cast<std::size_t>(-1)) {
    load(segment_.block_of(doc));
  } else {
    auto e = segment_.block(block_);
    if (doc < e.first_doc || doc >= e.first_doc + e.doc_count) load(segment_.block_of(doc));
  }
  return docs_[doc - segment_.block(block_).first_doc];
}

bool Segment::may_hold(const Labels& stream, std::int64_t min_ts, std::int64_t max_ts) const {
  auto it = streams_by_fp_.find(stream.fingerprint());
  if (it == streams_by_fp_.end()) return false;
  for (std::uint32_t s : it->second)
    if (streams_[s] == stream)
      return stream_times_[s].first <= max_ts && stream_times_[s].second >= min_ts;
  return false;
}

bool Segment::contains(const Labels& stream, std::uint64_t hash, std::int64_t ts,
                       std::string_view line, DocReader* shared_reader) const {
  if (summary_.docs == 0 || ts < summary_.min_ts || ts > summary_.max_ts) return false;
  const std::size_t n = summary_.docs;
  const std::uint32_t key = dedup_key(hash);
  std::size_t lo = 0, hi = n;
  while (lo < hi) {
    std::size_t mid = (lo + hi) / 2;
    if (load_u32(dedup_.data() + mid * kDedupEntryBytes) < key)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == n || load_u32(dedup_.data() + lo * kDedupEntryBytes) != key) return false;
  // A key hit (almost always a real duplicate): confirm against the docs
  // with that exact timestamp.
  auto [first, last] = doc_range(ts, ts);
  DocReader local(*this);
  DocReader& reader = shared_reader ? *shared_reader : local;
  for (DocId d = first; d < last; ++d) {
    auto doc = reader.get(d);
    if (doc.timestamp_ns == ts && doc.line == line && streams_[doc.stream] == stream) return true;
  }
  return false;
}

SearchResult Segment::search(const SearchQuery& q) const {
  SearchResult result;
  if (summary_.docs == 0 || q.end_ns < summary_.min_ts || q.start_ns > summary_.max_ts)
    return result;
  const QueryTerms qt = query_terms(q);

  // Streams: which pass the label filter. Non-empty values are also posting
  // lists (exact); an empty value ("label absent") needs a per-doc check.
  std::vector<char> stream_ok;
  bool check_stream = false;
  std::vector<std::unique_ptr<PostingsIterator>> lists;
  if (!q.stream_equals.empty()) {
    stream_ok.assign(streams_.size(), 0);
    bool any = false;
    for (std::size_t i = 0; i < streams_.size(); ++i) {
      bool ok = true;
      for (const auto& [name, value] : q.stream_equals) ok = ok && streams_[i].get(name) == value;
      stream_ok[i] = ok;
      any = any || ok;
    }
    if (!any) return result;
    for (const auto& [name, value] : q.stream_equals) {
      if (value.empty())
        check_stream = true;
      else
        lists.push_back(postings(TermKind::kLabel, name + "=" + value));
    }
  }
  for (const auto& t : qt.terms) {
    if (doc_frequency(TermKind::kToken, truncate_term(t)) == 0) return result;
    lists.push_back(postings(TermKind::kToken, truncate_term(t)));
  }

  auto [lo, hi] = doc_range(q.start_ns, q.end_ns);
  if (lo >= hi) return result;
  // Only the edge blocks of the range can hold docs outside it.
  std::size_t edge_first = block_of(lo), edge_last = block_of(hi - 1);
  auto needs_time_check = [&](std::size_t b) {
    auto e = block(b);
    return e.min_ts < q.start_ns || e.max_ts > q.end_ns;
  };
  const bool check_first = needs_time_check(edge_first);
  const bool check_last = needs_time_check(edge_last);
  const DocId first_end = block(edge_first).first_doc + block(edge_first).doc_count;
  const DocId last_begin = block(edge_last).first_doc;

  DocReader reader(*this);
  std::vector<DocId> newest;  // the last matches seen, trimmed to ~limit
  auto consider = [&](DocId d) {
    const bool time_check = (check_first && d < first_end) || (check_last && d >= last_begin);
    if (time_check || check_stream || !qt.long_terms.empty()) {
      auto doc = reader.get(d);
      if (doc.timestamp_ns < q.start_ns || doc.timestamp_ns > q.end_ns) return;
      if (check_stream && !stream_ok[doc.stream]) return;
      if (!line_has_long_terms(doc.line, qt.long_terms)) return;
    }
    ++result.matched;
    newest.push_back(d);
    if (q.limit > 0 && newest.size() >= 2 * q.limit + 1024)
      newest.erase(newest.begin(), newest.end() - static_cast<std::ptrdiff_t>(q.limit));
    else if (q.limit == 0)
      newest.clear();
  };

  try {
    if (lists.empty()) {
      for (DocId d = lo; d < hi; ++d) consider(d);
    } else {
      std::sort(lists.begin(), lists.end(),
                [](const auto& a, const auto& b) { return a->size() < b->size(); });
      auto& lead = *lists[0];
      lead.seek(lo);
      while (lead.doc() < hi) {
        DocId c = lead.doc();
        bool all = true;
        for (std::size_t i = 1; i < lists.size() && all; ++i) {
          lists[i]->seek(c);
          if (lists[i]->doc() != c) {
            all = false;
            lead.seek(lists[i]->doc());  // leapfrog (kNoMoreDocs ends the loop)
          }
        }
        if (all) {
          consider(c);
          lead.next();
        }
      }
    }
  } catch (const FormatError& e) {
    fail(std::string("postings: ") + e.what());
  }

  if (newest.size() > q.limit)
    newest.erase(newest.begin(), newest.end() - static_cast<std::ptrdiff_t>(q.limit));
  result.hits.reserve(newest.size());
  for (auto it = newest.rbegin(); it != newest.rend(); ++it) {
    auto d = reader.get(*it);
    result.hits.push_back({streams_[d.stream], d.timestamp_ns, std::string(d.line)});
  }
  return result;
}

}  // namespace strata::logindex
