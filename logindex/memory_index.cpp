#include "logindex/memory_index.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include <xxhash.h>

#include "logindex/entry_hash.h"
#include "logindex/tokenizer.h"

namespace strata::logindex {
namespace {

// A term of a line being prepared: its text is term_chars[off, off + len).
struct PreparedTerm {
  std::uint64_t hash;
  std::uint32_t off;
  std::uint32_t len;
};

struct Prepared {
  std::size_t index;
  std::int64_t ts;
  std::string_view line;
  std::uint64_t hash;
  std::size_t first_term, end_term;  // into the batch's PreparedTerm vector
  std::vector<std::string> fields;
};

std::uint64_t term_hash(std::string_view t) { return XXH3_64bits(t.data(), t.size()); }

constexpr std::size_t kLineChunkBytes = 1u << 20;

// Split "name=value" (kLabel/kField term text).
bool split_pair(std::string_view text, std::string_view& name, std::string_view& value) {
  auto eq = text.find('=');
  if (eq == std::string_view::npos) return false;
  name = text.substr(0, eq);
  value = text.substr(eq + 1);
  return true;
}

}  // namespace

MemoryIndex::MemoryIndex(std::shared_ptr<const LineParser> parser) : parser_(std::move(parser)) {}
MemoryIndex::~MemoryIndex() = default;

std::shared_lock<std::shared_mutex> MemoryIndex::read_lock() const {
  // Wait behind a writer that is waiting for the lock (see the header).
  { std::lock_guard turn(turnstile_); }
  return std::shared_lock(mu_);
}

std::string_view MemoryIndex::Terms::term(std::uint32_t id) const {
  const std::size_t begin = id == 0 ? 0 : ends[id - 1];
  return std::string_view(chars).substr(begin, ends[id] - begin);
}

void MemoryIndex::Terms::prefetch(std::uint64_t hash, int stage) const {
  if (stage == 0) {
    index.prefetch(hash);
    return;
  }
  const std::uint32_t id = index.peek(hash);
  if (id == HashSlots::kEmpty) return;
  if (stage == 1) {
    __builtin_prefetch(&ends[id]);
    if (id > 0) __builtin_prefetch(&ends[id - 1]);
  } else {
    __builtin_prefetch(chars.data() + (id == 0 ? 0 : ends[id - 1]));
  }
}

std::uint32_t MemoryIndex::Terms::intern(std::string_view t, std::uint64_t hash) {
  if (auto id = index.find(hash, [&](std::uint32_t i) { return term(i) == t; })) return *id;
  const auto id = static_cast<std::uint32_t>(postings.size());
  chars += t;
  ends.push_back(chars.size());
  postings.emplace_back();
  index.insert(hash, id);
  return id;
}

const std::vector<MemoryIndex::EntryId>* MemoryIndex::Terms::find(std::string_view t) const {
  auto id = index.find(term_hash(t), [&](std::uint32_t i) { return term(i) == t; });
  return id ? &postings[*id] : nullptr;
}

const char* MemoryIndex::store_line(std::string_view line) {
  if (line.size() > chunk_left_) {
    const std::size_t n = std::max(kLineChunkBytes, line.size());
    line_chunks_.push_back(std::make_unique_for_overwrite<char[]>(n));
    chunk_next_ = line_chunks_.back().get();
    chunk_left_ = n;
  }
  char* at = chunk_next_;
  if (!line.empty()) std::memcpy(at, line.data(), line.size());
  chunk_next_ += line.size();
  chunk_left_ -= line.size();
  return at;
}

AddResult MemoryIndex::add(const Labels& stream, std::int64_t timestamp_ns, std::string_view line) {
  wire::LogEntry e;
  e.timestamp_ns = timestamp_ns;
  e.line = std::string(line);
  return add(stream, std::span<const wire::LogEntry>(&e, 1));
}

MemoryIndex::StreamId MemoryIndex::find_stream_locked(const Labels& stream,
                                                      std::uint64_t fp) const {
  auto it = streams_by_fp_.find(fp);
  if (it == streams_by_fp_.end()) return kNoStream;
  for (StreamId id : it->second)
    if (streams_[id] == stream) return id;
  return kNoStream;
}

AddResult MemoryIndex::add(const Labels& stream, std::span<const wire::LogEntry> entries,
                           std::vector<std::size_t>* added) {
  AddResult r;
  if (entries.empty()) return r;
  // The expensive part (tokenizing, hashing) runs before taking the lock.
  const std::uint64_t fp = stream.fingerprint();
  std::vector<Prepared> prepared;
  prepared.reserve(entries.size());
  std::string term_chars;
  std::vector<PreparedTerm> terms;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    const std::size_t first = terms.size();
    auto text = [&](const PreparedTerm& t) {
      return std::string_view(term_chars).substr(t.off, t.len);
    };
    // A line's distinct terms. A typical line has a dozen or two: a linear
    // scan of the hashes so far beats sorting them; a line with many terms
    // is deduplicated by sorting instead (below), so a huge line stays
    // O(n log n).
    constexpr std::size_t kLinearDedup = 48;
    bool many = false;
    for_each_term(e.line, [&](std::string_view t) {
      const std::uint64_t h = term_hash(t);
      if (!many) {
        for (std::size_t k = first; k < terms.size(); ++k)
          if (terms[k].hash == h && text(terms[k]) == t) return;
        many = terms.size() - first >= kLinearDedup;
      }
      terms.push_back(
          {h, static_cast<std::uint32_t>(term_chars.size()), static_cast<std::uint32_t>(t.size())});
      term_chars += t;
    });
    if (many) {
      auto begin = terms.begin() + static_cast<std::ptrdiff_t>(first);
      std::sort(begin, terms.end(), [&](const PreparedTerm& a, const PreparedTerm& b) {
        return a.hash != b.hash ? a.hash < b.hash : text(a) < text(b);
      });
      terms.erase(std::unique(begin, terms.end(),
                              [&](const PreparedTerm& a, const PreparedTerm& b) {
                                return a.hash == b.hash && text(a) == text(b);
                              }),
                  terms.end());
    }
    prepared.push_back(
        {i, e.timestamp_ns, e.line, entry_hash(fp, e.timestamp_ns, e.line), first, terms.size(),
         parser_ ? parser_->field_terms(stream, e.line) : std::vector<std::string>{}});
  }

