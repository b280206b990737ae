#include "alerting/notifier.h"

#include <random>

#include <spdlog/spdlog.h>

#include "common/http_client.h"

namespace strata::alerting {

struct Notifier::Receiver {
  std::string kind;  // "webhook" or "alertmanager"
  std::string url;   // where the POST goes
  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<Notification> queue;
  bool stopping = false;
  bool busy = false;  // a notification is being delivered (popped only when done)
  std::chrono::steady_clock::time_point flush_deadline{};
  std::thread thread;
};

Notifier::Notifier(NotifierOptions options, metrics::Registry& registry)
    : options_(std::move(options)),
      sent_(registry.counter("strata_alerting_notifications_total",
                             "Notifications delivered to a receiver (2xx).")),
      failed_attempts_(registry.counter("strata_alerting_notification_failures_total",
                                        "Delivery attempts that failed (retried).")),
      dropped_(registry.counter("strata_alerting_notifications_dropped_total",
                                "Notifications dropped because a receiver's queue was full.")) {
  for (const auto& u : options_.webhook_urls) {
    auto r = std::make_unique<Receiver>();
    r->kind = "webhook";
    r->url = u;
    receivers_.push_back(std::move(r));
  }
  for (auto u : options_.alertmanager_urls) {
    while (!u.empty() && u.back() == '/') u.pop_back();
    auto r = std::make_unique<Receiver>();
    r->kind = "alertmanager";
    r->url = u + "/api/v2/alerts";
    receivers_.push_back(std::move(r));
  }
  registry.gauge_callback("strata_alerting_notification_queue_length",
                          "Notifications waiting to be delivered, all receivers.",
                          [this] { return static_cast<double>(pending()); });
}

Notifier::~Notifier() { stop(); }

void Notifier::start() {
  for (auto& r : receivers_) {
    Receiver* rp = r.get();
    r->thread = std::thread([this, rp] { run(*rp); });
  }
}

void Notifier::stop() {
  auto deadline = std::chrono::steady_clock::now() + options_.flush_timeout;
  for (auto& r : receivers_) {
    std::lock_guard lock(r->mu);
    r->stopping = true;
    r->flush_deadline = deadline;
    r->cv.notify_all();
  }
  for (auto& r : receivers_)
    if (r->thread.joinable()) r->thread.join();
}

void Notifier::enqueue(const Notification& n) {
  if (n.alerts.empty()) return;
  for (auto& r : receivers_) {
    std::lock_guard lock(r->mu);
    if (r->queue.size() >= options_.queue_capacity) {
      // Never the one being delivered (the front while busy).
      auto victim = r->busy && r->queue.size() > 1 ? r->queue.begin() + 1 : r->queue.begin();
      spdlog::error("alerting: {} {}: queue full ({}), dropping a notification for {}", r->kind,
                    r->url, options_.queue_capacity, victim->rule);
      r->queue.erase(victim);
      dropped_.inc();
    }
    r->queue.push_back(n);
    r->cv.notify_all();
  }
}

std::size_t Notifier::pending() const {
  std::size_t n = 0;
  for (const auto& r : receivers_) {
    std::lock_guard lock(r->mu);
    n += r->queue.size();
  }
  return n;
}

void Notifier::run(Receiver& r) {
  // One attempt per call: the retry loop is ours, so stop() can interrupt a
  // backoff and the queue order is kept.
  http::HttpClient client(http::ClientOptions{
      std::min(options_.timeout, std::chrono::milliseconds(5000)), options_.timeout, 1,
      std::chrono::milliseconds(100), std::chrono::milliseconds(100)});
  std::mt19937_64 rng(std::random_device{}());
  auto backoff = options_.backoff_initial;
  std::unique_lock lock(r.mu);
  for (;;) {
    r.cv.wait(lock, [&] { return r.stopping || !r.queue.empty(); });
    if (r.queue.empty()) return;  // stopping, nothing left
    if (r.stopping && std::chrono::steady_clock::now() >= r.flush_deadline) {
      spdlog::warn("alerting: {} {}: stopping with {} notification(s) undelivered", r.kind, r.url,
                   r.queue.size());
      return;
    }
    Notification n = r.queue.front();
    r.busy = true;
    lock.unlock();
    std::string body = r.kind == "webhook" ? webhook_payload(n, r.url, options_.external_url)
                                           : alertmanager_v2_payload(n);
    auto resp = client.post(r.url, body, {{"Content-Type", "application/json"}});
    lock.lock();
    r.busy = false;
    if (resp.ok()) {
      r.queue.pop_front();
      sent_.inc();
      backoff = options_.backoff_initial;
      continue;
    }
    failed_attempts_.inc();
    // A 4xx other than 429 will not succeed on retry (the receiver rejects
    // the payload): drop it rather than block the queue forever.
    if (resp.status >= 400 && resp.status < 500 && resp.status != 429) {
      spdlog::error("alerting: {} {} rejected a notification for {}: HTTP {}: {}", r.kind, r.url,
                    n.rule, resp.status, resp.body.substr(0, 300));
      r.queue.pop_front();
      dropped_.inc();
      continue;
    }
    spdlog::warn("alerting: {} {}: delivery for {} failed ({}), retrying in up to {} ms", r.kind,
                 r.url, n.rule,
                 resp.error.empty() ? fmt::format("HTTP {}", resp.status) : resp.error,
                 backoff.count());
    auto wait = std::chrono::milliseconds(
        std::uniform_int_distribution<std::int64_t>(backoff.count() / 2, backoff.count())(rng));
    backoff = std::min(backoff * 2, options_.backoff_max);
    auto until = std::chrono::steady_clock::now() + wait;
    if (r.stopping) until = std::min(until, r.flush_deadline);
    r.cv.wait_until(lock, until, [&] {
      return r.stopping && std::chrono::steady_clock::now() >= r.flush_deadline;
    });
  }
}

}  // namespace strata::alerting
