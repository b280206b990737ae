// Text helpers shared by the procfs readers (host_metrics, diskstats, netdev,
// filesystem_stats): reading a whole pseudo-file, splitting it into lines and
// whitespace-separated fields, and strict number parsing.
//
// Guarantees: nothing here throws on bad input or allocates beyond the
// returned containers. read_proc_file() reports failure with the errno text
// rather than throwing; the parsers accept a field only when all of it is a
// number ("12x" is rejected, as is "-1" for an unsigned counter). The views
// returned by the split functions point into the caller's string.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace strata::agent {

// Reads all of `path` (procfs files report size 0, so this reads to EOF).
// On failure returns false and, when `error` is given, sets it to the
// reason ("No such file or directory", ...).
bool read_proc_file(const std::string& path, std::string& out, std::string* error = nullptr);

// Fields separated by spaces or tabs; empty fields are dropped.
std::vector<std::string_view> split_ws(std::string_view line);
// Lines separated by '\n'; a final line without '\n' is included.
std::vector<std::string_view> split_lines(std::string_view text);

bool parse_u64(std::string_view s, std::uint64_t& v);
bool parse_double(std::string_view s, double& v);

}  // namespace strata::agent
