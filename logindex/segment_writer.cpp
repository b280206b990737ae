#include "logindex/segment_writer.h"

#include <fcntl.h>
#include <unistd.h>

#define ZDICT_STATIC_LINKING_ONLY  // ZDICT_trainFromBuffer_fastCover
#include <zdict.h>
#include <zstd.h>
#include <algorithm>
#include <array>
#include <bit>
#include <functional>
#include <limits>
#include <map>
#include <stdexcept>

#include "common/file.h"
#include "logindex/entry_hash.h"
#include "logindex/postings.h"
#include "logindex/tokenizer.h"

namespace strata::logindex {

namespace fs = std::filesystem;

struct SegmentWriter::Compressor {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  std::vector<ZSTD_CDict*> cdicts;  // parallel to zstd_dictionaries_
  ~Compressor() {
    for (auto* d : cdicts) ZSTD_freeCDict(d);
    ZSTD_freeCCtx(cctx);
  }
};

namespace {

// Sorts u32 keys ascending: LSD radix sort, one byte a pass (a merge's
// dedup table has millions of keys; this is several times std::sort).
void sort_keys(std::vector<std::uint32_t>& keys) {
  if (keys.size() < 4096) {
    std::sort(keys.begin(), keys.end());
    return;
  }
  std::array<std::array<std::size_t, 256>, 4> counts{};
  for (std::uint32_t k : keys)
    for (int b = 0; b < 4; ++b) ++counts[b][(k >> (8 * b)) & 0xFF];
  std::vector<std::uint32_t> tmp(keys.size());
  for (int b = 0; b < 4; ++b) {
    if (counts[b][(keys[0] >> (8 * b)) & 0xFF] == keys.size()) continue;  // one value: no-op
    std::size_t at = 0;
    for (auto& c : counts[b]) {
      const std::size_t n = c;
      c = at;
      at += n;
    }
    for (std::uint32_t k : keys) tmp[counts[b][(k >> (8 * b)) & 0xFF]++] = k;
    keys.swap(tmp);
  }
}

}  // namespace

SegmentWriter::SegmentWriter(fs::path path, SegmentWriterOptions options)
    : path_(std::move(path)), options_(options) {
  tmp_ = path_;
  tmp_ += ".tmp";
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw_errno("create segment", tmp_);
  ByteWriter h;
  h.raw(kSegmentMagic);
  h.u32(kSegmentVersion);
  h.u32(0);  // flags
  write(h.data());
}

SegmentWriter::~SegmentWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!finished_) {
    std::error_code ec;
    fs::remove(tmp_, ec);
  }
}

void SegmentWriter::write(std::string_view bytes) {
  write_all(fd_, bytes, tmp_);
  offset_ += bytes.size();
}

void SegmentWriter::add(const Labels& stream, std::int64_t ts, std::string_view line) {
  if (!encoded_.empty())
    throw std::logic_error("segment writer: add() after add_sorted_postings()");
  add_untokenized(stream, ts, line);
  const std::uint32_t doc = docs_ - 1;
  std::string key(1, static_cast<char>(TermKind::kToken));
  for_each_term(line, [&](std::string_view t) {
    key.resize(1);
    key.append(t);
    auto it = terms_.find(std::string_view(key));
    if (it == terms_.end()) it = terms_.try_emplace(key).first;
    auto& ids = it->second;
    if (ids.empty() || ids.back() != doc) ids.push_back(doc);
  });
}

void SegmentWriter::add_postings(std::string_view key, std::span<const std::uint32_t> ids) {
  if (finished_) throw std::logic_error("segment writer: add_postings() after finish()");
  if (key.empty() || static_cast<TermKind>(key[0]) == TermKind::kLabel)
    throw std::logic_error("segment writer: add_postings() takes kToken and kField terms only");
  if (!encoded_.empty())
    throw std::logic_error("segment writer: add_postings() after add_sorted_postings()");
  if (ids.empty()) return;
  if (ids.back() >= docs_)
    throw std::logic_error("segment writer " + tmp_.string() + ": posting " +
                           std::to_string(ids.back()) + " past the " + std::to_string(docs_) +
                           " docs added");
  auto it = terms_.find(key);
  if (it == terms_.end()) it = terms_.try_emplace(std::string(key)).first;
  auto& list = it->second;
  const auto old_size = static_cast<std::ptrdiff_t>(list.size());
  list.insert(list.end(), ids.begin(), ids.end());
  // A merge hands each term one ascending list per input: merging the runs
  // as they come is linear, where sorting at finish() is not.
  if (old_size > 0 && list[static_cast<std::size_t>(old_size) - 1] >= ids.front()) {
    std::inplace_merge(list.begin(), list.begin() + old_size, list.end());
    if (std::adjacent_find(list.begin(), list.end()) != list.end()) terms_unsorted_ = true;
  }
}

