// Loki push API decoding (POST /loki/api/v1/push), in both encodings Loki
// accepts:
//
//  - JSON (Content-Type: application/json, optionally gzip'd by the HTTP
//    layer), parsed with simdjson:
//      {"streams":[{"stream":{"job":"x"},
//                   "values":[["<ns since epoch, string>","line"],
//                             ["<ns>","line",{"trace_id":"abc"}]]}]}
//    The optional third element is Loki 3 structured metadata (an object of
//    strings), carried as wire-format entry fields. Unknown members are
//    ignored, as Loki does.
//  - protobuf (application/x-protobuf): a logproto.PushRequest
//    (collector/proto/push.proto) compressed with snappy's block format; the
//    stream's labels are a Prometheus-style string, {job="x", host="h"}.
//
// Both give the same wire::LogsBatch (one stream per pushed stream, entries in
// request order). Log lines that are not valid UTF-8 (possible in protobuf)
// have each bad sequence replaced by U+FFFD and are counted in `sanitized`,
// as one bad byte must not cost the whole batch. Label values must be UTF-8.
//
// Errors (DecodeError) name the JSON path or the protobuf stream index and
// what was expected, e.g. `streams[0].values[2][0]: expected a string of
// nanoseconds since the epoch, got 1.5`.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "collector/decode_error.h"
#include "common/wire_format.h"

namespace strata::collector {

wire::LogsBatch decode_loki_json(std::string_view json, std::size_t* sanitized = nullptr);

// `body`: the snappy-compressed protobuf; `max_decoded_bytes` bounds it.
wire::LogsBatch decode_loki_protobuf(std::string_view body, std::size_t max_decoded_bytes,
                                     std::size_t* sanitized = nullptr);

// Parses a Prometheus-style label set as Loki clients send it: {a="b", c="d"}
// with Go string escapes in values (\" \\ \n \t \xHH \uHHHH ...). Empty values
// are dropped. Throws DecodeError naming the byte offset.
Labels parse_label_string(std::string_view text);

// `s` with every invalid UTF-8 sequence replaced by U+FFFD; returns whether
// anything was replaced.
bool sanitize_utf8(std::string& s);

}  // namespace strata::collector
