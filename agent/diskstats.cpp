#include "agent/diskstats.h"

#include <re2/re2.h>

#include <algorithm>

#include "agent/proc_text.h"

namespace strata::agent {

namespace {

constexpr double kSectorBytes = 512.0;
constexpr double kSecondsPerMs = 0.001;

// The first 3 fields name the device; 11 counters is the oldest layout
// node_exporter (and the agent) read.
constexpr std::size_t kIdentityFields = 3;
constexpr std::size_t kMinColumns = 11;

const re2::RE2& device_exclude() {
  static const re2::RE2 re(kDiskstatsDeviceExclude);
  return re;
}

}  // namespace

bool diskstats_device_excluded(std::string_view device) {
  // Go's MatchString is an unanchored search; the pattern anchors itself.
  return re2::RE2::PartialMatch(device, device_exclude());
}

const std::array<DiskstatsColumn, kDiskstatsColumns>& diskstats_columns() {
  static const std::array<DiskstatsColumn, kDiskstatsColumns> columns = {{
      {{"node_disk_reads_completed_total", "counter",
        "The total number of reads completed successfully."},
       1},
      {{"node_disk_reads_merged_total", "counter", "The total number of reads merged."}, 1},
      {{"node_disk_read_bytes_total", "counter", "The total number of bytes read successfully."},
       kSectorBytes},
      {{"node_disk_read_time_seconds_total", "counter",
        "The total number of seconds spent by all reads."},
       kSecondsPerMs},
      {{"node_disk_writes_completed_total", "counter",
        "The total number of writes completed successfully."},
       1},
      {{"node_disk_writes_merged_total", "counter", "The number of writes merged."}, 1},
      {{"node_disk_written_bytes_total", "counter",
        "The total number of bytes written successfully."},
       kSectorBytes},
      {{"node_disk_write_time_seconds_total", "counter",
        "This is the total number of seconds spent by all writes."},
       kSecondsPerMs},
      {{"node_disk_io_now", "gauge", "The number of I/Os currently in progress."}, 1},
      {{"node_disk_io_time_seconds_total", "counter", "Total seconds spent doing I/Os."},
       kSecondsPerMs},
      {{"node_disk_io_time_weighted_seconds_total", "counter",
        "The weighted # of seconds spent doing I/Os."},
       kSecondsPerMs},
      {{"node_disk_discards_completed_total", "counter",
        "The total number of discards completed successfully."},
       1},
      {{"node_disk_discards_merged_total", "counter", "The total number of discards merged."}, 1},
      {{"node_disk_discarded_sectors_total", "counter",
        "The total number of sectors discarded successfully."},
       1},
      {{"node_disk_discard_time_seconds_total", "counter",
        "This is the total number of seconds spent by all discards."},
       kSecondsPerMs},
      {{"node_disk_flush_requests_total", "counter",
        "The total number of flush requests completed successfully"},
       1},
      {{"node_disk_flush_requests_time_seconds_total", "counter",
        "This is the total number of seconds spent by all flush requests."},
       kSecondsPerMs},
  }};
  return columns;
}

DiskstatsParse parse_diskstats(std::string_view text, std::string_view source) {
  DiskstatsParse out;
  std::size_t lineno = 0;
  for (std::string_view line : split_lines(text)) {
    ++lineno;
    auto f = split_ws(line);
    if (f.empty()) continue;
    auto bad = [&](const std::string& why) {
      out.errors.push_back(std::string(source) + " line " + std::to_string(lineno) + ": " + why);
    };
    if (f.size() < kIdentityFields + kMinColumns) {
      bad("expected at least " + std::to_string(kIdentityFields + kMinColumns) + " fields, got " +
          std::to_string(f.size()));
      continue;
    }
    std::uint64_t major, minor;
    if (!parse_u64(f[0], major) || !parse_u64(f[1], minor)) {
      bad("device numbers are not numeric: '" + std::string(f[0]) + " " + std::string(f[1]) + "'");
      continue;
    }
    if (diskstats_device_excluded(f[2])) continue;
    DiskStats d;
    d.device = std::string(f[2]);
    d.columns = std::min(kDiskstatsColumns, f.size() - kIdentityFields);
    bool ok = true;
    for (std::size_t i = 0; i < d.columns && ok; ++i) {
      ok = parse_u64(f[kIdentityFields + i], d.values[i]);
      if (!ok)
        bad("counter " + std::to_string(i + 1) + " of " + d.device + " is not an unsigned " +
            "64-bit number: '" + std::string(f[kIdentityFields + i]) + "'");
    }
    if (ok) out.devices.push_back(std::move(d));
  }
  return out;
}

}  // namespace strata::agent
