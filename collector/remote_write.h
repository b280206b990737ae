// Prometheus remote-write 1.0 decoding (X-Prometheus-Remote-Write-Version
// 0.1.0): the body is a prometheus.WriteRequest (common/prompb/remote.proto)
// in protobuf, compressed with snappy's block format (not the framed format).
//
// The decoded batch carries each TimeSeries as one series, in request order,
// with its labels (empty values dropped: Prometheus semantics) and samples
// exactly as sent -- NaN payloads included, so the stale marker
// 0x7ff0000000000002 passes through. Exemplars and native histograms are not
// stored by Strata: they are counted in `dropped` and otherwise ignored, so
// that a Prometheus that sends them still gets its float samples in. Request
// metadata (WriteRequest.metadata) is ignored.
//
// Errors (DecodeError, status 400 unless noted) name what was wrong: corrupt
// snappy data, a decoded size above the limit (413), a protobuf that does not
// parse, a duplicate label name ("timeseries[3].labels: duplicate label name
// \"job\""). Name syntax, limits and UTF-8 are the Validator's.
//
// Thread-safety: a pure function.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "collector/decode_error.h"
#include "common/wire_format.h"

namespace strata::collector {

struct RemoteWriteDropped {
  std::size_t exemplars = 0;
  std::size_t histograms = 0;
};

// Undoes snappy's block format; throws DecodeError (413 when the declared
// uncompressed length exceeds `max_bytes`, 400 when the data is corrupt).
std::string snappy_uncompress(std::string_view compressed, std::size_t max_bytes);

// `body`: the snappy-compressed protobuf. `max_decoded_bytes` bounds the
// uncompressed size.
wire::MetricsBatch decode_remote_write(std::string_view body, std::size_t max_decoded_bytes,
                                       RemoteWriteDropped* dropped = nullptr);

// Decodes an uncompressed WriteRequest (for tests and benchmarks).
wire::MetricsBatch decode_write_request(std::string_view protobuf,
                                        RemoteWriteDropped* dropped = nullptr);

}  // namespace strata::collector