void SegmentWriter::add_sorted_postings(std::string_view key, std::span<const std::uint32_t> ids) {
  if (finished_) throw std::logic_error("segment writer: add_sorted_postings() after finish()");
  if (key.empty() || static_cast<TermKind>(key[0]) == TermKind::kLabel)
    throw std::logic_error(
        "segment writer: add_sorted_postings() takes kToken and kField terms only");
  if (!terms_.empty())
    throw std::logic_error("segment writer: add_sorted_postings() after add()/add_postings()");
  if (!encoded_.empty()) {
    const auto& last = encoded_.back();
    const std::string_view prev(encoded_keys_.data() + last.key_begin,
                                last.key_end - last.key_begin);
    if (!(prev < key))
      throw std::logic_error("segment writer " + tmp_.string() +
                             ": add_sorted_postings() keys out of order");
  }
  if (ids.empty()) return;
  if (ids.back() >= docs_)
    throw std::logic_error("segment writer " + tmp_.string() + ": posting " +
                           std::to_string(ids.back()) + " past the " + std::to_string(docs_) +
                           " docs added");
  for (std::size_t i = 1; i < ids.size(); ++i)
    if (ids[i - 1] >= ids[i])
      throw std::logic_error("segment writer " + tmp_.string() +
                             ": add_sorted_postings() ids not strictly ascending");
  EncodedTerm t;
  t.key_begin = encoded_keys_.size();
  encoded_keys_ += key;
  t.key_end = encoded_keys_.size();
  t.docs = ids.size();
  t.offset = postings_.size();
  encode_postings(ids, postings_);
  t.length = postings_.size() - t.offset;
  encoded_.push_back(t);
}

void SegmentWriter::add_untokenized(const Labels& stream, std::int64_t ts, std::string_view line) {
  if (finished_) throw std::logic_error("segment writer: add() after finish()");
  if (docs_ > 0 && ts < max_ts_)
    throw std::logic_error("segment writer " + tmp_.string() +
                           ": entries must come in timestamp order");
  add_untokenized(add_stream(stream), ts, line);
}

std::uint32_t SegmentWriter::add_stream(const Labels& stream) {
  const std::uint64_t fp = stream.fingerprint();
  auto& same = streams_by_fp_[fp];
  for (auto id : same)
    if (streams_[id] == stream) return id;
  const auto sid = static_cast<std::uint32_t>(streams_.size());
  streams_.push_back(stream);
  stream_fps_.push_back(fp);
  stream_docs_.emplace_back();
  // (max, min) until its first doc sets both.
  stream_times_.emplace_back(std::numeric_limits<std::int64_t>::max(),
                             std::numeric_limits<std::int64_t>::min());
  same.push_back(sid);
  return sid;
}

void SegmentWriter::add_untokenized(std::uint32_t sid, std::int64_t ts, std::string_view line) {
  if (finished_) throw std::logic_error("segment writer: add() after finish()");
  if (docs_ > 0 && ts < max_ts_)
    throw std::logic_error("segment writer " + tmp_.string() +
                           ": entries must come in timestamp order");
  if (docs_ == std::numeric_limits<std::uint32_t>::max() - 1)
    throw std::length_error("segment writer " + tmp_.string() + ": too many entries");
  if (sid >= streams_.size())
    throw std::logic_error("segment writer: stream id " + std::to_string(sid) + " not registered");
  if (stream_docs_[sid].empty()) stream_times_[sid].first = ts;
  const std::uint64_t fp = stream_fps_[sid];
  const std::uint32_t doc = docs_++;
  if (doc == 0) min_ts_ = ts;
  max_ts_ = ts;
  stream_docs_[sid].push_back(doc);
  stream_times_[sid].second = ts;  // docs come in time order
  dedup_.push_back(dedup_key(entry_hash(fp, ts, line)));

  add_to_block(sid, doc, ts, line);
}

