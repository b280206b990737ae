// Fuzz target for WAL replay: any byte string is framed and decoded as a
// WAL segment. It must never crash, hang or read out of bounds; it may
// stop at the first bad record (reporting where), which is what replay does.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "tsdb/wal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata;
  std::string error;
  bool torn = false;
  std::uint64_t records = 0, samples = 0;
  auto end = tsdb::scan_wal_segment(
      std::span<const std::uint8_t>(data, size), [](std::uint64_t, const Labels&) {},
      [&](std::uint64_t, std::span<const wire::Sample> s) { samples += s.size(); }, &error, &torn,
      &records);
  if (end > size) __builtin_trap();
  if (end < size && error.empty()) __builtin_trap();  // stopped without saying why
  return 0;
}