  std::unique_lock lock = [&] {
    std::lock_guard turn(turnstile_);
    return std::unique_lock(mu_);
  }();
  StreamId sid = find_stream_locked(stream, fp);
  if (sid == kNoStream) {
    sid = static_cast<StreamId>(streams_.size());
    streams_.push_back(stream);
    stream_entries_.emplace_back();
    streams_by_fp_[fp].push_back(sid);
  }
  // The dedup and term tables are far bigger than the cache: lookups are
  // prefetched a few entries ahead, and the posting appends are done after
  // all of the batch's terms are interned, again prefetching ahead, so the
  // cache misses overlap instead of following one another.
  constexpr std::size_t kAhead = 8;
  std::vector<std::pair<std::uint32_t, EntryId>> appends;  // (token term id, entry)
  appends.reserve(terms.size());
  std::size_t next_term_prefetch = 0;
  auto append_postings = [&] {
    auto& lists = tokens_.postings;
    for (std::size_t i = 0; i < appends.size(); ++i) {
      if (i + 2 * kAhead < appends.size())
        __builtin_prefetch(&lists[appends[i + 2 * kAhead].first]);
      if (i + kAhead < appends.size()) {
        const auto& ahead = lists[appends[i + kAhead].first];
        __builtin_prefetch(ahead.data() + ahead.size(), 1);
      }
      lists[appends[i].first].push_back(appends[i].second);
    }
    appends.clear();
  };
  try {
    for (std::size_t pi = 0; pi < prepared.size(); ++pi) {
      auto& p = prepared[pi];
      if (pi + kAhead < prepared.size()) by_content_.prefetch(prepared[pi + kAhead].hash);
      const bool duplicate =
          by_content_
              .find(p.hash,
                    [&](std::uint32_t id) {
                      const Entry& e = entries_[id];
                      return e.stream == sid && e.ts == p.ts && e.line() == p.line;
                    })
              .has_value();
      if (duplicate) {
        ++r.duplicates;
        continue;
      }
      if (entries_.size() >= std::numeric_limits<EntryId>::max() - 1)
        throw std::length_error("logindex memory index: too many entries");
      if (p.line.size() > std::numeric_limits<std::uint32_t>::max())
        throw std::length_error("logindex memory index: a line over 4 GiB");
      auto id = static_cast<EntryId>(entries_.size());
      entries_.push_back(
          {sid, static_cast<std::uint32_t>(p.line.size()), p.ts, store_line(p.line)});
      stream_entries_[sid].push_back(id);
      line_bytes_ += p.line.size();
      min_ts_ = std::min(min_ts_, p.ts);
      max_ts_ = std::max(max_ts_, p.ts);
      by_content_.insert(p.hash, id);
      for (std::size_t t = p.first_term; t < p.end_term; ++t) {
        // Three stages (slot, end offsets, text), kAhead / 2 terms apart.
        for (const std::size_t until = std::min(terms.size(), t + kAhead + kAhead / 2);
             next_term_prefetch < until; ++next_term_prefetch) {
          const std::size_t k = next_term_prefetch;
          tokens_.prefetch(terms[k].hash, 0);
          if (k >= kAhead / 2) tokens_.prefetch(terms[k - kAhead / 2].hash, 1);
          if (k >= kAhead) tokens_.prefetch(terms[k - kAhead].hash, 2);
        }
        const PreparedTerm& pt = terms[t];
        appends.emplace_back(
            tokens_.intern(std::string_view(term_chars).substr(pt.off, pt.len), pt.hash), id);
      }
      for (const auto& f : p.fields)
        fields_.postings[fields_.intern(f, term_hash(f))].push_back(id);
      posting_count_ += (p.end_term - p.first_term) + p.fields.size();
      if (added) added->push_back(p.index);
      ++r.added;
    }
  } catch (...) {
    append_postings();  // the entries added so far stay consistent
    throw;
  }
  append_postings();
  return r;
}