void SegmentWriter::add_field_term(std::string_view name_equals_value) {
  if (docs_ == 0) throw std::logic_error("segment writer: add_field_term() before add()");
  if (!encoded_.empty())
    throw std::logic_error("segment writer: add_field_term() after add_sorted_postings()");
  auto& ids = terms_[term_key(TermKind::kField, name_equals_value)];
  if (ids.empty() || ids.back() != docs_ - 1) ids.push_back(docs_ - 1);
}

void SegmentWriter::add_to_block(std::uint32_t stream, std::uint32_t doc, std::int64_t ts,
                                 std::string_view line) {
  doc_streams_.push_back(stream);
  if (doc % kTimeIndexInterval == 0) time_index_.push_back(ts);
  if (stream >= open_blocks_.size()) open_blocks_.resize(stream + 1);
  OpenBlock& b = open_blocks_[stream];
  const std::size_t before = b.heads.size() + b.lines.size();
  if (b.docs == 0) {
    b.first_doc = doc;
    b.min_ts = ts;
    b.last_ts = ts;
    b.heads.uvarint(0);
  } else {
    b.heads.uvarint(doc - b.last_doc - 1);
  }
  b.heads.uvarint(static_cast<std::uint64_t>(ts) - static_cast<std::uint64_t>(b.last_ts));
  b.heads.uvarint(line.size());
  b.lines += line;
  b.last_doc = doc;
  b.last_ts = ts;
  ++b.docs;
  const std::size_t size = b.heads.size() + b.lines.size();
  open_bytes_ += size - before;
  if (size >= options_.block_bytes) {
    flush_block(stream);
  } else if (open_bytes_ > kMaxOpenBlockBytes) {
    for (std::uint32_t s = 0; s < open_blocks_.size(); ++s) flush_block(s);
  }
}

// A block's raw bytes: uvarint n; n x (uvarint doc gap, uvarint dt, uvarint
// length); the n lines (docs/format/segment.md).
void SegmentWriter::flush_block(std::uint32_t stream) {
  OpenBlock& b = open_blocks_[stream];
  if (b.docs == 0) return;
  ByteWriter raw;
  raw.uvarint(b.docs);
  raw.raw(b.heads.data());
  raw.raw(b.lines);
  BlockIndexEntry e;
  e.raw_bytes = static_cast<std::uint32_t>(raw.size());
  e.stream = stream;
  e.first_doc = b.first_doc;
  e.last_doc = b.last_doc;
  e.doc_count = b.docs;
  e.min_ts = b.min_ts;
  open_bytes_ -= b.heads.size() + b.lines.size();
  b.heads.clear();
  b.lines.clear();
  b.docs = 0;
  if (stream >= stream_dictionary_.size()) {
    stream_dictionary_.resize(stream + 1, kUndecided);
    pending_.resize(stream + 1);
    pending_bytes_.resize(stream + 1, 0);
  }
  if (stream_dictionary_[stream] != kUndecided) {
    compress_and_write(e, raw.data());
    return;
  }
  pending_bytes_[stream] += raw.size();
  pending_total_ += raw.size();
  pending_[stream].emplace_back(e, std::move(raw.data()));
  if (options_.dictionary_bytes == 0 ||
      pending_bytes_[stream] >= options_.dictionary_sample_bytes) {
    train_dictionary({stream});
  } else if (pending_total_ > kMaxPendingBlockBytes) {
    std::vector<std::uint32_t> all;
    for (std::uint32_t s = 0; s < pending_.size(); ++s)
      if (!pending_[s].empty()) all.push_back(s);
    train_dictionary(all);
  }
}

