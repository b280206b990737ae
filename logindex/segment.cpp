#include "logindex/segment.h"

#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_createDDict_byReference
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

    // Block index: by (stream, first_doc), a stream's blocks disjoint.
    block_index_ = section(kSectionBlockIndex);
    if (block_index_.size() % kBlockIndexEntryBytes != 0)
      fail("block index size is not a multiple of its entry size");
    summary_.blocks = static_cast<std::uint32_t>(block_count());
    stream_blocks_.assign(streams_.size(), {0, 0});
    std::vector<std::uint64_t> stream_docs(streams_.size(), 0);
    std::uint64_t total = 0;
    for (std::size_t b = 0; b < block_count(); ++b) {
      const auto e = block(b);
      const bool first_of_stream = b == 0 || block(b - 1).stream != e.stream;
      const bool ok = e.stream < streams_.size() && e.doc_count > 0 && e.first_doc <= e.last_doc &&
                      e.last_doc < summary_.docs && e.doc_count - 1 <= e.last_doc - e.first_doc &&
                      e.min_ts >= summary_.min_ts && e.min_ts <= summary_.max_ts &&
                      e.offset >= refs[kSectionLines].offset &&
                      e.offset + e.compressed_bytes <=
                          refs[kSectionLines].offset + refs[kSectionLines].length &&
                      (b == 0 || first_of_stream ? (b == 0 || block(b - 1).stream < e.stream)
                                                 : block(b - 1).last_doc < e.first_doc);
      if (!ok)
        fail("block index entry " + std::to_string(b) + " is inconsistent (offset " +
             std::to_string(refs[kSectionBlockIndex].offset + b * kBlockIndexEntryBytes) + ")");
      if (first_of_stream) stream_blocks_[e.stream].first = static_cast<std::uint32_t>(b);
      stream_blocks_[e.stream].second = static_cast<std::uint32_t>(b + 1);
      stream_docs[e.stream] += e.doc_count;
      total += e.doc_count;
    }
    if (total != summary_.docs)
      fail("block index covers " + std::to_string(total) + " docs, the footer says " +
           std::to_string(summary_.docs));

    // Doc streams: every doc's stream, agreeing with the blocks' counts.
    {
      auto ds = section(kSectionDocStreams);
      if (ds.empty() || ds[0] > 32) fail("doc streams table has a bad width");
      doc_stream_width_ = ds[0];
      doc_stream_mask_ = (std::uint64_t{1} << doc_stream_width_) - 1;
      if (ds.size() != 1 + (std::uint64_t{summary_.docs} * doc_stream_width_ + 7) / 8 + 8 ||
          (doc_stream_width_ == 0 && streams_.size() > 1))
        fail("doc streams table size does not match the doc count and stream count");
      doc_streams_ = ds.data() + 1;
      std::vector<std::uint64_t> seen(streams_.size(), 0);
      for (DocId d = 0; d < summary_.docs; ++d) {
        const std::uint32_t st = doc_stream(d);
        if (st >= streams_.size())
          fail("doc streams table names stream " + std::to_string(st) + " for doc " +
               std::to_string(d) + " (offset " + std::to_string(refs[kSectionDocStreams].offset) +
               ")");
        ++seen[st];
      }
      if (seen != stream_docs)
        fail("doc streams table disagrees with the block index on a stream's doc count");
    }

    // Time index: the time of every interval-th doc, ascending.
    {
      ByteReader tr(section(kSectionTimeIndex), refs[kSectionTimeIndex].offset);
      time_interval_ = tr.u32();
      if (time_interval_ == 0) fail("time index interval is 0");
      time_chunks_ = (std::uint64_t{summary_.docs} + time_interval_ - 1) / time_interval_;
      if (tr.remaining() != time_chunks_ * 8)
        fail("time index holds " + std::to_string(tr.remaining() / 8) + " times, expected " +
             std::to_string(time_chunks_));
      time_index_ = section(kSectionTimeIndex).data() + 4;
      std::int64_t prev = summary_.min_ts;
      for (std::size_t c = 0; c < time_chunks_; ++c) {
        const auto t = static_cast<std::int64_t>(load_u64(time_index_ + c * 8));
        if (t < prev || t > summary_.max_ts || (c == 0 && t != summary_.min_ts))
          fail("time index entry " + std::to_string(c) + " is out of order (offset " +
               std::to_string(refs[kSectionTimeIndex].offset + 4 + c * 8) + ")");
        prev = t;
      }
    }

    // The zstd dictionaries, and each stream's.
    {
      ByteReader zr(section(kSectionZstdDictionary), refs[kSectionZstdDictionary].offset);
      const auto dicts = zr.uvarint();
      if (dicts > zr.remaining()) fail("zstd dictionary section claims " + std::to_string(dicts));
      for (std::uint64_t i = 0; i < dicts; ++i) {
        const auto at = zr.offset();
        auto d = as_bytes(zr.str());
        zstd_dictionaries_.emplace_back(ZSTD_createDDict_byReference(d.data(), d.size()));
        if (!zstd_dictionaries_.back())
          fail("zstd dictionary " + std::to_string(i) + " (offset " + std::to_string(at) +
               ") is not a valid dictionary");
      }
      if (zr.uvarint() != streams_.size())
        fail("zstd dictionary section does not list every stream");
      for (std::size_t i = 0; i < streams_.size(); ++i) {
        const auto k = zr.uvarint();
        if (k > zstd_dictionaries_.size())
          fail("stream " + std::to_string(i) + " names zstd dictionary " + std::to_string(k));
        stream_dictionary_.push_back(k == 0 ? nullptr : zstd_dictionaries_[k - 1].get());
      }
      if (!zr.done()) fail("zstd dictionary section has trailing bytes");
    }

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

