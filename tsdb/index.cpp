#include "tsdb/index.h"

#include <algorithm>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include "common/byte_codec.h"

namespace strata::tsdb {

namespace {

constexpr std::size_t kHeaderSize = 8;
constexpr std::size_t kTocSize = 4 * 8 + 4 + 4;  // 4 offsets, crc, magic

// Appends `body` as one checksummed entry: uvarint length, body, CRC-32.
void put_entry(ByteWriter& w, std::string_view body) {
  w.uvarint(body.size());
  w.raw(body);
  w.u32(crc32(body));
}

// Reads an entry written by put_entry at `offset`, checking its CRC.
ByteReader get_entry(std::span<const std::uint8_t> file, std::uint64_t offset, std::uint64_t limit,
                     const char* what) {
  if (offset >= limit) throw FormatError(std::string(what) + " offset out of range", offset);
  ByteReader r(file.subspan(0, limit));
  r.seek(offset);
  auto len = r.uvarint();
  auto start = r.pos();
  auto body = r.bytes(len);
  auto crc = r.u32();
  if (crc32(body) != crc) throw FormatError(std::string(what) + " CRC mismatch", offset);
  return ByteReader(body, start);
}

}  // namespace

std::string build_index(const std::vector<IndexSeries>& series) {
  for (std::size_t i = 1; i < series.size(); ++i)
    if (!(series[i - 1].labels < series[i].labels))
      throw std::invalid_argument("build_index: series not sorted/unique at " +
                                  series[i].labels.to_string());
  // Symbols: every label name and value, sorted, numbered by position.
  std::set<std::string_view> symset;
  for (const auto& s : series)
    for (const auto& [n, v] : s.labels.items()) {
      symset.insert(n);
      symset.insert(v);
    }
  std::unordered_map<std::string_view, std::uint64_t> symno;
  std::uint64_t k = 0;
  for (auto sv : symset) symno[sv] = k++;

  ByteWriter w;
  w.u32(kIndexMagic);
  w.u8(kIndexVersion);
  w.u8(0);
  w.u8(0);
  w.u8(0);

  const std::uint64_t symbols_off = w.size();
  {
    ByteWriter b;
    b.uvarint(symset.size());
    for (auto sv : symset) b.str(sv);
    put_entry(w, b.data());
  }

  const std::uint64_t series_off = w.size();
  std::vector<std::uint64_t> refs;
  refs.reserve(series.size());
  std::map<std::pair<std::string_view, std::string_view>, std::vector<std::uint64_t>> postings;
  for (const auto& s : series) {
    refs.push_back(w.size());
    ByteWriter b;
    b.uvarint(s.labels.size());
    for (const auto& [n, v] : s.labels.items()) {
      b.uvarint(symno[n]);
      b.uvarint(symno[v]);
      postings[{n, v}].push_back(refs.back());
    }
    b.uvarint(s.chunks.size());
    for (const auto& c : s.chunks) {
      b.u8(static_cast<std::uint8_t>(c.aggr));
      b.varint(c.mint);
      b.uvarint(static_cast<std::uint64_t>(c.maxt) - static_cast<std::uint64_t>(c.mint));
      b.uvarint(c.offset);
      b.uvarint(c.ts_offset);
    }
    put_entry(w, b.data());
  }

  auto put_list = [&](const std::vector<std::uint64_t>& list) {
    ByteWriter b;
    b.uvarint(list.size());
    std::uint64_t prev = 0;
    for (auto r : list) {
      b.uvarint(r - prev);  // ascending: deltas stay small
      prev = r;
    }
    put_entry(w, b.data());
  };
  const std::uint64_t postings_off = w.size();
  const std::uint64_t all_off = w.size();
  put_list(refs);
  std::vector<std::uint64_t> list_offsets;
  for (const auto& [pair, list] : postings) {
    list_offsets.push_back(w.size());
    put_list(list);
  }

  const std::uint64_t table_off = w.size();
  {
    ByteWriter b;
    b.uvarint(all_off);
    b.uvarint(postings.size());
    std::size_t i = 0;
    for (const auto& [pair, list] : postings) {
      b.uvarint(symno[pair.first]);
      b.uvarint(symno[pair.second]);
      b.uvarint(list_offsets[i++]);
    }
    put_entry(w, b.data());
  }

  ByteWriter toc;
  toc.u64(symbols_off);
  toc.u64(series_off);
  toc.u64(postings_off);
  toc.u64(table_off);
  w.raw(toc.data());
  w.u32(crc32(toc.data()));
  w.u32(kIndexMagic);
  return std::move(w.data());
}

IndexReader::IndexReader(std::span<const std::uint8_t> file) : file_(file) {
  if (file.size() < kHeaderSize + kTocSize) throw FormatError("index file too short", 0);
  ByteReader h(file.subspan(0, kHeaderSize));
  if (h.u32() != kIndexMagic) throw FormatError("bad index magic", 0);
  version_ = h.u8();
  if (version_ < 1 || version_ > kIndexVersion)
    throw FormatError("unsupported index version " + std::to_string(version_), 4);
  const std::size_t toc_pos = file.size() - kTocSize;
  ByteReader t(file.subspan(toc_pos), toc_pos);
  auto symbols_off = t.u64();
  auto series_off = t.u64();
  auto postings_off = t.u64();
  auto table_off = t.u64();
  auto crc = t.u32();
  if (crc32(file.subspan(toc_pos, 32)) != crc) throw FormatError("index TOC CRC mismatch", toc_pos);
  if (t.u32() != kIndexMagic) throw FormatError("bad index footer magic", toc_pos + 36);
  if (!(kHeaderSize <= symbols_off && symbols_off <= series_off && series_off <= postings_off &&
        postings_off <= table_off && table_off < toc_pos))
    throw FormatError("index TOC offsets out of order", toc_pos);

  auto sym = get_entry(file, symbols_off, series_off, "symbol table");
  auto nsym = sym.uvarint();
  if (nsym > sym.remaining()) throw FormatError("symbol count too large", sym.offset());
  symbols_.reserve(nsym);
  for (std::uint64_t i = 0; i < nsym; ++i) symbols_.push_back(sym.str());
  auto symbol = [&](ByteReader& r) {
    auto off = r.offset();
    auto i = r.uvarint();
    if (i >= symbols_.size()) throw FormatError("symbol number out of range", off);
    return symbols_[i];
  };

  // Every series entry, so that a flipped bit anywhere is found now.
  {
    ByteReader r(file.subspan(0, postings_off));
    r.seek(series_off);
    while (r.pos() < postings_off) {
      auto off = r.pos();
      (void)series(off);  // checks the CRC and every field
      auto len = r.uvarint();
      r.bytes(len);
      r.u32();
      ++series_count_;
    }
  }

  auto table = get_entry(file, table_off, toc_pos, "postings offset table");
  all_postings_offset_ = table.uvarint();
  auto n = table.uvarint();
  if (n > table.remaining()) throw FormatError("postings table count too large", table.offset());
  for (std::uint64_t i = 0; i < n; ++i) {
    auto name = symbol(table);
    auto value = symbol(table);
    auto off = table.uvarint();
    if (off < postings_off || off >= table_off)
      throw FormatError("postings offset out of range", table.offset());
    postings_table_[name].emplace_back(value, off);
  }
  // Every postings list, for the same reason.
  (void)read_postings(all_postings_offset_);
  for (const auto& [name, values] : postings_table_)
    for (const auto& [value, off] : values) (void)read_postings(off);
}

std::vector<std::uint64_t> IndexReader::read_postings(std::uint64_t offset) const {
  auto r = get_entry(file_, offset, file_.size() - kTocSize, "postings list");
  auto n = r.uvarint();
  if (n > r.remaining()) throw FormatError("postings count too large", r.offset());
  std::vector<std::uint64_t> out;
  out.reserve(n);
  std::uint64_t prev = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    prev += r.uvarint();
    out.push_back(prev);
  }
  return out;
}