void SegmentWriter::train_dictionary(const std::vector<std::uint32_t>& streams) {
  if (!compressor_) compressor_ = std::make_unique<Compressor>();
  std::size_t bytes = 0;
  for (auto s : streams) bytes += pending_bytes_[s];
  std::uint32_t dict = kNoDictionary;
  if (options_.dictionary_bytes > 0 && bytes >= kMinDictionarySampleBytes) {
    // Samples: the held-back blocks, taken round-robin across the streams
    // up to dictionary_sample_bytes, so every stream is represented.
    std::string samples;
    std::vector<std::size_t> sizes;
    for (std::size_t k = 0; samples.size() < options_.dictionary_sample_bytes; ++k) {
      bool any = false;
      for (auto s : streams) {
        if (k >= pending_[s].size()) continue;
        any = true;
        samples += pending_[s][k].second;
        sizes.push_back(pending_[s][k].second.size());
      }
      if (!any) break;
    }
    std::string d(std::min(options_.dictionary_bytes, samples.size() / 8), '\0');
    ZDICT_fastCover_params_t p{};
    p.k = 200;  // fixed parameters: no search over k and d (fast)
    p.d = 8;
    p.f = 16;  // 6 x 2^16 bytes of counters: trains in ~20 ms
    p.accel = 1;
    p.zParams.compressionLevel = options_.zstd_level;
    const std::size_t n = ZDICT_trainFromBuffer_fastCover(
        d.data(), d.size(), samples.data(), sizes.data(), static_cast<unsigned>(sizes.size()), p);
    if (!ZDICT_isError(n)) {  // else too few or too uniform samples: none
      d.resize(n);
      if (ZSTD_CDict* cd = ZSTD_createCDict(d.data(), d.size(), options_.zstd_level)) {
        dict = static_cast<std::uint32_t>(zstd_dictionaries_.size());
        zstd_dictionaries_.push_back(std::move(d));
        compressor_->cdicts.push_back(cd);
      }
    }
  }
  for (auto s : streams) {
    stream_dictionary_[s] = dict;
    for (const auto& [e, raw] : pending_[s]) compress_and_write(e, raw);
    pending_total_ -= pending_bytes_[s];
    pending_bytes_[s] = 0;
    pending_[s] = {};
  }
}

void SegmentWriter::compress_and_write(BlockIndexEntry e, const std::string& raw) {
  if (!compressor_) compressor_ = std::make_unique<Compressor>();
  const std::uint32_t dict = stream_dictionary_[e.stream];
  std::string compressed(ZSTD_compressBound(raw.size()), '\0');
  const std::size_t n =
      dict < compressor_->cdicts.size()
          ? ZSTD_compress_usingCDict(compressor_->cctx, compressed.data(), compressed.size(),
                                     raw.data(), raw.size(), compressor_->cdicts[dict])
          : ZSTD_compressCCtx(compressor_->cctx, compressed.data(), compressed.size(), raw.data(),
                              raw.size(), options_.zstd_level);
  if (ZSTD_isError(n))
    throw std::runtime_error("segment writer " + tmp_.string() +
                             ": zstd compression failed: " + ZSTD_getErrorName(n));
  compressed.resize(n);
  e.offset = offset_;
  e.compressed_bytes = static_cast<std::uint32_t>(n);
  e.crc = crc32(compressed);
  blocks_.push_back(e);
  lines_crc_ = crc32(compressed, lines_crc_);
  write(compressed);
}

