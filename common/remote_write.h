// Prometheus remote-write 1.0 codec (X-Prometheus-Remote-Write-Version
// 0.1.0), shared by every side of Strata that speaks it: the collector and
// the tsdb's receiver decode it (POST /api/v1/write), strata-alerting's rule
// tests encode it to load a tsdb. The body is a prometheus.WriteRequest
// (common/prompb/remote.proto) in protobuf, compressed with snappy's block
// format (not the framed format).
//
// Decoding gives each TimeSeries as one series, in request order, with its
// labels (empty values dropped: Prometheus semantics) and samples exactly as
// sent -- NaN payloads included, so the stale marker 0x7ff0000000000002
// passes through. Exemplars and native histograms are not stored by Strata:
// they are counted in `dropped` and otherwise ignored, so that a Prometheus
// that sends them still gets its float samples in. Request metadata
// (WriteRequest.metadata) is ignored. Errors (RemoteWriteError) name what
// was wrong: corrupt snappy data, a decoded size above the limit
// (too_large()), a protobuf that does not parse, a duplicate label name
// ("timeseries[3].labels: duplicate label name \"job\""). Name syntax is
// the caller's to check.
//
// Encoding writes each series' labels sorted by name (Labels keeps them so)
// and its samples in the order given.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

#include "common/wire_format.h"

namespace strata::remote_write {

class RemoteWriteError : public std::runtime_error {
 public:
  explicit RemoteWriteError(const std::string& what, bool too_large = false)
      : std::runtime_error(what), too_large_(too_large) {}
  // The body is valid but decompresses beyond the limit (HTTP 413, not 400).
  bool too_large() const { return too_large_; }

 private:
  bool too_large_;
};

struct Dropped {
  std::size_t exemplars = 0;
  std::size_t histograms = 0;
};

// Decodes an uncompressed WriteRequest.
wire::MetricsBatch decode_write_request(std::string_view protobuf, Dropped* dropped = nullptr);

// `body`: the snappy-compressed protobuf; `max_decoded_bytes` bounds its
// uncompressed size (`limit_name`, the setting behind it, is named in the
// error).
wire::MetricsBatch decode(std::string_view body, std::size_t max_decoded_bytes,
                          std::string_view limit_name, Dropped* dropped = nullptr);

// The uncompressed WriteRequest for `batch`.
std::string encode_write_request(const wire::MetricsBatch& batch);
// The snappy-compressed body to POST (Content-Encoding: snappy).
std::string encode(const wire::MetricsBatch& batch);

}  // namespace strata::remote_write
