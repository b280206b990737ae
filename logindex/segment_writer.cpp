#include "logindex/segment_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <zstd.h>
#include <algorithm>
#include <functional>
#include <stdexcept>

#include "common/file.h"
#include "logindex/entry_hash.h"
#include "logindex/postings.h"
#include "logindex/tokenizer.h"

namespace strata::logindex {

namespace fs = std::filesystem;

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

void SegmentWriter::add_untokenized(const Labels& stream, std::int64_t ts, std::string_view line) {
  if (finished_) throw std::logic_error("segment writer: add() after finish()");
  if (docs_ > 0 && ts < max_ts_)
    throw std::logic_error("segment writer " + tmp_.string() +
                           ": entries must come in timestamp order");
  if (docs_ == std::numeric_limits<std::uint32_t>::max() - 1)
    throw std::length_error("segment writer " + tmp_.string() + ": too many entries");
  const std::uint64_t fp = stream.fingerprint();
  std::uint32_t sid = 0;
  bool found = false;
  auto& same = streams_by_fp_[fp];
  for (auto id : same)
    if (streams_[id] == stream) {
      sid = id;
      found = true;
      break;
    }
  if (!found) {
    sid = static_cast<std::uint32_t>(streams_.size());
    streams_.push_back(stream);
    stream_docs_.emplace_back();
    stream_times_.emplace_back(ts, ts);
    same.push_back(sid);
  }
  const std::uint32_t doc = docs_++;
  if (doc == 0) min_ts_ = ts;
  max_ts_ = ts;
  stream_docs_[sid].push_back(doc);
  stream_times_[sid].second = ts;  // docs come in time order
  dedup_.push_back(dedup_key(entry_hash(fp, ts, line)));

  if (block_docs_ == 0) {
    block_min_ts_ = ts;
    block_max_ts_ = ts;
  }
  block_heads_.uvarint(sid);
  block_heads_.uvarint(static_cast<std::uint64_t>(ts) - static_cast<std::uint64_t>(block_max_ts_));
  block_heads_.uvarint(line.size());
  block_lines_ += line;
  block_max_ts_ = ts;
  ++block_docs_;
  if (block_heads_.size() + block_lines_.size() >= options_.block_bytes) flush_block();
}

void SegmentWriter::add_field_term(std::string_view name_equals_value) {
  if (docs_ == 0) throw std::logic_error("segment writer: add_field_term() before add()");
  auto& ids = terms_[term_key(TermKind::kField, name_equals_value)];
  if (ids.empty() || ids.back() != docs_ - 1) ids.push_back(docs_ - 1);
}

void SegmentWriter::flush_block() {
  if (block_docs_ == 0) return;
  ByteWriter raw;
  raw.uvarint(block_docs_);
  raw.raw(block_heads_.data());
  raw.raw(block_lines_);
  std::string compressed(ZSTD_compressBound(raw.size()), '\0');
  std::size_t n = ZSTD_compress(compressed.data(), compressed.size(), raw.data().data(), raw.size(),
                                options_.zstd_level);
  if (ZSTD_isError(n))
    throw std::runtime_error("segment writer " + tmp_.string() +
                             ": zstd compression failed: " + ZSTD_getErrorName(n));
  compressed.resize(n);
  BlockIndexEntry e;
  e.offset = offset_;
  e.compressed_bytes = static_cast<std::uint32_t>(n);
  e.raw_bytes = static_cast<std::uint32_t>(raw.size());
  e.first_doc = docs_ - block_docs_;
  e.doc_count = block_docs_;
  e.min_ts = block_min_ts_;
  e.max_ts = block_max_ts_;
  e.crc = crc32(compressed);
  blocks_.push_back(e);
  lines_crc_ = crc32(compressed, lines_crc_);
  write(compressed);
  block_heads_.clear();
  block_lines_.clear();
  block_docs_ = 0;
}

SegmentSummary SegmentWriter::finish() {
  if (finished_) throw std::logic_error("segment writer: finish() twice");
  flush_block();

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

  {  // block index
    ByteWriter w;
    for (const auto& b : blocks_) {
      w.u64(b.offset);
      w.u32(b.compressed_bytes);
      w.u32(b.raw_bytes);
      w.u32(b.first_doc);
      w.u32(b.doc_count);
      w.i64(b.min_ts);
      w.i64(b.max_ts);
      w.u32(b.crc);
    }
    section(kSectionBlockIndex, w.data());
  }
  {  // streams, and their label pairs as kLabel terms
    ByteWriter w;
    w.uvarint(streams_.size());
    std::unordered_map<std::string, std::vector<std::uint32_t>> label_streams;
    for (std::uint32_t s = 0; s < streams_.size(); ++s) {
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
    for (auto& [key, ss] : label_streams) {
      std::vector<std::uint32_t> ids;
      for (auto s : ss) ids.insert(ids.end(), stream_docs_[s].begin(), stream_docs_[s].end());
      std::sort(ids.begin(), ids.end());
      terms_[key] = std::move(ids);
    }
  }
  if (terms_unsorted_)
    for (auto& [key, ids] : terms_)
      if (std::adjacent_find(ids.begin(), ids.end(), std::greater_equal<>()) != ids.end()) {
        std::sort(ids.begin(), ids.end());
        ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
      }
  std::vector<const std::pair<const std::string, std::vector<std::uint32_t>>*> sorted;
  sorted.reserve(terms_.size());
  for (const auto& kv : terms_) sorted.push_back(&kv);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
  std::vector<std::pair<std::uint64_t, std::uint64_t>> where;  // postings (offset, length)
  {                                                            // postings
    std::string out;
    for (auto* kv : sorted) {
      auto at = out.size();
      encode_postings(kv->second, out);
      where.emplace_back(at, out.size() - at);
    }
    section(kSectionPostings, out);
  }
  {  // dictionary: u32 count, u32 restarts, restart offsets, front-coded entries
    ByteWriter entries;
    ByteWriter w;
    const auto restarts = static_cast<std::uint32_t>((sorted.size() + kDictRestartInterval - 1) /
                                                     kDictRestartInterval);
    w.u32(static_cast<std::uint32_t>(sorted.size()));
    w.u32(restarts);
    std::string_view prev;
    for (std::size_t i = 0; i < sorted.size(); ++i) {
      std::string_view key = sorted[i]->first;
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
      entries.uvarint(sorted[i]->second.size());
      entries.uvarint(where[i].first);
      entries.uvarint(where[i].second);
      prev = key;
    }
    w.raw(entries.data());
    section(kSectionDictionary, w.data());
  }
  {  // dedup: entry hashes, ascending
    std::sort(dedup_.begin(), dedup_.end());
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
  s.terms = static_cast<std::uint32_t>(terms_.size());
  s.parents = parents_;
  return s;
}

}  // namespace strata::logindex
