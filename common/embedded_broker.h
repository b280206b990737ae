// EmbeddedBroker: a Kafka-wire-protocol broker inside this process, built on
// librdkafka's mock cluster (rdkafka_mock.h). The all-in-one binary and the
// tests use it so that the very same producer and consumer code paths run as
// against real Kafka.
//
// It listens on loopback on ports the OS picks (bootstraps() tells which),
// keeps every message IN MEMORY ONLY (nothing survives the process), and
// supports produce with acks/idempotence, consumer groups and offset commits.
// Not for production: point --kafka.brokers at real Kafka there.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace strata::kafka {

struct TopicSpec {
  std::string name;
  int partitions = 4;
};

class EmbeddedBroker {
 public:
  // Starts `brokers` mock brokers and creates `topics`. Throws KafkaError on failure.
  EmbeddedBroker(const std::vector<TopicSpec>& topics, int brokers = 1);
  ~EmbeddedBroker();
  EmbeddedBroker(const EmbeddedBroker&) = delete;
  EmbeddedBroker& operator=(const EmbeddedBroker&) = delete;

  // "127.0.0.1:port[,...]": pass as KafkaOptions::brokers.
  std::string bootstraps() const;

  // Failure injection for tests: take every broker down / bring it back.
  void set_down(bool down);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::kafka
