#include "logindex/log_store.h"

#include <spdlog/spdlog.h>
#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include "logindex/entry_hash.h"
#include "logindex/segment_writer.h"

namespace strata::logindex {

namespace fs = std::filesystem;

namespace {

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

constexpr std::string_view kSegmentSuffix = ".seg";

std::optional<std::uint64_t> parse_seq(const std::string& name) {
  if (!name.ends_with(kSegmentSuffix)) return std::nullopt;
  std::string_view digits(name.data(), name.size() - kSegmentSuffix.size());
  if (digits.empty()) return std::nullopt;
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || p != digits.data() + digits.size()) return std::nullopt;
  return v;
}

// Sorts `ids`, a concatenation of ascending runs (a head's list renumbered
// to time order: one run per appended batch), by merging the runs pairwise:
// O(n log runs) instead of a full sort. `buf` is scratch space.
void sort_runs(std::vector<DocId>& ids, std::vector<DocId>& buf) {
  std::vector<std::size_t> starts{0};
  for (std::size_t i = 1; i < ids.size(); ++i)
    if (ids[i] < ids[i - 1]) starts.push_back(i);
  if (starts.size() == 1) return;
  if (starts.size() > ids.size() / 8) {  // hardly runs at all
    std::sort(ids.begin(), ids.end());
    return;
  }
  starts.push_back(ids.size());
  buf.resize(ids.size());
  while (starts.size() > 2) {
    std::vector<std::size_t> merged{0};
    for (std::size_t r = 0; r + 1 < starts.size(); r += 2) {
      const auto b = ids.begin();
      if (r + 2 < starts.size()) {
        std::merge(b + static_cast<std::ptrdiff_t>(starts[r]),
                   b + static_cast<std::ptrdiff_t>(starts[r + 1]),
                   b + static_cast<std::ptrdiff_t>(starts[r + 1]),
                   b + static_cast<std::ptrdiff_t>(starts[r + 2]),
                   buf.begin() + static_cast<std::ptrdiff_t>(starts[r]));
        merged.push_back(starts[r + 2]);
      } else {  // an odd run out: copied as it is
        std::copy(b + static_cast<std::ptrdiff_t>(starts[r]),
                  b + static_cast<std::ptrdiff_t>(starts[r + 1]),
                  buf.begin() + static_cast<std::ptrdiff_t>(starts[r]));
        merged.push_back(starts[r + 1]);
      }
    }
    ids.swap(buf);
    starts.swap(merged);
  }
}

}  // namespace

LogStore::LogStore(LogStoreOptions options) : options_(std::move(options)) {
  if (options_.dir.empty()) throw std::invalid_argument("logindex store: empty data directory");
  segments_dir_ = options_.dir / "segments";
  fs::create_directories(segments_dir_);
  lock_ = std::make_unique<DirLock>(options_.dir);
  open_segments();

  head_ = std::make_shared<MemoryIndex>(options_.parser);
  wal_ = std::make_unique<Wal>(
      WalOptions{options_.dir / "wal", options_.wal_file_bytes, options_.fsync});
  {
    std::lock_guard lock(append_mu_);
    auto stats = wal_->replay([&](const Labels& stream, std::vector<wire::LogEntry>& entries) {
      append_locked(stream, entries, /*log=*/false);
    });
    wal_replayed_entries_ = stats.entries;
    wal_corruptions_ = stats.corruptions.size();
    if (stats.files > 0)
      spdlog::info("logindex store: replayed {} WAL entries from {} files into the head ({} new){}",
                   stats.entries, stats.files, head_->entry_count(),
                   stats.torn_tail ? "; a torn tail was truncated" : "");
  }
  head_started_ns_ = steady_ns();
  if (options_.maintenance_interval.count() > 0)
    thread_ = std::thread([this] { run_maintenance(); });
}

LogStore::~LogStore() {
  {
    std::lock_guard lock(thread_mu_);
    stopping_ = true;
  }
  thread_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  try {
    if (wal_) wal_->sync();
  } catch (const std::exception& e) {
    spdlog::error("logindex store: final WAL sync failed: {}", e.what());
  }
}

