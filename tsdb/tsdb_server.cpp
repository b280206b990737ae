#include "tsdb/tsdb_server.h"

#include <malloc.h>
#include <spdlog/spdlog.h>

namespace strata::tsdb {

void tune_allocator_for_queries() {
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
}

void add_query_options(config::Schema& s) {
  using config::Type;
  s.add("tsdb.lookback_delta", Type::kDuration, "5m",
        "How far back an instant query looks for a series' latest sample.");
  s.add("tsdb.query.max_samples", Type::kInt, "50000000",
        "Most samples one PromQL query may load and produce; beyond it the query fails "
        "with an execution error.");
  s.add("tsdb.query.timeout", Type::kDuration, "2m",
        "Longest a PromQL query may run (waiting for a slot included); a request's "
        "timeout= parameter can only lower it.");
  s.add("tsdb.query.max_concurrency", Type::kInt, "20",
        "PromQL queries evaluated at once; later ones wait for a slot.");
  s.add("tsdb.query.peers", Type::kList, "",
        "tsdb nodes to answer queries from (fan-out): one entry per node, [group=]host:port, "
        "where nodes of one consumer group share a group name and another group is a replica "
        "(a=t0:9090,a=t1:9090,b=u0:9090). Empty: answer from this node's own data only. On a "
        "store node, list the node itself to include its data.");
  s.add("tsdb.query.pushdown", Type::kBool, "false",
        "Fan-out only: evaluate sum/count/min/max/group over per-series expressions (rate, "
        "*_over_time, selectors) on the nodes of one complete replica group and combine the "
        "partial results, instead of pulling raw series. Exact while every series' samples sit "
        "on one node of the group; a node crash during ingest can leave the samples around it "
        "on two shards, which push-down then counts twice (docs/tsdb.md).");
  s.add("tsdb.query.peer_timeout", Type::kDuration, "30s",
        "Longest wait for one node's answer; when no replica group answered completely, the "
        "nodes that did not are named in the response's warnings.");
}

void add_options(config::Schema& s) {
  using config::Type;
  add_http_options(s, "tsdb", "127.0.0.1:9090");
  s.add("tsdb.consumer_group", Type::kString, "strata-tsdb",
        "Kafka consumer group of the tsdb nodes; each node owns a share of the metrics "
        "topic's partitions. A second group over the same topic is a full replica.");
  add_query_options(s);
  s.add("tsdb.remote_read.max_samples", Type::kInt, "50000000",
        "Most samples one remote-read response (POST /api/v1/read) may hold; a larger "
        "request is refused with 400.");
  s.add("tsdb.remote_write_receiver", Type::kBool, "false",
        "Accept Prometheus remote write (1.0) on POST /api/v1/write, stored straight into "
        "this node (no Kafka), as Prometheus's --web.enable-remote-write-receiver.");
  s.add("tsdb.ingest.kafka", Type::kBool, "true",
        "Consume the metrics topic from Kafka. false: no Kafka at all (kafka.* unused); data "
        "comes only through tsdb.remote_write_receiver.");
  s.add("tsdb.ingest.max_poll_messages", Type::kInt, "1000",
        "Most Kafka messages applied (then committed) as one batch.");
  s.add("tsdb.ingest.poll_timeout", Type::kDuration, "250ms",
        "Longest wait for a Kafka message; also bounds how long stop() waits for the loop.");
  s.add("tsdb.data_dir", Type::kString, "data/tsdb",
        "Directory of the WAL and the blocks; one tsdb process per directory.");
  s.add("tsdb.wal.fsync", Type::kString, "batch",
        "batch: fdatasync the WAL before every Kafka offset commit (survives power loss); "
        "never: only write() (survives a process crash, not a machine crash).");
  s.add("tsdb.block_range", Type::kDuration, "2h",
        "Time range of the blocks the head is cut into; compaction builds 3x and 12x this.");
  s.add("tsdb.out_of_order_window", Type::kDuration, "10m",
        "How far behind a series' newest sample an older sample is still accepted.");
  s.add("tsdb.retention.raw", Type::kDuration, "15d", "How long raw blocks are kept.");
  s.add("tsdb.retention.5m", Type::kDuration, "90d",
        "How long 5-minute downsampled blocks are kept.");
  s.add("tsdb.retention.1h", Type::kDuration, "1y", "How long 1-hour downsampled blocks are kept.");
  s.add("tsdb.downsample.5m_after", Type::kDuration, "40h",
        "Raw blocks whose end is this much older than the newest data get a 5m rollup.");
  s.add("tsdb.downsample.1h_after", Type::kDuration, "10d",
        "5m blocks whose end is this much older than the newest data get a 1h rollup.");
  s.add("tsdb.maintenance_interval", Type::kDuration, "1m",
        "How often the head is checked for a block cut and blocks for compaction, "
        "downsampling and retention.");
}

DBOptions db_options(const config::Config& cfg) {
  DBOptions o;
  o.dir = cfg.str("tsdb.data_dir");
  if (o.dir.empty()) throw config::ConfigError("config key 'tsdb.data_dir': must not be empty");
  try {
    o.fsync = parse_fsync_policy(cfg.str("tsdb.wal.fsync"));
  } catch (const std::invalid_argument& e) {
    throw config::ConfigError(std::string("config key 'tsdb.wal.fsync': ") + e.what());
  }
  auto positive = [&](const char* key) { return cfg.positive_duration(key).count(); };
  o.block_range_ms = positive("tsdb.block_range");
  if (o.block_range_ms < 60'000)
    throw config::ConfigError("config key 'tsdb.block_range': must be at least 1m");
  o.head.ooo_window_ms = cfg.duration("tsdb.out_of_order_window").count();
  if (o.head.ooo_window_ms < 0 || o.head.ooo_window_ms > o.block_range_ms / 2)
    throw config::ConfigError(
        "config key 'tsdb.out_of_order_window': must be between 0 and half of tsdb.block_range");
  o.retention_raw_ms = positive("tsdb.retention.raw");
  o.retention_5m_ms = positive("tsdb.retention.5m");
  o.retention_1h_ms = positive("tsdb.retention.1h");
  o.downsample_5m_after_ms = positive("tsdb.downsample.5m_after");
  o.downsample_1h_after_ms = positive("tsdb.downsample.1h_after");
  o.maintenance_interval = std::chrono::milliseconds(positive("tsdb.maintenance_interval"));
  return o;
}

namespace {

IngesterOptions ingester_options(const config::Config& cfg) {
  IngesterOptions o;
  o.kafka = kafka_options(cfg);
  o.kafka.client_id = "strata-tsdb";
  o.group_id = cfg.str("tsdb.consumer_group");
  if (o.group_id.empty())
    throw config::ConfigError("config key 'tsdb.consumer_group': must not be empty");
  o.topic = cfg.str("kafka.metrics_topic");
  auto max = cfg.integer("tsdb.ingest.max_poll_messages");
  if (max < 1 || max > 1'000'000)
    throw config::ConfigError("config key 'tsdb.ingest.max_poll_messages': expected 1..1000000");
  o.max_poll_messages = static_cast<std::size_t>(max);
  o.poll_timeout = cfg.positive_duration("tsdb.ingest.poll_timeout");
  return o;
}

}  // namespace

QueryApiOptions query_options(const config::Config& cfg) {
  QueryApiOptions o;
  o.lookback_delta = cfg.positive_duration("tsdb.lookback_delta");
  o.engine.max_samples = static_cast<std::size_t>(cfg.positive_integer("tsdb.query.max_samples"));
  o.engine.timeout = cfg.positive_duration("tsdb.query.timeout");
  auto conc = cfg.integer("tsdb.query.max_concurrency");
  if (conc <= 0 || conc > 10000)
    throw config::ConfigError("config key 'tsdb.query.max_concurrency': must be 1..10000");
  o.engine.max_concurrent_queries = static_cast<int>(conc);
  return o;
}

std::optional<FanoutOptions> fanout_options(const config::Config& cfg) {
  auto peers = parse_peers(cfg.list("tsdb.query.peers"), "tsdb.query.peers");
  if (peers.empty()) return std::nullopt;
  FanoutOptions o;
  o.peers = std::move(peers);
  o.peer_timeout = cfg.positive_duration("tsdb.query.peer_timeout");
  o.pushdown = cfg.boolean("tsdb.query.pushdown");
  return o;
}

namespace {

http::ServerOptions server_options(const config::Config& cfg) {
  auto o = http_options(cfg, "tsdb");
  // Remote read names its snappy block compression in Content-Encoding;
  // the handler undoes it (the HTTP server knows no snappy).
  o.passthrough_encodings = {"snappy"};
  return o;
}

}  // namespace

TsdbServer::TsdbServer(const config::Config& cfg)
    : db_(std::make_unique<DB>(db_options(cfg))),
      local_store_(std::make_unique<DbQueryStore>(*db_)),
      service_("strata-tsdb", server_options(cfg)) {
  local_api_ = std::make_unique<QueryApi>(*local_store_, query_options(cfg), service_.metrics());
  if (auto fanout = fanout_options(cfg)) {
    // Queries cover the cluster; a query node's own requests to this shard
    // (the fan-out header) and remote reads stay local.
    fanout_store_ = std::make_unique<FanoutStore>(std::move(*fanout));
    fanout_api_ =
        std::make_unique<QueryApi>(*fanout_store_, query_options(cfg), service_.metrics());
    fanout_api_->register_routes(service_.http(), local_api_.get());
    FanoutStore* store = fanout_store_.get();
    service_.metrics().gauge_callback("strata_query_pushdowns",
                                      "Aggregations evaluated on the shards (tsdb.query.pushdown).",
                                      [store] { return static_cast<double>(store->pushdowns()); });
  } else {
    local_api_->register_routes(service_.http());
  }
  RemoteReadOptions rr;
  rr.max_samples = static_cast<std::size_t>(cfg.positive_integer("tsdb.remote_read.max_samples"));
  remote_read_ = std::make_unique<RemoteReadApi>(*local_store_, rr, service_.metrics());
  remote_read_->register_routes(service_.http());
  if (cfg.boolean("tsdb.remote_write_receiver")) {
    const auto max_body = static_cast<std::size_t>(cfg.integer("tsdb.http.max_body_bytes"));
    remote_write_ = std::make_unique<RemoteWriteReceiver>(*db_, max_body, service_.metrics());
    remote_write_->register_routes(service_.http());
  }
  service_.http().add_route("POST", "/api/v1/admin/tsdb/compact", [this](const http::Request&) {
    try {
      db_->maintain(true);
    } catch (const std::exception& e) {
      spdlog::error("tsdb admin compact failed: {}", e.what());
      return http::Response::json(
          500,
          R"({"status":"error","errorType":"internal","error":"compaction failed, see the log"})");
    }
    return http::Response::json(200, R"({"status":"success","data":{"blocks":)" +
                                         std::to_string(db_->blocks().size()) + "}}");
  });
  auto& m = service_.metrics();
  DB* db = db_.get();
  m.gauge_callback("strata_tsdb_head_series", "Series in the head.",
                   [db] { return static_cast<double>(db->head().series_count()); });
  m.gauge_callback("strata_tsdb_head_samples", "Samples in the head.",
                   [db] { return static_cast<double>(db->head().sample_count()); });
  m.gauge_callback("strata_tsdb_head_chunk_bytes", "Bytes of encoded chunks held by the head.",
                   [db] { return static_cast<double>(db->head().chunk_bytes()); });
  m.gauge_callback("strata_tsdb_blocks", "Blocks on disk (all resolutions).",
                   [db] { return static_cast<double>(db->blocks().size()); });
  m.gauge_callback("strata_tsdb_compactions", "Compactions since start.",
                   [db] { return static_cast<double>(db->compactions()); });
  m.gauge_callback("strata_tsdb_wal_written_bytes", "Bytes written to the WAL since start.",
                   [db] { return static_cast<double>(db->wal().bytes_written()); });
  m.gauge_callback("strata_tsdb_wal_fsyncs", "WAL fdatasync calls since start.",
                   [db] { return static_cast<double>(db->wal().syncs()); });
  m.gauge_callback("strata_tsdb_corruptions_found_at_open",
                   "Corrupt WAL records, blocks and chunks found when the store was opened.",
                   [db] { return static_cast<double>(db->open_report().corruptions.size()); });
  ingester_ = std::make_unique<Ingester>(ingester_options(cfg), *db_, service_.metrics());
  kafka_ingest_ = cfg.boolean("tsdb.ingest.kafka");
  if (kafka_ingest_)
    service_.add_readiness_check("kafka ingest", [this] { return ingester_->readiness(); });
  else
    spdlog::info("strata-tsdb: tsdb.ingest.kafka=false: not consuming from Kafka{}",
                 remote_write_ ? "; data comes through POST /api/v1/write"
                               : " (and tsdb.remote_write_receiver is off: nothing is ingested)");
}

TsdbServer::~TsdbServer() { stop(); }

void TsdbServer::start() {
  if (started_) return;
  started_ = true;
  service_.start();
  if (kafka_ingest_) ingester_->start();
}

void TsdbServer::stop() {
  if (stopped_ || !started_) return;
  stopped_ = true;
  ingester_->stop();
  service_.stop();
}

}  // namespace strata::tsdb