IndexSeries IndexReader::series(std::uint64_t ref) const {
  auto r = get_entry(file_, ref, file_.size() - kTocSize, "series entry");
  IndexSeries s;
  auto n = r.uvarint();
  if (n > r.remaining()) throw FormatError("label count too large", r.offset());
  std::vector<Label> labels;
  labels.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    auto a = r.uvarint();
    auto b = r.uvarint();
    if (a >= symbols_.size() || b >= symbols_.size())
      throw FormatError("symbol number out of range", r.offset());
    labels.emplace_back(std::string(symbols_[a]), std::string(symbols_[b]));
  }
  try {
    s.labels = Labels(std::move(labels));
  } catch (const std::invalid_argument& e) {
    throw FormatError(std::string("bad series labels: ") + e.what(), ref);
  }
  auto nc = r.uvarint();
  if (nc > r.remaining()) throw FormatError("chunk count too large", r.offset());
  s.chunks.reserve(nc);
  for (std::uint64_t i = 0; i < nc; ++i) {
    ChunkMeta c;
    auto a = r.u8();
    if (a >= kNumAggr) throw FormatError("unknown aggregate " + std::to_string(a), r.offset());
    c.aggr = static_cast<Aggr>(a);
    c.mint = r.varint();
    c.maxt = static_cast<std::int64_t>(static_cast<std::uint64_t>(c.mint) + r.uvarint());
    c.offset = r.uvarint();
    if (version_ >= 2) c.ts_offset = r.uvarint();
    s.chunks.push_back(c);
  }
  if (!r.done()) throw FormatError("trailing bytes in series entry", r.offset());
  return s;
}

std::vector<std::string> IndexReader::label_names() const {
  std::vector<std::string> out;
  for (const auto& [name, values] : postings_table_) out.emplace_back(name);
  return out;
}

std::vector<std::string> IndexReader::label_values(std::string_view name) const {
  std::vector<std::string> out;
  auto it = postings_table_.find(name);
  if (it == postings_table_.end()) return out;
  for (const auto& [value, off] : it->second) out.emplace_back(value);
  return out;
}

std::vector<std::uint64_t> IndexReader::postings(std::string_view name,
                                                 std::string_view value) const {
  auto it = postings_table_.find(name);
  if (it == postings_table_.end()) return {};
  auto& values = it->second;
  auto v = std::lower_bound(values.begin(), values.end(), value,
                            [](const auto& e, std::string_view x) { return e.first < x; });
  if (v == values.end() || v->first != value) return {};
  return read_postings(v->second);
}

bool IndexReader::for_each_value(
    std::string_view name,
    const std::function<void(std::string_view, const std::vector<std::uint64_t>&)>& fn) const {
  auto it = postings_table_.find(name);
  if (it == postings_table_.end()) return false;
  for (const auto& [value, off] : it->second) fn(value, read_postings(off));
  return true;
}

std::vector<std::uint64_t> IndexReader::all_postings() const {
  return read_postings(all_postings_offset_);
}

}  // namespace strata::tsdb
