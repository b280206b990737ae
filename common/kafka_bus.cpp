#include "common/kafka_bus.h"

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

namespace strata::kafka {

namespace {

using Clock = std::chrono::steady_clock;

// How long a produced message may wait for an acknowledgement, retries
// included, before librdkafka fails it. Bounded so that messages to an
// unreachable cluster fail instead of queueing without limit; send() callers
// normally wait about as long (a shorter send() timeout throws first and
// leaves the messages to expire, or to land later: at-least-once).
constexpr const char* kDeliveryTimeoutMs = "5000";
constexpr std::chrono::milliseconds kDestructorFlush{5000};
constexpr std::chrono::milliseconds kDestructorFlushDisconnected{500};

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using PartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

void set_conf(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
    throw KafkaError(fmt::format("kafka: invalid setting {}={}: {}", key, value, err));
  }
}

// librdkafka logs to stderr in its own format by default; route it through
// spdlog so it honours the process's log level and JSON format.
void log_cb(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  spdlog::level::level_enum lvl;
  if (level <= 2) {
    lvl = spdlog::level::critical;
  } else if (level == 3) {
    lvl = spdlog::level::err;
  } else if (level == 4) {
    lvl = spdlog::level::warn;
  } else if (level <= 6) {
    lvl = spdlog::level::info;
  } else {
    lvl = spdlog::level::debug;
  }
  spdlog::log(lvl, "librdkafka {} {}: {}", rd_kafka_name(rk), fac, buf);
}

// Settings shared by producer and consumer; KafkaOptions::extra is applied
// by the caller last so it can override any of them.
ConfPtr base_conf(const KafkaOptions& o) {
  if (o.brokers.empty()) throw KafkaError("kafka: no brokers configured");
  ConfPtr conf(rd_kafka_conf_new());
  set_conf(conf.get(), "bootstrap.servers", o.brokers);
  set_conf(conf.get(), "client.id", o.client_id);
  // The default backoff grows to 10 s; a collector that lost its brokers
  // should be ready again within about a second of their return.
  set_conf(conf.get(), "reconnect.backoff.ms", "100");
  set_conf(conf.get(), "reconnect.backoff.max.ms", "1000");
  rd_kafka_conf_set_log_cb(conf.get(), log_cb);
  return conf;
}

void apply_extra(rd_kafka_conf_t* conf, const KafkaOptions& o) {
  for (const auto& [k, v] : o.extra) set_conf(conf, k, v);
}

std::string join(const std::set<std::string>& items) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += ',';
    out += s;
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------- producer

namespace {

// Completion state of one send() call. The in-flight messages carry a raw
// pointer to it as their opaque; `self` keeps it alive until the last
// delivery report, so a send() that timed out and returned cannot leave
// librdkafka pointing at freed memory.
struct SendState {
  std::mutex mu;
  std::condition_variable cv;
  std::size_t pending = 0;  // messages without a delivery report, +1 while producing
  std::size_t acked = 0;
  std::size_t failed = 0;
  std::string first_error;
  std::shared_ptr<SendState> self;

  // Drops one pending reference; called with `lock` held on mu. Returns the
  // self-reference to destroy after unlocking (destroying it may free *this,
  // mutex included).
  std::shared_ptr<SendState> release_locked() {
    if (--pending > 0) return nullptr;
    cv.notify_all();
    return std::move(self);
  }
};

}  // namespace

struct KafkaProducer::Impl {
  KafkaOptions options;
  rd_kafka_t* rk = nullptr;
  std::thread poller;
  std::atomic<bool> stop{false};
  std::atomic<bool> connected{false};
  std::atomic<std::uint64_t> acked{0};
  std::atomic<std::uint64_t> failed{0};
  mutable std::mutex error_mu;
  std::string last_client_error;  // from error_cb, for KafkaError context
  Clock::time_point last_client_error_at;
  simdjson::dom::parser stats_parser;  // only used on the poll thread

  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    auto* st = static_cast<SendState*>(m->_private);
    if (m->err) {
      self->failed.fetch_add(1, std::memory_order_relaxed);
    } else {
      self->acked.fetch_add(1, std::memory_order_relaxed);
      self->connected.store(true, std::memory_order_relaxed);
    }
    if (st == nullptr) return;
    std::shared_ptr<SendState> last;  // declared first: destroyed after the lock
    std::lock_guard lock(st->mu);
    if (m->err) {
      if (st->failed++ == 0) {
        st->first_error = fmt::format("{} [partition {}]: {}", rd_kafka_topic_name(m->rkt),
                                      m->partition, rd_kafka_err2str(m->err));
      }
    } else {
      ++st->acked;
    }
    last = st->release_locked();
  }

