#include "logindex/postings.h"

#include <algorithm>
#include <array>
#include <bit>
#include <queue>

#include "common/byte_codec.h"

namespace strata::logindex {

std::string term_key(TermKind kind, std::string_view text) {
  std::string k;
  k.reserve(text.size() + 1);
  k.push_back(static_cast<char>(kind));
  k.append(text);
  return k;
}

namespace {

class VectorPostings final : public PostingsIterator {
 public:
  explicit VectorPostings(std::vector<DocId> ids) : ids_(std::move(ids)) {}
  DocId doc() const override { return pos_ < ids_.size() ? ids_[pos_] : kNoMoreDocs; }
  void next() override {
    if (pos_ < ids_.size()) ++pos_;
  }
  void seek(DocId target) override {
    if (doc() >= target) return;
    pos_ = static_cast<std::size_t>(
        std::lower_bound(ids_.begin() + static_cast<std::ptrdiff_t>(pos_), ids_.end(), target) -
        ids_.begin());
  }
  std::size_t size() const override { return ids_.size(); }

 private:
  std::vector<DocId> ids_;
  std::size_t pos_ = 0;
};

// Layout: uvarint count, uvarint blocks, blocks x (u32 last id, u32 end
// offset of the block in the data area) -- omitted when there is a single
// block, the common case of a rare term --, data area. Each id is stored as
// its gap: id - previous id - 1 (the previous of the first id is -1). A full
// block of 128 packs its gaps at one bit width (one byte, then 16 x width
// bytes): a common word's dense list costs a bit or two per id. The last,
// partial block is uvarint gaps.
class EncodedPostings final : public PostingsIterator {
 public:
  explicit EncodedPostings(std::span<const std::uint8_t> bytes) {
    ByteReader r(bytes);
    count_ = r.uvarint();
    blocks_ = r.uvarint();
    if (blocks_ != (count_ + kPostingsBlock - 1) / kPostingsBlock)
      throw FormatError("postings list of " + std::to_string(count_) + " ids has " +
                            std::to_string(blocks_) + " blocks",
                        r.offset());
    if (blocks_ > 1) {
      if (blocks_ > r.remaining() / 8)
        throw FormatError("postings skip table runs past the list", r.offset());
      skip_ = r.bytes(blocks_ * 8).data();
    }
    data_ = bytes.subspan(r.pos());
    if (blocks_ > 1 && load_u32(skip_ + (blocks_ - 1) * 8 + 4) != data_.size())
      throw FormatError("postings data area size does not match its skip table", r.offset());
    if (blocks_ > 0) load_block(0);
  }

  DocId doc() const override { return pos_ < buf_.size() ? buf_[pos_] : kNoMoreDocs; }
  void next() override {
    if (pos_ >= buf_.size()) return;
    if (++pos_ == buf_.size() && block_ + 1 < blocks_) load_block(block_ + 1);
  }
  void seek(DocId target) override {
    if (doc() >= target) return;
    if (target > last_of(block_)) {
      // First block whose last id is >= target.
      std::size_t lo = block_ + 1, hi = blocks_;
      while (lo < hi) {
        std::size_t mid = (lo + hi) / 2;
        if (last_of(mid) < target)
          lo = mid + 1;
        else
          hi = mid;
      }
      if (lo == blocks_) {
        pos_ = buf_.size();  // exhausted
        return;
      }
      load_block(lo);
    }
    pos_ = static_cast<std::size_t>(
        std::lower_bound(buf_.begin() + static_cast<std::ptrdiff_t>(pos_), buf_.end(), target) -
        buf_.begin());
  }
  std::size_t size() const override { return count_; }

 private:
  // A single block has no skip entry: it is all of the data area, and it is
  // decoded from the start, so its last id is known.
  DocId last_of(std::size_t b) const {
    return blocks_ == 1 ? buf_.back() : load_u32(skip_ + b * 8);
  }
  std::size_t end_of(std::size_t b) const {
    return blocks_ == 1 ? data_.size() : load_u32(skip_ + b * 8 + 4);
  }

  void load_block(std::size_t b) {
    std::size_t begin = b == 0 ? 0 : end_of(b - 1);
    std::size_t end = end_of(b);
    if (begin > end || end > data_.size())
      throw FormatError("postings block " + std::to_string(b) + " has bad bounds", begin);
    std::size_t n = b + 1 < blocks_ ? kPostingsBlock : count_ - b * kPostingsBlock;
    ByteReader r(data_.subspan(begin, end - begin), begin);
    buf_.clear();
    std::int64_t prev = b == 0 ? -1 : static_cast<std::int64_t>(last_of(b - 1));
    auto push = [&](std::uint64_t gap) {
      const std::uint64_t id = static_cast<std::uint64_t>(prev) + 1 + gap;
      if (id >= kNoMoreDocs) throw FormatError("postings id out of range", r.offset());
      buf_.push_back(static_cast<DocId>(id));
      prev = static_cast<std::int64_t>(id);
    };
    if (n == kPostingsBlock) {
      const unsigned width = r.u8();
      if (width > 32) throw FormatError("postings block bit width over 32", r.offset());
      auto packed = r.bytes(kPostingsBlock * width / 8);
      const std::uint64_t mask = (std::uint64_t{1} << width) - 1;
      std::uint64_t acc = 0;
      unsigned bits = 0;
      std::size_t at = 0;
      for (std::size_t i = 0; i < n; ++i) {
        for (; bits < width; bits += 8) acc |= static_cast<std::uint64_t>(packed[at++]) << bits;
        push(acc & mask);
        acc >>= width;
        bits -= width;
      }
    } else {
      for (std::size_t i = 0; i < n; ++i) push(r.uvarint());
    }
    if (!r.done() || (blocks_ > 1 && buf_.back() != last_of(b)))
      throw FormatError("postings block " + std::to_string(b) + " disagrees with its skip entry",
                        r.offset());
    block_ = b;
    pos_ = 0;
  }

