#include "agent/disk_batch_queue.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/byte_codec.h"
#include "common/file.h"

namespace strata::agent {

namespace {

// Segment header: magic, format version.
constexpr char kMagic[4] = {'S', 'A', 'B', 'F'};
constexpr std::size_t kSegmentHeader = 8;
// Record header: payload length (meta + body), CRC-32 (of everything after
// it), seq, items, flags, meta length.
constexpr std::size_t kRecordHeader = 4 + 4 + 8 + 4 + 4 + 4;
// acked: two slots of [seq u64][crc32 of seq u32][pad u32].
constexpr std::size_t kAckSlot = 16;
constexpr std::uint32_t kFlagZstd = 1;
// A length beyond this is corruption, not a batch (the collector takes far
// less in one request).
constexpr std::uint32_t kMaxBody = 1u << 30;

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

bool pread_all(int fd, char* buf, std::size_t n, std::uint64_t off) {
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, buf + got, n - got, static_cast<off_t>(off + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    got += static_cast<std::size_t>(r);
  }
  return true;
}

}  // namespace

DiskBatchQueue::DiskBatchQueue(std::filesystem::path dir, std::size_t max_bytes,
                               std::size_t segment_bytes)
    : dir_(std::move(dir)),
      max_bytes_(max_bytes),
      segment_bytes_(std::max<std::size_t>(segment_bytes, 1)) {
  std::filesystem::create_directories(dir_);
  recover();
}

DiskBatchQueue::~DiskBatchQueue() {
  if (fd_ >= 0) ::close(fd_);
  if (acked_fd_ >= 0) ::close(acked_fd_);
}

std::filesystem::path DiskBatchQueue::segment_path(std::uint64_t first_seq) const {
  return dir_ / fmt::format("{:020}.seg", first_seq);
}

void DiskBatchQueue::recover() {
  acked_ = read_acked();
  next_seq_ = acked_ + 1;
  std::vector<std::uint64_t> segments;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    const std::string name = e.path().filename().string();
    if (name.size() == 24 && name.ends_with(".seg") && name.find_first_not_of("0123456789") == 20)
      segments.push_back(std::stoull(name.substr(0, 20)));
  }
  std::sort(segments.begin(), segments.end());
  for (auto s : segments) recover_segment(s);
  std::size_t bytes = 0;
  for (const auto& r : records_) bytes += r.body_size;
  count_.store(records_.size());
  bytes_.store(bytes);
  if (!records_.empty())
    spdlog::info("on-disk buffer {}: {} batches ({} bytes) waiting from the last run",
                 dir_.string(), records_.size(), bytes);
}

void DiskBatchQueue::recover_segment(std::uint64_t first_seq) {
  const auto path = segment_path(first_seq);
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) throw_errno("open", path);
  const auto size = static_cast<std::uint64_t>(::lseek(fd, 0, SEEK_END));
  char head[kSegmentHeader];
  std::size_t live = 0;
  std::uint64_t off = kSegmentHeader;
  if (size < kSegmentHeader || !pread_all(fd, head, kSegmentHeader, 0) ||
      std::memcmp(head, kMagic, 4) != 0) {
    // Torn at creation (crash before the header was durable): nothing in it.
    off = 0;
  } else if (std::uint32_t v = load_u32(reinterpret_cast<const std::uint8_t*>(head + 4));
             v != kFormatVersion) {
    ::close(fd);
    throw std::runtime_error(fmt::format(
        "on-disk buffer segment {} has format version {}; this agent reads version {}. Deliver "
        "it with the agent that wrote it, or remove it",
        path.string(), v, kFormatVersion));
  } else {
    std::string body;
    for (;;) {
      char rh[kRecordHeader];
      if (off + kRecordHeader > size || !pread_all(fd, rh, kRecordHeader, off)) break;
      const auto* p = reinterpret_cast<const std::uint8_t*>(rh);
      const std::uint32_t len = load_u32(p);
      const std::uint32_t crc = load_u32(p + 4);
      const std::uint64_t seq = load_u64(p + 8);
      const std::uint32_t items = load_u32(p + 16);
      const std::uint32_t meta_len = load_u32(p + 24);
      if (len > kMaxBody || meta_len > len || off + kRecordHeader + len > size) break;
      body.resize(len);
      if (!pread_all(fd, body.data(), len, off + kRecordHeader)) break;
      std::uint32_t c = crc32(std::string_view(rh + 8, kRecordHeader - 8));
      c = crc32(body, c);  // meta and body
      if (c != crc) break;
      if (seq > acked_) {
        records_.push_back({seq, first_seq, off, len - meta_len, meta_len, items});
        ++live;
      }
      next_seq_ = std::max(next_seq_, seq + 1);
      off += kRecordHeader + len;
    }
  }
  if (off < size) {
    bad_bytes_ += size - off;
    spdlog::warn(
        "on-disk buffer: {} ends with {} torn or corrupt bytes (an interrupted write); cut off",
        path.string(), size - off);
    if (::ftruncate(fd, static_cast<off_t>(off)) != 0) throw_errno("ftruncate", path);
    fsync_fd(fd, path);
  }
  ::close(fd);
  if (live == 0) {
    std::filesystem::remove(path);
  } else {
    segment_live_[first_seq] = live;
  }
}