void Segment::DDictFree::operator()(ZSTD_DDict_s* d) const { ZSTD_freeDDict(d); }

BlockIndexEntry Segment::block(std::size_t b) const {
  const std::uint8_t* p = block_index_.data() + b * kBlockIndexEntryBytes;
  BlockIndexEntry e;
  e.offset = load_u64(p);
  e.compressed_bytes = load_u32(p + 8);
  e.raw_bytes = load_u32(p + 12);
  e.stream = load_u32(p + 16);
  e.first_doc = load_u32(p + 20);
  e.last_doc = load_u32(p + 24);
  e.doc_count = load_u32(p + 28);
  e.min_ts = static_cast<std::int64_t>(load_u64(p + 32));
  e.crc = load_u32(p + 40);
  return e;
}

std::size_t Segment::block_of(std::uint32_t stream, DocId doc) const {
  if (stream < stream_blocks_.size()) {
    // The last block of the stream whose first doc is <= doc.
    std::size_t lo = stream_blocks_[stream].first, hi = stream_blocks_[stream].second;
    while (lo < hi) {
      const std::size_t mid = lo + (hi - lo) / 2;
      if (load_u32(block_index_.data() + mid * kBlockIndexEntryBytes + 20) <= doc)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo > stream_blocks_[stream].first &&
        load_u32(block_index_.data() + (lo - 1) * kBlockIndexEntryBytes + 24) >= doc)
      return lo - 1;
  }
  fail("no line block of stream " + std::to_string(stream) + " holds doc " + std::to_string(doc));
}

