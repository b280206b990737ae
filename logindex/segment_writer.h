// SegmentWriter: builds one immutable on-disk segment (format:
// docs/format/segment.md) from log entries handed to it in timestamp order
// -- the head being flushed, or the segments being merged.
//
// Streaming: each stream's lines are cut into blocks of about `block_bytes`
// raw bytes (a block holds one stream's lines), each zstd-compressed and
// written out as soon as it is full, so the writer holds one open block per
// stream (all of them flushed early should they exceed kMaxOpenBlockBytes)
// plus the index being built (postings, dedup hashes, streams), never every
// line. Each stream's first `dictionary_sample_bytes` of closed blocks are
// held back to train that stream's zstd dictionary (ZDICT), which its
// blocks are then compressed with: small blocks keep a rare hit cheap to
// read without losing the compression of large ones.
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
#include <memory>
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
  std::size_t block_bytes = 4u << 10;  // raw bytes of one stream's lines per block
  int zstd_level = 3;
  // zstd dictionaries: each stream's blocks are held back until the stream
  // has dictionary_sample_bytes of them, which train its own dictionary of
  // at most dictionary_bytes (0: no dictionaries). Streams with less share
  // one trained on all of them at finish() (or when the held-back blocks
  // exceed kMaxPendingBlockBytes); below kMinDictionarySampleBytes: none.
  std::size_t dictionary_bytes = 64u << 10;
  std::size_t dictionary_sample_bytes = 512u << 10;
};

// Open blocks of all streams together beyond this are all flushed (bounds
// the writer's memory when a segment holds very many streams).
inline constexpr std::size_t kMaxOpenBlockBytes = 64u << 20;
inline constexpr std::size_t kMaxPendingBlockBytes = 32u << 20;
inline constexpr std::size_t kMinDictionarySampleBytes = 64u << 10;

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
  // then their kToken/kField lists with add_postings() or
  // add_sorted_postings(), so no line is tokenized or parsed again. kLabel
  // lists are always derived from the streams in finish() and are refused
  // here.
  void add_untokenized(const Labels& stream, std::int64_t timestamp_ns, std::string_view line);
  // The same with the stream looked up once: add_stream() returns the
  // writer's id of the stream (equal labels, equal id), to pass to the
  // add_untokenized() overload below for every doc of that stream. Register
  // a stream only right before adding its first doc (a stream without docs
  // makes finish() throw std::logic_error).
  std::uint32_t add_stream(const Labels& stream);
  void add_untokenized(std::uint32_t stream, std::int64_t timestamp_ns, std::string_view line);
  // `key` is term_key(); `ids` are doc ids of this writer (< docs()). A
  // term may receive several calls; finish() sorts and deduplicates.
  void add_postings(std::string_view key, std::span<const std::uint32_t> ids);
  // The cheapest way in: each kToken/kField list whole, keys strictly
  // ascending across calls, `ids` ascending without repeats. The list is
  // encoded at once and nothing is hashed or sorted for it at finish().
  // A writer takes either this or add()/add_postings()/add_field_term(),
  // not both (std::logic_error), and so does an out-of-order key.
  void add_sorted_postings(std::string_view key, std::span<const std::uint32_t> ids);

  std::uint32_t docs() const { return docs_; }
  // Writes the index and the footer, makes the file durable and renames it
  // into place. The writer is spent afterwards.
  SegmentSummary finish();

 private:
  // Line blocks: the open block of each stream, cut at block_bytes.
  void add_to_block(std::uint32_t stream, std::uint32_t doc, std::int64_t ts,
                    std::string_view line);
  void flush_block(std::uint32_t stream);
  void compress_and_write(BlockIndexEntry e, const std::string& raw);
  // Trains one dictionary on the held-back blocks of `streams`, assigns it
  // to them (or none, when too few samples) and writes their blocks.
  void train_dictionary(const std::vector<std::uint32_t>& streams);
  void write(std::string_view bytes);

  std::filesystem::path path_;
  std::filesystem::path tmp_;
  SegmentWriterOptions options_;
  int fd_ = -1;
  std::uint64_t offset_ = 0;
  std::uint32_t lines_crc_ = 0;
  bool finished_ = false;

  // The open blocks, indexed by stream.
  struct OpenBlock {
    ByteWriter heads;  // (doc gap, dt, length) per doc
    std::string lines;
    std::uint32_t docs = 0;
    std::uint32_t first_doc = 0;
    std::uint32_t last_doc = 0;
    std::int64_t min_ts = 0;
    std::int64_t last_ts = 0;
  };
  std::vector<OpenBlock> open_blocks_;
  std::size_t open_bytes_ = 0;
  // Per stream: closed raw blocks waiting for its dictionary, and which
  // dictionary it uses (kUndecided until trained, kNoDictionary for none).
  static constexpr std::uint32_t kUndecided = 0xffffffff, kNoDictionary = 0xfffffffe;
  std::vector<std::vector<std::pair<BlockIndexEntry, std::string>>> pending_;
  std::vector<std::size_t> pending_bytes_;
  std::size_t pending_total_ = 0;
  std::vector<std::uint32_t> stream_dictionary_;
  std::vector<std::string> zstd_dictionaries_;
  struct Compressor;  // zstd context and the digested dictionaries
  std::unique_ptr<Compressor> compressor_;
  std::vector<BlockIndexEntry> blocks_;     // in write order; sorted at finish()
  std::vector<std::uint32_t> doc_streams_;  // stream of every doc
  std::vector<std::int64_t> time_index_;    // ts of every kTimeIndexInterval-th doc

  std::uint32_t docs_ = 0;
  std::int64_t min_ts_ = 0;
  std::int64_t max_ts_ = 0;
  std::vector<Labels> streams_;
  std::vector<std::uint64_t> stream_fps_;  // fingerprint() of each stream
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> streams_by_fp_;
  std::vector<std::vector<std::uint32_t>> stream_docs_;
  std::vector<std::pair<std::int64_t, std::int64_t>> stream_times_;  // per stream: min, max ts
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // key (kind + text) -> docs
  std::unordered_map<std::string, std::vector<std::uint32_t>, StringHash, std::equal_to<>> terms_;
  bool terms_unsorted_ = false;  // add_postings() appended out of order
  // A dictionary entry whose list is already encoded into postings_.
  struct EncodedTerm {
    std::size_t key_begin, key_end;  // in encoded_keys_
    std::uint64_t docs, offset, length;
  };
  std::string encoded_keys_;          // add_sorted_postings() keys, back to back
  std::vector<EncodedTerm> encoded_;  // ascending key
  std::string postings_;              // the postings section being built
  std::vector<std::uint32_t> dedup_;  // dedup_key() of every doc
  std::vector<std::uint64_t> parents_;
};

}  // namespace strata::logindex
