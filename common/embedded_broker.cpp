#include "common/embedded_broker.h"

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <spdlog/spdlog.h>

#include "common/kafka_bus.h"

namespace strata::kafka {

namespace {

void log_cb(const rd_kafka_t*, int level, const char* fac, const char* buf) {
  // The mock cluster's own chatter (connections opening and closing) is
  // noise next to the clients' logs; only its problems are worth showing.
  if (level <= 3) {
    spdlog::error("embedded kafka {}: {}", fac, buf);
  } else if (level == 4) {
    spdlog::warn("embedded kafka {}: {}", fac, buf);
  } else {
    spdlog::debug("embedded kafka {}: {}", fac, buf);
  }
}

}  // namespace

struct EmbeddedBroker::Impl {
  // The mock cluster runs on its own thread but needs a client handle to
  // live in; this producer never produces.
  rd_kafka_t* rk = nullptr;
  rd_kafka_mock_cluster_t* cluster = nullptr;
  int brokers = 0;

  ~Impl() {
    if (cluster) rd_kafka_mock_cluster_destroy(cluster);
    if (rk) rd_kafka_destroy(rk);
  }
};

EmbeddedBroker::EmbeddedBroker(const std::vector<TopicSpec>& topics, int brokers)
    : impl_(std::make_unique<Impl>()) {
  if (brokers < 1) throw KafkaError(fmt::format("embedded kafka: {} brokers requested", brokers));
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, log_cb);
  char err[512];
  // Without bootstrap servers the host handle would warn that it cannot
  // connect anywhere, which it never needs to.
  if (rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    throw KafkaError(fmt::format("embedded kafka: {}", err));
  }
  impl_->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (impl_->rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    throw KafkaError(fmt::format("embedded kafka: cannot create host handle: {}", err));
  }
  impl_->cluster = rd_kafka_mock_cluster_new(impl_->rk, brokers);
  if (impl_->cluster == nullptr) {
    throw KafkaError(
        fmt::format("embedded kafka: cannot start a mock cluster of {} brokers", brokers));
  }
  impl_->brokers = brokers;
  for (const auto& t : topics) {
    if (t.name.empty() || t.partitions < 1) {
      throw KafkaError(fmt::format("embedded kafka: invalid topic \"{}\" with {} partitions",
                                   t.name, t.partitions));
    }
    auto e = rd_kafka_mock_topic_create(impl_->cluster, t.name.c_str(), t.partitions,
                                        /*replication_factor=*/1);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw KafkaError(
          fmt::format("embedded kafka: cannot create topic {}: {}", t.name, rd_kafka_err2str(e)));
    }
  }
}

EmbeddedBroker::~EmbeddedBroker() = default;

std::string EmbeddedBroker::bootstraps() const {
  return rd_kafka_mock_cluster_bootstraps(impl_->cluster);
}

void EmbeddedBroker::set_down(bool down) {
  // Mock broker ids are 1..n.
  for (int id = 1; id <= impl_->brokers; ++id) {
    auto e = down ? rd_kafka_mock_broker_set_down(impl_->cluster, id)
                  : rd_kafka_mock_broker_set_up(impl_->cluster, id);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw KafkaError(fmt::format("embedded kafka: cannot set broker {} {}: {}", id,
                                   down ? "down" : "up", rd_kafka_err2str(e)));
    }
  }
}

}  // namespace strata::kafka
