// Durable file operations and read-only memory maps, the two ways the tsdb
// touches disk.
//
// Durability: write_file_durably() writes a temp file, fsyncs it, renames it
// into place and fsyncs the directory, so a reader (or a restart after a
// crash) sees either the old file or the whole new one, never half. Errors
// are std::system_error naming the path.
//
// MappedFile: an immutable read-only mmap of a whole file (blocks are
// immutable, so no locking is needed); empty files map to an empty span.
// The mapping lives until the last shared_ptr to it is gone, which lets
// queries keep reading a block that compaction has just deleted.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace strata::tsdb {

[[noreturn]] void throw_errno(const std::string& what, const std::filesystem::path& path);

void write_all(int fd, std::string_view data, const std::filesystem::path& path);
void fsync_path(const std::filesystem::path& path);  // a file or a directory
void write_file_durably(const std::filesystem::path& path, std::string_view data);
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

}  // namespace strata::tsdb
