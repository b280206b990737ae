#include "collector/remote_write.h"

#include "common/remote_write.h"
#include "common/snappy_codec.h"

namespace strata::collector {
namespace {

constexpr std::string_view kLimitName = "collector.http.max_body_bytes";

DecodeError to_decode_error(const remote_write::RemoteWriteError& e) {
  return DecodeError(e.what(), e.too_large() ? 413 : 400);
}

}  // namespace

std::string snappy_uncompress(std::string_view compressed, std::size_t max_bytes) {
  try {
    return snappy_codec::uncompress(compressed, max_bytes, kLimitName);
  } catch (const snappy_codec::SnappyError& e) {
    if (e.too_large()) throw DecodeError(e.what(), 413);
    throw DecodeError(e.what());
  }
}

wire::MetricsBatch decode_write_request(std::string_view protobuf, RemoteWriteDropped* dropped) {
  try {
    return remote_write::decode_write_request(protobuf, dropped);
  } catch (const remote_write::RemoteWriteError& e) {
    throw to_decode_error(e);
  }
}

wire::MetricsBatch decode_remote_write(std::string_view body, std::size_t max_decoded_bytes,
                                       RemoteWriteDropped* dropped) {
  try {
    return remote_write::decode(body, max_decoded_bytes, kLimitName, dropped);
  } catch (const remote_write::RemoteWriteError& e) {
    throw to_decode_error(e);
  }
}

}  // namespace strata::collector
