// Segment: one immutable, memory-mapped on-disk segment of the log store
// (written by segment_writer.h; format: docs/format/segment.md).
//
// What it holds: every line of a flushed head (or of merged segments), docs
// numbered 0..n-1 in timestamp order, in small zstd-compressed blocks
// (~4 KiB raw, compressed with their stream's zstd dictionary) that
// each hold lines of one stream only, found through a bit-packed table of
// every doc's stream; a sparse time index (the time of every 128th doc); a
// sorted term dictionary (tokens, stream label pairs, extracted fields)
// pointing at compressed posting lists; the stream table; a dedup table of
// entry hashes; a footer with the format version, section offsets and
// CRC-32s. So a rare hit decompresses a few KiB, and the candidates of a
// phrase, which sit in few streams, decompress only those streams' blocks.
//
// Damage. open() verifies the header, the footer and the CRC of every
// section (the line blocks included) and the consistency of the block
// index, so a bit flip or a truncated file is caught before the segment is
// served; the SegmentError names the file, the section and the offset.
// Each block's own CRC is checked again when it is decompressed, so damage
// that appears later (a disk going bad under the mapping) is reported by
// the read that meets it, as a SegmentError naming file and block.
//
// Thread-safety: immutable after open(); every method may run concurrently.
// Decompressed blocks are not cached across calls (a DocReader keeps the
// block it read last of each stream). Postings iterators and
// DocReaders borrow the mapping: keep the shared_ptr<const Segment> alive
// while using them (the mapping outlives an unlink of the file).
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/byte_codec.h"
#include "common/file.h"
#include "common/labels.h"
#include "logindex/postings.h"
#include "logindex/query.h"
#include "logindex/segment_format.h"
#include "logindex/segment_writer.h"

struct ZSTD_DDict_s;

namespace strata::logindex {

class SegmentError : public std::runtime_error {
 public:
  SegmentError(const std::filesystem::path& file, const std::string& what)
      : std::runtime_error("segment " + file.string() + ": " + what), file_(file) {}
  const std::filesystem::path& file() const { return file_; }

 private:
  std::filesystem::path file_;
};

// One decoded document.
struct SegmentDoc {
  std::uint32_t stream = 0;  // index into Segment::streams()
  std::int64_t timestamp_ns = 0;
  std::string_view line;  // valid until the next DocReader::get()
};

class Segment;

// Reads documents. It keeps the block it read last of each stream, so
// reading docs in ascending order decompresses each block once although
// the streams' blocks interleave in doc order. Single-threaded; cheap to
// create.
class DocReader {
 public:
  explicit DocReader(const Segment& segment) : segment_(segment) {}
  // Throws SegmentError when the block is damaged.
  SegmentDoc get(DocId doc);

 private:
  struct Loaded {
    std::size_t block = static_cast<std::size_t>(-1);
    DocId first = 0, last = 0;
    std::string raw;
    std::vector<DocId> docs;
    std::vector<std::int64_t> ts;
    std::vector<std::uint32_t> begin;  // line i is raw[begin[i], begin[i + 1])
    std::size_t cursor = 0;            // index of the doc read last
  };
  void load(Loaded& slot, std::size_t block);
  const Segment& segment_;
  std::vector<Loaded> streams_;  // by stream
};

class Segment {
 public:
  // Maps and verifies the file (see "Damage" above). Throws SegmentError.
  static std::shared_ptr<const Segment> open(const std::filesystem::path& path);

  const SegmentSummary& summary() const { return summary_; }
  const std::filesystem::path& path() const { return summary_.path; }
  std::uint32_t doc_count() const { return summary_.docs; }
  const std::vector<Labels>& streams() const { return streams_; }

  // ---- postings primitives (for query evaluators) ----
  // The posting list of a term; empty when the segment lacks it.
  std::unique_ptr<PostingsIterator> postings(TermKind kind, std::string_view text) const;
  // How many docs hold the term (0 when absent) without decoding its list.
  std::uint32_t doc_frequency(TermKind kind, std::string_view text) const;
  // Terms of `kind` starting with `prefix`, ascending, at most `limit`
  // (for `term*` queries: unite their postings).
  std::vector<std::string> terms_with_prefix(TermKind kind, std::string_view prefix,
                                             std::size_t limit) const;
  // Every posting list, in key order: fn(term_key(), ids ascending). For
  // merges, which renumber and concatenate lists instead of re-tokenizing.
  void for_each_posting_list(
      const std::function<void(std::string_view key, std::span<const DocId> ids)>& fn) const;
  // The docs [first, last) that may hold timestamps in [start_ns, end_ns]
  // (by the time index; docs are in time order). Docs in the first and
  // last time chunk of the range still need their own check.
  std::pair<DocId, DocId> doc_range(std::int64_t start_ns, std::int64_t end_ns) const;