fs::path LogStore::segment_path(std::uint64_t seq) const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08llu", static_cast<unsigned long long>(seq));
  return segments_dir_ / (std::string(buf) + std::string(kSegmentSuffix));
}

void LogStore::open_segments() {
  std::vector<std::pair<std::uint64_t, fs::path>> found;
  for (const auto& e : fs::directory_iterator(segments_dir_)) {
    auto name = e.path().filename().string();
    if (name.ends_with(".tmp")) {
      // An interrupted flush or merge: its inputs are all still there.
      spdlog::info("logindex store: removing unfinished {}", e.path().string());
      fs::remove(e.path());
      continue;
    }
    if (auto seq = parse_seq(name)) found.emplace_back(*seq, e.path());
  }
  std::sort(found.begin(), found.end());
  std::set<std::uint64_t> parents;
  std::vector<SegmentRef> opened;
  for (const auto& [seq, path] : found) {
    next_seq_ = std::max(next_seq_, seq + 1);
    try {
      auto s = Segment::open(path);
      for (auto p : s->summary().parents) {
        parents.insert(p);
        next_seq_ = std::max(next_seq_, p + 1);
      }
      opened.push_back({seq, std::move(s)});
    } catch (const SegmentError& e) {
      ++corrupt_segments_;
      quarantine(path, e.what());
    }
  }
  for (auto& ref : opened) {
    if (parents.count(ref.seq)) {
      // A merge finished writing its output but crashed before deleting
      // its inputs: the output holds all of this one's lines.
      spdlog::info("logindex store: removing {}, already merged into a newer segment",
                   ref.segment->path().string());
      fs::remove(ref.segment->path());
      continue;
    }
    segments_.push_back(std::move(ref));
  }
  std::uint64_t docs = 0;
  for (const auto& s : segments_) docs += s.segment->doc_count();
  if (!segments_.empty())
    spdlog::info("logindex store: opened {} segments with {} entries in {}", segments_.size(), docs,
                 segments_dir_.string());
}

void LogStore::quarantine(const fs::path& path, const std::string& why) {
  auto to = path;
  to += ".corrupt";
  std::error_code ec;
  fs::rename(path, to, ec);
  spdlog::error(
      "logindex store: {}; the segment is quarantined as {} and left out of searches (its lines "
      "are lost unless Kafka still holds them; inspect or delete the file)",
      why, ec ? path.string() + " (rename failed: " + ec.message() + ")" : to.string());
}

void LogStore::report_damage(const SegmentError& e) const {
  ++corrupt_segments_;
  spdlog::error("logindex store: {}; answering without it", e.what());
  std::lock_guard lock(damaged_mu_);
  damaged_.emplace_back(e.file(), e.what());
}

void LogStore::quarantine_reported() {
  std::vector<std::pair<fs::path, std::string>> damaged;
  {
    std::lock_guard lock(damaged_mu_);
    damaged.swap(damaged_);
  }
  for (const auto& [path, why] : damaged) {
    bool removed = false;
    {
      std::unique_lock lock(mu_);
      auto it = std::find_if(segments_.begin(), segments_.end(),
                             [&](const auto& r) { return r.segment->path() == path; });
      if (it != segments_.end()) {
        segments_.erase(it);
        removed = true;
      }
    }
    if (removed) quarantine(path, why);
  }
}

AddResult LogStore::append(const Labels& stream, std::span<const wire::LogEntry> entries) {
  std::lock_guard lock(append_mu_);
  return append_locked(stream, entries, /*log=*/true);
}

