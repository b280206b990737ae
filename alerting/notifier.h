// Notifier: delivers alert notifications to every configured receiver --
// generic webhooks (Alertmanager's webhook JSON) and Alertmanagers
// (POST <url>/api/v2/alerts) -- without ever blocking rule evaluation.
//
// Each receiver has its own bounded FIFO queue and sender thread, so a dead
// receiver delays only itself. A notification is retried, in order, with
// exponential backoff (initial .. max, with jitter) for as long as it takes:
// a receiver that fails or times out for a while still gets every
// notification, in the order they were made, once it is back. Only when a
// queue is full (queue_capacity notifications) is the oldest dropped, and
// counted (strata_alerting_notifications_dropped_total) and logged.
//
// Queues live in memory: a notification still queued when the process dies
// is not lost for a firing alert (it is sent again after resend_delay, see
// AlertRule::take_notifications) but may be for a resolved one (Alertmanager
// then resolves it by its endsAt).
//
// Thread-safe: enqueue() from any thread. stop() tries to flush for up to
// `flush_timeout`, then drops what is left.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "alerting/alert_payload.h"
#include "common/metrics_registry.h"

namespace strata::alerting {

struct NotifierOptions {
  std::vector<std::string> webhook_urls;
  std::vector<std::string> alertmanager_urls;  // base URLs; /api/v2/alerts is appended
  std::string external_url;
  std::chrono::milliseconds timeout{10'000};  // one delivery attempt
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{30'000};
  std::size_t queue_capacity = 10'000;
  std::chrono::milliseconds flush_timeout{5'000};
};

class Notifier {
 public:
  Notifier(NotifierOptions options, metrics::Registry& registry);
  ~Notifier();  // stop()
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  void start();
  void stop();
  void enqueue(const Notification& n);
  bool has_receivers() const { return !receivers_.empty(); }
  // Notifications still waiting in any queue (for tests and /metrics).
  std::size_t pending() const;

 private:
  struct Receiver;
  void run(Receiver& r);

  NotifierOptions options_;
  std::vector<std::unique_ptr<Receiver>> receivers_;
  metrics::Counter& sent_;
  metrics::Counter& failed_attempts_;
  metrics::Counter& dropped_;
};

}  // namespace strata::alerting