Segment::TimeChunk Segment::time_chunk(std::size_t c) const {
  TimeChunk t;
  t.first_doc = static_cast<DocId>(c * time_interval_);
  t.end_doc = static_cast<DocId>(
      std::min<std::uint64_t>((c + 1) * std::uint64_t{time_interval_}, summary_.docs));
  t.min_ts = static_cast<std::int64_t>(load_u64(time_index_ + c * 8));
  // The next chunk's first doc is no older than any doc of this one.
  t.max_ts = c + 1 < time_chunks_ ? static_cast<std::int64_t>(load_u64(time_index_ + (c + 1) * 8))
                                  : summary_.max_ts;
  return t;
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
  if (summary_.docs == 0 || start_ns > end_ns || end_ns < summary_.min_ts ||
      start_ns > summary_.max_ts)
    return {0, 0};
  auto at = [&](std::size_t c) { return static_cast<std::int64_t>(load_u64(time_index_ + c * 8)); };
  // First chunk whose docs may reach start: the next chunk starts at or after it.
  std::size_t first = 0, hi = time_chunks_ - 1;
  while (first < hi) {
    const std::size_t mid = (first + hi) / 2;
    if (at(mid + 1) < start_ns)
      first = mid + 1;
    else
      hi = mid;
  }
  // One past the last chunk whose first doc is not after end.
  std::size_t last = first;
  hi = time_chunks_;
  while (last < hi) {
    const std::size_t mid = (last + hi) / 2;
    if (at(mid) <= end_ns)
      last = mid + 1;
    else
      hi = mid;
  }
  if (first >= last) return {0, 0};
  return {time_chunk(first).first_doc, time_chunk(last - 1).end_doc};
}

namespace {
// One decompression context per thread, reused by every read.
ZSTD_DCtx* thread_dctx() {
  struct Holder {
    ZSTD_DCtx* ctx = ZSTD_createDCtx();
    ~Holder() { ZSTD_freeDCtx(ctx); }
  };
  thread_local Holder h;
  return h.ctx;
}

// LEB128 within [p, end); false when truncated or over 64 bits.
inline bool read_uvarint(const std::uint8_t*& p, const std::uint8_t* end, std::uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && p < end; shift += 7) {
    const std::uint8_t b = *p++;
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}
}  // namespace