AddResult LogStore::append_locked(const Labels& stream, std::span<const wire::LogEntry> entries,
                                  bool log) {
  AddResult r;
  if (entries.empty()) return r;
  std::shared_ptr<MemoryIndex> head, flushing;
  std::vector<std::shared_ptr<const Segment>> overlapping;
  std::int64_t min_ts = std::numeric_limits<std::int64_t>::max();
  std::int64_t max_ts = std::numeric_limits<std::int64_t>::min();
  for (const auto& e : entries) {
    min_ts = std::min(min_ts, e.timestamp_ns);
    max_ts = std::max(max_ts, e.timestamp_ns);
  }
  {
    std::shared_lock lock(mu_);
    head = head_;
    flushing = flushing_;
    for (const auto& s : segments_)
      if (s.segment->may_hold(stream, min_ts, max_ts)) overlapping.push_back(s.segment);
  }

  // Entries already in a flushing head or a segment are duplicates; the
  // head checks itself. Only copy when something must be dropped.
  std::vector<wire::LogEntry> kept;
  bool filtered = false;
  if (flushing || !overlapping.empty()) {
    const std::uint64_t fp = stream.fingerprint();
    std::vector<std::unique_ptr<DocReader>> readers(overlapping.size());
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const auto& e = entries[i];
      const std::uint64_t h = entry_hash(fp, e.timestamp_ns, e.line);
      bool dup = flushing && flushing->contains(stream, h, e.timestamp_ns, e.line);
      for (std::size_t k = 0; k < overlapping.size() && !dup; ++k) {
        try {
          if (!readers[k]) readers[k] = std::make_unique<DocReader>(*overlapping[k]);
          dup = overlapping[k]->contains(stream, h, e.timestamp_ns, e.line, readers[k].get());
        } catch (const SegmentError& err) {
          report_damage(err);
        }
      }
      if (dup) {
        if (!filtered) {
          kept.assign(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(i));
          filtered = true;
        }
        ++r.duplicates;
      } else if (filtered) {
        kept.push_back(e);
      }
    }
  }
  std::span<const wire::LogEntry> todo = filtered ? std::span<const wire::LogEntry>(kept) : entries;
  std::vector<std::size_t> added;
  if (head->entry_count() == 0) head_started_ns_ = steady_ns();
  auto hr = head->add(stream, todo, &added);
  r.added += hr.added;
  r.duplicates += hr.duplicates;
  if (log && !added.empty()) {
    std::vector<WalEntry> w;
    w.reserve(added.size());
    for (auto i : added) w.push_back({todo[i].timestamp_ns, todo[i].line});
    wal_->log(stream, w);
  }
  return r;
}

void LogStore::sync() { wal_->sync(); }

SearchResult LogStore::search(const SearchQuery& q) const {
  auto ps = parts();
  SearchResult out;
  // Parts come newest first and each answers newest first, so a stable
  // sort by time keeps "most recently added first" among equal timestamps.
  for (const auto& p : ps) {
    SearchResult r;
    if (p.head) {
      r = p.head->search(q);
    } else {
      const auto& s = p.segment->summary();
      if (s.docs == 0 || s.max_ts < q.start_ns || s.min_ts > q.end_ns) continue;
      try {
        r = p.segment->search(q);
      } catch (const SegmentError& e) {
        report_damage(e);
        continue;
      }
    }
    out.matched += r.matched;
    for (auto& h : r.hits) out.hits.push_back(std::move(h));
  }
  std::stable_sort(out.hits.begin(), out.hits.end(), [](const SearchHit& a, const SearchHit& b) {
    return a.timestamp_ns > b.timestamp_ns;
  });
  if (out.hits.size() > q.limit) out.hits.resize(q.limit);
  return out;
}

std::vector<LogStore::Part> LogStore::parts() const {
  std::shared_lock lock(mu_);
  std::vector<Part> out;
  out.push_back({"head", head_, nullptr});
  if (flushing_) out.push_back({"flushing head", flushing_, nullptr});
  for (auto it = segments_.rbegin(); it != segments_.rend(); ++it)
    out.push_back({it->segment->path().filename().string(), nullptr, it->segment});
  return out;
}

bool LogStore::flush_due() const {
  std::shared_lock lock(mu_);
  if (flushing_) return true;  // a failed flush to retry
  if (head_->entry_count() == 0) return false;
  return head_->approx_bytes() >= options_.head_max_bytes ||
         steady_ns() - head_started_ns_.load() >=
             std::chrono::duration_cast<std::chrono::nanoseconds>(options_.head_max_age).count();
}

