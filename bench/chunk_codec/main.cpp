// Chunk codec benchmark (tsdb/chunk_encoding.h): append / encode / decode
// speed and bytes per sample on three typical series, each cut into
// 120-sample chunks as Prometheus does, next to plain Gorilla (kXor only,
// what Prometheus stores) so the compression gain is visible, and in the
// shared-timestamps form blocks use for series scraped together:
//   ./strata-bench-chunk-codec --benchmark_counter_tables=true
// Counters: items_per_second = samples/s; bytes_per_sample = stored size.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "tsdb/chunk_encoding.h"

namespace {

using strata::wire::Sample;
namespace tsdb = strata::tsdb;

constexpr std::size_t kChunk = 120;
constexpr std::size_t kChunks = 256;

enum Dataset { kCounter, kGauge, kConstant };

// 15 s scrapes with a few ms of jitter, the usual Prometheus shape.
std::vector<std::vector<Sample>> make(Dataset d) {
  std::mt19937_64 rng(42);
  std::normal_distribution<double> normal(0, 1);
  std::poisson_distribution<int> reqs(750);
  std::vector<std::vector<Sample>> chunks(kChunks);
  std::int64_t t = 1'700'000'000'000;
  double c = 0, g = 50;
  for (auto& ch : chunks) {
    for (std::size_t i = 0; i < kChunk; ++i) {
      t += 15'000 + static_cast<std::int64_t>(rng() % 7) - 3;
      double v = 0;
      switch (d) {
        case kCounter:  // requests: ~50/s
          v = c += reqs(rng);
          break;
        case kGauge:  // e.g. a temperature or a load average
          v = g += normal(rng) * 0.37;
          break;
        case kConstant:  // e.g. up, build_info
          v = 1;
          break;
      }
      ch.push_back({t, v});
    }
  }
  return chunks;
}

const std::vector<std::vector<Sample>>& data(Dataset d) {
  static const std::vector<std::vector<Sample>> sets[] = {make(kCounter), make(kGauge),
                                                          make(kConstant)};
  return sets[d];
}

void set_counters(benchmark::State& state, std::size_t bytes) {
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kChunks * kChunk));
  state.counters["bytes_per_sample"] =
      static_cast<double>(bytes) / static_cast<double>(kChunks * kChunk);
}

void BM_XorAppend(benchmark::State& state) {
  const auto& chunks = data(static_cast<Dataset>(state.range(0)));
  std::size_t bytes = 0;
  for (auto _ : state) {
    bytes = 0;
    for (const auto& ch : chunks) {
      tsdb::XorAppender a;
      for (const auto& s : ch) a.append(s.timestamp_ms, s.value);
      bytes += a.bytes().size();
      benchmark::DoNotOptimize(a.bytes().data());
    }
  }
  set_counters(state, bytes);
}

// What a block stores: plain Gorilla (what Prometheus stores), the best
// standalone chunk, or values only over a shared timestamp column (the
// column's bytes are not counted: a block stores it once for every series
// scraped together).
enum Mode { kPlainGorilla, kBest, kShared };

std::vector<std::uint8_t> encode(Mode m, const std::vector<Sample>& ch) {
  switch (m) {
    case kPlainGorilla:
      return tsdb::encode_chunk_xor(ch);
    case kBest:
      return tsdb::encode_chunk(ch);
    case kShared:
      return tsdb::encode_values_chunk(ch);
  }
  return {};
}

template <Mode kMode>
void BM_Encode(benchmark::State& state) {
  const auto& chunks = data(static_cast<Dataset>(state.range(0)));
  std::size_t bytes = 0;
  for (auto _ : state) {
    bytes = 0;
    for (const auto& ch : chunks) {
      auto c = encode(kMode, ch);
      bytes += c.size();
      benchmark::DoNotOptimize(c.data());
    }
  }
  set_counters(state, bytes);
}

template <Mode kMode>
void BM_Decode(benchmark::State& state) {
  std::vector<std::vector<std::uint8_t>> encoded, columns;
  std::size_t bytes = 0;
  for (const auto& ch : data(static_cast<Dataset>(state.range(0)))) {
    encoded.push_back(encode(kMode, ch));
    columns.push_back(kMode == kShared ? tsdb::encode_timestamps_chunk(ch)
                                       : std::vector<std::uint8_t>{});
    bytes += encoded.back().size();
  }
  for (auto _ : state) {
    std::int64_t tsum = 0;
    double vsum = 0;
    for (std::size_t i = 0; i < encoded.size(); ++i) {
      tsdb::ChunkIterator it(encoded[i], columns[i]);
      while (it.next()) {
        tsum += it.t();
        vsum += it.v();
      }
    }
    benchmark::DoNotOptimize(tsum);
    benchmark::DoNotOptimize(vsum);
  }
  set_counters(state, bytes);
}

void datasets(benchmark::internal::Benchmark* b) {
  b->ArgName("data");  // 0 = counter, 1 = gauge, 2 = constant
  for (int d : {kCounter, kGauge, kConstant}) b->Arg(d);
}

BENCHMARK(BM_XorAppend)->Apply(datasets);
BENCHMARK_TEMPLATE(BM_Encode, kPlainGorilla)->Name("BM_EncodePlainGorilla")->Apply(datasets);
BENCHMARK_TEMPLATE(BM_Encode, kBest)->Name("BM_EncodeChunk")->Apply(datasets);
BENCHMARK_TEMPLATE(BM_Encode, kShared)->Name("BM_EncodeValuesChunk")->Apply(datasets);
BENCHMARK_TEMPLATE(BM_Decode, kPlainGorilla)->Name("BM_DecodePlainGorilla")->Apply(datasets);
BENCHMARK_TEMPLATE(BM_Decode, kBest)->Name("BM_DecodeChunk")->Apply(datasets);
BENCHMARK_TEMPLATE(BM_Decode, kShared)->Name("BM_DecodeSharedTimestamps")->Apply(datasets);

}  // namespace

BENCHMARK_MAIN();
