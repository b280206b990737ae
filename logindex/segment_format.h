// segment_format: the constants and fixed-size structures of the segment
// file layout (docs/format/segment.md), shared by segment_writer.h (which
// produces it) and segment.h (which reads it). Nothing here does I/O.
//
//   header   magic "STRLSEG\0", u32 version, u32 flags
//   sections lines (zstd blocks, each of one stream's lines), block index,
//            streams, postings, dictionary, dedup, meta, doc streams, time
//            index, zstd dictionary -- in this order
//   footer   per section (u64 offset, u64 length, u32 CRC-32), u32 docs,
//            i64 min ts, i64 max ts, u32 version, u32 CRC-32 of the footer
//            bytes before it, magic "STRLSEG\0"
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace strata::logindex {

inline constexpr std::string_view kSegmentMagic{"STRLSEG\0", 8};
// 2: bit-packed postings blocks, 32-bit dedup keys.
// 3: line blocks hold one stream's lines each (small, with a per-segment
//    zstd dictionary), found through the doc-streams table; a sparse time
//    index replaces the blocks' time order.
// Files of other versions are refused with a message naming the file and
// the version (re-ingest them).
inline constexpr std::uint32_t kSegmentVersion = 3;
inline constexpr std::size_t kSegmentHeaderBytes = 16;

enum SegmentSection : std::size_t {
  kSectionLines = 0,
  kSectionBlockIndex,
  kSectionStreams,
  kSectionPostings,
  kSectionDictionary,
  kSectionDedup,
  kSectionMeta,
  kSectionDocStreams,
  kSectionTimeIndex,
  kSectionZstdDictionary,
  kSectionCount,
};
inline constexpr std::array<std::string_view, kSectionCount> kSectionNames{
    "lines", "block index", "streams",     "postings",   "dictionary",
    "dedup", "meta",        "doc streams", "time index", "zstd dictionary"};

inline constexpr std::size_t kSectionRefBytes = 20;  // u64 offset, u64 length, u32 crc
inline constexpr std::size_t kSegmentFooterBytes =
    kSectionCount * kSectionRefBytes + 4 + 8 + 8 + 4 + 4 + 8;

// One line block's entry in the block index (fixed width, so it is read in
// place from the mapping). A block holds docs of one stream only; the index
// is sorted by (stream, first_doc), and a stream's blocks cover disjoint,
// ascending doc ranges.
inline constexpr std::size_t kBlockIndexEntryBytes = 44;
struct BlockIndexEntry {
  std::uint64_t offset = 0;  // of the zstd frame, from the start of the file
  std::uint32_t compressed_bytes = 0;
  std::uint32_t raw_bytes = 0;
  std::uint32_t stream = 0;     // index into the stream table
  std::uint32_t first_doc = 0;  // the block's docs: doc_count ids within
  std::uint32_t last_doc = 0;   // [first_doc, last_doc], both held
  std::uint32_t doc_count = 0;
  std::int64_t min_ts = 0;  // the first doc's time (docs ascend in time)
  std::uint32_t crc = 0;    // CRC-32 of the compressed bytes
};

// The time index holds the timestamp of every kTimeIndexInterval-th doc,
// so a time range maps to doc ids to within this many docs.
inline constexpr std::uint32_t kTimeIndexInterval = 128;

// u32: the high half of entry_hash, ascending. A hit is confirmed against
// the line, so a shorter key costs only rare false hits, and 4 bytes a line.
inline constexpr std::size_t kDedupEntryBytes = 4;
inline std::uint32_t dedup_key(std::uint64_t entry_hash) {
  return static_cast<std::uint32_t>(entry_hash >> 32);
}

// The dictionary stores each key as (shared prefix length with the previous
// key, rest); every kDictRestartInterval-th key is stored whole and listed
// in the restart table, which a lookup binary-searches (LevelDB's scheme).
inline constexpr std::uint32_t kDictRestartInterval = 16;

}  // namespace strata::logindex