bool MemoryIndex::contains(const Labels& stream, std::uint64_t hash, std::int64_t ts,
                           std::string_view line) const {
  auto lock = read_lock();
  return by_content_
      .find(hash,
            [&](std::uint32_t id) {
              const Entry& e = entries_[id];
              return e.ts == ts && e.line() == line && streams_[e.stream] == stream;
            })
      .has_value();
}

SearchResult MemoryIndex::search(const SearchQuery& q) const {
  const QueryTerms qt = query_terms(q);

  SearchResult result;
  auto lock = read_lock();

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
  for (const auto& t : qt.terms) {
    const auto* list = tokens_.find(truncate_term(t));
    if (!list) return result;
    lists.push_back(list);
  }
  std::sort(lists.begin(), lists.end(), [](auto* a, auto* b) { return a->size() < b->size(); });

  std::vector<std::pair<std::int64_t, EntryId>> matches;  // (ts, id)
  auto consider = [&](EntryId id) {
    const Entry& e = entries_[id];
    if (e.ts < q.start_ns || e.ts > q.end_ns) return;
    if (!stream_ok.empty() && !stream_ok[e.stream]) return;
    for (std::size_t i = 1; i < lists.size(); ++i)
      if (!std::binary_search(lists[i]->begin(), lists[i]->end(), id)) return;
    if (!line_has_long_terms(e.line(), qt.long_terms)) return;
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
    result.hits.push_back({streams_[e.stream], e.ts, std::string(e.line())});
  }
  return result;
}

void MemoryIndex::for_each_in_time_order(
    const std::function<void(DocId, const EntryView&)>& fn) const {
  auto lock = read_lock();
  // (ts, id) pairs sort by value, without chasing entries_: ties stay in
  // arrival (id) order.
  std::vector<std::pair<std::int64_t, EntryId>> order(entries_.size());
  for (EntryId id = 0; id < entries_.size(); ++id) order[id] = {entries_[id].ts, id};
  std::sort(order.begin(), order.end());
  for (const auto& [ts, id] : order) {
    const Entry& e = entries_[id];
    fn(id, EntryView{streams_[e.stream], e.ts, e.line()});
  }
}

void MemoryIndex::for_each_posting_list(
    const std::function<void(std::string_view, std::span<const DocId>)>& fn) const {
  auto lock = read_lock();
  std::string key;
  // kToken keys sort before kField ones (kind byte 1 < 3); within a kind,
  // by term bytes. Sorting (first 8 bytes as a big-endian number, id) pairs
  // settles most comparisons without touching the term text.
  struct Order {
    std::uint64_t prefix;
    std::uint32_t id;
  };
  std::vector<Order> order;
  auto each = [&](TermKind kind, const Terms& terms) {
    order.resize(terms.postings.size());
    for (std::uint32_t id = 0; id < terms.postings.size(); ++id) {
      const std::string_view t = terms.term(id);
      std::uint64_t prefix = 0;
      for (std::size_t i = 0; i < 8; ++i)
        prefix = (prefix << 8) | (i < t.size() ? static_cast<unsigned char>(t[i]) : 0u);
      order[id] = {prefix, id};
    }
    std::sort(order.begin(), order.end(), [&](const Order& a, const Order& b) {
      if (a.prefix != b.prefix) return a.prefix < b.prefix;
      return terms.term(a.id) < terms.term(b.id);
    });
    for (const Order& o : order) {
      key.assign(1, static_cast<char>(kind));
      key += terms.term(o.id);
      fn(key, terms.postings[o.id]);
    }
  };
  each(TermKind::kToken, tokens_);
  each(TermKind::kField, fields_);
}