bool LogStore::flush_head() {
  std::lock_guard maintenance(maintenance_mu_);
  std::shared_ptr<MemoryIndex> frozen;
  std::uint32_t wal_upto = 0;
  std::uint64_t seq = 0;
  {
    std::lock_guard append(append_mu_);
    std::unique_lock lock(mu_);
    if (flushing_) {
      // The previous attempt failed after freezing: write that one first.
      frozen = flushing_;
      wal_upto = flushing_wal_upto_;
    } else {
      if (head_->entry_count() == 0) return false;
      lock.unlock();
      // New entries go to new WAL files from here on, so files <= wal_upto
      // hold exactly the frozen head (and older, already flushed, entries).
      wal_upto = wal_->cut();
      lock.lock();
      frozen = head_;
      flushing_ = head_;
      flushing_wal_upto_ = wal_upto;
      head_ = std::make_shared<MemoryIndex>(options_.parser);
      head_started_ns_ = steady_ns();
    }
    seq = next_seq_++;
  }

  const auto path = segment_path(seq);
  std::shared_ptr<const Segment> segment;
  try {
    SegmentWriter writer(path, options_.segment);
    // The head already holds every posting list: renumber them from arrival
    // order to the segment's time order instead of tokenizing again.
    std::vector<DocId> renumber(frozen->doc_count());
    DocId next = 0;
    // Each head stream is looked up in the writer once (the views point at
    // the frozen head's stream table, stable while it lives).
    std::unordered_map<const Labels*, std::uint32_t> stream_ids;
    const Labels* last_stream = nullptr;
    std::uint32_t last_sid = 0;
    frozen->for_each_in_time_order([&](DocId id, const EntryView& e) {
      renumber[id] = next++;
      if (&e.stream != last_stream) {
        auto [it, fresh] = stream_ids.try_emplace(&e.stream, 0);
        if (fresh) it->second = writer.add_stream(e.stream);
        last_stream = &e.stream;
        last_sid = it->second;
      }
      writer.add_untokenized(last_sid, e.timestamp_ns, e.line);
    });
    // Lists come in key order, so the writer encodes each at once.
    std::vector<DocId> ids, scratch;
    frozen->for_each_posting_list([&](std::string_view key, std::span<const DocId> head_ids) {
      ids.resize(head_ids.size());
      bool sorted = true;
      DocId prev = 0;
      for (std::size_t i = 0; i < head_ids.size(); ++i) {
        const DocId d = renumber[head_ids[i]];
        sorted = sorted && (i == 0 || d > prev);
        ids[i] = prev = d;
      }
      if (!sorted) {
        sort_runs(ids, scratch);
        ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
      }
      writer.add_sorted_postings(key, ids);
    });
    writer.finish();
    segment = Segment::open(path);
  } catch (const std::exception& e) {
    spdlog::error(
        "logindex store: writing the head ({} entries) to {} failed: {}; it stays in memory "
        "and in the WAL, and the flush is retried",
        frozen->entry_count(), path.string(), e.what());
    std::error_code ec;
    fs::remove(path, ec);
    return false;
  }
  {
    std::unique_lock lock(mu_);
    segments_.push_back({seq, segment});
    flushing_.reset();
  }
  wal_->remove_upto(wal_upto);
  ++flushes_;
  spdlog::info("logindex store: flushed the head to {} ({} entries, {} bytes)", path.string(),
               segment->doc_count(), segment->summary().file_bytes);
  return true;
}