void DiskBatchQueue::open_segment(std::uint64_t first_seq) {
  if (fd_ >= 0) ::close(fd_);
  const auto path = segment_path(first_seq);
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw_errno("create", path);
  std::string head(kMagic, 4);
  put_u32(head, kFormatVersion);
  write_all(fd_, head, path);
  fsync_fd(fd_, path);
  fsync_path(dir_);  // the new name must survive a crash too
  write_segment_ = first_seq;
  write_offset_ = kSegmentHeader;
}

Evicted DiskBatchQueue::push(EncodedBatch batch) {
  if (batch.body.size() + batch.meta.size() > kMaxBody)
    throw std::length_error(
        fmt::format("batch of {} bytes is beyond the on-disk buffer's limit", batch.body.size()));
  const std::uint64_t seq = next_seq_++;
  if (fd_ < 0 || write_offset_ >= segment_bytes_) open_segment(seq);
  std::string rec;
  rec.reserve(kRecordHeader + batch.meta.size() + batch.body.size());
  put_u32(rec, static_cast<std::uint32_t>(batch.meta.size() + batch.body.size()));
  put_u32(rec, 0);  // CRC, below
  put_u64(rec, seq);
  put_u32(rec, static_cast<std::uint32_t>(batch.items));
  put_u32(rec, batch.zstd ? kFlagZstd : 0);
  put_u32(rec, static_cast<std::uint32_t>(batch.meta.size()));
  rec += batch.meta;
  rec += batch.body;
  const std::uint32_t c = crc32(std::string_view(rec).substr(8));
  for (int i = 0; i < 4; ++i) rec[4 + i] = static_cast<char>(c >> (8 * i));
  const auto path = segment_path(write_segment_);
  write_all(fd_, rec, path);
  if (::fdatasync(fd_) != 0) throw_errno("fdatasync", path);
  records_.push_back(
      {seq, write_segment_, write_offset_, static_cast<std::uint32_t>(batch.body.size()),
       static_cast<std::uint32_t>(batch.meta.size()), static_cast<std::uint32_t>(batch.items)});
  ++segment_live_[write_segment_];
  write_offset_ += rec.size();
  count_.fetch_add(1, std::memory_order_relaxed);
  bytes_.fetch_add(batch.body.size(), std::memory_order_relaxed);

  Evicted ev;
  std::uint64_t last_evicted = 0;
  while (bytes() > max_bytes_ && records_.size() > 1) {
    ++ev.batches;
    ev.items += records_.front().items;
    last_evicted = records_.front().seq;
    remove_front(false);
  }
  if (ev.batches > 0) write_acked(last_evicted);
  return ev;
}

void DiskBatchQueue::read_record(const Record& r, std::string* meta, std::string* body,
                                 bool* zstd) const {
  const auto path = segment_path(r.segment);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("open", path);
  char rh[kRecordHeader];
  bool ok = pread_all(fd, rh, kRecordHeader, r.offset);
  if (ok && meta) {
    meta->resize(r.meta_size);
    ok = pread_all(fd, meta->data(), r.meta_size, r.offset + kRecordHeader);
  }
  if (ok && body) {
    body->resize(r.body_size);
    ok = pread_all(fd, body->data(), r.body_size, r.offset + kRecordHeader + r.meta_size);
  }
  ::close(fd);
  if (!ok) throw std::runtime_error("on-disk buffer: cannot read back " + path.string());
  if (zstd) *zstd = (load_u32(reinterpret_cast<const std::uint8_t*>(rh + 20)) & kFlagZstd) != 0;
}

