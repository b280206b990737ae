// Disk I/O counters: /proc/diskstats (the kernel's per-block-device I/O
// statistics, Documentation/admin-guide/iostats.rst) as node_exporter
// 1.5.0's diskstats collector exports them: node_disk_*{device="..."}.
//
// Guarantees:
//  - parse_diskstats() is pure: text in, values out, so tests feed fixtures.
//  - Devices matching node_exporter 1.5.0's default
//    --collector.diskstats.device-exclude (kDiskstatsDeviceExclude: RAM
//    disks, loop devices, floppies and partitions of sd/hd/vd/xvd/nvme
//    disks) are left out, as node_exporter leaves them out.
//  - A line is 3 identity fields (major, minor, name) then 11 counters
//    (kernel 2.6.25+), 15 (4.18+: discards) or 17 (5.5+: flushes). Only the
//    columns a line has are returned, so on an older kernel the discard and
//    flush families are absent, as with node_exporter. More than 17 (a future
//    kernel) is accepted; the extra columns are ignored.
//  - A malformed line (too few fields, a non-numeric counter) is skipped and
//    reported in `errors` with its line number; the other lines are still
//    returned. Nothing throws.
//  - Counters are parsed as unsigned 64-bit (up to 2^64-1) and converted to
//    double before scaling, so sectors x 512 cannot overflow.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/metric_family.h"

namespace strata::agent {

// node_exporter 1.5.0's default --collector.diskstats.device-exclude (RE2 syntax).
inline constexpr const char* kDiskstatsDeviceExclude =
    R"(^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$)";

// Counters per device that the agent exports (kernel columns 1..17).
inline constexpr std::size_t kDiskstatsColumns = 17;

struct DiskStats {
  std::string device;
  std::size_t columns = 0;  // how many of `values` the kernel gave: 11..17
  std::array<std::uint64_t, kDiskstatsColumns> values{};
};

struct DiskstatsParse {
  std::vector<DiskStats> devices;   // in file order, excluded devices left out
  std::vector<std::string> errors;  // "<source> line N: ..."
};

DiskstatsParse parse_diskstats(std::string_view text, std::string_view source = "/proc/diskstats");

// True when node_exporter's default filter drops `device`.
bool diskstats_device_excluded(std::string_view device);

// Column i (0-based) of a line is exported as family `family`, with value
// raw * scale: milliseconds become seconds, 512-byte sectors become bytes
// (the kernel counts in 512-byte units whatever the device's block size;
// node_exporter 1.5.0 does the same). Discarded sectors stay sectors, as in
// node_exporter.
struct DiskstatsColumn {
  MetricFamily family;
  double scale;
};
const std::array<DiskstatsColumn, kDiskstatsColumns>& diskstats_columns();

}  // namespace strata::agent
