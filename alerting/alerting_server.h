// AlertingServer: the strata-alerting process. It loads the rule files
// (alerting.rule_files, validated: a bad file stops startup with every
// problem listed), evaluates each group at its interval against the stores'
// query APIs (RuleManager), keeps alert state in alerting.data_dir, sends
// notifications to webhooks and Alertmanagers (Notifier) and writes
// recording-rule results through the collector's push API. It serves
//   GET /api/v1/rules, GET /api/v1/alerts   (Prometheus's JSON, rules_api.h)
// next to /metrics, /healthz and /readyz.
//
// Thread-safety: start() and stop() from one thread; the HTTP handlers read
// snapshots and may run concurrently with evaluation.
#pragma once

#include <memory>
#include <string>

#include "alerting/clock.h"
#include "alerting/notifier.h"
#include "alerting/rule_manager.h"
#include "common/config.h"
#include "common/file.h"
#include "common/service.h"

namespace strata::alerting {

void add_options(config::Schema& schema);

class AlertingServer {
 public:
  // Throws config::ConfigError naming the key (and every rule-file problem).
  // `clock` defaults to the system clock.
  explicit AlertingServer(const config::Config& cfg, const Clock* clock = nullptr);
  ~AlertingServer();
  void start();
  void stop();
  std::string url() const { return service_->url(); }
  RuleManager& manager() { return *manager_; }

 private:
  SystemClock system_clock_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<DirLock> lock_;
  std::unique_ptr<Notifier> notifier_;
  std::unique_ptr<RuleManager> manager_;
  bool started_ = false;
};

}  // namespace strata::alerting