std::size_t LogStore::merge_segments() {
  std::lock_guard maintenance(maintenance_mu_);
  std::vector<SegmentRef> inputs;
  std::uint64_t seq = 0;
  {
    std::shared_lock lock(mu_);
    // Tiered: segments are grouped by size, each tier `merge_min_segments`
    // times the one below (tier 0: under 1 MiB), and the lowest tier holding
    // merge_min_segments segments has its oldest ones (up to the byte
    // limit) merged into one of the next tier. Each line is so rewritten
    // about log_k(total / flush size) times; always re-merging the oldest
    // (and so biggest) segment with the new small ones rewrote it at every
    // flush.
    const std::size_t k = std::max<std::size_t>(2, options_.merge_min_segments);
    auto tier = [&](std::uint64_t bytes) {
      std::size_t t = 0;
      for (std::uint64_t limit = 1u << 20; bytes >= limit && t < 32; limit *= k) ++t;
      return t;
    };
    std::map<std::size_t, std::vector<SegmentRef>> tiers;
    for (const auto& s : segments_)
      if (s.segment->summary().file_bytes < options_.merge_max_bytes)
        tiers[tier(s.segment->summary().file_bytes)].push_back(s);
    for (const auto& [t, members] : tiers) {
      if (members.size() < k) continue;
      std::uint64_t total = 0;
      for (const auto& s : members) {
        if (!inputs.empty() && total + s.segment->summary().file_bytes > options_.merge_max_bytes)
          break;
        total += s.segment->summary().file_bytes;
        inputs.push_back(s);
      }
      break;
    }
    if (inputs.size() < 2) return 0;
  }
  {
    std::unique_lock lock(mu_);
    seq = next_seq_++;
  }
  const auto path = segment_path(seq);
  std::shared_ptr<const Segment> merged;
  try {
    SegmentWriter writer(path, options_.segment);
    std::vector<std::uint64_t> parents;
    for (const auto& in : inputs) parents.push_back(in.seq);
    writer.set_parents(parents);
    // K-way merge by (timestamp, input order, doc): docs of each input are
    // already in time order. Inputs are few: a linear scan finds the next
    // one, which then goes on while it stays first.
    struct Cursor {
      std::unique_ptr<DocReader> reader;
      DocId next = 0;
      DocId end = 0;
      SegmentDoc doc;                   // docs[next] while next < end
      std::vector<std::uint32_t> sids;  // input stream -> writer stream
    };
    constexpr std::uint32_t kNoSid = std::numeric_limits<std::uint32_t>::max();
    std::vector<Cursor> cursors(inputs.size());
    // renumber[i][d]: the merged doc id of doc d of input i.
    std::vector<std::vector<DocId>> renumber(inputs.size());
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const auto& seg = *inputs[i].segment;
      renumber[i].resize(seg.doc_count());
      auto& c = cursors[i];
      c.reader = std::make_unique<DocReader>(seg);
      c.end = seg.doc_count();
      c.sids.assign(seg.streams().size(), kNoSid);
      if (c.end > 0) c.doc = c.reader->get(0);
    }
    DocId next = 0;
    for (;;) {
      std::size_t best = cursors.size();
      for (std::size_t i = 0; i < cursors.size(); ++i)
        if (cursors[i].next < cursors[i].end &&
            (best == cursors.size() ||
             cursors[i].doc.timestamp_ns < cursors[best].doc.timestamp_ns))
          best = i;
      if (best == cursors.size()) break;
      // Take from `best` while it stays first: before any other input's
      // next doc (which wins ties when it comes earlier in input order).
      std::size_t rival = cursors.size();
      for (std::size_t i = 0; i < cursors.size(); ++i)
        if (i != best && cursors[i].next < cursors[i].end &&
            (rival == cursors.size() ||
             cursors[i].doc.timestamp_ns < cursors[rival].doc.timestamp_ns))
          rival = i;
      const bool alone = rival == cursors.size();
      const std::int64_t bound = alone ? 0 : cursors[rival].doc.timestamp_ns;
      const bool bound_inclusive = rival > best;
      auto& c = cursors[best];
      const auto& streams = inputs[best].segment->streams();
      auto& ren = renumber[best];
      do {
        if (c.doc.stream >= c.sids.size())
          throw SegmentError(
              inputs[best].segment->path(),
              "a doc names stream " + std::to_string(c.doc.stream) + " past the stream table");
        std::uint32_t& sid = c.sids[c.doc.stream];
        if (sid == kNoSid) sid = writer.add_stream(streams[c.doc.stream]);
        writer.add_untokenized(sid, c.doc.timestamp_ns, c.doc.line);
        ren[c.next] = next++;
        if (++c.next < c.end) c.doc = c.reader->get(c.next);
      } while (c.next < c.end && (alone || c.doc.timestamp_ns < bound ||
                                  (bound_inclusive && c.doc.timestamp_ns == bound)));
    }
    // Each input's lists, renumbered (they stay ascending: an input's docs
    // keep their relative order), then merged by key: inputs' dictionaries
    // are sorted, so the writer gets every key once, in order.
    struct Lists {
      std::string keys;
      std::vector<std::size_t> key_ends;
      std::vector<DocId> ids;
      std::vector<std::size_t> id_ends;
      std::size_t at = 0;  // merge cursor
      std::string_view key(std::size_t t) const {
        const std::size_t b = t == 0 ? 0 : key_ends[t - 1];
        return std::string_view(keys).substr(b, key_ends[t] - b);
      }
      std::span<const DocId> list(std::size_t t) const {
        const std::size_t b = t == 0 ? 0 : id_ends[t - 1];
        return std::span<const DocId>(ids).subspan(b, id_ends[t] - b);
      }
    };
    std::vector<Lists> lists(inputs.size());
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      auto& l = lists[i];
      const auto& ren = renumber[i];
      inputs[i].segment->for_each_posting_list(
          [&](std::string_view key, std::span<const DocId> in_ids) {
            if (static_cast<TermKind>(key[0]) == TermKind::kLabel) return;  // from the streams
            l.keys += key;
            l.key_ends.push_back(l.keys.size());
            for (DocId d : in_ids) l.ids.push_back(ren[d]);
            l.id_ends.push_back(l.ids.size());
          });
    }
    std::vector<DocId> merged_ids, tmp;
    std::vector<std::size_t> holders;
    for (;;) {
      std::string_view key;
      holders.clear();
      for (std::size_t i = 0; i < lists.size(); ++i) {
        auto& l = lists[i];
        if (l.at == l.key_ends.size()) continue;
        const std::string_view k = l.key(l.at);
        if (holders.empty() || k < key) {
          key = k;
          holders.assign(1, i);
        } else if (k == key) {
          holders.push_back(i);
        }
      }
      if (holders.empty()) break;
      if (holders.size() == 1) {
        writer.add_sorted_postings(key, lists[holders[0]].list(lists[holders[0]].at));
      } else {
        merged_ids.clear();
        for (std::size_t i : holders) {
          const auto run = lists[i].list(lists[i].at);
          if (merged_ids.empty() || run.empty() || merged_ids.back() < run.front()) {
            merged_ids.insert(merged_ids.end(), run.begin(), run.end());
          } else {
            tmp.resize(merged_ids.size() + run.size());
            std::merge(merged_ids.begin(), merged_ids.end(), run.begin(), run.end(), tmp.begin());
            merged_ids.swap(tmp);
          }
        }
        writer.add_sorted_postings(key, merged_ids);
      }
      for (std::size_t i : holders) ++lists[i].at;
    }
    writer.finish();
    merged = Segment::open(path);
  } catch (const SegmentError& e) {
    report_damage(e);
    std::error_code ec;
    fs::remove(path, ec);
    return 0;
  } catch (const std::exception& e) {
    spdlog::error("logindex store: merging {} segments into {} failed: {}", inputs.size(),
                  path.string(), e.what());
    std::error_code ec;
    fs::remove(path, ec);
    return 0;
  }
  {
    std::unique_lock lock(mu_);
    std::set<std::uint64_t> gone;
    for (const auto& in : inputs) gone.insert(in.seq);
    std::erase_if(segments_, [&](const SegmentRef& r) { return gone.count(r.seq) > 0; });
    segments_.push_back({seq, merged});
  }
  for (const auto& in : inputs) {
    std::error_code ec;
    fs::remove(in.segment->path(), ec);  // searches in flight keep their mapping
  }
  ++merges_;
  spdlog::info("logindex store: merged {} segments into {} ({} entries, {} bytes)", inputs.size(),
               path.string(), merged->doc_count(), merged->summary().file_bytes);
  return inputs.size();
}

