#include "agent/netdev.h"

#include "agent/proc_text.h"

namespace strata::agent {

namespace {

// The column names of /proc/net/dev's second header line, per direction
// (net/core/net-procfs.c), which node_exporter prefixes with receive_ or
// transmit_.
constexpr std::array<std::string_view, 8> kReceiveColumns = {
    "bytes", "packets", "errs", "drop", "fifo", "frame", "compressed", "multicast"};
constexpr std::array<std::string_view, 8> kTransmitColumns = {
    "bytes", "packets", "errs", "drop", "fifo", "colls", "carrier", "compressed"};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

template <std::size_t N>
bool columns_are(std::string_view segment, const std::array<std::string_view, N>& want) {
  auto f = split_ws(segment);
  if (f.size() != N) return false;
  for (std::size_t i = 0; i < N; ++i)
    if (f[i] != want[i]) return false;
  return true;
}

}  // namespace

const std::array<MetricFamily, kNetDevColumns>& net_dev_families() {
  // node_exporter's HELP is generated: "Network device statistic <key>."
  static const std::array<MetricFamily, kNetDevColumns> families = {{
      {"node_network_receive_bytes_total", "counter", "Network device statistic receive_bytes."},
      {"node_network_receive_packets_total", "counter",
       "Network device statistic receive_packets."},
      {"node_network_receive_errs_total", "counter", "Network device statistic receive_errs."},
      {"node_network_receive_drop_total", "counter", "Network device statistic receive_drop."},
      {"node_network_receive_fifo_total", "counter", "Network device statistic receive_fifo."},
      {"node_network_receive_frame_total", "counter", "Network device statistic receive_frame."},
      {"node_network_receive_compressed_total", "counter",
       "Network device statistic receive_compressed."},
      {"node_network_receive_multicast_total", "counter",
       "Network device statistic receive_multicast."},
      {"node_network_transmit_bytes_total", "counter", "Network device statistic transmit_bytes."},
      {"node_network_transmit_packets_total", "counter",
       "Network device statistic transmit_packets."},
      {"node_network_transmit_errs_total", "counter", "Network device statistic transmit_errs."},
      {"node_network_transmit_drop_total", "counter", "Network device statistic transmit_drop."},
      {"node_network_transmit_fifo_total", "counter", "Network device statistic transmit_fifo."},
      {"node_network_transmit_colls_total", "counter", "Network device statistic transmit_colls."},
      {"node_network_transmit_carrier_total", "counter",
       "Network device statistic transmit_carrier."},
      {"node_network_transmit_compressed_total", "counter",
       "Network device statistic transmit_compressed."},
  }};
  return families;
}

NetDevParse parse_net_dev(std::string_view text, std::string_view source) {
  NetDevParse out;
  std::size_t lineno = 0;
  for (std::string_view line : split_lines(text)) {
    ++lineno;
    auto bad = [&](const std::string& why) {
      out.errors.push_back(std::string(source) + " line " + std::to_string(lineno) + ": " + why);
    };
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      if (trim(line).empty()) continue;
      // Header lines: "Inter-|   Receive ... |  Transmit" and
      // " face |bytes    packets ...|bytes    packets ...".
      const auto bar1 = line.find('|');
      if (bar1 == std::string_view::npos) {
        bad("neither an interface line nor a header");
        continue;
      }
      const auto bar2 = line.find('|', bar1 + 1);
      if (bar2 == std::string_view::npos) {
        bad("header with one '|'");
        continue;
      }
      std::string_view rx = line.substr(bar1 + 1, bar2 - bar1 - 1);
      std::string_view tx = line.substr(bar2 + 1);
      if (split_ws(rx).size() <= 1) continue;  // the first header line: "Receive", "Transmit"
      if (!columns_are(rx, kReceiveColumns) || !columns_are(tx, kTransmitColumns)) {
        bad("unexpected columns '" + std::string(trim(line)) +
            "': not the layout the agent knows; file skipped");
        out.devices.clear();
        return out;
      }
      continue;
    }
    // Interface names cannot contain ':' (dev_valid_name), so the first one
    // ends the name; old kernels print no space after it ("eth0:1234").
    std::string_view device = trim(line.substr(0, colon));
    if (device.empty()) {
      bad("empty interface name");
      continue;
    }
    auto f = split_ws(line.substr(colon + 1));
    if (f.size() != kNetDevColumns) {
      bad("expected " + std::to_string(kNetDevColumns) + " counters for " + std::string(device) +
          ", got " + std::to_string(f.size()));
      continue;
    }
    NetDevStats d;
    d.device = std::string(device);
    bool ok = true;
    for (std::size_t i = 0; i < kNetDevColumns && ok; ++i) {
      ok = parse_u64(f[i], d.values[i]);
      if (!ok)
        bad("counter " + std::to_string(i + 1) + " of " + d.device + " is not an unsigned " +
            "64-bit number: '" + std::string(f[i]) + "'");
    }
    if (ok) out.devices.push_back(std::move(d));
  }
  return out;
}

}  // namespace strata::agent
