// libFuzzer target: the exposition parser reads whatever a scraped endpoint
// or an importing client sends. It must never crash, hang or leak, in either
// format, and anything it accepts must be a well-formed batch (every series
// has a __name__ and at least one sample, and encodes to the wire format).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/exposition_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  using namespace strata;
  for (auto format : {ExpositionFormat::kPrometheusText, ExpositionFormat::kOpenMetrics}) {
    try {
      ParsedExposition p = parse_exposition(in, 1, format);
      if (p.sample_lines.size() != p.batch.series.size()) std::abort();
      for (const auto& s : p.batch.series)
        if (s.labels.get("__name__").empty() || s.samples.empty()) std::abort();
      try {
        (void)wire::encode(p.batch);
      } catch (const wire::WireError&) {
        // Invalid UTF-8 in a label value: the wire format refuses it, which
        // is the import endpoint's validator's business, not a parser bug.
      }
    } catch (const ExpositionError& e) {
      if (e.line() == 0 || e.column() == 0) std::abort();
    }
  }
  return 0;
}