  static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    auto code = static_cast<rd_kafka_resp_err_t>(err);
    if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
      self->connected.store(false, std::memory_order_relaxed);
    }
    {
      std::lock_guard lock(self->error_mu);
      self->last_client_error = fmt::format("{}: {}", rd_kafka_err2name(code), reason);
      self->last_client_error_at = Clock::now();
    }
    if (code == RD_KAFKA_RESP_ERR__FATAL) {
      char buf[512];
      rd_kafka_fatal_error(rk, buf, sizeof buf);
      spdlog::critical("kafka producer fatal error: {}", buf);
    } else {
      spdlog::warn("kafka producer: {}: {}", rd_kafka_err2str(code), reason);
    }
  }

  // Statistics are the one place librdkafka reports broker connection state,
  // including recovery after ALL_BROKERS_DOWN, so connected() follows them
  // even when no messages flow.
  static int on_stats(rd_kafka_t*, char* json, std::size_t len, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    simdjson::padded_string doc(json, len);
    simdjson::dom::object brokers;
    if (self->stats_parser.parse(doc)["brokers"].get_object().get(brokers)) return 0;
    bool up = false;
    for (auto [name, b] : brokers) {
      std::string_view state;
      if (!b["state"].get_string().get(state) && state == "UP") up = true;
    }
    self->connected.store(up, std::memory_order_relaxed);
    return 0;
  }

  // The last client error if it happened after `since`: an error from an
  // outage an hour ago would mislead.
  std::string client_error(Clock::time_point since) const {
    std::lock_guard lock(error_mu);
    return last_client_error_at >= since ? last_client_error : std::string();
  }
};

KafkaProducer::KafkaProducer(const KafkaOptions& options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  ConfPtr conf = base_conf(options);
  // acks=all + idempotence: an acknowledged message is on every in-sync
  // replica, and librdkafka's retries cannot duplicate or reorder it.
  set_conf(conf.get(), "enable.idempotence", "true");
  set_conf(conf.get(), "acks", "all");
  set_conf(conf.get(), "compression.type", options.compression);
  // A short linger batches the many small per-series messages of one push
  // without adding noticeable latency to send().
  set_conf(conf.get(), "linger.ms", "5");
  set_conf(conf.get(), "delivery.timeout.ms", kDeliveryTimeoutMs);
  // Same key -> same partition as the Java client computes, so other Kafka
  // tooling agrees with us on where a series lives.
  set_conf(conf.get(), "partitioner", "murmur2_random");
  set_conf(conf.get(), "statistics.interval.ms", "1000");
  apply_extra(conf.get(), options);
  rd_kafka_conf_set_opaque(conf.get(), impl_.get());
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &Impl::on_delivery);
  rd_kafka_conf_set_error_cb(conf.get(), &Impl::on_error);
  rd_kafka_conf_set_stats_cb(conf.get(), &Impl::on_stats);

  char err[512];
  impl_->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err, sizeof err);
  if (impl_->rk == nullptr) {
    throw KafkaError(fmt::format("kafka producer for {}: {}", options.brokers, err));
  }
  conf.release();  // owned by rk now
  impl_->poller = std::thread([impl = impl_.get()] {
    while (!impl->stop.load(std::memory_order_relaxed)) rd_kafka_poll(impl->rk, 100);
  });
}

KafkaProducer::~KafkaProducer() {
  impl_->stop.store(true);
  impl_->poller.join();
  rd_kafka_t* rk = impl_->rk;
  // Waiting for brokers that are known to be down would only delay shutdown
  // (a restart, a test) by the whole bound.
  auto wait = impl_->connected.load() ? kDestructorFlush : kDestructorFlushDisconnected;
  if (rd_kafka_flush(rk, static_cast<int>(wait.count())) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn("kafka producer: {} messages still unacknowledged at shutdown, dropping them",
                 rd_kafka_outq_len(rk));
    // Purged messages get (failed) delivery reports, which release the
    // SendStates they reference.
    rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(rk, 1000);
  }
  rd_kafka_destroy(rk);
}

