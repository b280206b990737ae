#include "logindex/wal.h"

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "common/file.h"

namespace strata::logindex {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[4] = {'L', 'W', 'A', 'L'};
// A record is cut when its payload passes this, so replay holds little at once.
constexpr std::size_t kTargetRecord = 1u << 20;

std::string file_name(std::uint32_t i) {
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

std::string file_header() {
  ByteWriter w;
  w.raw(std::string_view(kMagic, 4));
  w.u32(kWalVersion);
  return w.data();
}

void decode_entries(std::span<const std::uint8_t> payload, std::uint64_t base,
                    const WalEntriesFn& fn, std::uint64_t* entries) {
  ByteReader r(payload, base);
  auto n = r.uvarint();
  if (n > r.remaining() / 2)
    throw FormatError("entries record with " + std::to_string(n) + " labels", r.offset());
  std::vector<Label> labels;
  labels.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    auto name = r.str();
    auto value = r.str();
    labels.emplace_back(std::string(name), std::string(value));
  }
  Labels stream;
  try {
    stream = Labels(std::move(labels));
  } catch (const std::invalid_argument& e) {
    throw FormatError(std::string("bad stream labels: ") + e.what(), base);
  }
  auto count = r.uvarint();
  if (count == 0 || count > r.remaining() / 2)
    throw FormatError("entries record with " + std::to_string(count) + " entries", r.offset());
  std::vector<wire::LogEntry> out;
  out.reserve(count);
  std::int64_t ts = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    ts = static_cast<std::int64_t>(static_cast<std::uint64_t>(ts) +
                                   static_cast<std::uint64_t>(r.varint()));
    auto line = r.str();
    out.push_back({ts, std::string(line), {}});
  }
  if (!r.done()) throw FormatError("trailing bytes in entries record", r.offset());
  *entries += out.size();
  if (fn) fn(stream, out);
}

}  // namespace

void encode_wal_record(const Labels& stream, std::span<const WalEntry> entries, std::string& out) {
  if (entries.empty()) return;
  ByteWriter p;
  p.uvarint(stream.size());
  for (const auto& [n, v] : stream.items()) {
    p.str(n);
    p.str(v);
  }
  p.uvarint(entries.size());
  std::int64_t prev = 0;
  for (const auto& e : entries) {
    // Deltas from the previous entry (the first from 0): lines of one
    // stream arrive close together, so a timestamp costs a few bytes.
    p.varint(static_cast<std::int64_t>(static_cast<std::uint64_t>(e.timestamp_ns) -
                                       static_cast<std::uint64_t>(prev)));
    p.str(e.line);
    prev = e.timestamp_ns;
  }
  if (p.size() > kWalMaxRecord)
    throw std::length_error("logindex WAL: record of " + std::to_string(p.size()) +
                            " bytes exceeds the " + std::to_string(kWalMaxRecord) +
                            " byte limit (a single line that large cannot be logged)");
  ByteWriter h;
  auto t = static_cast<std::uint8_t>(WalRecordType::kEntries);
  h.u8(t);
  h.u32(static_cast<std::uint32_t>(p.size()));
  h.u32(crc32(p.data(), crc32(std::span<const std::uint8_t>(&t, 1))));
  out += h.data();
  out += p.data();
}

std::size_t scan_wal_file(std::span<const std::uint8_t> data, const WalEntriesFn& fn,
                          std::string* error, bool* torn, std::uint64_t* records,
                          std::uint64_t* entries) {
  *torn = false;
  if (data.size() < kWalFileHeader) {
    // A crash right after creating the file: no record was ever in it.
    *torn = true;
    *error = "torn file header (" + std::to_string(data.size()) + " bytes)";
    return 0;
  }
  if (std::memcmp(data.data(), kMagic, 4) != 0) {
    *error = "not a logindex WAL file (bad magic)";
    return 0;
  }
  if (auto v = load_u32(data.data() + 4); v != kWalVersion) {
    *error = "unsupported WAL format version " + std::to_string(v) + " (this build reads " +
             std::to_string(kWalVersion) + ")";
    return 0;
  }
  std::size_t pos = kWalFileHeader;
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
    if (type != static_cast<std::uint8_t>(WalRecordType::kEntries)) {
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
      decode_entries(payload, pos + kWalRecordHeader, fn, entries);
    } catch (const FormatError& e) {
      *error = e.what();
      return pos;
    }
    ++*records;
    pos += kWalRecordHeader + len;
  }
  return pos;
}

Wal::Wal(WalOptions options) : options_(std::move(options)) {
  fs::create_directories(options_.dir);
}

