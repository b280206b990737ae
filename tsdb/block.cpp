#include "tsdb/block.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <map>
#include <random>
#include <unordered_map>

#include "common/byte_codec.h"
#include "tsdb/chunk_encoding.h"

namespace strata::tsdb {

namespace fs = std::filesystem;

namespace {
constexpr std::size_t kChunksHeader = 8;
}

std::string_view to_string(Aggr a) {
  switch (a) {
    case Aggr::kRaw:
      return "raw";
    case Aggr::kCount:
      return "count";
    case Aggr::kSum:
      return "sum";
    case Aggr::kMin:
      return "min";
    case Aggr::kMax:
      return "max";
    case Aggr::kCounter:
      return "counter";
  }
  return "unknown";
}

std::string BlockMeta::to_json() const {
  std::string parents_json;
  for (const auto& p : parents) {
    if (!parents_json.empty()) parents_json += ",";
    parents_json += "\"" + p + "\"";
  }
  return "{\n  \"version\": " + std::to_string(kBlockMetaVersion) + ",\n  \"id\": \"" + id +
         "\",\n  \"minTime\": " + std::to_string(min_time) +
         ",\n  \"maxTime\": " + std::to_string(max_time) +
         ",\n  \"resolution\": " + std::to_string(resolution) +
         ",\n  \"stats\": {\"numSeries\": " + std::to_string(num_series) +
         ", \"numChunks\": " + std::to_string(num_chunks) +
         ", \"numSamples\": " + std::to_string(num_samples) +
         "},\n  \"compaction\": {\"level\": " + std::to_string(level) + ", \"parents\": [" +
         parents_json + "]}\n}\n";
}

BlockMeta BlockMeta::parse(std::string_view json, const std::string& path) {
  BlockMeta m;
  try {
    simdjson::dom::parser parser;
    simdjson::padded_string padded(json);
    simdjson::dom::element doc = parser.parse(padded);
    auto version = static_cast<std::int64_t>(doc["version"]);
    if (version != kBlockMetaVersion)
      throw BlockError(path, 0, "unsupported block meta version " + std::to_string(version));
    m.id = std::string(std::string_view(doc["id"]));
    m.min_time = doc["minTime"];
    m.max_time = doc["maxTime"];
    m.resolution = doc["resolution"];
    auto stats = doc["stats"];
    m.num_series = static_cast<std::uint64_t>(static_cast<std::int64_t>(stats["numSeries"]));
    m.num_chunks = static_cast<std::uint64_t>(static_cast<std::int64_t>(stats["numChunks"]));
    m.num_samples = static_cast<std::uint64_t>(static_cast<std::int64_t>(stats["numSamples"]));
    auto comp = doc["compaction"];
    m.level = static_cast<int>(static_cast<std::int64_t>(comp["level"]));
    for (auto p : comp["parents"].get_array()) m.parents.emplace_back(std::string_view(p));
  } catch (const simdjson::simdjson_error& e) {
    throw BlockError(path, 0, std::string("bad meta.json: ") + e.what());
  }
  if (m.max_time <= m.min_time) throw BlockError(path, 0, "meta.json: maxTime <= minTime");
  return m;
}

std::string new_block_id(std::int64_t min_time, std::int64_t resolution) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%014lld-%07lld-%016llx", static_cast<long long>(min_time),
                static_cast<long long>(resolution), static_cast<unsigned long long>(rng()));
  return buf;
}

EncodedChunk encode_for_block(std::span<const wire::Sample> samples, Aggr aggr) {
  EncodedChunk c{samples.front().timestamp_ms,
                 samples.back().timestamp_ms,
                 aggr,
                 static_cast<std::uint32_t>(samples.size()),
                 encode_chunk(samples),
                 {},
                 {}};
  // A single sample gains nothing from a shared column.
  if (samples.size() >= 2) {
    c.values = encode_values_chunk(samples);
    c.timestamps = encode_timestamps_chunk(samples);
  }
  return c;
}

