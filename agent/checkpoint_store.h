// CheckpointStore: where each tailed file was left, persisted in
// <agent.data_dir>/checkpoints.json so that a restarted agent resumes every
// file exactly at the first line the collector (or the on-disk buffer) has
// not yet taken.
//
// A file is identified by (device, inode) plus a fingerprint of its first
// bytes (FilePosition::head_length/head_hash), so a reused inode holding other
// content is not resumed at a foreign offset.
//
// Durability: save() writes a temp file, fsyncs it, renames it over the old
// one and fsyncs the directory (common/file.h write_file_durably), so after a
// crash or power loss load() sees the previous or the new checkpoint whole,
// never a mix. A file that cannot be parsed (hand-edited, from a future
// version) is an error naming the file and what to do, rather than a silent
// restart from the end of every file.
//
// The file (JSON, docs/agent.md):
//   {"version":1,"files":[{"path":"/var/log/syslog","device":2049,
//    "inode":1234,"offset":4096,"head_length":1024,"head_hash":"9f..."}]}
// head_hash is a hex string: JSON numbers lose 64-bit precision in many readers.
//
// Thread-safety: none; the tail thread owns it.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "agent/file_tailer.h"

namespace strata::agent {

class CheckpointStore {
 public:
  explicit CheckpointStore(std::filesystem::path dir);

  // nullopt when there is no checkpoint yet (first start). Throws
  // std::runtime_error when the file exists but is unreadable.
  std::optional<std::vector<FilePosition>> load() const;
  // Replaces the checkpoint; skips the write when nothing changed since the
  // last save. Throws std::system_error naming the path on I/O errors.
  void save(const std::vector<FilePosition>& positions);

  const std::filesystem::path& path() const { return path_; }

  static std::string encode(const std::vector<FilePosition>& positions);
  static std::vector<FilePosition> decode(const std::string& json);  // throws runtime_error

 private:
  std::filesystem::path path_;
  std::string last_saved_;
};

}  // namespace strata::agent
