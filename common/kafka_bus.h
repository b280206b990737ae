// The Kafka bus: the only way Strata components hand data to each other.
//
// KafkaProducer::send() returns only once the broker has acknowledged every
// message of the call (delivery reports, acks=all, idempotent producer), so a
// caller that acknowledges its own client after send() succeeded never
// acknowledges data Kafka does not have. KafkaConsumer is a consumer-group
// member with manual offset commits: a store applies a polled batch, then
// commits; a crash in between replays the batch (at-least-once), which the
// stores absorb by being idempotent.
//
// Thread-safety: KafkaProducer is thread-safe (many HTTP handler threads share
// one). KafkaConsumer is used by one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace strata::kafka {

struct KafkaOptions {
  std::string brokers;              // bootstrap.servers, "host:port,..."
  std::string compression = "lz4";  // none | lz4 | zstd
  std::string client_id = "strata";
  // Extra librdkafka properties (key -> value), applied last.
  std::map<std::string, std::string> extra;
};

// A transport failure with context (which topic, which broker list, librdkafka's
// message). Callers turn it into 503 + Retry-After.
class KafkaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct OutMessage {
  std::string topic;
  std::string key;  // partitioning key; same key -> same partition
  std::string value;
};

class KafkaProducer {
 public:
  explicit KafkaProducer(const KafkaOptions& options);
  ~KafkaProducer();  // flushes what is in flight (bounded wait)
  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;

  // Produces every message and waits until all are acknowledged by the broker
  // or `timeout` expires. Throws KafkaError naming the first failure (and how
  // many of the batch failed) if any message was not acknowledged; then the
  // caller must treat the whole call as not accepted (some messages may have
  // landed: at-least-once, the stores deduplicate).
  void send(const std::vector<OutMessage>& messages, std::chrono::milliseconds timeout);

  // True once the producer has talked to at least one broker and has not
  // seen all brokers down since. Used by /readyz.
  bool connected() const;

  std::uint64_t messages_acked() const;
  std::uint64_t messages_failed() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct InMessage {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
};

class KafkaConsumer {
 public:
  // Joins consumer group `group_id` and subscribes to `topics`. Starts from
  // the earliest offset when the group has no committed offset.
  KafkaConsumer(const KafkaOptions& options, const std::string& group_id,
                const std::vector<std::string>& topics);
  ~KafkaConsumer();  // leaves the group cleanly
  KafkaConsumer(const KafkaConsumer&) = delete;
  KafkaConsumer& operator=(const KafkaConsumer&) = delete;

  // Returns up to `max_messages` messages, waiting at most `timeout` for the
  // first one. Transient errors are logged and skipped; fatal ones throw.
  std::vector<InMessage> poll(std::size_t max_messages, std::chrono::milliseconds timeout);

  // Synchronously commits, for each (topic, partition) in `messages`, the
  // offset after the highest message seen. Throws KafkaError on failure.
  void commit(const std::vector<InMessage>& messages);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::kafka