Wal::~Wal() {
  try {
    sync();
  } catch (const std::exception& e) {
    spdlog::error("logindex WAL: final sync failed: {}", e.what());
  }
  if (fd_ >= 0) ::close(fd_);
}

WalReplayStats Wal::replay(const WalEntriesFn& fn) {
  std::lock_guard lock(mu_);
  WalReplayStats stats;
  std::vector<std::uint32_t> files;
  for (const auto& e : fs::directory_iterator(options_.dir))
    if (auto i = parse_index(e.path().filename().string())) files.push_back(*i);
  std::sort(files.begin(), files.end());

  for (std::size_t i = 0; i < files.size(); ++i) {
    const bool last = i + 1 == files.size();
    const auto path = options_.dir / file_name(files[i]);
    auto data = read_file(path);
    std::string error;
    bool torn = false;
    auto end = scan_wal_file(as_bytes(data), fn, &error, &torn, &stats.records, &stats.entries);
    ++stats.files;
    if (end == data.size()) continue;
    if (torn && end == 0) {
      // Created but its header never reached the disk (a crash right after
      // opening it): it never held a record.
      spdlog::warn("logindex WAL: removing {}: {}", path.string(), error);
      fs::remove(path);
      continue;
    }
    if (torn && last) {
      // The normal result of a crash mid-write: what was cut off was never
      // synced, so never acknowledged to Kafka. Cut it off for good.
      stats.torn_tail = true;
      spdlog::warn("logindex WAL: {} ends in a torn record at offset {} ({}); truncating there",
                   path.string(), end, error);
      fs::resize_file(path, end);
      continue;
    }
    stats.corruptions.push_back({path.string(), end, error});
    spdlog::error(
        "logindex WAL: corruption in {} at offset {}: {}; the {} bytes after it are skipped (the "
        "file is kept for inspection until the next head flush deletes it)",
        path.string(), end, error, data.size() - end);
  }
  // Never append to a replayed file: a fresh one keeps a repaired tail and
  // new records apart.
  open_file(files.empty() ? 1 : files.back() + 1);
  return stats;
}

void Wal::open_file(std::uint32_t index) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  auto path = options_.dir / file_name(index);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw_errno("create WAL file", path);
  fd_ = fd;
  file_ = index;
  auto header = file_header();
  write_all(fd_, header, path);
  file_size_ = header.size();
  dirty_ = true;
  fsync_path(options_.dir);  // the new name must survive a power loss too
}

void Wal::log(const Labels& stream, std::span<const WalEntry> entries) {
  std::lock_guard lock(mu_);
  // Cut long runs into records of about kTargetRecord bytes.
  std::size_t begin = 0, bytes = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    bytes += entries[i].line.size() + 12;
    if (bytes >= kTargetRecord) {
      encode_wal_record(stream, entries.subspan(begin, i + 1 - begin), buf_);
      begin = i + 1;
      bytes = 0;
    }
  }
  encode_wal_record(stream, entries.subspan(begin), buf_);
}

void Wal::write_locked() {
  if (fd_ < 0) throw std::logic_error("logindex WAL: written before replay()");
  if (buf_.empty()) return;
  if (file_size_ > kWalFileHeader && file_size_ + buf_.size() > options_.segment_bytes) {
    // What is in the old file must be durable before a sync of the new one
    // can vouch for "everything logged so far".
    sync_locked();
    open_file(file_ + 1);
  }
  write_all(fd_, buf_, options_.dir / file_name(file_));
  file_size_ += buf_.size();
  bytes_written_ += buf_.size();
  dirty_ = true;
  buf_.clear();
}

void Wal::sync_locked() {
  if (!dirty_) return;
  if (options_.fsync) {
    fsync_fd(fd_, options_.dir / file_name(file_));
    ++syncs_;
  }
  dirty_ = false;
}

void Wal::sync() {
  std::lock_guard lock(mu_);
  if (fd_ < 0) return;
  write_locked();
  sync_locked();
}

std::uint32_t Wal::cut() {
  std::lock_guard lock(mu_);
  write_locked();
  sync_locked();
  auto closed = file_;
  open_file(file_ + 1);
  return closed;
}

void Wal::remove_upto(std::uint32_t index) {
  std::lock_guard lock(mu_);
  for (const auto& e : fs::directory_iterator(options_.dir)) {
    auto i = parse_index(e.path().filename().string());
    if (i && *i <= index && *i != file_) fs::remove(e.path());
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

}  // namespace strata::logindex
