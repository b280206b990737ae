// Prometheus remote-write 1.0 decoding for the collector's POST /api/v1/write:
// the shared codec (common/remote_write.h, which the tsdb's receiver uses
// too) with its errors as the collector's DecodeError (status 400, or 413
// for a body that decompresses beyond collector.http.max_body_bytes).
//
// The decoded batch carries each TimeSeries as one series, in request order,
// with its labels (empty values dropped: Prometheus semantics) and samples
// exactly as sent -- NaN payloads included, so the stale marker
// 0x7ff0000000000002 passes through. Exemplars and native histograms are
// counted in `dropped` and otherwise ignored. Errors name what was wrong:
// corrupt snappy data, a decoded size above the limit (413), a protobuf that
// does not parse, a duplicate label name ("timeseries[3].labels: duplicate
// label name \"job\""). Name syntax, limits and UTF-8 are the Validator's.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "collector/decode_error.h"
#include "common/remote_write.h"
#include "common/wire_format.h"

namespace strata::collector {

using RemoteWriteDropped = remote_write::Dropped;

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
