// libFuzzer target for the PromQL parser (tsdb/promql/parser.h): queries come
// straight from HTTP clients, so any bytes must give either a tree or a
// ParseError -- never a crash, hang, stack overflow, other exception or
// sanitizer report. What parses must print canonically: the printed text
// parses again, to the same type, and prints identically -- except where it
// contains Inf: Prometheus prints +Inf with its sign, which reads back as a
// unary plus ("Inf ^ 2" -> "+Inf ^ 2" -> "++Inf ^ 2"), and we print exactly
// as Prometheus does. The selector-only API (selector.h) gets the same bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tsdb/promql/parser.h"
#include "tsdb/promql/printer.h"
#include "tsdb/promql/selector.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata::tsdb::promql;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  for (bool quoted_names : {true, false}) {
    ParseOptions options;
    options.quoted_names = quoted_names;
    std::string printed;
    ValueType type;
    try {
      auto expr = parse_expr(input, options);
      printed = to_string(*expr);
      type = expr->value_type();
    } catch (const ParseError& e) {
      if (e.position() < 1 || e.position() > size + 1) __builtin_trap();
      continue;
    }
    std::string again;
    try {
      auto expr = parse_expr(printed, options);
      if (expr->value_type() != type) __builtin_trap();
      again = to_string(*expr);
    } catch (const ParseError&) {
      __builtin_trap();  // the printer wrote something the parser rejects
    }
    if (again != printed && printed.find("Inf") == std::string::npos) __builtin_trap();
  }
  try {
    parse_vector_selector(input);
  } catch (const ParseError&) {
  }
  return 0;
}
