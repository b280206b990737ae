// SegmentWriter: builds one immutable on-disk segment (format:
// docs/format/segment.md) from log entries handed to it in timestamp order
// -- the head being flushed, or the segments being merged.
//
// Streaming: lines are cut into blocks of about `block_bytes` raw bytes,
// each zstd-compressed and written out as soon as it is full, so the writer
// holds one block of text plus the index being built (postings, dedup
// hashes, streams), never every line.
//
// Durability: everything goes to "<path>.tmp"; finish() writes the index
// sections and the footer, fsyncs, renames to <path> and fsyncs the
// directory. A crash before that leaves only a .tmp file, which the store
// deletes on open; a finished segment is complete or absent.
//
// Ownership/thread-safety: one thread drives a writer; the destructor of an
// unfinished writer deletes its temp file. Errors are std::system_error or
// std::runtime_error naming the file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/byte_codec.h"
#include "common/labels.h"
#include "logindex/segment_format.h"

namespace strata::logindex {

struct SegmentWriterOptions {
  std::size_t block_bytes = 256u << 10;
  int zstd_level = 3;
};

// What a finished segment holds (also what Segment::open reports).
struct SegmentSummary {
  std::filesystem::path path;
  std::uint32_t docs = 0;
  std::int64_t min_ts = 0;
  std::int64_t max_ts = 0;
  std::uint64_t file_bytes = 0;
  std::uint32_t blocks = 0;
  std::uint32_t streams = 0;
  std::uint32_t terms = 0;
  std::vector<std::uint64_t> parents;  // sequence numbers a merge replaced
};

class SegmentWriter {
 public:
  SegmentWriter(std::filesystem::path path, SegmentWriterOptions options = {});
  ~SegmentWriter();
  SegmentWriter(const SegmentWriter&) = delete;
  SegmentWriter& operator=(const SegmentWriter&) = delete;

  // Entries must come in non-decreasing timestamp order (std::logic_error
  // otherwise); they get doc ids 0, 1, 2, ... in that order.
  void add(const Labels& stream, std::int64_t timestamp_ns, std::string_view line);
  // Sequence numbers of the segments this one replaces (a merge), so that a
  // crash between writing it and deleting them is repaired on open.
  void set_parents(std::vector<std::uint64_t> parents) { parents_ = std::move(parents); }
  // Hook for the line parser: extra kField terms ("name=value") of the
  // entry added last.
  void add_field_term(std::string_view name_equals_value);

  // The fast path of a flush or a merge, whose input already has posting
  // lists: entries go in with add_untokenized() (same order rule as add()),
  // then their kToken/kField lists with add_postings(), so no line is
  // tokenized or parsed again. kLabel lists are always derived from the
  // streams in finish() and are refused here.
  void add_untokenized(const Labels& stream, std::int64_t timestamp_ns, std::string_view line);
  // `key` is term_key(); `ids` are doc ids of this writer (< docs()). A
  // term may receive several calls; finish() sorts and deduplicates.
  void add_postings(std::string_view key, std::span<const std::uint32_t> ids);

  std::uint32_t docs() const { return docs_; }
  // Writes the index and the footer, makes the file durable and renames it
  // into place. The writer is spent afterwards.
  SegmentSummary finish();

 private:
  void flush_block();
  void write(std::string_view bytes);

  std::filesystem::path path_;
  std::filesystem::path tmp_;
  SegmentWriterOptions options_;
  int fd_ = -1;
  std::uint64_t offset_ = 0;
  std::uint32_t lines_crc_ = 0;
  bool finished_ = false;

  // The open block.
  ByteWriter block_heads_;
  std::string block_lines_;
  std::uint32_t block_docs_ = 0;
  std::int64_t block_min_ts_ = 0;
  std::int64_t block_max_ts_ = 0;
  std::vector<BlockIndexEntry> blocks_;

  std::uint32_t docs_ = 0;
  std::int64_t min_ts_ = 0;
  std::int64_t max_ts_ = 0;
  std::vector<Labels> streams_;
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> streams_by_fp_;
  std::vector<std::vector<std::uint32_t>> stream_docs_;
  std::vector<std::pair<std::int64_t, std::int64_t>> stream_times_;  // per stream: min, max ts
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // key (kind + text) -> docs
  std::unordered_map<std::string, std::vector<std::uint32_t>, StringHash, std::equal_to<>> terms_;
  bool terms_unsorted_ = false;       // add_postings() appended out of order
  std::vector<std::uint32_t> dedup_;  // dedup_key() of every doc
  std::vector<std::uint64_t> parents_;
};

}  // namespace strata::logindex
