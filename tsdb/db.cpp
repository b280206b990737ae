#include "tsdb/db.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <map>
#include <set>

#include "tsdb/chunk_encoding.h"
#include "tsdb/downsample.h"

namespace strata::tsdb {

namespace fs = std::filesystem;

namespace {

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if (a % b != 0 && ((a < 0) != (b < 0))) --q;
  return q;
}

// Cuts sorted samples into chunks of at most `per_chunk`, each in both
// forms write_block chooses from (standalone or shared timestamps).
void encode_into(std::vector<EncodedChunk>& out, std::span<const wire::Sample> samples, Aggr aggr,
                 std::uint32_t per_chunk) {
  for (std::size_t i = 0; i < samples.size(); i += per_chunk) {
    out.push_back(encode_for_block(
        samples.subspan(i, std::min<std::size_t>(per_chunk, samples.size() - i)), aggr));
  }
}

std::vector<wire::Sample> collect(std::vector<ChunkRef> chunks, std::int64_t mint,
                                  std::int64_t maxt, std::optional<Aggr> aggr) {
  std::vector<wire::Sample> out;
  SeriesIterator it(std::move(chunks), mint, maxt, aggr);
  while (it.next()) out.push_back({it.t(), it.v()});
  return out;
}

std::vector<ChunkRef> only(const std::vector<ChunkRef>& chunks, Aggr a) {
  std::vector<ChunkRef> out;
  for (const auto& c : chunks)
    if (c.aggr == a) out.push_back(c);
  return out;
}

// Raw samples of an all-raw chunk list (nullopt aggregate: no sum/count
// chunks present, so only the raw stream yields).
std::vector<wire::Sample> collect_raw(const std::vector<ChunkRef>& chunks, std::int64_t mint,
                                      std::int64_t maxt) {
  return collect(only(chunks, Aggr::kRaw), mint, maxt, std::nullopt);
}

bool covered(std::int64_t mint, std::int64_t maxt,
             std::vector<std::pair<std::int64_t, std::int64_t>> intervals) {
  std::sort(intervals.begin(), intervals.end());
  std::int64_t reach = mint;
  for (auto [a, b] : intervals) {
    if (a > reach) break;
    reach = std::max(reach, b);
    if (reach >= maxt) return true;
  }
  return reach >= maxt;
}

}  // namespace

DB::DB(DBOptions options) : options_(std::move(options)), head_(options_.head) {
  if (options_.block_range_ms < 60'000)
    throw std::invalid_argument("tsdb: block range must be at least 1m");
  blocks_dir_ = options_.dir / "blocks";
  try {
    fs::create_directories(blocks_dir_);
  } catch (const fs::filesystem_error& e) {
    throw std::runtime_error("tsdb: cannot create data directory " + options_.dir.string() + ": " +
                             e.what());
  }
  auto lock_path = options_.dir / "lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) throw_errno("tsdb: cannot open lock file", lock_path);
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd_);
    throw std::runtime_error("tsdb: data directory " + options_.dir.string() +
                             " is in use by another process (lock file " + lock_path.string() +
                             "); stop it or choose another --tsdb.data_dir");
  }

  load_blocks();
  std::int64_t blocks_end = kMinTime;
  for (const auto& b : blocks_) blocks_end = std::max(blocks_end, b->meta().max_time);
  // What is in a block must not come back from the WAL (or from Kafka) into the head.
  if (blocks_end != kMinTime) head_.truncate(blocks_end);

  wal_ = std::make_unique<Wal>(
      WalOptions{options_.dir / "wal", options_.wal_segment_bytes, options_.fsync});
  open_report_.wal = wal_->replay(
      [this](std::uint64_t ref, const Labels& labels) {
        try {
          head_.replay_series(ref, labels);
        } catch (const std::invalid_argument& e) {
          spdlog::error("tsdb WAL replay: skipping series {}: {}", ref, e.what());
        }
      },
      [this](std::uint64_t ref, std::span<const wire::Sample> samples) {
        head_.replay_samples(ref, samples);
      });
  for (const auto& c : open_report_.wal.corruptions)
    open_report_.corruptions.push_back(c.to_string());
  head_.set_new_series_hook(
      [this](SeriesRef ref, const Labels& labels) { wal_->log_series(ref, labels); });
  spdlog::info(
      "tsdb: opened {}: {} blocks, WAL replay {} series records, {} samples from {} files{}",
      options_.dir.string(), open_report_.blocks, open_report_.wal.series, open_report_.wal.samples,
      open_report_.wal.segments, open_report_.wal.torn_tail ? " (torn tail truncated)" : "");
  if (options_.maintenance_interval.count() > 0)
    maintenance_ = std::thread([this] { maintenance_loop(); });
}