void KafkaProducer::send(const std::vector<OutMessage>& messages,
                         std::chrono::milliseconds timeout) {
  if (messages.empty()) return;
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  auto st = std::make_shared<SendState>();
  st->pending = 1;  // held by this call until every message is handed over
  st->self = st;

  std::set<std::string> topics;
  std::size_t not_produced = 0;
  std::string produce_error;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const OutMessage& m = messages[i];
    topics.insert(m.topic);
    {
      std::lock_guard lock(st->mu);
      ++st->pending;
    }
    rd_kafka_resp_err_t err;
    for (;;) {
      err = rd_kafka_producev(impl_->rk, RD_KAFKA_V_TOPIC(m.topic.c_str()),
                              RD_KAFKA_V_KEY(const_cast<char*>(m.key.data()), m.key.size()),
                              RD_KAFKA_V_VALUE(const_cast<char*>(m.value.data()), m.value.size()),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(st.get()),
                              RD_KAFKA_V_END);
      // A full local queue drains as the poll thread serves acknowledgements.
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || Clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::shared_ptr<SendState> last;
      std::lock_guard lock(st->mu);
      last = st->release_locked();  // never the final one: this call still holds its own
      // The call has failed; producing the rest would only add duplicates
      // for the retry the caller is about to make.
      not_produced = messages.size() - i;
      produce_error = fmt::format("{}: {}", m.topic, rd_kafka_err2str(err));
      for (std::size_t k = i + 1; k < messages.size(); ++k) topics.insert(messages[k].topic);
      break;
    }
  }

  std::size_t acked, failed, pending;
  std::string first_error;
  {
    std::unique_lock lock(st->mu);
    auto last = st->release_locked();  // this call still holds `st`, so nothing is freed
    st->cv.wait_until(lock, deadline, [&] { return st->pending == 0; });
    acked = st->acked;
    failed = st->failed;
    pending = st->pending;
    first_error = st->first_error;
  }
  if (failed == 0 && pending == 0 && not_produced == 0) return;

  impl_->failed.fetch_add(not_produced, std::memory_order_relaxed);
  std::string what =
      fmt::format("kafka send to topic {} via {}: {} of {} messages not acknowledged", join(topics),
                  impl_->options.brokers, messages.size() - acked, messages.size());
  if (not_produced > 0) what += fmt::format("; {} not produced ({})", not_produced, produce_error);
  if (failed > 0) what += fmt::format("; {} failed (first: {})", failed, first_error);
  if (pending > 0) {
    what += fmt::format("; {} unacknowledged after the {} ms timeout", pending, timeout.count());
  }
  // Errors from shortly before the call count: the outage may have begun
  // just before it.
  std::string ce = impl_->client_error(start - std::chrono::seconds(10));
  if (!ce.empty() && (pending > 0 || failed > 0)) {
    what += fmt::format(" (last client error: {})", ce);
  }
  throw KafkaError(what);
}

bool KafkaProducer::connected() const { return impl_->connected.load(std::memory_order_relaxed); }

std::uint64_t KafkaProducer::messages_acked() const {
  return impl_->acked.load(std::memory_order_relaxed);
}

std::uint64_t KafkaProducer::messages_failed() const {
  return impl_->failed.load(std::memory_order_relaxed);
}

// ---------------------------------------------------------------- consumer

struct KafkaConsumer::Impl {
  KafkaOptions options;
  std::string group;
  rd_kafka_t* rk = nullptr;

  static void on_error(rd_kafka_t*, int err, const char* reason, void*) {
    spdlog::warn("kafka consumer: {}: {}", rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(err)),
                 reason);
  }

  void throw_if_fatal() const {
    char buf[512];
    if (rd_kafka_fatal_error(rk, buf, sizeof buf) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw KafkaError(fmt::format("kafka consumer (group {}, brokers {}): fatal: {}", group,
                                   options.brokers, buf));
    }
  }
};

