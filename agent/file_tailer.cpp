#include "agent/file_tailer.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "agent/utf8.h"

namespace strata::agent {

namespace {

constexpr std::size_t kHeadBytes = 1024;
constexpr std::size_t kReadChunk = 64 * 1024;

bool is_glob(const std::string& pattern) {
  return pattern.find_first_of("*?[{") != std::string::npos;
}

std::vector<std::string> expand(const std::string& pattern) {
  glob_t g{};
  std::vector<std::string> out;
  if (::glob(pattern.c_str(), GLOB_BRACE | GLOB_NOSORT, nullptr, &g) == 0)
    for (std::size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  ::globfree(&g);
  std::sort(out.begin(), out.end());  // deterministic order of discovery
  return out;
}

std::uint64_t fnv1a(const char* p, std::size_t n) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(p[i]);
    h *= 0x100000001b3ULL;
  }
  return h;
}

// Hash of the first `len` bytes of fd; false if the file is shorter.
bool head_hash(int fd, std::size_t len, std::uint64_t& hash) {
  std::string buf(len, '\0');
  std::size_t got = 0;
  while (got < len) {
    ssize_t n = ::pread(fd, buf.data() + got, len - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += static_cast<std::size_t>(n);
  }
  hash = fnv1a(buf.data(), len);
  return true;
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

FileTailer::FileTailer(TailerOptions options) : options_(std::move(options)), buf_(kReadChunk) {
  if (options_.max_line_bytes == 0) options_.max_line_bytes = 1;
  if (options_.max_read_bytes_per_poll == 0) options_.max_read_bytes_per_poll = kReadChunk;
  for (const auto& p : options_.resume) remember(p);
}

FileTailer::~FileTailer() {
  for (auto& [path, f] : files_) ::close(f.fd);
  for (auto& f : draining_) ::close(f.fd);
}

void FileTailer::start() {
  if (started_) return;
  started_ = true;
  now_ns_ = now_ns();
  std::vector<TailEntry> none;  // an initial scan positions files; it reads nothing
  scan(/*initial=*/true, /*globs=*/true, none);
  next_rescan_ = std::chrono::steady_clock::now() + options_.rescan_interval;
  update_count();
}

std::vector<TailEntry> FileTailer::poll() {
  start();
  std::vector<TailEntry> out;
  now_ns_ = now_ns();
  backlog_ = false;

  // Rotated-out files first: their lines were written before the new file's.
  // One poll finding nothing new means the writer has moved on.
  for (auto it = draining_.begin(); it != draining_.end();) {
    if (read_new(*it, out) == 0) {
      close_file(*it, out);
      it = draining_.erase(it);
    } else {
      ++it;
    }
  }

  for (auto it = files_.begin(); it != files_.end();) {
    File& f = it->second;
    read_new(f, out);
    struct stat st {};
    bool gone = ::stat(f.path.c_str(), &st) != 0 && (errno == ENOENT || errno == ENOTDIR);
    bool replaced = !gone && (static_cast<std::uint64_t>(st.st_dev) != f.device ||
                              static_cast<std::uint64_t>(st.st_ino) != f.inode);
    if (gone || replaced) {
      spdlog::debug("tail: {} was {}; finishing the old file", f.path,
                    gone ? "removed" : "rotated");
      draining_.push_back(std::move(f));
      it = files_.erase(it);
    } else {
      ++it;
    }
  }

  auto now = std::chrono::steady_clock::now();
  bool globs = now >= next_rescan_;
  if (globs) next_rescan_ = now + options_.rescan_interval;
  scan(/*initial=*/false, globs, out);
  update_count();
  return out;
}

void FileTailer::scan(bool initial, bool globs, std::vector<TailEntry>& out) {
  for (const auto& pattern : options_.patterns) {
    if (!is_glob(pattern)) {
      if (!files_.count(pattern)) discover(pattern, initial, out);
    } else if (globs) {
      for (const auto& path : expand(pattern))
        if (!files_.count(path)) discover(path, initial, out);
    }
  }
}

void FileTailer::discover(const std::string& path, bool initial, std::vector<TailEntry>& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT && errno != ENOTDIR && warned_.insert(path).second)
      spdlog::warn("tail: cannot open {}: {}", path, std::strerror(errno));
    return;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    // Directories, FIFOs and devices matched by a broad glob: never tailed.
    ::close(fd);
    return;
  }
  warned_.erase(path);
  Identity id{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
  if (is_open(id)) {
    // Already followed under another name (a rotated file the pattern also
    // matches, or a hard link): reading it here too would duplicate lines.
    ::close(fd);
    return;
  }
  auto size = static_cast<std::uint64_t>(st.st_size);

  File f;
  f.path = path;
  f.fd = fd;
  f.device = id.first;
  f.inode = id.second;
  f.offset = initial && !options_.unknown_files_from_start ? size : 0;
  if (auto k = known_.find(id); k != known_.end()) {
    const FilePosition& p = k->second.position;
    std::uint64_t h = 0;
    if (p.head_length == 0 || (head_hash(fd, p.head_length, h) && h == p.head_hash))
      f.offset = p.offset <= size ? p.offset : 0;  // shorter now: truncated since
    known_.erase(k);
  }
  f.line_start = f.offset;
  spdlog::debug("tail: following {} from offset {}", path, f.offset);
  auto [it, inserted] = files_.emplace(path, std::move(f));
  if (!initial) read_new(it->second, out);
}

std::size_t FileTailer::read_new(File& f, std::vector<TailEntry>& out) {
  struct stat st {};
  if (::fstat(f.fd, &st) == 0 && static_cast<std::uint64_t>(st.st_size) < f.offset) {
    spdlog::info("tail: {} was truncated; reading it again from the start", f.path);
    if (!f.partial.empty() && !f.discarding) emit(f, f.partial, f.offset, out);
    f.partial.clear();
    f.discarding = false;
    f.offset = 0;
    f.line_start = 0;
  }
  std::size_t total = 0;
  while (total < options_.max_read_bytes_per_poll) {
    std::size_t want = std::min(buf_.size(), options_.max_read_bytes_per_poll - total);
    ssize_t n = ::pread(f.fd, buf_.data(), want, static_cast<off_t>(f.offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      spdlog::warn("tail: read error on {}: {}", f.path, std::strerror(errno));
      break;
    }
    if (n == 0) break;
    f.offset += static_cast<std::uint64_t>(n);
    total += static_cast<std::size_t>(n);
    consume(f, std::string_view(buf_.data(), static_cast<std::size_t>(n)),
            f.offset - static_cast<std::uint64_t>(n), out);
  }
  if (total >= options_.max_read_bytes_per_poll) backlog_ = true;
  return total;
}

void FileTailer::consume(File& f, std::string_view data, std::uint64_t base,
                         std::vector<TailEntry>& out) {
  const std::size_t max = options_.max_line_bytes;
  std::size_t pos = 0;
  while (pos < data.size()) {
    std::size_t nl = data.find('\n', pos);
    bool complete = nl != std::string_view::npos;
    std::string_view piece = data.substr(pos, (complete ? nl : data.size()) - pos);
    pos = complete ? nl + 1 : data.size();
    const std::uint64_t end = base + pos;  // past the '\n' when complete

    if (f.discarding) {
      if (complete) {
        f.discarding = false;
        f.line_start = end;
      }
      continue;
    }
    if (complete && f.partial.empty()) {
      emit(f, piece, end, out);
      f.line_start = end;
      continue;
    }
    // Keep at most max+1 bytes: enough to know the line is too long.
    f.partial.append(piece.substr(0, max + 1 - f.partial.size()));
    if (complete) {
      emit(f, f.partial, end, out);
      f.partial.clear();
      f.line_start = end;
    } else if (f.partial.size() > max) {
      emit(f, f.partial, end, out);
      f.partial.clear();
      f.discarding = true;
    }
  }
}

void FileTailer::emit(const File& f, std::string_view text, std::uint64_t end,
                      std::vector<TailEntry>& out) {
  TailEntry e;
  e.path = f.path;
  e.timestamp_ns = now_ns_;
  e.device = f.device;
  e.inode = f.inode;
  e.offset = f.line_start;
  e.end_offset = end;
  if (text.size() > options_.max_line_bytes) {
    e.line.assign(text.substr(0, utf8_cut(text, options_.max_line_bytes)));
    e.truncated = true;
  } else {
    e.line.assign(text);
  }
  out.push_back(std::move(e));
}

void FileTailer::close_file(File& f, std::vector<TailEntry>& out) {
  // Nobody will complete this line any more: ship what there is.
  if (!f.partial.empty() && !f.discarding) emit(f, f.partial, f.offset, out);
  f.partial.clear();
  f.line_start = f.offset;
  remember(position_of(f));
  ::close(f.fd);
  f.fd = -1;
}

bool FileTailer::is_open(Identity id) const {
  for (const auto& [path, f] : files_)
    if (f.device == id.first && f.inode == id.second) return true;
  for (const auto& f : draining_)
    if (f.device == id.first && f.inode == id.second) return true;
  return false;
}

FilePosition FileTailer::position_of(const File& f) const {
  FilePosition p;
  p.path = f.path;
  p.device = f.device;
  p.inode = f.inode;
  p.offset = f.offset - (f.discarding ? 0 : f.partial.size());
  p.head_length = std::min<std::uint64_t>(kHeadBytes, p.offset);
  if (!head_hash(f.fd, p.head_length, p.head_hash)) p.head_length = p.head_hash = 0;
  return p;
}

std::vector<FilePosition> FileTailer::positions() const {
  std::vector<FilePosition> out;
  for (const auto& [path, f] : files_) out.push_back(position_of(f));
  for (const auto& f : draining_) out.push_back(position_of(f));
  // Closed files too: a rotated file that a glob still matches must resume
  // where it was left after a restart, not be read again.
  for (const auto& [id, k] : known_) out.push_back(k.position);
  return out;
}

void FileTailer::remember(const FilePosition& p) {
  Identity id{p.device, p.inode};
  std::uint64_t seq = ++known_seq_;
  known_[id] = Known{p, seq};
  known_order_.emplace_back(id, seq);
  while (known_.size() > options_.remembered_files && !known_order_.empty()) {
    auto [old, old_seq] = known_order_.front();
    known_order_.pop_front();
    if (auto it = known_.find(old); it != known_.end() && it->second.seq == old_seq)
      known_.erase(it);
  }
  // Entries superseded or resumed leave stale order records; drop them so the
  // deque stays proportional to the map.
  if (known_order_.size() > 2 * options_.remembered_files + 16) {
    std::deque<std::pair<Identity, std::uint64_t>> live;
    for (const auto& e : known_order_)
      if (auto it = known_.find(e.first); it != known_.end() && it->second.seq == e.second)
        live.push_back(e);
    known_order_.swap(live);
  }
}

void FileTailer::update_count() {
  open_count_.store(files_.size() + draining_.size(), std::memory_order_relaxed);
}

}  // namespace strata::agent
