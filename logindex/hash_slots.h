// HashSlots: an open-addressing table from 64-bit hashes to 32-bit ids, the
// one hash structure of the head (memory_index.h): its term dictionaries and
// its table of entry hashes for deduplication.
//
// It stores only (hash, id) pairs in one flat array (linear probing, at most
// half full), so a lookup is one or two cache lines and no allocation --
// what std::unordered_map's node per key and string compare cost the head
// (a third of indexing time on the loghub benchmark). The caller keeps what
// the ids stand for and says, through a predicate, whether a candidate id
// with the same hash is the one it looks for; several ids may share a hash.
//
// Not thread-safe: the owner's lock guards it. Ids must not be kEmpty.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

namespace strata::logindex {

class HashSlots {
 public:
  static constexpr std::uint32_t kEmpty = std::numeric_limits<std::uint32_t>::max();

  // The first id with this hash for which is_match(id) holds.
  template <typename Match>
  std::optional<std::uint32_t> find(std::uint64_t hash, Match&& is_match) const {
    if (slots_.empty()) return std::nullopt;
    for (std::size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id == kEmpty) return std::nullopt;
      if (s.hash == hash && is_match(s.id)) return s.id;
    }
  }

  // A hint that find(hash) or insert(hash) comes soon: starts loading its
  // first slot, so a batch of lookups overlaps its cache misses.
  void prefetch(std::uint64_t hash) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[hash & mask_]);
  }

  // The id in the hash's first slot when that slot holds this hash (the
  // likely match), else kEmpty: lets a caller prefetch what the id stands
  // for before find() compares it.
  std::uint32_t peek(std::uint64_t hash) const {
    if (slots_.empty()) return kEmpty;
    const Slot& s = slots_[hash & mask_];
    return s.hash == hash ? s.id : kEmpty;
  }

  // Adds (hash, id); does not look for an existing equal key.
  void insert(std::uint64_t hash, std::uint32_t id) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    place(hash, id);
    ++size_;
  }

  std::size_t size() const { return size_; }
  std::size_t memory_bytes() const { return slots_.capacity() * sizeof(Slot); }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    std::uint32_t id = kEmpty;
  };

  void place(std::uint64_t hash, std::uint32_t id) {
    std::size_t i = hash & mask_;
    while (slots_[i].id != kEmpty) i = (i + 1) & mask_;
    slots_[i] = {hash, id};
  }

  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 16 : old.size() * 2, Slot{});
    mask_ = slots_.size() - 1;
    for (const Slot& s : old)
      if (s.id != kEmpty) place(s.hash, s.id);
  }

  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace strata::logindex