std::vector<DocId> MemoryIndex::postings(TermKind kind, std::string_view text) const {
  auto lock = read_lock();
  switch (kind) {
    case TermKind::kToken: {
      const auto* list = tokens_.find(text);
      return list ? *list : std::vector<DocId>{};
    }
    case TermKind::kLabel: {
      std::string_view name, value;
      if (!split_pair(text, name, value) || value.empty()) return {};
      std::vector<DocId> out;
      for (StreamId s = 0; s < streams_.size(); ++s)
        if (streams_[s].get(name) == value)
          out.insert(out.end(), stream_entries_[s].begin(), stream_entries_[s].end());
      std::sort(out.begin(), out.end());
      return out;
    }
    case TermKind::kField: {
      const auto* list = fields_.find(text);
      return list ? *list : std::vector<DocId>{};
    }
  }
  return {};
}

std::vector<std::string> MemoryIndex::terms_with_prefix(TermKind kind, std::string_view prefix,
                                                        std::size_t limit) const {
  std::vector<std::string> out;
  auto lock = read_lock();
  if (kind == TermKind::kToken || kind == TermKind::kField) {
    const Terms& terms = kind == TermKind::kToken ? tokens_ : fields_;
    for (std::uint32_t id = 0; id < terms.postings.size(); ++id)
      if (terms.term(id).starts_with(prefix)) out.emplace_back(terms.term(id));
  } else if (kind == TermKind::kLabel) {
    for (const auto& s : streams_)
      for (const auto& [n, v] : s.items()) {
        std::string t = n + "=" + v;
        if (t.starts_with(prefix)) out.push_back(std::move(t));
      }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  if (out.size() > limit) out.resize(limit);
  return out;
}

std::size_t MemoryIndex::entry_count() const {
  auto lock = read_lock();
  return entries_.size();
}

std::size_t MemoryIndex::stream_count() const {
  auto lock = read_lock();
  return streams_.size();
}

std::size_t MemoryIndex::term_count() const {
  auto lock = read_lock();
  return tokens_.postings.size();
}

std::uint64_t MemoryIndex::line_bytes() const {
  auto lock = read_lock();
  return line_bytes_;
}

std::uint64_t MemoryIndex::approx_bytes() const {
  auto lock = read_lock();
  // Lines, entries, dedup slots, term text and slots, and 4 bytes per
  // posting plus a vector header per term.
  return line_bytes_ + entries_.size() * sizeof(Entry) + by_content_.memory_bytes() +
         tokens_.chars.size() + fields_.chars.size() + tokens_.index.memory_bytes() +
         fields_.index.memory_bytes() +
         (tokens_.postings.size() + fields_.postings.size()) * (sizeof(std::vector<EntryId>) + 8) +
         posting_count_ * 4;
}

std::pair<std::int64_t, std::int64_t> MemoryIndex::time_range() const {
  auto lock = read_lock();
  return {min_ts_, max_ts_};
}

void MemoryIndex::visit(std::span<const DocId> ids,
                        const std::function<void(DocId, const EntryView&)>& fn) const {
  auto lock = read_lock();
  for (DocId id : ids) {
    if (id >= entries_.size()) continue;
    const Entry& e = entries_[id];
    fn(id, EntryView{streams_[e.stream], e.ts, e.line()});
  }
}

DocId MemoryIndex::doc_count() const {
  auto lock = read_lock();
  return static_cast<DocId>(entries_.size());
}

std::vector<SearchPart> MemoryIndex::parts() const {
  // The aliasing constructor with an empty owner: a non-owning pointer.
  return {SearchPart{"head", std::shared_ptr<const MemoryIndex>(std::shared_ptr<void>(), this),
                     nullptr}};
}

}  // namespace strata::logindex