KafkaConsumer::KafkaConsumer(const KafkaOptions& options, const std::string& group_id,
                             const std::vector<std::string>& topics)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  impl_->group = group_id;
  ConfPtr conf = base_conf(options);
  set_conf(conf.get(), "group.id", group_id);
  // Offsets are committed only after the store applied the batch
  // (at-least-once); auto-commit could commit data not yet applied.
  set_conf(conf.get(), "enable.auto.commit", "false");
  set_conf(conf.get(), "auto.offset.reset", "earliest");
  // 6 s is the smallest session timeout a default Kafka broker accepts
  // (group.min.session.timeout.ms); it bounds how long a crashed store's
  // partitions stay unconsumed. Heartbeats must be well inside it.
  set_conf(conf.get(), "session.timeout.ms", "6000");
  set_conf(conf.get(), "heartbeat.interval.ms", "500");
  // New partitions and topics are noticed within seconds, not minutes.
  set_conf(conf.get(), "topic.metadata.refresh.interval.ms", "5000");
  set_conf(conf.get(), "enable.partition.eof", "false");
  apply_extra(conf.get(), options);
  rd_kafka_conf_set_error_cb(conf.get(), &Impl::on_error);

  char err[512];
  impl_->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err, sizeof err);
  if (impl_->rk == nullptr) {
    throw KafkaError(
        fmt::format("kafka consumer (group {}) for {}: {}", group_id, options.brokers, err));
  }
  conf.release();
  // Serve every event from the consumer queue, so poll() sees them all.
  rd_kafka_poll_set_consumer(impl_->rk);

  PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
  for (const auto& t : topics) {
    rd_kafka_topic_partition_list_add(list.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  }
  if (auto e = rd_kafka_subscribe(impl_->rk, list.get()); e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_destroy(impl_->rk);
    throw KafkaError(fmt::format("kafka consumer (group {}, brokers {}): subscribe: {}", group_id,
                                 options.brokers, rd_kafka_err2str(e)));
  }
}

KafkaConsumer::~KafkaConsumer() {
  // Leaving the group explicitly hands our partitions to the other members at
  // once instead of after the session timeout.
  if (auto e = rd_kafka_consumer_close(impl_->rk); e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn("kafka consumer (group {}): close: {}", impl_->group, rd_kafka_err2str(e));
  }
  rd_kafka_destroy(impl_->rk);
}

std::vector<InMessage> KafkaConsumer::poll(std::size_t max_messages,
                                           std::chrono::milliseconds timeout) {
  std::vector<InMessage> out;
  if (max_messages == 0) return out;
  impl_->throw_if_fatal();
  const auto deadline = Clock::now() + timeout;
  while (out.size() < max_messages) {
    int wait_ms = 0;
    if (out.empty()) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
      wait_ms = static_cast<int>(std::max<std::int64_t>(0, left.count()));
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(impl_->rk, wait_ms);
    if (m == nullptr) {
      if (!out.empty() || Clock::now() >= deadline) break;
      continue;
    }
    std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> guard(
        m, rd_kafka_message_destroy);
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      InMessage& in = out.emplace_back();
      in.topic = rd_kafka_topic_name(m->rkt);
      in.partition = m->partition;
      in.offset = m->offset;
      if (m->key) in.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload) in.value.assign(static_cast<const char*>(m->payload), m->len);
    } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      continue;
    } else if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
      impl_->throw_if_fatal();
    } else {
      // Transient (broker gone, topic not yet there): librdkafka retries on
      // its own; the caller just polls again.
      spdlog::warn("kafka consumer (group {}): {}{}", impl_->group,
                   m->rkt ? fmt::format("{} [{}]: ", rd_kafka_topic_name(m->rkt), m->partition)
                          : std::string(),
                   rd_kafka_message_errstr(m));
    }
  }
  return out;
}

void KafkaConsumer::commit(const std::vector<InMessage>& messages) {
  if (messages.empty()) return;
  std::map<std::pair<std::string, int32_t>, int64_t> next;
  for (const auto& m : messages) {
    auto [it, inserted] = next.try_emplace({m.topic, m.partition}, m.offset + 1);
    if (!inserted) it->second = std::max(it->second, m.offset + 1);
  }
  PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(next.size())));
  for (const auto& [tp, offset] : next) {
    rd_kafka_topic_partition_list_add(list.get(), tp.first.c_str(), tp.second)->offset = offset;
  }
  auto fail = [&](const std::string& detail) {
    return KafkaError(fmt::format("kafka commit (group {}, brokers {}): {}", impl_->group,
                                  impl_->options.brokers, detail));
  };
  if (auto e = rd_kafka_commit(impl_->rk, list.get(), /*async=*/0);
      e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw fail(rd_kafka_err2str(e));
  }
  for (int i = 0; i < list->cnt; ++i) {
    const auto& p = list->elems[i];
    if (p.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw fail(fmt::format("{} [{}]: {}", p.topic, p.partition, rd_kafka_err2str(p.err)));
    }
  }
}

}  // namespace strata::kafka
