// Block index: the label index of one immutable block -- a symbol table,
// one entry per series (its labels as symbol numbers and the metas of its
// chunks), one postings list per label pair and an offset table to find
// them. Format: docs/format/index.md.
//
// Writing: build_index() takes the block's series already sorted by labels
// and returns the file's bytes. Reading: IndexReader parses a memory-mapped
// file, verifying the table of contents, every section and every entry's
// CRC up front, so a corrupt index is refused whole at open (FormatError
// with the offset) instead of failing half-way through a query. Series refs
// are the byte offsets of series entries, so a postings hit needs no second
// lookup.
//
// Thread-safety: an IndexReader is immutable after open(); all const
// methods may be called concurrently. It does not own the mapped bytes: the
// Block that holds it does.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/labels.h"
#include "tsdb/chunk_ref.h"
#include "tsdb/postings.h"

namespace strata::tsdb {

inline constexpr std::uint32_t kIndexMagic = 0x58495453;  // "STIX" little-endian
// Version 2 added ChunkMeta::ts_offset; version 1 files are still read.
inline constexpr std::uint8_t kIndexVersion = 2;

struct ChunkMeta {
  std::int64_t mint = 0;
  std::int64_t maxt = 0;
  Aggr aggr = Aggr::kRaw;
  std::uint64_t offset = 0;  // of the chunk's entry in the chunks file
  // Of the timestamp column's entry for a kSharedTimestamps chunk, else 0.
  std::uint64_t ts_offset = 0;
};

struct IndexSeries {
  Labels labels;
  std::vector<ChunkMeta> chunks;  // sorted by (aggr, mint)
};

// `series` must be sorted by labels with no duplicates (std::invalid_argument
// otherwise).
std::string build_index(const std::vector<IndexSeries>& series);

class IndexReader : public PostingsReader {
 public:
  // Throws FormatError (offset within the file) on any inconsistency.
  explicit IndexReader(std::span<const std::uint8_t> file);

  IndexSeries series(std::uint64_t ref) const;
  std::size_t series_count() const { return series_count_; }
  std::vector<std::string> label_names() const;
  std::vector<std::string> label_values(std::string_view name) const;

  std::vector<std::uint64_t> postings(std::string_view name, std::string_view value) const override;
  bool for_each_value(
      std::string_view name,
      const std::function<void(std::string_view, const std::vector<std::uint64_t>&)>& fn)
      const override;
  std::vector<std::uint64_t> all_postings() const override;

 private:
  std::vector<std::uint64_t> read_postings(std::uint64_t offset) const;

  std::span<const std::uint8_t> file_;
  std::uint8_t version_ = kIndexVersion;
  std::vector<std::string_view> symbols_;
  // name -> (value, offset of its postings list), values sorted.
  std::map<std::string_view, std::vector<std::pair<std::string_view, std::uint64_t>>, std::less<>>
      postings_table_;
  std::uint64_t all_postings_offset_ = 0;
  std::size_t series_count_ = 0;
};

}  // namespace strata::tsdb