  // ---- time chunks: the docs [first_doc, end_doc) of chunk c (c * interval
  // on) have times within [min_ts, max_ts]; an evaluator whose answer is
  // exact counts whole chunks from this without reading them ----
  struct TimeChunk {
    DocId first_doc = 0, end_doc = 0;
    std::int64_t min_ts = 0, max_ts = 0;
  };
  std::size_t time_chunk_count() const { return time_chunks_; }
  std::size_t time_chunk_of(DocId doc) const { return doc / time_interval_; }
  TimeChunk time_chunk(std::size_t c) const;

  // ---- block layout: a block holds docs of one stream ----
  std::size_t block_count() const { return block_index_.size() / kBlockIndexEntryBytes; }
  BlockIndexEntry block(std::size_t b) const;
  std::uint32_t doc_stream(DocId doc) const {
    if (doc_stream_width_ == 0) return 0;
    const std::uint64_t bit = std::uint64_t{doc} * doc_stream_width_;
    return static_cast<std::uint32_t>((load_u64(doc_streams_ + bit / 8) >> (bit % 8)) &
                                      doc_stream_mask_);
  }
  // The block holding `doc` (throws SegmentError when none does).
  std::size_t block_of(DocId doc) const { return block_of(doc_stream(doc), doc); }
  std::size_t block_of(std::uint32_t stream, DocId doc) const;

  // ---- whole searches ----
  SearchResult search(const SearchQuery& query) const;
  // False when the segment holds no entry of `stream` with a time in
  // [min_ts, max_ts] (by the stream's time range in this segment): the
  // common case of a stream's new lines, which need no dedup lookup.
  bool may_hold(const Labels& stream, std::int64_t min_ts, std::int64_t max_ts) const;
  // True when the segment holds this exact entry (`hash` is entry_hash()).
  // `reader`, a DocReader of this segment, is reused across calls when given,
  // so checking a run of replayed entries decompresses each block once.
  bool contains(const Labels& stream, std::uint64_t hash, std::int64_t timestamp_ns,
                std::string_view line, DocReader* reader = nullptr) const;

  // Blocks decompressed by this segment so far (tests check time pruning).
  std::uint64_t blocks_decompressed() const { return blocks_decompressed_.load(); }

 private:
  friend class DocReader;
  Segment() = default;
  void verify_and_load();
  // The dictionary (front-coded, see segment_format.h).
  struct DictEntry {
    std::string key;
    std::uint64_t docs = 0, offset = 0, length = 0;
  };
  std::string_view restart_key(std::uint32_t restart) const;
  // The last restart whose key is <= `key` (0 when none is).
  std::uint32_t restart_for(std::string_view key) const;
  // Calls fn(const DictEntry&) for the entries from restart `restart` on, in
  // key order, until fn returns false or the dictionary ends.
  template <typename Fn>
  void scan_dictionary(std::uint32_t restart, Fn&& fn) const;
  std::optional<DictEntry> find(TermKind kind, std::string_view text) const;
  [[noreturn]] void fail(const std::string& what) const { throw SegmentError(summary_.path, what); }

  std::shared_ptr<const MappedFile> file_;
  SegmentSummary summary_;
  std::vector<Labels> streams_;
  std::vector<std::pair<std::int64_t, std::int64_t>> stream_times_;  // per stream: min, max ts
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> streams_by_fp_;
  std::span<const std::uint8_t> block_index_;
  std::span<const std::uint8_t> postings_;
  std::span<const std::uint8_t> dictionary_;
  std::uint32_t term_count_ = 0;
  std::uint32_t restart_count_ = 0;
  const std::uint8_t* restarts_ = nullptr;  // restart_count_ x u32
  std::span<const std::uint8_t> dict_entries_;
  std::span<const std::uint8_t> dedup_;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> stream_blocks_;  // [begin, end) per stream
  const std::uint8_t* doc_streams_ = nullptr;  // bit-packed, 8 bytes of padding
  unsigned doc_stream_width_ = 0;
  std::uint64_t doc_stream_mask_ = 0;
  const std::uint8_t* time_index_ = nullptr;  // time_chunks_ x i64
  std::size_t time_chunks_ = 0;
  std::uint32_t time_interval_ = kTimeIndexInterval;
  struct DDictFree {
    void operator()(ZSTD_DDict_s* d) const;
  };
  std::vector<std::unique_ptr<ZSTD_DDict_s, DDictFree>> zstd_dictionaries_;
  std::vector<const ZSTD_DDict_s*> stream_dictionary_;  // per stream; null: none
  mutable std::atomic<std::uint64_t> blocks_decompressed_{0};
};

}  // namespace strata::logindex