DB::~DB() {
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (maintenance_.joinable()) maintenance_.join();
  wal_.reset();  // syncs
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

void DB::load_blocks() {
  std::vector<std::shared_ptr<Block>> loaded;
  for (const auto& e : fs::directory_iterator(blocks_dir_)) {
    if (!e.is_directory()) continue;
    auto name = e.path().filename().string();
    if (name.ends_with(".tmp")) {
      spdlog::warn("tsdb: removing interrupted block write {}", e.path().string());
      fs::remove_all(e.path());
      continue;
    }
    if (name.ends_with(".corrupt")) continue;
    try {
      auto b = Block::open(e.path());
      for (const auto& c : b->corrupt_chunks()) open_report_.corruptions.push_back(c);
      loaded.push_back(std::move(b));
    } catch (const BlockError& err) {
      open_report_.corruptions.push_back(err.what());
      spdlog::error("tsdb: block {} is corrupt ({}); moved aside as {}.corrupt, serving the rest",
                    e.path().string(), err.what(), name);
      std::error_code ec;
      fs::rename(e.path(), e.path().string() + ".corrupt", ec);
    }
  }
  // A compaction that crashed after writing its result but before deleting
  // its inputs leaves both: the inputs go.
  std::set<std::string> replaced;
  for (const auto& b : loaded)
    for (const auto& p : b->meta().parents) replaced.insert(p);
  std::erase_if(loaded, [&](const std::shared_ptr<Block>& b) {
    if (!replaced.contains(b->meta().id)) return false;
    spdlog::info("tsdb: removing block {} already replaced by a compaction", b->meta().id);
    fs::remove_all(b->dir());
    return true;
  });
  std::sort(loaded.begin(), loaded.end(), [](const auto& a, const auto& b) {
    return std::tie(a->meta().resolution, a->meta().min_time) <
           std::tie(b->meta().resolution, b->meta().min_time);
  });
  open_report_.blocks = loaded.size();
  blocks_ = std::move(loaded);
}

AppendResult DB::append(const Labels& labels, std::span<const wire::Sample> samples) {
  std::vector<wire::Sample> accepted;
  SeriesRef ref = 0;
  auto r = head_.append(labels, samples, &accepted, &ref);
  if (!accepted.empty()) wal_->log_samples(ref, accepted);
  return r;
}

void DB::sync() { wal_->sync(); }

std::vector<std::shared_ptr<Block>> DB::blocks() const {
  std::shared_lock lock(blocks_mu_);
  return blocks_;
}

std::vector<std::shared_ptr<Block>> DB::blocks_for(std::int64_t mint, std::int64_t maxt,
                                                   std::int64_t res) const {
  auto all = blocks();
  std::erase_if(
      all, [&](const auto& b) { return b->meta().max_time <= mint || b->meta().min_time > maxt; });
  // Preference: the chosen resolution, then finer ones (closest first),
  // then coarser ones; a block is used unless blocks already chosen cover
  // its whole range.
  auto rank = [res](std::int64_t r) -> std::pair<int, std::int64_t> {
    if (r == res) return {0, 0};
    if (r < res) return {1, -r};
    return {2, r};
  };
  std::stable_sort(all.begin(), all.end(), [&](const auto& a, const auto& b) {
    return rank(a->meta().resolution) < rank(b->meta().resolution);
  });
  std::vector<std::shared_ptr<Block>> out;
  std::vector<std::pair<std::int64_t, std::int64_t>> have;
  for (const auto& b : all) {
    if (covered(b->meta().min_time, b->meta().max_time, have)) continue;
    have.emplace_back(b->meta().min_time, b->meta().max_time);
    out.push_back(b);
  }
  return out;
}

std::vector<Series> DB::select(const std::vector<LabelMatcher>& matchers, std::int64_t mint,
                               std::int64_t maxt, const SelectHints& hints) const {
  const auto res = pick_resolution(hints);
  const auto aggr = aggregate_for(hints.func);
  std::set<Aggr> wanted{Aggr::kRaw};
  if (aggr) {
    wanted.insert(*aggr);
  } else {
    wanted.insert(Aggr::kSum);
    wanted.insert(Aggr::kCount);
  }
  // Each source answers in label order; a series in several sources (blocks
  // and the head) gets the chunks of all, sorted by labels. The common case,
  // one source, is already in order and is not re-sorted.
  std::vector<Series> all;
  auto take = [&](auto&& found) {
    for (auto& d : found)
      all.push_back({std::move(d.labels), std::move(d.chunks), mint, maxt, aggr});
  };
  for (const auto& b : blocks_for(mint, maxt, res)) take(b->select(matchers, mint, maxt, wanted));
  take(head_.select(matchers, mint, maxt));
  auto by_labels = [](const Series& a, const Series& b) { return a.labels < b.labels; };
  if (!std::is_sorted(all.begin(), all.end(), by_labels))
    std::stable_sort(all.begin(), all.end(), by_labels);
  std::vector<Series> out;
  out.reserve(all.size());
  for (auto& s : all) {
    if (!out.empty() && out.back().labels == s.labels) {
      auto& v = out.back().chunks;
      v.insert(v.end(), s.chunks.begin(), s.chunks.end());
    } else {
      out.push_back(std::move(s));
    }
  }
  return out;
}

std::vector<Labels> DB::series_labels(const std::vector<LabelMatcher>& matchers, std::int64_t mint,
                                      std::int64_t maxt) const {
  std::vector<Labels> out;
  for (auto& s : select(matchers, mint, maxt)) {
    auto it = s.iterator();
    if (it.next()) out.push_back(std::move(s.labels));
  }
  return out;
}

std::vector<InstantSample> DB::instant(const std::vector<LabelMatcher>& matchers, std::int64_t t_ms,
                                       std::chrono::milliseconds lookback) const {
  // Left-open window (t - lookback, t], as in Prometheus 3.
  const std::int64_t lb = lookback.count();
  const std::int64_t oldest = t_ms < kMinTime + lb ? kMinTime : t_ms - lb;
  std::vector<InstantSample> out;
  for (auto& s : select(matchers, oldest == kMinTime ? kMinTime : oldest + 1, t_ms)) {
    auto it = s.iterator();
    bool have = false;
    std::int64_t t = 0;
    double v = 0;
    while (it.next()) {
      have = true;
      t = it.t();
      v = it.v();
    }
    if (!have || wire::is_stale_nan(v)) continue;
    out.push_back({std::move(s.labels), t, v});
  }
  return out;
}

std::vector<wire::Sample> DB::samples(const Labels& raw, std::int64_t mint,
                                      std::int64_t maxt) const {
  Labels labels = Head::normalize(raw);
  std::vector<LabelMatcher> matchers;
  for (const auto& [n, v] : labels.items()) matchers.emplace_back(MatchOp::kEqual, n, v);
  for (const auto& s : select(matchers, mint, maxt, SelectHints{0, "", 0}))
    if (s.labels == labels) return s.samples();
  return {};
}

namespace {
// The sorted union of the head's and the blocks' answers (each sorted), by
// one sort of their concatenation: no tree of strings.
std::vector<std::string> sorted_union(std::vector<std::string> all,
                                      const std::vector<std::shared_ptr<Block>>& blocks,
                                      const auto& of_block) {
  for (const auto& b : blocks) {
    auto more = of_block(*b);
    if (all.empty()) {
      all = std::move(more);
      continue;
    }
    all.insert(all.end(), std::make_move_iterator(more.begin()),
               std::make_move_iterator(more.end()));
  }
  if (!std::is_sorted(all.begin(), all.end())) std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  return all;
}
}  // namespace

std::vector<std::string> DB::label_names() const {
  return sorted_union(head_.label_names(), blocks(),
                      [](const Block& b) { return b.index().label_names(); });
}

std::vector<std::string> DB::label_values(std::string_view name) const {
  return sorted_union(head_.label_values(name), blocks(),
                      [&](const Block& b) { return b.index().label_values(name); });
}

// ---- maintenance -----------------------------------------------------------

void DB::maintenance_loop() {
  for (;;) {
    {
      std::unique_lock lock(stop_mu_);
      if (stop_cv_.wait_for(lock, options_.maintenance_interval, [this] { return stopping_; }))
        return;
    }
    try {
      maintain(false);
    } catch (const std::exception& e) {
      spdlog::error("tsdb maintenance failed (will retry): {}", e.what());
    }
  }
}

void DB::maintain(bool flush_head) {
  std::lock_guard lock(maintain_mu_);
  cut_head(flush_head);
  while (compact_once(flush_head)) {
  }
  while (downsample_once()) {
  }
  apply_retention();
}

std::int64_t DB::newest_time() const {
  std::int64_t t = head_.max_time();
  for (const auto& b : blocks()) t = std::max(t, b->meta().max_time - 1);
  return t;
}

void DB::install(std::shared_ptr<Block> added, const std::vector<std::string>& removed_ids) {
  std::vector<std::shared_ptr<Block>> removed;
  {
    std::unique_lock lock(blocks_mu_);
    if (added) blocks_.push_back(std::move(added));
    std::erase_if(blocks_, [&](const std::shared_ptr<Block>& b) {
      bool gone =
          std::find(removed_ids.begin(), removed_ids.end(), b->meta().id) != removed_ids.end();
      if (gone) removed.push_back(b);
      return gone;
    });
    std::sort(blocks_.begin(), blocks_.end(), [](const auto& a, const auto& b) {
      return std::tie(a->meta().resolution, a->meta().min_time) <
             std::tie(b->meta().resolution, b->meta().min_time);
    });
  }
  // Running queries keep their shared_ptr (and mapping); the files can go now.
  for (const auto& b : removed) fs::remove_all(b->dir());
}

bool DB::cut_head(bool flush_all) {
  const std::int64_t range = options_.block_range_ms;
  std::optional<std::uint32_t> segment;
  bool did = false;
  for (;;) {
    const std::int64_t hmin = head_.min_time();
    const std::int64_t hmax = head_.max_time();
    if (hmin == kMaxTime || hmax == kMinTime) break;
    const std::int64_t start = floor_div(hmin, range) * range;
    std::int64_t end = start + range;
    if (!flush_all && hmax < end + range / 2) break;  // Prometheus: cut at 1.5 ranges
    if (flush_all && hmax < end) end = hmax + 1;
    if (!segment) segment = wal_->cut_segment();

    std::vector<BlockSeriesInput> series;
    for (auto& s : head_.all_series(start, end - 1)) {
      auto samples = collect_raw(s.chunks, start, end - 1);
      if (samples.empty()) continue;
      BlockSeriesInput in{std::move(s.labels), {}};
      encode_into(in.chunks, samples, Aggr::kRaw, options_.block_chunk_samples);
      series.push_back(std::move(in));
    }
    if (!series.empty()) {
      BlockMeta meta;
      meta.min_time = start;
      meta.max_time = end;
      auto dir = write_block(blocks_dir_, meta, std::move(series));
      install(Block::open(dir), {});
      spdlog::info("tsdb: cut head [{}, {}) into block {}: {} series, {} samples", start, end,
                   meta.id, meta.num_series, meta.num_samples);
    }
    head_.truncate(end);
    did = true;
  }
  if (segment) write_checkpoint(*segment);
  return did;
}

void DB::write_checkpoint(std::uint32_t upto) {
  wal_->write_checkpoint(upto, [this](WalEncoder& enc) {
    for (const auto& s : head_.all_series()) {
      enc.series(s.ref, s.labels);
      auto samples = collect_raw(s.chunks, kMinTime, kMaxTime);
      enc.samples(s.ref, samples);
    }
  });
}

bool DB::compact_once(bool flush) {
  const std::int64_t final_before = head_.min_valid_time();
  const std::int64_t levels[] = {3 * options_.block_range_ms, 12 * options_.block_range_ms};
  auto all = blocks();
  for (auto R : levels) {
    std::map<std::pair<std::int64_t, std::int64_t>, std::vector<std::shared_ptr<Block>>> groups;
    for (const auto& b : all) {
      const auto& m = b->meta();
      if (m.max_time - m.min_time >= R) continue;
      auto g = floor_div(m.min_time, R);
      if (m.max_time > (g + 1) * R) continue;  // straddles the window
      groups[{m.resolution, g}].push_back(b);
    }
    for (auto& [key, group] : groups) {
      if (group.size() < 2) continue;
      if (!flush && (key.second + 1) * R > final_before) continue;  // window still filling
      BlockMeta meta;
      meta.resolution = key.first;
      meta.min_time = kMaxTime;
      meta.max_time = kMinTime;
      meta.level = 0;
      std::map<Labels, std::vector<ChunkRef>> merged;
      for (const auto& b : group) {
        meta.min_time = std::min(meta.min_time, b->meta().min_time);
        meta.max_time = std::max(meta.max_time, b->meta().max_time);
        meta.level = std::max(meta.level, b->meta().level + 1);
        meta.parents.push_back(b->meta().id);
        std::set<Aggr> every;
        for (int a = 0; a < kNumAggr; ++a) every.insert(static_cast<Aggr>(a));
        for (auto& d : b->select({}, kMinTime, kMaxTime, every)) {
          auto& v = merged[std::move(d.labels)];
          v.insert(v.end(), d.chunks.begin(), d.chunks.end());
        }
      }
      std::vector<BlockSeriesInput> series;
      series.reserve(merged.size());
      for (auto& [labels, chunks] : merged) {
        BlockSeriesInput in{labels, {}};
        for (int a = 0; a < kNumAggr; ++a) {
          auto aggr = static_cast<Aggr>(a);
          auto mine = only(chunks, aggr);
          if (mine.empty()) continue;
          auto samples = aggr == Aggr::kRaw ? collect(mine, kMinTime, kMaxTime, std::nullopt)
                                            : collect(mine, kMinTime, kMaxTime, aggr);
          encode_into(in.chunks, samples, aggr, options_.block_chunk_samples);
        }
        series.push_back(std::move(in));
      }
      merged.clear();
      auto dir = write_block(blocks_dir_, meta, std::move(series));
      install(Block::open(dir), meta.parents);
      compactions_.fetch_add(1);
      spdlog::info("tsdb: compacted {} blocks into {} [{}, {}) level {}", group.size(), meta.id,
                   meta.min_time, meta.max_time, meta.level);
      return true;
    }
  }
  return false;
}

bool DB::downsample_once() {
  const std::int64_t newest = newest_time();
  auto all = blocks();
  struct Step {
    std::int64_t from, to, after;
  };
  const Step steps[] = {{0, kRes5m, options_.downsample_5m_after_ms},
                        {kRes5m, kRes1h, options_.downsample_1h_after_ms}};
  for (const auto& st : steps) {
    std::vector<std::pair<std::int64_t, std::int64_t>> done;
    for (const auto& b : all)
      if (b->meta().resolution == st.to) done.emplace_back(b->meta().min_time, b->meta().max_time);
    for (const auto& b : all) {
      const auto& m = b->meta();
      if (m.resolution != st.from) continue;
      if (newest == kMinTime || m.max_time > newest - st.after) continue;
      if (covered(m.min_time, m.max_time, done)) continue;
      std::set<Aggr> every;
      for (int a = 0; a < kNumAggr; ++a) every.insert(static_cast<Aggr>(a));
      std::vector<BlockSeriesInput> series;
      for (auto& d : b->select({}, kMinTime, kMaxTime, every)) {
        AggrSamples agg;
        if (st.from == 0) {
          agg = downsample_raw(collect_raw(d.chunks, kMinTime, kMaxTime), st.to);
        } else {
          AggrSamples fine;
          for (int a = 1; a < kNumAggr; ++a)
            fine[a] = collect(only(d.chunks, static_cast<Aggr>(a)), kMinTime, kMaxTime,
                              static_cast<Aggr>(a));
          agg = downsample_aggregates(fine, st.to);
        }
        BlockSeriesInput in{std::move(d.labels), {}};
        for (int a = 1; a < kNumAggr; ++a)
          if (!agg[a].empty())
            encode_into(in.chunks, agg[a], static_cast<Aggr>(a), options_.block_chunk_samples);
        series.push_back(std::move(in));
      }
      BlockMeta meta;
      meta.min_time = m.min_time;
      meta.max_time = m.max_time;
      meta.resolution = st.to;
      auto dir = write_block(blocks_dir_, meta, std::move(series));
      install(Block::open(dir), {});
      spdlog::info("tsdb: downsampled block {} to {} ms resolution as {}", m.id, st.to, meta.id);
      return true;
    }
  }
  return false;
}

bool DB::apply_retention() {
  const std::int64_t newest = newest_time();
  if (newest == kMinTime) return false;
  std::vector<std::string> expired;
  for (const auto& b : blocks()) {
    const auto& m = b->meta();
    auto keep = m.resolution == 0        ? options_.retention_raw_ms
                : m.resolution == kRes5m ? options_.retention_5m_ms
                                         : options_.retention_1h_ms;
    if (m.max_time <= newest - keep) {
      expired.push_back(m.id);
      spdlog::info("tsdb: retention deletes block {} [{}, {}) at resolution {} ms", m.id,
                   m.min_time, m.max_time, m.resolution);
    }
  }
  if (expired.empty()) return false;
  install(nullptr, expired);
  return true;
}

}  // namespace strata::tsdb