fs::path write_block(const fs::path& blocks_dir, BlockMeta& meta,
                     std::vector<BlockSeriesInput> series) {
  std::erase_if(series, [](const BlockSeriesInput& s) { return s.chunks.empty(); });
  std::sort(series.begin(), series.end(),
            [](const auto& a, const auto& b) { return a.labels < b.labels; });
  meta.id = new_block_id(meta.min_time, meta.resolution);
  meta.num_series = series.size();
  meta.num_chunks = 0;
  meta.num_samples = 0;

  ByteWriter chunks;
  chunks.u32(kChunksMagic);
  chunks.u8(kChunksVersion);
  chunks.u8(0);
  chunks.u8(0);
  chunks.u8(0);
  auto put = [&](std::span<const std::uint8_t> bytes) {
    std::uint64_t at = chunks.size();
    chunks.uvarint(bytes.size());
    chunks.bytes(bytes);
    chunks.u32(crc32(bytes));
    return at;
  };
  // Timestamp columns used by two chunks or more are written once, before
  // the first chunk that uses them; offset 0 = not written yet.
  struct Column {
    std::uint32_t uses = 0;
    std::uint64_t offset = 0;
  };
  std::unordered_map<std::string, Column> columns;
  auto key = [](const std::vector<std::uint8_t>& b) {
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
  };
  for (const auto& s : series)
    for (const auto& c : s.chunks)
      if (!c.timestamps.empty()) ++columns[key(c.timestamps)].uses;

  std::vector<IndexSeries> index;
  index.reserve(series.size());
  for (auto& s : series) {
    std::sort(s.chunks.begin(), s.chunks.end(), [](const auto& a, const auto& b) {
      return std::tie(a.aggr, a.mint) < std::tie(b.aggr, b.mint);
    });
    IndexSeries is{std::move(s.labels), {}};
    for (auto& c : s.chunks) {
      Column* col = nullptr;
      if (!c.timestamps.empty() && c.values.size() < c.bytes.size()) {
        auto it = columns.find(key(c.timestamps));
        if (it->second.uses >= 2) col = &it->second;
      }
      if (col != nullptr) {
        if (col->offset == 0) col->offset = put(c.timestamps);
        is.chunks.push_back({c.mint, c.maxt, c.aggr, put(c.values), col->offset});
      } else {
        is.chunks.push_back({c.mint, c.maxt, c.aggr, put(c.bytes), 0});
      }
      ++meta.num_chunks;
      if (c.aggr == Aggr::kRaw || c.aggr == Aggr::kCount) meta.num_samples += c.samples;
      c = EncodedChunk{};  // free as we go
    }
    index.push_back(std::move(is));
  }

  auto final_dir = blocks_dir / meta.id;
  auto tmp = blocks_dir / (meta.id + ".tmp");
  fs::create_directories(tmp);
  write_file_durably(tmp / "chunks", chunks.data());
  chunks.clear();
  write_file_durably(tmp / "index", build_index(index));
  write_file_durably(tmp / "meta.json", meta.to_json());
  fs::rename(tmp, final_dir);
  fsync_path(blocks_dir);
  return final_dir;
}