std::size_t LogStore::apply_retention() {
  std::lock_guard maintenance(maintenance_mu_);
  std::vector<std::shared_ptr<const Segment>> doomed;
  {
    std::unique_lock lock(mu_);
    if (segments_.empty()) return 0;
    std::int64_t newest = head_->time_range().second;
    if (flushing_) newest = std::max(newest, flushing_->time_range().second);
    for (const auto& s : segments_) newest = std::max(newest, s.segment->summary().max_ts);
    if (options_.retention_age.count() > 0) {
      const std::int64_t age_ns = options_.retention_age.count() * 1'000'000;
      // Relative to the newest line, not the wall clock: the same rule as
      // the tsdb, and a store fed old logs does not delete them on arrival.
      const std::int64_t cutoff = newest > std::numeric_limits<std::int64_t>::min() + age_ns
                                      ? newest - age_ns
                                      : std::numeric_limits<std::int64_t>::min();
      std::erase_if(segments_, [&](const SegmentRef& r) {
        if (r.segment->summary().max_ts >= cutoff) return false;
        doomed.push_back(r.segment);
        return true;
      });
    }
    if (options_.retention_max_bytes > 0) {
      std::uint64_t total = 0;
      for (const auto& s : segments_) total += s.segment->summary().file_bytes;
      while (total > options_.retention_max_bytes && !segments_.empty()) {
        auto oldest = std::min_element(segments_.begin(), segments_.end(),
                                       [](const SegmentRef& a, const SegmentRef& b) {
                                         return std::pair(a.segment->summary().max_ts, a.seq) <
                                                std::pair(b.segment->summary().max_ts, b.seq);
                                       });
        total -= oldest->segment->summary().file_bytes;
        doomed.push_back(oldest->segment);
        segments_.erase(oldest);
      }
    }
  }
  for (const auto& s : doomed) {
    std::error_code ec;
    fs::remove(s->path(), ec);
    spdlog::info("logindex store: retention deleted {} (lines {}..{} ns, {} bytes)",
                 s->path().string(), s->summary().min_ts, s->summary().max_ts,
                 s->summary().file_bytes);
  }
  retention_deleted_ += doomed.size();
  return doomed.size();
}

