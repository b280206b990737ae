#include "collector/remote_write.h"

#include <algorithm>

#include <fmt/format.h>
#include <google/protobuf/arena.h>

#include "common/snappy_codec.h"
#include "remote.pb.h"

namespace strata::collector {

std::string snappy_uncompress(std::string_view compressed, std::size_t max_bytes) {
  try {
    return snappy_codec::uncompress(compressed, max_bytes, "collector.http.max_body_bytes");
  } catch (const snappy_codec::SnappyError& e) {
    if (e.too_large()) throw DecodeError(e.what(), 413);
    throw DecodeError(e.what());
  }
}

wire::MetricsBatch decode_write_request(std::string_view protobuf, RemoteWriteDropped* dropped) {
  // The parsed request is thousands of small messages and strings that all
  // die together: an arena makes them a few large allocations instead of one
  // malloc/free each, sized from the input so it rarely needs a second block.
  google::protobuf::ArenaOptions arena_options;
  arena_options.start_block_size = std::clamp<std::size_t>(protobuf.size() * 2, 4096, 64 << 20);
  arena_options.max_block_size = std::max<std::size_t>(arena_options.start_block_size, 8 << 20);
  google::protobuf::Arena arena(arena_options);
  auto& req = *google::protobuf::Arena::CreateMessage<prometheus::WriteRequest>(&arena);
  if (protobuf.size() > static_cast<std::size_t>(INT32_MAX) ||
      !req.ParseFromArray(protobuf.data(), static_cast<int>(protobuf.size()))) {
    throw DecodeError(
        "the body is not a valid protobuf prometheus.WriteRequest (remote-write 1.0)");
  }
  wire::MetricsBatch batch;
  batch.series.reserve(static_cast<std::size_t>(req.timeseries_size()));
  for (int i = 0; i < req.timeseries_size(); ++i) {
    const auto& ts = req.timeseries(i);
    if (dropped != nullptr) {
      dropped->exemplars += static_cast<std::size_t>(ts.exemplars_size());
      dropped->histograms += static_cast<std::size_t>(ts.histograms_size());
    }
    std::vector<Label> labels;
    labels.reserve(static_cast<std::size_t>(ts.labels_size()));
    for (const auto& l : ts.labels()) {
      if (l.value().empty()) continue;  // absent, as in Prometheus
      labels.emplace_back(l.name(), l.value());
    }
    wire::Series s;
    try {
      s.labels = Labels(std::move(labels));
    } catch (const std::invalid_argument& e) {
      throw DecodeError(fmt::format("timeseries[{}].labels: {}", i, e.what()));
    }
    s.samples.reserve(static_cast<std::size_t>(ts.samples_size()));
    for (const auto& smp : ts.samples()) s.samples.push_back({smp.timestamp(), smp.value()});
    batch.series.push_back(std::move(s));
  }
  return batch;
}

wire::MetricsBatch decode_remote_write(std::string_view body, std::size_t max_decoded_bytes,
                                       RemoteWriteDropped* dropped) {
  return decode_write_request(snappy_uncompress(body, max_decoded_bytes), dropped);
}

}  // namespace strata::collector
