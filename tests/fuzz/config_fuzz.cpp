// libFuzzer target: a configuration file is user input; loading any bytes must
// end in a value or a ConfigError, never a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata::config;
  static const Schema schema = [] {
    Schema s;
    s.add("a.b", Type::kString, "", "");
    s.add("a.n", Type::kInt, "0", "");
    s.add("a.d", Type::kDuration, "1s", "");
    s.add("a.l", Type::kList, "", "");
    s.add("a.m", Type::kStringMap, "", "");
    return s;
  }();
  Config c(schema);
  try {
    c.merge_yaml(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
  } catch (const ConfigError&) {
  }
  return 0;
}
