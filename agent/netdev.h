// Network interface counters: /proc/net/dev as node_exporter 1.5.0's netdev
// collector exports them: node_network_{receive,transmit}_*_total{device}.
//
// node_exporter 1.5.0 reads these over rtnetlink by default and folds the
// detailed error counters back into /proc/net/dev's columns (drop includes
// missed errors, frame includes length/over/crc errors, carrier includes
// aborted/window/heartbeat errors), so the values are the same as reading
// /proc/net/dev. It also exports receive_nohandler, which /proc/net/dev does
// not have: the agent does not export it.
//
// Guarantees:
//  - parse_net_dev() is pure: text in, values out, so tests feed fixtures.
//  - No device is excluded: upstream node_exporter 1.5.0 has no default
//    --collector.netdev.device-exclude (Debian's package patches in "^lo$").
//  - The column header is checked when present: if the kernel ever changes
//    the columns, the file is rejected with an error rather than values
//    being exported under the wrong names.
//  - A malformed line (no ':', not 16 counters, a non-numeric counter) is
//    skipped and reported in `errors` with its line number; the other lines
//    are still returned. Nothing throws. Counters are unsigned 64-bit.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/metric_family.h"

namespace strata::agent {

// 8 receive then 8 transmit columns, in /proc/net/dev order.
inline constexpr std::size_t kNetDevColumns = 16;

struct NetDevStats {
  std::string device;
  std::array<std::uint64_t, kNetDevColumns> values{};
};

struct NetDevParse {
  std::vector<NetDevStats> devices;  // in file order
  std::vector<std::string> errors;   // "<source> line N: ..."
};

NetDevParse parse_net_dev(std::string_view text, std::string_view source = "/proc/net/dev");

// Family of each column, in column order (all counters).
const std::array<MetricFamily, kNetDevColumns>& net_dev_families();

}  // namespace strata::agent