void DocReader::load(Loaded& slot, std::size_t b) {
  const Segment& s = segment_;
  const auto e = s.block(b);
  auto where = [&] {
    return "line block " + std::to_string(b) + " (stream " + std::to_string(e.stream) + ", docs " +
           std::to_string(e.first_doc) + ".." + std::to_string(e.last_doc) + ", offset " +
           std::to_string(e.offset) + ")";
  };
  slot.block = static_cast<std::size_t>(-1);
  auto bytes = s.file_->data().subspan(e.offset, e.compressed_bytes);
  if (crc32(bytes) != e.crc) s.fail("CRC mismatch in " + where());
  slot.raw.resize(e.raw_bytes);
  ZSTD_DCtx* dctx = thread_dctx();
  const ZSTD_DDict* dict = s.stream_dictionary_[e.stream];
  const std::size_t n = dict ? ZSTD_decompress_usingDDict(dctx, slot.raw.data(), slot.raw.size(),
                                                          bytes.data(), bytes.size(), dict)
                             : ZSTD_decompressDCtx(dctx, slot.raw.data(), slot.raw.size(),
                                                   bytes.data(), bytes.size());
  if (ZSTD_isError(n) || n != e.raw_bytes)
    s.fail(where() +
           " does not decompress: " + (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size"));
  s.blocks_decompressed_.fetch_add(1, std::memory_order_relaxed);

  const auto* p = reinterpret_cast<const std::uint8_t*>(slot.raw.data());
  const auto* end = p + slot.raw.size();
  std::uint64_t count = 0;
  if (!read_uvarint(p, end, count) || count != e.doc_count)
    s.fail(where() + ": doc count differs from the block index");
  slot.docs.resize(count);
  slot.ts.resize(count);
  slot.begin.resize(count + 1);
  std::uint64_t doc = std::uint64_t{e.first_doc} - 1;  // wraps for doc 0; the gap restores it
  std::uint64_t ts = static_cast<std::uint64_t>(e.min_ts);
  std::uint64_t at = 0;
  for (std::size_t i = 0; i < count; ++i) {
    std::uint64_t gap = 0, dt = 0, len = 0;
    if (!read_uvarint(p, end, gap) || !read_uvarint(p, end, dt) || !read_uvarint(p, end, len))
      s.fail(where() + ": truncated doc header " + std::to_string(i));
    doc += gap + 1;
    ts += dt;
    slot.docs[i] = static_cast<DocId>(doc);
    slot.ts[i] = static_cast<std::int64_t>(ts);
    slot.begin[i] = static_cast<std::uint32_t>(at);
    at += len;
    if (at > slot.raw.size() || doc > e.last_doc)
      s.fail(where() + ": doc header " + std::to_string(i) + " is out of bounds");
  }
  const auto body =
      static_cast<std::uint64_t>(p - reinterpret_cast<const std::uint8_t*>(slot.raw.data()));
  if (count > 0 && (slot.docs[0] != e.first_doc || slot.docs[count - 1] != e.last_doc))
    s.fail(where() + ": docs differ from the block index");
  if (body + at != slot.raw.size()) s.fail(where() + ": line lengths do not add up");
  for (auto& b0 : slot.begin) b0 += static_cast<std::uint32_t>(body);
  slot.begin[count] = static_cast<std::uint32_t>(slot.raw.size());
  slot.first = e.first_doc;
  slot.last = e.last_doc;
  slot.cursor = 0;
  slot.block = b;
}

SegmentDoc DocReader::get(DocId doc) {
  const Segment& s = segment_;
  if (doc >= s.doc_count()) s.fail("doc " + std::to_string(doc) + " out of range");
  const std::uint32_t stream = s.doc_stream(doc);
  if (stream >= streams_.size()) streams_.resize(stream + 1);
  Loaded& slot = streams_[stream];
  if (slot.block == static_cast<std::size_t>(-1) || doc < slot.first || doc > slot.last)
    load(slot, s.block_of(stream, doc));
  // Reads mostly ascend: search from the doc read last.
  auto from = slot.docs.begin();
  if (slot.docs[slot.cursor] <= doc) from += static_cast<std::ptrdiff_t>(slot.cursor);
  auto it = std::lower_bound(from, slot.docs.end(), doc);
  if (it == slot.docs.end() || *it != doc)
    s.fail("line block " + std::to_string(slot.block) + " lacks doc " + std::to_string(doc) +
           ", which the doc streams table puts in stream " + std::to_string(stream));
  const std::size_t i = static_cast<std::size_t>(it - slot.docs.begin());
  slot.cursor = i;
  return {stream, slot.ts[i],
          std::string_view(slot.raw).substr(slot.begin[i], slot.begin[i + 1] - slot.begin[i])};
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
  // of this stream with that exact timestamp.
  auto fp = streams_by_fp_.find(stream.fingerprint());
  if (fp == streams_by_fp_.end()) return false;
  std::uint32_t sid = 0;
  bool known = false;
  for (std::uint32_t s : fp->second)
    if (streams_[s] == stream) {
      sid = s;
      known = true;
    }
  if (!known) return false;
  auto [first, last] = doc_range(ts, ts);
  DocReader local(*this);
  DocReader& reader = shared_reader ? *shared_reader : local;
  for (DocId d = first; d < last; ++d) {
    if (doc_stream(d) != sid) continue;
    auto doc = reader.get(d);
    if (doc.timestamp_ns == ts && doc.line == line) return true;
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
  // Only the edge time chunks of the range can hold docs outside it.
  const TimeChunk edge_first = time_chunk(time_chunk_of(lo));
  const TimeChunk edge_last = time_chunk(time_chunk_of(hi - 1));
  auto needs_time_check = [&](const TimeChunk& c) {
    return c.min_ts < q.start_ns || c.max_ts > q.end_ns;
  };
  const bool check_first = needs_time_check(edge_first);
  const bool check_last = needs_time_check(edge_last);
  const DocId first_end = edge_first.end_doc;
  const DocId last_begin = edge_last.first_doc;

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
