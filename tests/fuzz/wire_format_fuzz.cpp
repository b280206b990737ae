// libFuzzer target: the wire-format decoders must never crash, hang or leak on
// any input -- they face every agent and every client on the network. Any
// input they accept must re-encode and decode to the same batch.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/wire_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  using namespace strata::wire;
  try {
    MetricsBatch m = decode_metrics(in);
    MetricsBatch again = decode_metrics(encode(m));
    if (again.series.size() != m.series.size()) std::abort();
  } catch (const WireError&) {
  }
  try {
    LogsBatch l = decode_logs(in);
    LogsBatch again = decode_logs(encode(l));
    if (again.streams.size() != l.streams.size()) std::abort();
  } catch (const WireError&) {
  }
  return 0;
}