  std::uint64_t count_ = 0;
  std::uint64_t blocks_ = 0;
  const std::uint8_t* skip_ = nullptr;
  std::span<const std::uint8_t> data_;
  std::vector<DocId> buf_;
  std::size_t block_ = 0;
  std::size_t pos_ = 0;
};

}  // namespace

std::unique_ptr<PostingsIterator> make_vector_postings(std::vector<DocId> ids) {
  return std::make_unique<VectorPostings>(std::move(ids));
}

std::unique_ptr<PostingsIterator> make_empty_postings() {
  return std::make_unique<VectorPostings>(std::vector<DocId>{});
}

void encode_postings(std::span<const DocId> ids, std::string& out) {
  ByteWriter w;
  const std::size_t blocks = (ids.size() + kPostingsBlock - 1) / kPostingsBlock;
  w.uvarint(ids.size());
  w.uvarint(blocks);
  const std::size_t skip_at = w.size();
  const bool skip_table = blocks > 1;
  for (std::size_t b = 0; skip_table && b < blocks; ++b) {
    w.u32(0);
    w.u32(0);
  }
  const std::size_t data_at = w.size();
  std::int64_t prev = -1;  // so the first gap is id + 1, like every other
  std::array<std::uint32_t, kPostingsBlock> gaps{};
  for (std::size_t b = 0; b < blocks; ++b) {
    const std::size_t begin = b * kPostingsBlock;
    const std::size_t end = std::min(ids.size(), begin + kPostingsBlock);
    std::uint32_t all = 0;
    for (std::size_t i = begin; i < end; ++i) {
      gaps[i - begin] = static_cast<std::uint32_t>(ids[i] - prev - 1);
      all |= gaps[i - begin];
      prev = ids[i];
    }
    if (end - begin == kPostingsBlock) {
      // Full block: every gap in `width` bits (0 for a run of consecutive
      // ids), least significant bits first.
      const auto width = static_cast<unsigned>(std::bit_width(all));
      w.u8(static_cast<std::uint8_t>(width));
      std::uint64_t acc = 0;
      unsigned bits = 0;
      for (std::uint32_t g : gaps) {
        acc |= static_cast<std::uint64_t>(g) << bits;
        bits += width;
        for (; bits >= 8; bits -= 8, acc >>= 8) w.u8(static_cast<std::uint8_t>(acc));
      }
    } else {
      for (std::size_t i = 0; i < end - begin; ++i) w.uvarint(gaps[i]);
    }
    if (skip_table) {
      w.put_u32_at(skip_at + b * 8, static_cast<std::uint32_t>(prev));
      w.put_u32_at(skip_at + b * 8 + 4, static_cast<std::uint32_t>(w.size() - data_at));
    }
  }
  out += w.data();
}

std::unique_ptr<PostingsIterator> make_encoded_postings(std::span<const std::uint8_t> bytes) {
  return std::make_unique<EncodedPostings>(bytes);
}

std::vector<DocId> decode_postings(std::span<const std::uint8_t> bytes) {
  EncodedPostings it(bytes);
  return collect(it);
}

std::vector<DocId> collect(PostingsIterator& it) {
  std::vector<DocId> out;
  out.reserve(it.size());
  for (; it.doc() != kNoMoreDocs; it.next()) out.push_back(it.doc());
  return out;
}

std::vector<DocId> intersect(std::vector<std::unique_ptr<PostingsIterator>> lists) {
  std::vector<DocId> out;
  if (lists.empty()) return out;
  std::sort(lists.begin(), lists.end(),
            [](const auto& a, const auto& b) { return a->size() < b->size(); });
  auto& lead = *lists[0];
  while (lead.doc() != kNoMoreDocs) {
    DocId candidate = lead.doc();
    bool all = true;
    for (std::size_t i = 1; i < lists.size(); ++i) {
      lists[i]->seek(candidate);
      DocId d = lists[i]->doc();
      if (d != candidate) {
        all = false;
        // Leapfrog: the lead jumps to where the other list continues.
        if (d == kNoMoreDocs) return out;
        lead.seek(d);
        break;
      }
    }
    if (all) {
      out.push_back(candidate);
      lead.next();
    }
  }
  return out;
}

std::vector<DocId> unite(std::vector<std::unique_ptr<PostingsIterator>> lists) {
  using Item = std::pair<DocId, std::size_t>;
  std::priority_queue<Item, std::vector<Item>, std::greater<>> heap;
  for (std::size_t i = 0; i < lists.size(); ++i)
    if (lists[i]->doc() != kNoMoreDocs) heap.emplace(lists[i]->doc(), i);
  std::vector<DocId> out;
  while (!heap.empty()) {
    auto [d, i] = heap.top();
    heap.pop();
    if (out.empty() || out.back() != d) out.push_back(d);
    lists[i]->next();
    if (lists[i]->doc() != kNoMoreDocs) heap.emplace(lists[i]->doc(), i);
  }
  return out;
}

std::vector<DocId> subtract(PostingsIterator& include, PostingsIterator& exclude) {
  std::vector<DocId> out;
  for (; include.doc() != kNoMoreDocs; include.next()) {
    exclude.seek(include.doc());
    if (exclude.doc() != include.doc()) out.push_back(include.doc());
  }
  return out;
}

}  // namespace strata::logindex
