// Block: an immutable, memory-mapped directory holding every series' data
// for one time range [min_time, max_time) at one resolution (raw, 5 m or
// 1 h). Blocks are what the head is cut into every block range (2 h by
// default), what compaction merges and downsampling produces, and the unit
// retention deletes. Format: docs/format/block.md and docs/format/index.md.
//
//   <id>/meta.json  version, id, time range, resolution, stats, lineage
//   <id>/chunks     the encoded chunks, each length-prefixed and CRC'd, and
//                   the timestamp columns they share (chunk_encoding.h)
//   <id>/index      symbols, series (labels + chunk metas), postings
//
// Writing is atomic: write_block() fills <id>.tmp/ and renames it, so a
// directory without the suffix is always complete. Opening verifies the
// index completely and every chunk's CRC: a block whose index or meta is
// damaged is refused (BlockError naming file and offset; the store skips
// it and serves the rest), a damaged chunk is reported and skipped while
// the rest of the block is served.
//
// Thread-safety: immutable after open(); every const method may be called
// concurrently. Queries hold a shared_ptr<Block> so a block compaction
// deletes stays mapped until they finish.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/file.h"
#include "common/labels.h"
#include "common/wire_format.h"
#include "tsdb/chunk_ref.h"
#include "tsdb/index.h"
#include "tsdb/label_matcher.h"

namespace strata::tsdb {

inline constexpr int kBlockMetaVersion = 1;
inline constexpr std::uint32_t kChunksMagic = 0x48435453;  // "STCH" little-endian
inline constexpr std::uint8_t kChunksVersion = 1;

struct BlockMeta {
  std::string id;               // time-sortable: <min_time>-<resolution>-<random>
  std::int64_t min_time = 0;    // inclusive, ms
  std::int64_t max_time = 0;    // exclusive, ms
  std::int64_t resolution = 0;  // 0 raw, else the downsampling window in ms
  std::uint64_t num_series = 0;
  std::uint64_t num_chunks = 0;
  std::uint64_t num_samples = 0;
  int level = 1;                     // 1 = cut from the head; +1 per compaction
  std::vector<std::string> parents;  // blocks this one replaces
  std::string to_json() const;
  // Throws BlockError naming `path`.
  static BlockMeta parse(std::string_view json, const std::string& path);
};

class BlockError : public std::runtime_error {
 public:
  BlockError(const std::string& file, std::uint64_t offset, const std::string& reason)
      : std::runtime_error(file + " at offset " + std::to_string(offset) + ": " + reason),
        file_(file),
        offset_(offset) {}
  const std::string& file() const { return file_; }
  std::uint64_t offset() const { return offset_; }

 private:
  std::string file_;
  std::uint64_t offset_;
};

struct EncodedChunk {
  std::int64_t mint = 0;
  std::int64_t maxt = 0;
  Aggr aggr = Aggr::kRaw;
  std::uint32_t samples = 0;
  std::vector<std::uint8_t> bytes;  // standalone: encode_chunk()
  // Optional shared-timestamps form of the same samples (encode_values_chunk
  // and encode_timestamps_chunk). write_block stores it instead of `bytes`
  // when another chunk of the block has the same timestamp column, and
  // writes that column once.
  std::vector<std::uint8_t> values;
  std::vector<std::uint8_t> timestamps;
};

// Fills `c` with both forms of `samples` (at least 1, sorted): what
// write_block needs to share timestamp columns.
EncodedChunk encode_for_block(std::span<const wire::Sample> samples, Aggr aggr);

struct BlockSeriesInput {
  Labels labels;
  std::vector<EncodedChunk> chunks;
};

// A new unique, time-sortable block id.
std::string new_block_id(std::int64_t min_time, std::int64_t resolution);

// Writes a block under `blocks_dir` (series in any order; series without
// chunks are skipped). Fills meta.id/num_*; returns the block's directory.
std::filesystem::path write_block(const std::filesystem::path& blocks_dir, BlockMeta& meta,
                                  std::vector<BlockSeriesInput> series);

struct BlockSeriesData {
  Labels labels;
  std::vector<ChunkRef> chunks;
};

class Block : public std::enable_shared_from_this<Block> {
 public:
  // Throws BlockError (meta, index) naming the file and offset.
  static std::shared_ptr<Block> open(const std::filesystem::path& dir);

  const BlockMeta& meta() const { return meta_; }
  const std::filesystem::path& dir() const { return dir_; }
  const IndexReader& index() const { return *index_; }
  // Chunks whose CRC failed at open, as "file at offset N: reason".
  const std::vector<std::string>& corrupt_chunks() const { return corrupt_report_; }

  // Series matching every matcher with chunks overlapping [mint, maxt]
  // (aggregates `aggrs` only; raw blocks hold Aggr::kRaw). Corrupt chunks
  // are left out.
  std::vector<BlockSeriesData> select(const std::vector<LabelMatcher>& matchers, std::int64_t mint,
                                      std::int64_t maxt,
                                      const std::set<Aggr>& aggrs = {Aggr::kRaw}) const;
  // One chunk's bytes (no copy: they point into the map).
  ChunkRef chunk(const ChunkMeta& meta) const;

  std::uint64_t chunks_file_bytes() const { return chunks_->data().size(); }
  std::uint64_t total_bytes() const;

 private:
  Block() = default;
  std::filesystem::path dir_;
  BlockMeta meta_;
  std::shared_ptr<const MappedFile> chunks_;
  std::shared_ptr<const MappedFile> index_file_;
  std::unique_ptr<IndexReader> index_;
  std::set<std::uint64_t> corrupt_;  // chunk entry offsets that failed their CRC
  std::vector<std::string> corrupt_report_;
};

}  // namespace strata::tsdb
