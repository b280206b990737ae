#include "logindex/logindex_server.h"

#include "logindex/fanout.h"
#include "logindex/line_parser.h"
#include "logindex/loki_api.h"
#include "logindex/query_options.h"

namespace strata::logindex {

void add_options(config::Schema& s) {
  using config::Type;
  add_http_options(s, "logindex", "127.0.0.1:3100");
  s.add("logindex.consumer_group", Type::kString, "strata-logindex",
        "Kafka consumer group of the logindex nodes; each node owns a share of the logs "
        "topic's partitions.");
  add_query_options(s);
  s.add("logindex.ingest.max_poll_messages", Type::kInt, "1000",
        "Most Kafka messages applied (then committed) as one batch.");
  s.add("logindex.ingest.poll_timeout", Type::kDuration, "250ms",
        "Longest wait for a Kafka message; also bounds how long stop() waits for the loop.");
  s.add("logindex.parsers", Type::kList, "",
        "Line parsing rules, tried in order, each `{selector} format [pattern]` with format "
        "auto, json, logfmt, regexp (a pattern with named groups) or raw; streams no rule "
        "selects get auto. The level and short fields found are indexed (docs/search.md).");
  s.add("logindex.data_dir", Type::kString, "data/logindex",
        "Directory of the WAL and the segments; one logindex process per directory.");
  s.add("logindex.wal.fsync", Type::kString, "batch",
        "batch: fdatasync the WAL before every Kafka offset commit (survives power loss); "
        "never: only write() (survives a process crash, not a machine crash).");
  s.add("logindex.head.max_bytes", Type::kInt, "134217728",
        "The head (in-memory segment) is written out as a segment when it holds about this "
        "many bytes.");
  s.add("logindex.head.max_age", Type::kDuration, "1h",
        "The head is written out as a segment at the latest this long after its first line.");
  s.add("logindex.segment.block_bytes", Type::kInt, "4096",
        "Raw bytes of one stream's log lines per zstd-compressed block of a segment.");
  s.add("logindex.merge.max_bytes", Type::kInt, "536870912",
        "Segments smaller than this are merged into segments of at most this size.");
  s.add("logindex.merge.min_segments", Type::kInt, "4",
        "A merge starts when at least this many segments are below logindex.merge.max_bytes.");
  s.add("logindex.retention.age", Type::kDuration, "30d",
        "Segments whose newest line is this much older than the newest stored line are "
        "deleted; 0 keeps them forever.");
  s.add("logindex.retention.max_bytes", Type::kInt, "0",
        "When the segments take more than this many bytes the oldest are deleted; 0: no limit.");
  s.add("logindex.maintenance_interval", Type::kDuration, "30s",
        "How often the head is checked for a flush and segments for merging and retention.");
}

LogStoreOptions store_options(const config::Config& cfg) {
  LogStoreOptions o;
  o.dir = cfg.str("logindex.data_dir");
  try {
    o.parser =
        std::make_shared<const LineParser>(LineParser::from_specs(cfg.list("logindex.parsers")));
  } catch (const std::invalid_argument& e) {
    throw config::ConfigError(std::string("config key 'logindex.parsers': ") + e.what());
  }
  if (o.dir.empty()) throw config::ConfigError("config key 'logindex.data_dir': must not be empty");
  auto fsync = cfg.str("logindex.wal.fsync");
  if (fsync != "batch" && fsync != "never")
    throw config::ConfigError("config key 'logindex.wal.fsync': expected batch or never, got '" +
                              fsync + "'");
  o.fsync = fsync == "batch";
  o.head_max_bytes = static_cast<std::uint64_t>(cfg.positive_integer("logindex.head.max_bytes"));
  o.head_max_age = cfg.positive_duration("logindex.head.max_age");
  auto block = cfg.positive_integer("logindex.segment.block_bytes");
  if (block < 1024 || block > (64 << 20))
    throw config::ConfigError("config key 'logindex.segment.block_bytes': expected 1024..67108864");
  o.segment.block_bytes = static_cast<std::size_t>(block);
  o.merge_max_bytes = static_cast<std::uint64_t>(cfg.positive_integer("logindex.merge.max_bytes"));
  auto min_segments = cfg.integer("logindex.merge.min_segments");
  if (min_segments < 2 || min_segments > 1000)
    throw config::ConfigError("config key 'logindex.merge.min_segments': expected 2..1000");
  o.merge_min_segments = static_cast<std::size_t>(min_segments);
  o.retention_age = cfg.duration("logindex.retention.age");
  if (o.retention_age.count() < 0)
    throw config::ConfigError("config key 'logindex.retention.age': must not be negative");
  auto max_bytes = cfg.integer("logindex.retention.max_bytes");
  if (max_bytes < 0)
    throw config::ConfigError("config key 'logindex.retention.max_bytes': must not be negative");
  o.retention_max_bytes = static_cast<std::uint64_t>(max_bytes);
  o.maintenance_interval = cfg.positive_duration("logindex.maintenance_interval");
  return o;
}

namespace {

IngesterOptions ingester_options(const config::Config& cfg) {
  IngesterOptions o;
  o.kafka = kafka_options(cfg);
  o.kafka.client_id = "strata-logindex";
  o.group_id = cfg.str("logindex.consumer_group");
  if (o.group_id.empty())
    throw config::ConfigError("config key 'logindex.consumer_group': must not be empty");
  o.topic = cfg.str("kafka.logs_topic");
  auto max = cfg.integer("logindex.ingest.max_poll_messages");
  if (max < 1 || max > 1'000'000)
    throw config::ConfigError(
        "config key 'logindex.ingest.max_poll_messages': expected 1..1000000");
  o.max_poll_messages = static_cast<std::size_t>(max);
  o.poll_timeout = cfg.duration("logindex.ingest.poll_timeout");
  if (o.poll_timeout.count() <= 0)
    throw config::ConfigError("config key 'logindex.ingest.poll_timeout': must be > 0");
  return o;
}

}  // namespace

LogIndexServer::LogIndexServer(const config::Config& cfg)
    : store_(std::make_unique<LogStore>(store_options(cfg))),
      service_("strata-logindex", http_options(cfg, "logindex")) {
  const SearchApiOptions search = search_options(cfg);
  api_ = std::make_unique<SearchApi>(*store_, search, service_.metrics());
  // The Loki-compatible API for Grafana (loki_api.h); its handlers own it.
  LokiApiOptions loki_options;
  loki_options.default_limit = search.default_limit;
  loki_options.max_limit = search.max_limit;
  auto loki = std::make_shared<LokiApi>(*store_, loki_options, service_.metrics());
  LogFanoutOptions fanout = fanout_options(cfg);
  if (fanout.peers.empty()) {
    api_->register_routes(service_.http());
    LokiApi::register_routes(loki, service_.http());
  } else {
    // The same routes answer over the shards; a shard's request (with the
    // fan-out header) is answered from this store.
    LogFanout::register_routes(std::make_shared<LogFanout>(std::move(fanout), service_.metrics()),
                               service_.http(), LogFanout::LocalApis{api_.get(), loki});
  }
  ingester_ = std::make_unique<Ingester>(ingester_options(cfg), *store_, service_.metrics());
  register_store_metrics();
  service_.add_readiness_check("kafka ingest", [this] { return ingester_->readiness(); });
}

void LogIndexServer::register_store_metrics() {
  auto& r = service_.metrics();
  LogStore& store = *store_;
  auto stat = [&store](auto field) {
    return [&store, field] { return static_cast<double>(store.stats().*field); };
  };
  r.gauge_callback("strata_logindex_entries", "Log entries stored (head and segments).",
                   [&store] { return static_cast<double>(store.entry_count()); });
  r.gauge_callback("strata_logindex_head_entries",
                   "Log entries in the head (not yet written to a segment).",
                   stat(&LogStoreStats::head_entries));
  r.gauge_callback("strata_logindex_segments", "On-disk segments served.",
                   stat(&LogStoreStats::segments));
  r.gauge_callback("strata_logindex_segment_bytes", "Bytes of the on-disk segments.",
                   stat(&LogStoreStats::segment_bytes));
  r.gauge_callback("strata_logindex_flushes", "Heads written out as segments since start.",
                   stat(&LogStoreStats::flushes));
  r.gauge_callback("strata_logindex_merges", "Segment merges since start.",
                   stat(&LogStoreStats::merges));
  r.gauge_callback("strata_logindex_retention_deleted_segments",
                   "Segments deleted by retention since start.",
                   stat(&LogStoreStats::retention_deleted));
  r.gauge_callback("strata_logindex_corrupt_segments",
                   "Damaged segments found (at open or by a read) since start; see the log.",
                   stat(&LogStoreStats::corrupt_segments));
  r.gauge_callback("strata_logindex_wal_fsyncs", "WAL fdatasync calls since start.",
                   stat(&LogStoreStats::wal_syncs));
  r.gauge_callback("strata_logindex_wal_corruptions_found_at_open",
                   "Damaged WAL records found by the replay at start (see the log).",
                   stat(&LogStoreStats::wal_corruptions));
}

LogIndexServer::~LogIndexServer() { stop(); }

void LogIndexServer::start() {
  if (started_) return;
  started_ = true;
  service_.start();
  ingester_->start();
}

void LogIndexServer::stop() {
  if (stopped_ || !started_) return;
  stopped_ = true;
  ingester_->stop();
  service_.stop();
}

}  // namespace strata::logindex
