// AlertingServer: the rule-evaluator process. Every `alerting.interval` it
// runs each rule's query against the store's HTTP API, advances the rule's
// state machine and sends webhooks on firing and resolution. It serves the
// active alerts at GET /api/v1/alerts (Prometheus's response shape) next to
// /metrics, /healthz and /readyz.
//
// This first slice holds one rule from the config (alerting.rule.*); rule
// files and persisted state come with the alerting issue.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "alerting/query_client.h"
#include "alerting/threshold_rule.h"
#include "alerting/webhook_notifier.h"
#include "common/config.h"
#include "common/service.h"

namespace strata::alerting {

void add_options(config::Schema& schema);

class AlertingServer {
 public:
  explicit AlertingServer(const config::Config& cfg);
  ~AlertingServer();
  void start();
  void stop();
  std::string url() const { return service_->url(); }

  // One evaluation round (exposed for tests); `now_ms` is wall-clock ms.
  void evaluate_once(std::int64_t now_ms);

 private:
  void loop();
  std::string alerts_json();

  std::unique_ptr<Service> service_;
  std::unique_ptr<ThresholdRule> rule_;  // null when no rule is configured
  std::unique_ptr<QueryClient> query_;
  std::unique_ptr<WebhookNotifier> notifier_;
  std::chrono::milliseconds interval_;
  metrics::Counter& evaluations_;
  metrics::Counter& evaluation_failures_;
  metrics::Counter& notifications_;
  metrics::Counter& notification_failures_;

  std::mutex mu_;  // guards rule_ state against the /api/v1/alerts reader
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace strata::alerting