std::shared_ptr<Block> Block::open(const fs::path& dir) {
  std::shared_ptr<Block> b(new Block());
  b->dir_ = dir;
  auto meta_path = (dir / "meta.json").string();
  std::string json;
  try {
    json = read_file(meta_path);
  } catch (const std::system_error& e) {
    throw BlockError(meta_path, 0, e.what());
  }
  b->meta_ = BlockMeta::parse(json, meta_path);
  auto index_path = (dir / "index").string();
  try {
    b->index_file_ = MappedFile::open(index_path);
    b->index_ = std::make_unique<IndexReader>(b->index_file_->data());
  } catch (const FormatError& e) {
    throw BlockError(index_path, e.offset(), e.what());
  } catch (const std::system_error& e) {
    throw BlockError(index_path, 0, e.what());
  }
  auto chunks_path = (dir / "chunks").string();
  try {
    b->chunks_ = MappedFile::open(chunks_path);
  } catch (const std::system_error& e) {
    throw BlockError(chunks_path, 0, e.what());
  }
  auto data = b->chunks_->data();
  ByteReader h(data.subspan(0, std::min(data.size(), kChunksHeader)));
  try {
    if (h.u32() != kChunksMagic) throw FormatError("bad chunks magic", 0);
    if (auto v = h.u8(); v != kChunksVersion)
      throw FormatError("unsupported chunks version " + std::to_string(v), 4);
  } catch (const FormatError& e) {
    throw BlockError(chunks_path, e.offset(), e.what());
  }
  // Verify every chunk the index points at: a flipped bit is reported now,
  // with its offset, and that chunk alone is left out of query results.
  auto verify = [&](std::uint64_t offset, const char* what) {
    ByteReader r(data);
    r.seek(offset);
    if (offset < kChunksHeader)
      throw FormatError(std::string(what) + " offset inside the header", offset);
    auto len = r.uvarint();
    auto bytes = r.bytes(len);
    if (crc32(bytes) != r.u32()) throw FormatError(std::string(what) + " CRC mismatch", offset);
  };
  std::map<std::uint64_t, std::string> columns;  // verified timestamp columns -> error or ""
  for (auto ref : b->index_->all_postings()) {
    for (const auto& c : b->index_->series(ref).chunks) {
      try {
        verify(c.offset, "chunk");
        if (c.ts_offset != 0) {
          auto [it, fresh] = columns.try_emplace(c.ts_offset);
          if (fresh) {
            try {
              verify(c.ts_offset, "timestamp column");
            } catch (const FormatError& e) {
              it->second = e.what();
            }
          }
          if (!it->second.empty()) {
            throw FormatError("chunk uses a damaged timestamp column (" + it->second + ")",
                              c.offset);
          }
        }
      } catch (const FormatError& e) {
        if (b->corrupt_.insert(c.offset).second) {
          b->corrupt_report_.push_back(chunks_path + " at offset " + std::to_string(c.offset) +
                                       ": " + e.what());
          spdlog::error("tsdb block {}: corrupt chunk in {} at offset {}: {}; serving the rest",
                        b->meta_.id, chunks_path, c.offset, e.what());
        }
      }
    }
  }
  return b;
}

ChunkRef Block::chunk(const ChunkMeta& meta) const {
  auto entry = [&](std::uint64_t offset) {
    ByteReader r(chunks_->data());
    r.seek(offset);
    auto len = r.uvarint();
    return r.bytes(len);
  };
  return {meta.mint,
          meta.maxt,
          meta.aggr,
          entry(meta.offset),
          meta.ts_offset != 0 ? entry(meta.ts_offset) : std::span<const std::uint8_t>{},
          shared_from_this()};
}

std::vector<BlockSeriesData> Block::select(const std::vector<LabelMatcher>& matchers,
                                           std::int64_t mint, std::int64_t maxt,
                                           const std::set<Aggr>& aggrs) const {
  std::vector<BlockSeriesData> out;
  if (maxt < meta_.min_time || mint >= meta_.max_time) return out;
  for (auto ref : select_postings(*index_, matchers)) {
    auto s = index_->series(ref);
    if (!matches_all(matchers, s.labels)) continue;
    BlockSeriesData d;
    for (const auto& c : s.chunks) {
      if (c.maxt < mint || c.mint > maxt || !aggrs.contains(c.aggr)) continue;
      if (corrupt_.contains(c.offset)) continue;
      d.chunks.push_back(chunk(c));
    }
    if (d.chunks.empty()) continue;
    d.labels = std::move(s.labels);
    out.push_back(std::move(d));
  }
  return out;
}

std::uint64_t Block::total_bytes() const {
  std::uint64_t n = 0;
  for (const auto& e : fs::directory_iterator(dir_))
    if (e.is_regular_file()) n += e.file_size();
  return n;
}

}  // namespace strata::tsdb
