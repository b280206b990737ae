#include "common/peer_groups.h"

#include <fmt/format.h>

#include "common/config.h"

namespace strata {

std::vector<PeerNode> parse_peers(const std::vector<std::string>& entries, std::string_view key) {
  std::vector<PeerNode> out;
  for (const auto& entry : entries) {
    PeerNode node;
    node.name = entry;
    std::string_view addr = entry;
    if (const auto eq = addr.find('='); eq != std::string_view::npos) {
      node.group = std::string(addr.substr(0, eq));
      addr.remove_prefix(eq + 1);
    }
    std::string scheme = "http://";
    for (std::string_view p : {"http://", "https://"}) {
      if (addr.starts_with(p)) {
        scheme = std::string(p);
        addr.remove_prefix(p.size());
      }
    }
    while (!addr.empty() && addr.back() == '/') addr.remove_suffix(1);
    const auto colon = addr.rfind(':');
    if (addr.empty() || colon == std::string_view::npos || colon == 0 || colon + 1 == addr.size() ||
        addr.find_first_not_of("0123456789", colon + 1) != std::string_view::npos ||
        addr.find_first_of("|, ") != std::string_view::npos)
      throw config::ConfigError(fmt::format(
          "config key '{}': peer \"{}\" is not [group=]host:port (one entry per node; nodes of "
          "another consumer group, i.e. a replica, get another group name)",
          key, entry));
    node.url = scheme + std::string(addr);
    out.push_back(std::move(node));
  }
  return out;
}

const std::string* first_complete_group(const std::vector<PeerNode>& nodes,
                                        const std::vector<bool>& answered) {
  for (const auto& candidate : nodes) {
    bool complete = true;
    for (std::size_t i = 0; i < nodes.size(); ++i)
      if (nodes[i].group == candidate.group) complete = complete && answered[i];
    if (complete) return &candidate.group;
  }
  return nullptr;
}

bool some_group_complete(const std::vector<PeerNode>& nodes, const std::vector<bool>& answered) {
  return first_complete_group(nodes, answered) != nullptr;
}

std::vector<std::string> partial_warnings(const std::vector<PeerNode>& nodes,
                                          const std::vector<bool>& answered,
                                          const std::vector<std::string>& errors,
                                          std::string_view what_is_missing) {
  std::vector<std::string> out;
  if (some_group_complete(nodes, answered)) return out;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (answered[i]) continue;
    out.push_back(fmt::format(
        "peer {} did not answer ({}) and no replica group answered completely: the result "
        "may lack {}",
        nodes[i].name, errors[i], what_is_missing));
  }
  return out;
}

}  // namespace strata
