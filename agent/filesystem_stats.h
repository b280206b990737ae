// Filesystem space and inodes: the mount table (<proc>/1/mounts, else
// <proc>/mounts) and statvfs() of each mount point, as node_exporter 1.5.0's
// filesystem collector exports them: node_filesystem_{size_bytes,free_bytes,
// avail_bytes,files,files_free,readonly,device_error}{device,fstype,mountpoint}.
//
// Guarantees:
//  - parse_mounts() is pure: text in, entries out, so tests feed fixtures. A
//    line with fewer than 4 fields is skipped and reported in `errors`.
//  - filesystems_to_stat() applies node_exporter 1.5.0's default exclusions
//    (kFilesystemMountPointsExclude, kFilesystemFsTypesExclude: pseudo and
//    container filesystems) and reports a (device, mountpoint, fstype) once.
//  - The labels are node_exporter's: the mount point with only \040 and \011
//    unescaped (as node_exporter does), the device as the kernel prints it.
//    statvfs() is given the fully unescaped path.
//  - readonly comes from the "ro" mount option, and sizes are blocks x
//    f_bsize, exactly as node_exporter computes them.
//  - BoundedStatvfs never blocks its caller for long on a dead mount (a hard
//    NFS mount whose server is gone blocks statvfs() in the kernel, possibly
//    forever, and no signal or timeout can interrupt it). See below.
#pragma once

#include <sys/statvfs.h>

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/metric_family.h"

namespace strata::agent {

// Upstream node_exporter 1.5.0's defaults (RE2 syntax). Debian's
// prometheus-node-exporter patches the mount-point default to
// "^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
// the agent follows upstream.
inline constexpr const char* kFilesystemMountPointsExclude =
    R"(^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/))";
inline constexpr const char* kFilesystemFsTypesExclude =
    "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|"
    "iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|"
    "sysfs|tracefs)$";

struct MountEntry {
  std::string device;       // label "device"
  std::string mount_point;  // label "mountpoint" (\040, \011 unescaped, as node_exporter)
  std::string fstype;       // label "fstype"
  std::string options;      // "rw,relatime,..."
  std::string path;         // the mount point with every octal escape decoded: what to stat
};

struct MountsParse {
  std::vector<MountEntry> mounts;   // in file order
  std::vector<std::string> errors;  // "<source> line N: ..."
};

MountsParse parse_mounts(std::string_view text, std::string_view source = "/proc/1/mounts");

// True when node_exporter's default mount-point or fs-type filter drops it.
bool filesystem_excluded(const MountEntry& m);
// The mounts node_exporter would stat: excluded ones dropped, and the first
// of several with the same device, mount point and fs type kept.
std::vector<MountEntry> filesystems_to_stat(std::vector<MountEntry> mounts);
// True when the mount options include "ro".
bool mount_read_only(const MountEntry& m);

// Families in the order the agent emits them for a mount.
const std::array<MetricFamily, 7>& filesystem_families();

// statvfs() with a time limit.
//
// A statvfs() on a dead network mount can block in the kernel for minutes or
// forever, and cannot be interrupted or cancelled. Called on the agent's
// collection thread, one such mount would stop every host metric (and the
// shipping of scrapes, which shares that thread). So the calls run on a
// worker thread and the caller waits at most `timeout` for each one, as
// node_exporter does with its per-mount --collector.filesystem.mount-timeout
// (5 s by default). A call that outlives its timeout is given up on: its
// mount is reported as failed (device_error), its worker thread is left
// blocked in the kernel (detached; it exits when the call returns, if ever)
// and a fresh worker takes over the remaining mounts. Until that call
// returns, later collections skip the mount without calling statvfs() again
// (node_exporter's "stuck mounts"), so a dead mount costs at most one
// blocked thread and one timeout, not one per collection.
//
// stat_all() calls are serialized; the object may be shared by readers on
// several threads (and, through shared_default(), across agent reloads, so a
// stuck mount is not retried by each new configuration).
class BoundedStatvfs {
 public:
  // Returns 0, or an errno value.
  using StatFn = std::function<int(const std::string& path, struct statvfs& out)>;
  static constexpr std::chrono::milliseconds kDefaultTimeout{5000};

  // `fn` defaults to ::statvfs; tests pass one that can hang.
  explicit BoundedStatvfs(std::chrono::milliseconds timeout = kDefaultTimeout, StatFn fn = nullptr);
  ~BoundedStatvfs();
  BoundedStatvfs(const BoundedStatvfs&) = delete;
  BoundedStatvfs& operator=(const BoundedStatvfs&) = delete;

  struct Result {
    enum class Status {
      kOk,         // st is valid
      kError,      // statvfs failed: error is the errno value
      kTimedOut,   // no answer within the timeout this time
      kStillStuck  // an earlier call on this path has not returned: not retried
    };
    Status status = Status::kError;
    int error = 0;
    struct statvfs st {};
  };

  // One result per path, in order. Blocks at most `timeout` per path that is
  // newly stuck (plus the time the calls that do answer take).
  std::vector<Result> stat_all(const std::vector<std::string>& paths);

  // Calls that outlived their timeout and have not returned yet.
  std::size_t stuck_calls() const;
  std::chrono::milliseconds timeout() const { return timeout_; }

  // The process-wide instance HostMetricsReader uses by default.
  static std::shared_ptr<BoundedStatvfs> shared_default();

 private:
  struct Job;
  struct Queue;
  struct Shared;
  static void worker_main(std::shared_ptr<Shared> shared, std::shared_ptr<Queue> queue, StatFn fn);
  void start_worker_locked();

  const std::chrono::milliseconds timeout_;
  const StatFn fn_;
  std::mutex stat_all_mu_;          // one stat_all() at a time
  std::shared_ptr<Shared> shared_;  // also held by every worker, abandoned ones included
  std::shared_ptr<Queue> queue_;    // the current worker's; guarded by shared_->mu
  std::thread worker_;              // the current worker, if started
};

}  // namespace strata::agent
