// FileTailer: follows log files the way `tail -F` does, by polling.
//
//  - Files present when start() runs are read from their end (what is
//    already there was written before the agent came up); files that appear
//    later -- a literal path created afterwards, or a new glob match -- are
//    read from their beginning, so nothing a new file receives is missed.
//  - Rotation by rename/re-create (the path now names another inode): the
//    old file stays open and is read to its end (a writer may still append
//    to it until it reopens), then closed; the new file is read from 0.
//  - Truncation in place (copytruncate: size < read offset): restart at 0.
//  - Lines are split on '\n' (which is removed). A trailing partial line waits
//    for its newline, except that a line longer than max_line_bytes is cut
//    there (at a UTF-8 boundary), marked truncated, and the rest of it
//    discarded up to the next newline. A partial line still pending when its
//    file is closed or truncated is emitted as it is.
//  - Glob patterns are re-expanded every rescan_interval; literal paths are
//    checked on every poll.
//  - A file's identity is (device, inode), so a rotated file that a glob also
//    matches (app.log -> app.log.1 with pattern app.log*) is not read twice:
//    closed files are remembered with their offset and a hash of their first
//    bytes (guarding against inode reuse), and resumed where they were left.
//
// Checkpoints: positions() reports (path, identity, offset of the last
// complete line, head hash) for every open and every remembered closed file,
// and TailerOptions::resume feeds such positions back in at construction.
// Every TailEntry carries its identity and offsets, so the agent can hold a
// file's checkpoint back to the first line not yet acknowledged
// (agent/checkpoint_store.h persists it).
//
// Thread-safety: not thread-safe; one thread owns the tailer and calls start()
// and poll(). open_files() alone may be read from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace strata::agent {

struct TailEntry {
  std::string path;               // as matched (the pattern's expansion), not canonicalised
  std::string line;               // without the '\n'; raw bytes, not yet UTF-8-checked
  std::int64_t timestamp_ns = 0;  // when it was read
  bool truncated = false;
  // Where the entry is in its file, for checkpoints: the file's identity,
  // the offset of its first byte and the offset just past it (past its
  // '\n'). A restart that resumes at `offset` reads this entry again.
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::uint64_t offset = 0;
  std::uint64_t end_offset = 0;
};

// Where a file was left: what a checkpoint store persists.
struct FilePosition {
  std::string path;
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::uint64_t offset = 0;  // just past the last complete line emitted
  // FNV-1a 64 of the first head_length (<= 1024) bytes: a reused inode with
  // other content must not be resumed at a foreign offset.
  std::uint64_t head_length = 0;
  std::uint64_t head_hash = 0;
};

struct TailerOptions {
  std::vector<std::string> patterns;  // paths or glob(3) patterns
  std::size_t max_line_bytes = 262'144;
  std::chrono::milliseconds rescan_interval{10'000};
  // Per file per poll: bounds memory when a large file appears, and keeps one
  // busy file from starving the others.
  std::size_t max_read_bytes_per_poll = 1u << 20;
  std::vector<FilePosition> resume;  // see "Checkpoints" above
  // Files present at start() that `resume` does not know: read from their
  // end (first start: what is there was written long ago), or from their
  // beginning (a restart with checkpoints: they appeared, or were rotated
  // in, while the agent was down, so all their lines are new).
  bool unknown_files_from_start = false;
  std::size_t remembered_files = 4096;
};

class FileTailer {
 public:
  explicit FileTailer(TailerOptions options);
  ~FileTailer();
  FileTailer(const FileTailer&) = delete;
  FileTailer& operator=(const FileTailer&) = delete;

  // Opens the files that exist now, positioned at their end (or at a resume
  // position). Called by the first poll() if not called before.
  void start();
  // Reads whatever was appended since the last poll, in file order.
  std::vector<TailEntry> poll();

  std::vector<FilePosition> positions() const;
  // Whether the last poll() stopped at max_read_bytes_per_poll for some file:
  // there is more to read now, so the caller should poll again at once
  // rather than sleep (a file being written faster than one poll reads).
  bool backlog() const { return backlog_; }
  std::size_t open_files() const { return open_count_.load(std::memory_order_relaxed); }

 private:
  struct File {
    std::string path;
    int fd = -1;
    std::uint64_t device = 0;
    std::uint64_t inode = 0;
    std::uint64_t offset = 0;      // next byte to read
    std::string partial;           // bytes of the current line read so far
    std::uint64_t line_start = 0;  // offset of the current line's first byte
    bool discarding = false;       // dropping the rest of an overlong line
  };
  struct Known {
    FilePosition position;
    std::uint64_t seq = 0;
  };
  using Identity = std::pair<std::uint64_t, std::uint64_t>;

  void scan(bool initial, bool globs, std::vector<TailEntry>& out);
  void discover(const std::string& path, bool initial, std::vector<TailEntry>& out);
  std::size_t read_new(File& f, std::vector<TailEntry>& out);
  void consume(File& f, std::string_view data, std::uint64_t base, std::vector<TailEntry>& out);
  void emit(const File& f, std::string_view text, std::uint64_t end, std::vector<TailEntry>& out);
  void close_file(File& f, std::vector<TailEntry>& out);
  bool is_open(Identity id) const;
  FilePosition position_of(const File& f) const;
  void remember(const FilePosition& p);
  void update_count();

  TailerOptions options_;
  std::map<std::string, File> files_;  // by path: the file each path names now
  std::vector<File> draining_;         // rotated away or deleted, read to the end
  std::map<Identity, Known> known_;
  std::deque<std::pair<Identity, std::uint64_t>> known_order_;
  std::uint64_t known_seq_ = 0;
  std::set<std::string> warned_;  // paths whose open failure was logged
  std::chrono::steady_clock::time_point next_rescan_{};
  std::int64_t now_ns_ = 0;  // timestamp of the poll in progress
  std::vector<char> buf_;
  bool started_ = false;
  bool backlog_ = false;
  std::atomic<std::size_t> open_count_{0};
};

}  // namespace strata::agent
