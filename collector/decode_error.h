// DecodeError: a request body the collector cannot turn into a batch (bad
// snappy, bad protobuf, bad JSON, bad text format, a structural mistake). It
// carries the HTTP status to answer (400, or 413 when a decoded size limit is
// exceeded) and a message naming where in the body the problem is.
//
// Decoders throw it for the first structural error they meet; semantic checks
// of a decoded batch (names, limits, timestamps) are the Validator's, which
// reports several problems at once.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace strata::collector {

class DecodeError : public std::invalid_argument {
 public:
  explicit DecodeError(const std::string& message, int status = 400)
      : std::invalid_argument(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

// `s` in double quotes for an error message: control characters, quotes and
// backslashes escaped, cut (with "...") after `max` bytes so that a 4 KiB
// value does not flood the answer.
std::string error_quote(std::string_view s, std::size_t max = 64);

}  // namespace strata::collector
