#include "logindex/memory_index.h"

#include <algorithm>
#include <mutex>
#include <stdexcept>

#include <xxhash.h>

#include "logindex/tokenizer.h"

namespace strata::logindex {
namespace {

std::uint64_t content_hash(std::uint64_t stream_fp, std::int64_t ts, std::string_view line) {
  std::uint64_t seed = stream_fp ^ (static_cast<std::uint64_t>(ts) * 0x9E3779B97F4A7C15ULL);
  return XXH3_64bits_withSeed(line.data(), line.size(), seed);
}

struct Prepared {
  std::int64_t ts;
  std::string_view line;
  std::uint64_t hash;
  std::vector<std::string> terms;
};

}  // namespace

MemoryIndex::MemoryIndex() = default;
MemoryIndex::~MemoryIndex() = default;

AddResult MemoryIndex::add(const Labels& stream, std::int64_t timestamp_ns, std::string_view line) {
  wire::LogEntry e;
  e.timestamp_ns = timestamp_ns;
  e.line = std::string(line);
  return add(stream, std::span<const wire::LogEntry>(&e, 1));
}

AddResult MemoryIndex::add(const Labels& stream, std::span<const wire::LogEntry> entries) {
  AddResult r;
  if (entries.empty()) return r;
  // The expensive part (tokenizing, hashing) runs before taking the lock.
  const std::uint64_t fp = stream.fingerprint();
  std::vector<Prepared> prepared;
  prepared.reserve(entries.size());
  for (const auto& e : entries)
    prepared.push_back(
        {e.timestamp_ns, e.line, content_hash(fp, e.timestamp_ns, e.line), unique_terms(e.line)});

  std::unique_lock lock(mu_);
  StreamId sid = 0;
  bool found = false;
  auto& same_fp = streams_by_fp_[fp];
  for (StreamId id : same_fp)
    if (streams_[id] == stream) {
      sid = id;
      found = true;
      break;
    }
  if (!found) {
    sid = static_cast<StreamId>(streams_.size());
    streams_.push_back(stream);
    same_fp.push_back(sid);
  }
  for (auto& p : prepared) {
    bool duplicate = false;
    auto [lo, hi] = by_content_.equal_range(p.hash);
    for (auto it = lo; it != hi && !duplicate; ++it) {
      const Entry& e = entries_[it->second];
      duplicate = e.stream == sid && e.ts == p.ts && e.line == p.line;
    }
    if (duplicate) {
      ++r.duplicates;
      continue;
    }
    if (entries_.size() >= std::numeric_limits<EntryId>::max())
      throw std::length_error("logindex memory index: too many entries");
    auto id = static_cast<EntryId>(entries_.size());
    entries_.push_back({sid, p.ts, std::string(p.line)});
    line_bytes_ += p.line.size();
    by_content_.emplace(p.hash, id);
    for (auto& term : p.terms) postings_.try_emplace(std::move(term)).first->second.push_back(id);
    ++r.added;
  }
  return r;
}

SearchResult MemoryIndex::search(const SearchQuery& q) const {
  // Full-length terms first: those the index may hold only in cut form
  // (longer than the cap, or within a UTF-8 sequence of it, since the cut
  // backs off up to 3 bytes) are looked up by that form, then confirmed
  // against the line's whole words.
  std::vector<std::string> terms;
  for (const auto& w : q.words)
    for_each_term(
        w, [&](std::string_view t) { terms.emplace_back(t); },
        std::numeric_limits<std::size_t>::max());
  std::sort(terms.begin(), terms.end());
  terms.erase(std::unique(terms.begin(), terms.end()), terms.end());
  std::vector<std::string> long_terms;
  for (const auto& t : terms)
    if (t.size() + 3 >= kMaxTermBytes) long_terms.push_back(t);

  SearchResult result;
  std::shared_lock lock(mu_);

  std::vector<char> stream_ok;
  if (!q.stream_equals.empty()) {
    stream_ok.assign(streams_.size(), 0);
    bool any = false;
    for (std::size_t i = 0; i < streams_.size(); ++i) {
      bool ok = true;
      for (const auto& [name, value] : q.stream_equals) ok = ok && streams_[i].get(name) == value;
      stream_ok[i] = ok;
      any = any || ok;
    }
    if (!any) return result;
  }

  std::vector<const std::vector<EntryId>*> lists;
  for (const auto& t : terms) {
    auto it = postings_.find(truncate_term(t));
    if (it == postings_.end()) return result;
    lists.push_back(&it->second);
  }
  std::sort(lists.begin(), lists.end(), [](auto* a, auto* b) { return a->size() < b->size(); });

  std::vector<std::pair<std::int64_t, EntryId>> matches;  // (ts, id)
  auto consider = [&](EntryId id) {
    const Entry& e = entries_[id];
    if (e.ts < q.start_ns || e.ts > q.end_ns) return;
    if (!stream_ok.empty() && !stream_ok[e.stream]) return;
    for (std::size_t i = 1; i < lists.size(); ++i)
      if (!std::binary_search(lists[i]->begin(), lists[i]->end(), id)) return;
    if (!long_terms.empty()) {
      auto words = unique_terms(e.line, std::numeric_limits<std::size_t>::max());
      for (const auto& t : long_terms)
        if (!std::binary_search(words.begin(), words.end(), t)) return;
    }
    matches.emplace_back(e.ts, id);
  };
  if (lists.empty()) {
    for (EntryId id = 0; id < entries_.size(); ++id) consider(id);
  } else {
    for (EntryId id : *lists[0]) consider(id);
  }

  result.matched = matches.size();
  auto newest_first = [](const auto& a, const auto& b) { return a > b; };
  if (matches.size() > q.limit) {
    std::nth_element(matches.begin(), matches.begin() + static_cast<std::ptrdiff_t>(q.limit),
                     matches.end(), newest_first);
    matches.resize(q.limit);
  }
  std::sort(matches.begin(), matches.end(), newest_first);
  result.hits.reserve(matches.size());
  for (const auto& [ts, id] : matches) {
    const Entry& e = entries_[id];
    result.hits.push_back({streams_[e.stream], e.ts, e.line});
  }
  return result;
}

std::size_t MemoryIndex::entry_count() const {
  std::shared_lock lock(mu_);
  return entries_.size();
}

std::size_t MemoryIndex::stream_count() const {
  std::shared_lock lock(mu_);
  return streams_.size();
}

std::size_t MemoryIndex::term_count() const {
  std::shared_lock lock(mu_);
  return postings_.size();
}

std::uint64_t MemoryIndex::line_bytes() const {
  std::shared_lock lock(mu_);
  return line_bytes_;
}

}  // namespace strata::logindex