const EncodedBatch& DiskBatchQueue::front() const {
  const Record& r = records_.front();
  if (front_seq_ != r.seq) {
    read_record(r, nullptr, &front_.body, &front_.zstd);
    front_.items = r.items;
    front_seq_ = r.seq;
  }
  return front_;
}

std::string DiskBatchQueue::newest_meta() const {
  if (records_.empty()) return {};
  std::string meta;
  read_record(records_.back(), &meta, nullptr, nullptr);
  return meta;
}

void DiskBatchQueue::pop() { remove_front(true); }

void DiskBatchQueue::remove_front(bool write_ack) {
  const Record r = records_.front();
  records_.pop_front();
  count_.fetch_sub(1, std::memory_order_relaxed);
  bytes_.fetch_sub(r.body_size, std::memory_order_relaxed);
  if (front_seq_ == r.seq) {
    front_seq_.reset();
    front_.body = std::string();  // release the memory of a large batch
  }
  if (write_ack) write_acked(r.seq);
  if (--segment_live_[r.segment] == 0 && r.segment != write_segment_) {
    segment_live_.erase(r.segment);
    std::error_code ec;
    std::filesystem::remove(segment_path(r.segment), ec);
  }
  // The segment being written: once everything in it is gone, start afresh
  // so the disk use shrinks back after an outage.
  if (records_.empty() && fd_ >= 0 && write_offset_ > kSegmentHeader) {
    ::close(fd_);
    fd_ = -1;
    segment_live_.erase(write_segment_);
    std::error_code ec;
    std::filesystem::remove(segment_path(write_segment_), ec);
  }
}

std::uint64_t DiskBatchQueue::read_acked() {
  const auto path = dir_ / "acked";
  acked_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (acked_fd_ < 0) throw_errno("open", path);
  char buf[2 * kAckSlot] = {};
  const auto size = ::lseek(acked_fd_, 0, SEEK_END);
  if (size == 0) {  // new: both slots say 0
    std::string init;
    for (int i = 0; i < 2; ++i) {
      put_u64(init, 0);
      put_u32(init, crc32(std::string_view("\0\0\0\0\0\0\0\0", 8)));
      put_u32(init, 0);
    }
    write_all(acked_fd_, init, path);
    fsync_fd(acked_fd_, path);
    fsync_path(dir_);
    return 0;
  }
  if (size != 2 * kAckSlot || !pread_all(acked_fd_, buf, sizeof buf, 0))
    throw std::runtime_error(fmt::format(
        "on-disk buffer: {} is not an acked file ({} bytes); remove the directory {} to start "
        "over (its batches are then lost)",
        path.string(), size, dir_.string()));
  // The slot with the larger valid sequence number is the latest; a torn
  // write damages one slot only.
  std::uint64_t best = 0;
  bool any = false;
  for (int i = 0; i < 2; ++i) {
    const char* slot = buf + i * kAckSlot;
    const auto seq = load_u64(reinterpret_cast<const std::uint8_t*>(slot));
    const auto crc = load_u32(reinterpret_cast<const std::uint8_t*>(slot + 8));
    if (crc != crc32(std::string_view(slot, 8))) continue;
    if (!any || seq > best) {
      best = seq;
      acked_slot_ = i;
    }
    any = true;
  }
  if (!any)
    throw std::runtime_error(fmt::format(
        "on-disk buffer: both slots of {} are corrupt; remove the directory {} to start over",
        path.string(), dir_.string()));
  return best;
}

void DiskBatchQueue::write_acked(std::uint64_t seq) {
  acked_ = seq;
  acked_slot_ ^= 1;  // never overwrite the slot holding the current value
  std::string slot;
  put_u64(slot, seq);
  put_u32(slot, crc32(std::string_view(slot)));
  put_u32(slot, 0);
  const auto path = dir_ / "acked";
  std::size_t done = 0;
  while (done < slot.size()) {
    ssize_t n = ::pwrite(acked_fd_, slot.data() + done, slot.size() - done,
                         static_cast<off_t>(acked_slot_ * kAckSlot + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw_errno("pwrite", path);
    done += static_cast<std::size_t>(n);
  }
  if (::fdatasync(acked_fd_) != 0) throw_errno("fdatasync", path);
}

}  // namespace strata::agent
