#include "agent/filesystem_stats.h"

#include <re2/re2.h>

#include <cerrno>
#include <condition_variable>
#include <deque>
#include <map>
#include <set>
#include <system_error>
#include <tuple>

#include "agent/proc_text.h"

namespace strata::agent {

namespace {

const re2::RE2& mount_points_exclude() {
  static const re2::RE2 re(kFilesystemMountPointsExclude);
  return re;
}

const re2::RE2& fs_types_exclude() {
  static const re2::RE2 re(kFilesystemFsTypesExclude);
  return re;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (std::size_t i = s.find(from); i != std::string::npos; i = s.find(from, i + to.size()))
    s.replace(i, from.size(), to);
}

// Decodes the \ooo escapes the kernel writes for space, tab, newline and
// backslash in mount table fields (seq_escape in fs/proc_namespace.c).
std::string unescape_octal(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      const char a = s[i + 1], b = s[i + 2], c = s[i + 3];
      if (a >= '0' && a <= '3' && b >= '0' && b <= '7' && c >= '0' && c <= '7') {
        out.push_back(static_cast<char>((a - '0') * 64 + (b - '0') * 8 + (c - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

int default_statvfs(const std::string& path, struct statvfs& out) {
  if (::statvfs(path.c_str(), &out) == 0) return 0;
  return errno != 0 ? errno : EIO;
}

}  // namespace

MountsParse parse_mounts(std::string_view text, std::string_view source) {
  MountsParse out;
  std::size_t lineno = 0;
  for (std::string_view line : split_lines(text)) {
    ++lineno;
    auto f = split_ws(line);
    if (f.empty()) continue;
    if (f.size() < 4) {
      out.errors.push_back(std::string(source) + " line " + std::to_string(lineno) +
                           ": expected at least 4 fields (device, mount point, type, options), "
                           "got " +
                           std::to_string(f.size()));
      continue;
    }
    MountEntry m;
    m.device = std::string(f[0]);
    m.mount_point = std::string(f[1]);
    replace_all(m.mount_point, "\\040", " ");
    replace_all(m.mount_point, "\\011", "\t");
    m.fstype = std::string(f[2]);
    m.options = std::string(f[3]);
    m.path = unescape_octal(f[1]);
    out.mounts.push_back(std::move(m));
  }
  return out;
}

bool filesystem_excluded(const MountEntry& m) {
  // Go's MatchString is an unanchored search; the patterns anchor themselves.
  return re2::RE2::PartialMatch(m.mount_point, mount_points_exclude()) ||
         re2::RE2::PartialMatch(m.fstype, fs_types_exclude());
}

std::vector<MountEntry> filesystems_to_stat(std::vector<MountEntry> mounts) {
  std::vector<MountEntry> out;
  std::set<std::tuple<std::string, std::string, std::string>> seen;
  for (auto& m : mounts) {
    if (filesystem_excluded(m)) continue;
    if (!seen.emplace(m.device, m.mount_point, m.fstype).second) continue;
    out.push_back(std::move(m));
  }
  return out;
}

bool mount_read_only(const MountEntry& m) {
  std::string_view opts = m.options;
  while (!opts.empty()) {
    const auto comma = opts.find(',');
    if (opts.substr(0, comma) == "ro") return true;
    if (comma == std::string_view::npos) break;
    opts.remove_prefix(comma + 1);
  }
  return false;
}

const std::array<MetricFamily, 7>& filesystem_families() {
  static const std::array<MetricFamily, 7> families = {{
      {"node_filesystem_device_error", "gauge",
       "Whether an error occurred while getting statistics for the given device."},
      {"node_filesystem_size_bytes", "gauge", "Filesystem size in bytes."},
      {"node_filesystem_free_bytes", "gauge", "Filesystem free space in bytes."},
      {"node_filesystem_avail_bytes", "gauge",
       "Filesystem space available to non-root users in bytes."},
      {"node_filesystem_files", "gauge", "Filesystem total file nodes."},
      {"node_filesystem_files_free", "gauge", "Filesystem total free file nodes."},
      {"node_filesystem_readonly", "gauge", "Filesystem read-only status."},
  }};
  return families;
}

// ---------------------------------------------------------------------------
// BoundedStatvfs

struct BoundedStatvfs::Job {
  std::string path;
  bool done = false;
  bool skipped = false;  // never run: its path got stuck while it waited
  int error = 0;
  struct statvfs st {};
};

// The work of one worker thread.
struct BoundedStatvfs::Queue {
  std::deque<std::shared_ptr<Job>> jobs;
  bool busy = false;       // inside a statvfs call
  bool stop = false;       // owner is going away: exit when idle
  bool abandoned = false;  // owner gave up on the current call: exit once it returns
};

struct BoundedStatvfs::Shared {
  std::mutex mu;
  std::condition_variable work_cv;   // jobs queued, or stop
  std::condition_variable done_cv;   // a job finished
  std::map<std::string, int> stuck;  // path -> calls past their timeout, not returned yet
};

BoundedStatvfs::BoundedStatvfs(std::chrono::milliseconds timeout, StatFn fn)
    : timeout_(timeout),
      fn_(fn ? std::move(fn) : StatFn(default_statvfs)),
      shared_(std::make_shared<Shared>()),
      queue_(std::make_shared<Queue>()) {}

BoundedStatvfs::~BoundedStatvfs() {
  bool busy;
  {
    std::lock_guard lock(shared_->mu);
    queue_->stop = true;
    busy = queue_->busy;
  }
  shared_->work_cv.notify_all();
  if (!worker_.joinable()) return;
  // Idle unless destroyed during a stat_all() on another thread (at process
  // exit, say): never wait on a call that may not return.
  if (busy)
    worker_.detach();
  else
    worker_.join();
}

std::shared_ptr<BoundedStatvfs> BoundedStatvfs::shared_default() {
  static const auto instance = std::make_shared<BoundedStatvfs>();
  return instance;
}

std::size_t BoundedStatvfs::stuck_calls() const {
  std::lock_guard lock(shared_->mu);
  std::size_t n = 0;
  for (const auto& [path, calls] : shared_->stuck) n += static_cast<std::size_t>(calls);
  return n;
}

void BoundedStatvfs::worker_main(std::shared_ptr<Shared> shared, std::shared_ptr<Queue> queue,
                                 StatFn fn) {
  std::unique_lock lock(shared->mu);
  for (;;) {
    shared->work_cv.wait(lock, [&] { return queue->stop || !queue->jobs.empty(); });
    if (queue->stop) return;
    std::shared_ptr<Job> job = std::move(queue->jobs.front());
    queue->jobs.pop_front();
    queue->busy = true;
    lock.unlock();
    struct statvfs st {};
    const int error = fn(job->path, st);
    lock.lock();
    queue->busy = false;
    job->st = st;
    job->error = error;
    job->done = true;
    if (queue->abandoned) {
      // The mount answered at last: later collections may stat it again.
      auto it = shared->stuck.find(job->path);
      if (it != shared->stuck.end() && --it->second <= 0) shared->stuck.erase(it);
      return;
    }
    shared->done_cv.notify_all();
  }
}

// Called with shared_->mu held; the new thread waits for it.
void BoundedStatvfs::start_worker_locked() {
  try {
    worker_ = std::thread(worker_main, shared_, queue_, fn_);
  } catch (const std::system_error& e) {
    // No thread (resource limits): fail the queued calls rather than block.
    for (auto& job : queue_->jobs) {
      job->error = e.code().value() != 0 ? e.code().value() : EAGAIN;
      job->done = true;
    }
    queue_->jobs.clear();
  }
}

std::vector<BoundedStatvfs::Result> BoundedStatvfs::stat_all(
    const std::vector<std::string>& paths) {
  std::vector<Result> out(paths.size());
  std::lock_guard serial(stat_all_mu_);
  std::vector<std::shared_ptr<Job>> jobs(paths.size());
  std::unique_lock lock(shared_->mu);
  bool queued = false;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    if (shared_->stuck.count(paths[i])) {
      out[i].status = Result::Status::kStillStuck;
      continue;
    }
    jobs[i] = std::make_shared<Job>();
    jobs[i]->path = paths[i];
    queue_->jobs.push_back(jobs[i]);
    queued = true;
  }
  if (queued && !worker_.joinable()) start_worker_locked();
  shared_->work_cv.notify_all();

  for (std::size_t i = 0; i < paths.size(); ++i) {
    if (!jobs[i]) continue;
    Job& job = *jobs[i];
    // The worker runs the jobs in order, so this wait starts about when the
    // worker starts this call: the timeout is per mount.
    if (!shared_->done_cv.wait_for(lock, timeout_, [&] { return job.done; })) {
      out[i].status = Result::Status::kTimedOut;
      ++shared_->stuck[job.path];
      // Leave the worker blocked in the kernel; a new one takes the rest,
      // except calls on a path that is now stuck.
      queue_->abandoned = true;
      std::deque<std::shared_ptr<Job>> rest = std::move(queue_->jobs);
      queue_->jobs.clear();
      if (worker_.joinable()) worker_.detach();
      queue_ = std::make_shared<Queue>();
      for (auto& r : rest) {
        if (shared_->stuck.count(r->path)) {
          r->skipped = true;
          r->done = true;
        } else {
          queue_->jobs.push_back(std::move(r));
        }
      }
      if (!queue_->jobs.empty()) {
        start_worker_locked();
        shared_->work_cv.notify_all();
      }
      continue;
    }
    if (job.skipped) {
      out[i].status = Result::Status::kStillStuck;
    } else if (job.error != 0) {
      out[i].status = Result::Status::kError;
      out[i].error = job.error;
    } else {
      out[i].status = Result::Status::kOk;
      out[i].st = job.st;
    }
  }
  return out;
}

}  // namespace strata::agent