SegmentSummary SegmentWriter::finish() {
  if (finished_) throw std::logic_error("segment writer: finish() twice");
  for (std::uint32_t s = 0; s < open_blocks_.size(); ++s) flush_block(s);
  {  // streams still holding blocks back share one dictionary
    std::vector<std::uint32_t> rest;
    for (std::uint32_t s = 0; s < pending_.size(); ++s)
      if (!pending_[s].empty()) rest.push_back(s);
    if (!rest.empty()) train_dictionary(rest);
  }

  struct Ref {
    std::uint64_t offset, length;
    std::uint32_t crc;
  };
  std::array<Ref, kSectionCount> refs{};
  refs[kSectionLines] = {kSegmentHeaderBytes, offset_ - kSegmentHeaderBytes, lines_crc_};
  auto section = [&](SegmentSection s, const std::string& bytes) {
    refs[s] = {offset_, bytes.size(), crc32(bytes)};
    write(bytes);
  };

  {  // block index, by (stream, first_doc)
    std::sort(blocks_.begin(), blocks_.end(), [](const auto& a, const auto& b) {
      return std::pair(a.stream, a.first_doc) < std::pair(b.stream, b.first_doc);
    });
    ByteWriter w;
    for (const auto& b : blocks_) {
      w.u64(b.offset);
      w.u32(b.compressed_bytes);
      w.u32(b.raw_bytes);
      w.u32(b.stream);
      w.u32(b.first_doc);
      w.u32(b.last_doc);
      w.u32(b.doc_count);
      w.i64(b.min_ts);
      w.u32(b.crc);
    }
    section(kSectionBlockIndex, w.data());
  }
  // Every dictionary entry, its list encoded into postings_ (the section
  // needs no particular order of lists; the dictionary is by key).
  struct DictItem {
    std::string_view key;
    std::uint64_t docs, offset, length;
  };
  std::string label_keys;  // kLabel keys, back to back (label_items point in)
  std::vector<std::pair<std::size_t, std::size_t>> label_ranges;
  std::vector<DictItem> label_items;
  {  // streams, and their label pairs as kLabel terms
    ByteWriter w;
    w.uvarint(streams_.size());
    std::map<std::string, std::vector<std::uint32_t>> label_streams;  // by key
    for (std::uint32_t s = 0; s < streams_.size(); ++s) {
      if (stream_docs_[s].empty())
        throw std::logic_error("segment writer " + tmp_.string() + ": stream " + std::to_string(s) +
                               " was registered but has no docs");
      w.uvarint(streams_[s].size());
      for (const auto& [n, v] : streams_[s].items()) {
        w.str(n);
        w.str(v);
        if (!v.empty()) label_streams[term_key(TermKind::kLabel, n + "=" + v)].push_back(s);
      }
      w.i64(stream_times_[s].first);
      w.i64(stream_times_[s].second);
    }
    section(kSectionStreams, w.data());
    std::vector<std::uint32_t> ids;
    for (const auto& [key, ss] : label_streams) {
      std::span<const std::uint32_t> list;
      if (ss.size() == 1) {
        list = stream_docs_[ss[0]];  // ascending already
      } else {
        ids.clear();
        for (auto s : ss) ids.insert(ids.end(), stream_docs_[s].begin(), stream_docs_[s].end());
        std::sort(ids.begin(), ids.end());
        list = ids;
      }
      const std::size_t at = postings_.size();
      encode_postings(list, postings_);
      label_ranges.emplace_back(label_keys.size(), key.size());
      label_keys += key;
      label_items.push_back({{}, list.size(), at, postings_.size() - at});
    }
    for (std::size_t i = 0; i < label_items.size(); ++i)
      label_items[i].key =
          std::string_view(label_keys).substr(label_ranges[i].first, label_ranges[i].second);
  }
  // kToken and kField entries: from add_sorted_postings() as they are, or
  // from the map (add(), add_postings()) sorted by key now.
  std::vector<DictItem> items;
  if (!encoded_.empty()) {
    items.reserve(encoded_.size());
    for (const auto& t : encoded_)
      items.push_back({std::string_view(encoded_keys_).substr(t.key_begin, t.key_end - t.key_begin),
                       t.docs, t.offset, t.length});
  } else {
    if (terms_unsorted_)
      for (auto& [key, ids] : terms_)
        if (std::adjacent_find(ids.begin(), ids.end(), std::greater_equal<>()) != ids.end()) {
          std::sort(ids.begin(), ids.end());
          ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
        }
    std::vector<const std::pair<const std::string, std::vector<std::uint32_t>>*> sorted;
    sorted.reserve(terms_.size());
    for (const auto& kv : terms_)
      if (!kv.second.empty()) sorted.push_back(&kv);
    std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
    items.reserve(sorted.size());
    for (auto* kv : sorted) {
      const std::size_t at = postings_.size();
      encode_postings(kv->second, postings_);
      items.push_back({kv->first, kv->second.size(), at, postings_.size() - at});
    }
  }
  // kLabel keys sort between kToken and kField ones: one merge by key.
  std::vector<DictItem> dict(items.size() + label_items.size());
  std::merge(items.begin(), items.end(), label_items.begin(), label_items.end(), dict.begin(),
             [](const DictItem& a, const DictItem& b) { return a.key < b.key; });
  section(kSectionPostings, postings_);
  {  // dictionary: u32 count, u32 restarts, restart offsets, front-coded entries
    ByteWriter entries;
    ByteWriter w;
    const auto restarts =
        static_cast<std::uint32_t>((dict.size() + kDictRestartInterval - 1) / kDictRestartInterval);
    w.u32(static_cast<std::uint32_t>(dict.size()));
    w.u32(restarts);
    std::string_view prev;
    for (std::size_t i = 0; i < dict.size(); ++i) {
      std::string_view key = dict[i].key;
      std::size_t shared = 0;
      if (i % kDictRestartInterval == 0) {
        if (entries.size() > std::numeric_limits<std::uint32_t>::max())
          throw std::length_error("segment writer " + tmp_.string() + ": dictionary over 4 GiB");
        w.u32(static_cast<std::uint32_t>(entries.size()));
      } else {
        while (shared < prev.size() && shared < key.size() && prev[shared] == key[shared]) ++shared;
      }
      entries.uvarint(shared);
      entries.str(key.substr(shared));
      entries.uvarint(dict[i].docs);
      entries.uvarint(dict[i].offset);
      entries.uvarint(dict[i].length);
      prev = key;
    }
    w.raw(entries.data());
    section(kSectionDictionary, w.data());
  }
  const auto term_total = static_cast<std::uint32_t>(dict.size());
  {  // dedup: entry hashes, ascending
    sort_keys(dedup_);
    ByteWriter w;
    for (auto k : dedup_) w.u32(k);
    section(kSectionDedup, w.data());
  }
  {  // meta
    ByteWriter w;
    w.uvarint(parents_.size());
    for (auto p : parents_) w.uvarint(p);
    section(kSectionMeta, w.data());
  }
  {  // doc streams: u8 width, the stream of every doc at `width` bits, 8 zero bytes
    const unsigned width =
        streams_.size() <= 1 ? 0u : static_cast<unsigned>(std::bit_width(streams_.size() - 1));
    std::string packed((std::uint64_t{docs_} * width + 7) / 8 + 8, '\0');
    std::uint64_t acc = 0;  // bits not yet stored, from bit `at` on
    unsigned fill = 0;
    std::size_t at = 0;
    for (std::uint32_t s : doc_streams_) {
      acc |= std::uint64_t{s} << fill;
      fill += width;
      while (fill >= 8) {
        packed[at++] = static_cast<char>(acc & 0xff);
        acc >>= 8;
        fill -= 8;
      }
    }
    if (fill > 0) packed[at] = static_cast<char>(acc & 0xff);
    ByteWriter w;
    w.u8(static_cast<std::uint8_t>(width));
    w.raw(packed);
    section(kSectionDocStreams, w.data());
  }
  {  // time index
    ByteWriter w;
    w.u32(kTimeIndexInterval);
    for (auto ts : time_index_) w.i64(ts);
    section(kSectionTimeIndex, w.data());
  }
  {  // zstd dictionaries, and each stream's (0: none, k: dictionary k - 1)
    ByteWriter w;
    w.uvarint(zstd_dictionaries_.size());
    for (const auto& d : zstd_dictionaries_) w.str(d);
    w.uvarint(streams_.size());
    for (std::uint32_t s = 0; s < streams_.size(); ++s) {
      const std::uint32_t d = s < stream_dictionary_.size() ? stream_dictionary_[s] : kNoDictionary;
      w.uvarint(d < zstd_dictionaries_.size() ? d + 1 : 0);
    }
    section(kSectionZstdDictionary, w.data());
  }
  {  // footer
    ByteWriter w;
    for (const auto& r : refs) {
      w.u64(r.offset);
      w.u64(r.length);
      w.u32(r.crc);
    }
    w.u32(docs_);
    w.i64(min_ts_);
    w.i64(max_ts_);
    w.u32(kSegmentVersion);
    w.u32(crc32(w.data()));
    w.raw(kSegmentMagic);
    write(w.data());
  }
  fsync_fd(fd_, tmp_);
  ::close(fd_);
  fd_ = -1;
  durable_rename(tmp_, path_);
  finished_ = true;

  SegmentSummary s;
  s.path = path_;
  s.docs = docs_;
  s.min_ts = min_ts_;
  s.max_ts = max_ts_;
  s.file_bytes = offset_;
  s.blocks = static_cast<std::uint32_t>(blocks_.size());
  s.streams = static_cast<std::uint32_t>(streams_.size());
  s.terms = term_total;
  s.parents = parents_;
  return s;
}

}  // namespace strata::logindex
