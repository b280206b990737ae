// The error side of the JSON HTTP APIs that follow Prometheus's conventions
// (the tsdb's Prometheus API, the log store's search and Loki APIs):
//
//   {"status":"error","errorType":"bad_data","error":"<message>"}
//
// BadData is what a handler throws for a request it cannot serve as asked
// (a missing or malformed parameter); the handler answers it 400 with
// errorType "bad_data" and the exception's message, which names the
// parameter and what was expected. Header-only, pure functions.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "common/logging.h"

namespace strata::http {

class BadData : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// The error body for errorType `type` (bad_data, execution, timeout, ...).
inline std::string api_error_json(std::string_view type, std::string_view message) {
  std::string out = R"({"status":"error","errorType":")";
  out += type;
  out += R"(","error":)";
  logging::append_json_string(out, message);
  out += '}';
  return out;
}

}  // namespace strata::http
