#include "common/remote_write.h"

#include <algorithm>
#include <cstdint>

#include <fmt/format.h>
#include <google/protobuf/arena.h>

#include "common/snappy_codec.h"
#include "remote.pb.h"

namespace strata::remote_write {

wire::MetricsBatch decode_write_request(std::string_view protobuf, Dropped* dropped) {
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
    throw RemoteWriteError(
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
      throw RemoteWriteError(fmt::format("timeseries[{}].labels: {}", i, e.what()));
    }
    s.samples.reserve(static_cast<std::size_t>(ts.samples_size()));
    for (const auto& smp : ts.samples()) s.samples.push_back({smp.timestamp(), smp.value()});
    batch.series.push_back(std::move(s));
  }
  return batch;
}

wire::MetricsBatch decode(std::string_view body, std::size_t max_decoded_bytes,
                          std::string_view limit_name, Dropped* dropped) {
  std::string raw;
  try {
    raw = snappy_codec::uncompress(body, max_decoded_bytes, limit_name);
  } catch (const snappy_codec::SnappyError& e) {
    throw RemoteWriteError(e.what(), e.too_large());
  }
  return decode_write_request(raw, dropped);
}

std::string encode_write_request(const wire::MetricsBatch& batch) {
  prometheus::WriteRequest req;
  for (const auto& s : batch.series) {
    auto* ts = req.add_timeseries();
    for (const auto& [name, value] : s.labels.items()) {
      auto* l = ts->add_labels();
      l->set_name(name);
      l->set_value(value);
    }
    for (const auto& smp : s.samples) {
      auto* out = ts->add_samples();
      out->set_timestamp(smp.timestamp_ms);
      out->set_value(smp.value);
    }
  }
  return req.SerializeAsString();
}

std::string encode(const wire::MetricsBatch& batch) {
  return snappy_codec::compress(encode_write_request(batch));
}

}  // namespace strata::remote_write
