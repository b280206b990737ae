// File primitives of the stores (tsdb and log store): durable writes,
// directory fsync, read-only memory maps and the data-directory lock.
//
// Durability: durable_rename() fsyncs a finished temp file, renames it into
// place and fsyncs the directory, so after a crash a reader sees either no
// file or the whole file, never half. Errors are std::system_error naming
// the path and the operation.
//
// MappedFile: an immutable read-only mmap of a whole file; the mapping lives
// until the last shared_ptr is gone, so a search can keep reading a segment
// that a merge or retention has just unlinked.
//
// DirLock: flock() on <dir>/lock for the life of the object, so two
// processes never share a data directory (the kernel drops it on SIGKILL).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace strata {

[[noreturn]] void throw_errno(const std::string& what, const std::filesystem::path& path);

void write_all(int fd, std::string_view data, const std::filesystem::path& path);
void fsync_fd(int fd, const std::filesystem::path& path);
void fsync_path(const std::filesystem::path& path);  // a file or a directory
// fsync(tmp), rename(tmp, final), fsync(final's directory).
// Writes `data` to path.tmp, fsyncs it and durable-renames it to `path`.
void write_file_durably(const std::filesystem::path& path, std::string_view data);
void durable_rename(const std::filesystem::path& tmp, const std::filesystem::path& final_path);
std::string read_file(const std::filesystem::path& path);

class MappedFile {
 public:
  static std::shared_ptr<const MappedFile> open(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::span<const std::uint8_t> data() const { return {data_, size_}; }
  const std::filesystem::path& path() const { return path_; }

 private:
  MappedFile() = default;
  std::filesystem::path path_;
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

class DirLock {
 public:
  // Throws std::runtime_error naming the directory when another process
  // holds it.
  explicit DirLock(const std::filesystem::path& dir);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace strata
