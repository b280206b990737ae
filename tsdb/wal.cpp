#include "tsdb/wal.h"

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <bit>
#include <charconv>
#include <optional>

#include "common/file.h"

namespace strata::tsdb {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kCheckpointPrefix = "checkpoint.";

std::string segment_name(std::uint32_t i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08u", i);
  return buf;
}

std::optional<std::uint32_t> parse_index(std::string_view s) {
  if (s.size() != 8) return std::nullopt;
  std::uint32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

FsyncPolicy parse_fsync_policy(std::string_view s) {
  if (s == "batch") return FsyncPolicy::kBatch;
  if (s == "never") return FsyncPolicy::kNever;
  throw std::invalid_argument("unknown WAL fsync policy '" + std::string(s) +
                              "': expected batch or never");
}

std::string WalCorruption::to_string() const {
  return file + " at offset " + std::to_string(offset) + ": " + reason;
}

// ---- encoding --------------------------------------------------------------

void WalEncoder::record(WalRecordType type, std::string_view payload) {
  auto t = static_cast<std::uint8_t>(type);
  out_.u8(t);
  out_.u32(static_cast<std::uint32_t>(payload.size()));
  out_.u32(crc32(payload, crc32(std::span<const std::uint8_t>(&t, 1))));
  out_.raw(payload);
}

void WalEncoder::series(std::uint64_t ref, const Labels& labels) {
  ByteWriter p;
  p.uvarint(ref);
  p.uvarint(labels.size());
  for (const auto& [n, v] : labels.items()) {
    p.str(n);
    p.str(v);
  }
  record(WalRecordType::kSeries, p.data());
}

void WalEncoder::samples(std::uint64_t ref, std::span<const wire::Sample> samples) {
  if (samples.empty()) return;
  pending_.uvarint(ref);
  pending_.uvarint(samples.size());
  std::int64_t prev = 0;
  for (const auto& s : samples) {
    // Deltas from the previous sample (the first from 0): scrapes a few
    // seconds apart cost 2-3 bytes of timestamp instead of 8.
    pending_.varint(static_cast<std::int64_t>(static_cast<std::uint64_t>(s.timestamp_ms) -
                                              static_cast<std::uint64_t>(prev)));
    pending_.u64(std::bit_cast<std::uint64_t>(s.value));
    prev = s.timestamp_ms;
  }
  if (pending_.size() >= (1u << 20)) finish_samples();
}

void WalEncoder::finish_samples() {
  if (pending_.size() == 0) return;
  record(WalRecordType::kSamples, pending_.data());
  pending_.clear();
}

void decode_wal_record(WalRecordType type, std::span<const std::uint8_t> payload,
                       std::size_t base_offset, const SeriesFn& on_series,
                       const SamplesFn& on_samples) {
  ByteReader r(payload, base_offset);
  switch (type) {
    case WalRecordType::kSeries: {
      auto ref = r.uvarint();
      auto n = r.uvarint();
      if (n == 0 || n > r.remaining() / 2)
        throw FormatError("series record with " + std::to_string(n) + " labels", r.offset());
      std::vector<Label> labels;
      labels.reserve(n);
      for (std::uint64_t i = 0; i < n; ++i) {
        auto name = r.str();
        auto value = r.str();
        labels.emplace_back(std::string(name), std::string(value));
      }
      if (!r.done()) throw FormatError("trailing bytes in series record", r.offset());
      Labels l;
      try {
        l = Labels(std::move(labels));
      } catch (const std::invalid_argument& e) {
        throw FormatError(std::string("bad series record: ") + e.what(), base_offset);
      }
      if (on_series) on_series(ref, l);
      return;
    }
    case WalRecordType::kSamples: {
      std::vector<wire::Sample> buf;
      while (!r.done()) {
        auto ref = r.uvarint();
        auto n = r.uvarint();
        if (n == 0 || n > r.remaining() / 9)
          throw FormatError("samples group with " + std::to_string(n) + " samples", r.offset());
        buf.clear();
        buf.reserve(n);
        std::int64_t t = 0;
        for (std::uint64_t i = 0; i < n; ++i) {
          t = static_cast<std::int64_t>(static_cast<std::uint64_t>(t) +
                                        static_cast<std::uint64_t>(r.varint()));
          buf.push_back({t, std::bit_cast<double>(r.u64())});
        }
        if (on_samples) on_samples(ref, buf);
      }
      return;
    }
  }
  throw FormatError("unknown WAL record type " + std::to_string(static_cast<int>(type)),
                    base_offset);
}

std::size_t scan_wal_segment(std::span<const std::uint8_t> data, const SeriesFn& on_series,
                             const SamplesFn& on_samples, std::string* error, bool* torn,
                             std::uint64_t* records) {
  std::size_t pos = 0;
  *torn = false;
  while (pos < data.size()) {
    if (data.size() - pos < kWalRecordHeader) {
      *torn = true;
      *error = "torn record header (" + std::to_string(data.size() - pos) + " bytes)";
      return pos;
    }
    ByteReader h(data.subspan(pos, kWalRecordHeader), pos);
    auto type = h.u8();
    auto len = h.u32();
    auto crc = h.u32();
    if (type != 1 && type != 2) {
      *error = "unknown record type " + std::to_string(type);
      return pos;
    }
    if (len > kWalMaxRecord) {
      *error = "record length " + std::to_string(len) + " exceeds the limit";
      return pos;
    }
    if (data.size() - pos - kWalRecordHeader < len) {
      *torn = true;
      *error = "torn record: " + std::to_string(len) + " byte payload, " +
               std::to_string(data.size() - pos - kWalRecordHeader) + " bytes left";
      return pos;
    }
    auto payload = data.subspan(pos + kWalRecordHeader, len);
    if (crc32(payload, crc32(data.subspan(pos, 1))) != crc) {
      *error = "CRC mismatch";
      return pos;
    }
    try {
      decode_wal_record(static_cast<WalRecordType>(type), payload, pos + kWalRecordHeader,
                        on_series, on_samples);
    } catch (const FormatError& e) {
      *error = e.what();
      return pos;
    }
    ++*records;
    pos += kWalRecordHeader + len;
  }
  return pos;
}

// ---- the log ---------------------------------------------------------------

Wal::Wal(WalOptions options) : options_(std::move(options)) {
  fs::create_directories(options_.dir);
}

Wal::~Wal() {
  try {
    sync();
  } catch (const std::exception& e) {
    spdlog::error("tsdb WAL: final sync failed: {}", e.what());
  }
  if (fd_ >= 0) ::close(fd_);
}

WalReplayStats Wal::replay(const SeriesFn& on_series, const SamplesFn& on_samples) {
  std::lock_guard lock(mu_);
  WalReplayStats stats;
  std::vector<std::uint32_t> segments;
  std::optional<std::uint32_t> checkpoint;
  for (const auto& e : fs::directory_iterator(options_.dir)) {
    auto name = e.path().filename().string();
    if (name.ends_with(".tmp")) {
      fs::remove_all(e.path());  // an interrupted checkpoint
      continue;
    }
    if (name.starts_with(kCheckpointPrefix)) {
      if (auto i = parse_index(std::string_view(name).substr(kCheckpointPrefix.size())))
        checkpoint = std::max(checkpoint.value_or(0), *i);
      continue;
    }
    if (auto i = parse_index(name)) segments.push_back(*i);
  }
  std::sort(segments.begin(), segments.end());

  auto consume = [&](const fs::path& path, bool last) {
    auto file = read_file(path);
    std::string error;
    bool torn = false;
    auto end = scan_wal_segment(
        strata::as_bytes(file),
        [&](std::uint64_t ref, const Labels& l) {
          ++stats.series;
          on_series(ref, l);
        },
        [&](std::uint64_t ref, std::span<const wire::Sample> s) {
          stats.samples += s.size();
          on_samples(ref, s);
        },
        &error, &torn, &stats.records);
    ++stats.segments;
    if (end == file.size()) return;
    if (torn && last) {
      stats.torn_tail = true;
      spdlog::warn("tsdb WAL: {} ends in a torn record at offset {} ({}); truncating there",
                   path.string(), end, error);
    } else {
      stats.corruptions.push_back({path.string(), end, error});
      spdlog::error("tsdb WAL: corruption in {} at offset {}: {}; the {} bytes after it are lost",
                    path.string(), end, error, file.size() - end);
    }
    // Repair, so the next start neither reports it again nor appends after garbage.
    fs::resize_file(path, end);
  };

  if (checkpoint) {
    auto path = options_.dir / (std::string(kCheckpointPrefix) + segment_name(*checkpoint));
    consume(path, false);
  }
  std::uint32_t last = checkpoint.value_or(0);
  for (std::size_t i = 0; i < segments.size(); ++i) {
    auto idx = segments[i];
    if (checkpoint && idx <= *checkpoint) {
      fs::remove(options_.dir / segment_name(idx));  // covered; left by a crash
      continue;
    }
    consume(options_.dir / segment_name(idx), i + 1 == segments.size());
    last = std::max(last, idx);
  }
  // Never append to a replayed segment: a fresh one keeps a repaired tail
  // and new records apart.
  open_segment(last + 1);
  return stats;
}

void Wal::open_segment(std::uint32_t index) {
  if (fd_ >= 0) ::close(fd_);
  auto path = options_.dir / segment_name(index);
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw_errno("create WAL segment", path);
  segment_ = index;
  segment_size_ = static_cast<std::uint64_t>(::lseek(fd_, 0, SEEK_END));
  fsync_path(options_.dir);  // the new name must survive a power loss too
}

void Wal::log_series(std::uint64_t ref, const Labels& labels) {
  std::lock_guard lock(mu_);
  enc_.series(ref, labels);
}

void Wal::log_samples(std::uint64_t ref, std::span<const wire::Sample> samples) {
  std::lock_guard lock(mu_);
  enc_.samples(ref, samples);
}

void Wal::write_locked() {
  if (fd_ < 0) throw std::logic_error("tsdb WAL: written before replay()");
  enc_.finish_samples();
  auto& data = enc_.data();
  if (data.empty()) return;
  if (segment_size_ > 0 && segment_size_ + data.size() > options_.segment_bytes)
    open_segment(segment_ + 1);
  write_all(fd_, data, options_.dir / segment_name(segment_));
  segment_size_ += data.size();
  bytes_written_ += data.size();
  enc_.clear();
}

void Wal::sync() {
  std::lock_guard lock(mu_);
  if (fd_ < 0) return;
  bool had = enc_.size() > 0;
  write_locked();
  if (had && options_.fsync == FsyncPolicy::kBatch) {
    if (::fdatasync(fd_) != 0) throw_errno("fdatasync", options_.dir / segment_name(segment_));
    ++syncs_;
  }
}

std::uint32_t Wal::cut_segment() {
  std::lock_guard lock(mu_);
  write_locked();
  if (options_.fsync == FsyncPolicy::kBatch && ::fdatasync(fd_) != 0)
    throw_errno("fdatasync", options_.dir / segment_name(segment_));
  auto closed = segment_;
  open_segment(segment_ + 1);
  return closed;
}

void Wal::write_checkpoint(std::uint32_t upto, const std::function<void(WalEncoder&)>& fill) {
  WalEncoder enc;
  fill(enc);
  enc.finish_samples();
  auto path = options_.dir / (std::string(kCheckpointPrefix) + segment_name(upto));
  write_file_durably(path, enc.data());
  for (const auto& e : fs::directory_iterator(options_.dir)) {
    auto name = e.path().filename().string();
    if (name.starts_with(kCheckpointPrefix)) {
      auto i = parse_index(std::string_view(name).substr(kCheckpointPrefix.size()));
      if (i && *i < upto) fs::remove(e.path());
    } else if (auto i = parse_index(name); i && *i <= upto) {
      fs::remove(e.path());
    }
  }
}

std::uint64_t Wal::bytes_written() const {
  std::lock_guard lock(mu_);
  return bytes_written_;
}
std::uint64_t Wal::syncs() const {
  std::lock_guard lock(mu_);
  return syncs_;
}

}  // namespace strata::tsdb