void LogStore::maintain() {
  quarantine_reported();
  if (flush_due()) flush_head();
  while (merge_segments() > 0) {
  }
  apply_retention();
}

void LogStore::run_maintenance() {
  std::unique_lock lock(thread_mu_);
  while (!stopping_) {
    thread_cv_.wait_for(lock, options_.maintenance_interval, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    try {
      maintain();
    } catch (const std::exception& e) {
      spdlog::error("logindex store: maintenance failed: {} (retried at the next run)", e.what());
    }
    lock.lock();
  }
}

LogStoreStats LogStore::stats() const {
  LogStoreStats s;
  {
    std::shared_lock lock(mu_);
    s.head_entries = head_->entry_count() + (flushing_ ? flushing_->entry_count() : 0);
    for (const auto& r : segments_) {
      s.segment_entries += r.segment->doc_count();
      s.segment_bytes += r.segment->summary().file_bytes;
    }
    s.segments = segments_.size();
  }
  s.flushes = flushes_;
  s.merges = merges_;
  s.retention_deleted = retention_deleted_;
  s.corrupt_segments = corrupt_segments_;
  s.wal_syncs = wal_->syncs();
  s.wal_replayed_entries = wal_replayed_entries_;
  s.wal_corruptions = wal_corruptions_;
  return s;
}

std::size_t LogStore::entry_count() const {
  auto s = stats();
  return s.head_entries + s.segment_entries;
}

}  // namespace strata::logindex
