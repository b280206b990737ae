// Snappy's block format (not the framed format), as Prometheus's remote-write
// and remote-read protocols and Loki's push protocol use it for HTTP bodies.
//
// Decompression is bounded: the declared uncompressed length is checked
// against the caller's limit before any memory is allocated, so a 100-byte
// body cannot make the server allocate gigabytes.
//
// Thread-safety: free functions without state.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace strata::snappy_codec {

class SnappyError : public std::runtime_error {
 public:
  // `too_large`: the body is valid but exceeds the limit (HTTP 413, not 400).
  SnappyError(const std::string& what, bool too_large)
      : std::runtime_error(what), too_large_(too_large) {}
  bool too_large() const { return too_large_; }

 private:
  bool too_large_;
};

// Decompresses `compressed`; throws SnappyError when it is not snappy block
// data or would decompress to more than `max_bytes` (`limit_name` names the
// setting that sets the limit, for the message).
std::string uncompress(std::string_view compressed, std::size_t max_bytes,
                       std::string_view limit_name);

std::string compress(std::string_view raw);

}  // namespace strata::snappy_codec
