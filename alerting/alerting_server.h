// AlertingServer: the strata-alerting process. It loads the rule files
// (alerting.rule_files, validated: a bad file stops startup with every
// problem listed), evaluates each group at its interval against the stores'
// query APIs (RuleManager), keeps alert state in alerting.data_dir, sends
// notifications to webhooks and Alertmanagers (Notifier) and writes
// recording-rule results through the collector's push API. It serves
//   GET /api/v1/rules, GET /api/v1/alerts   (Prometheus's JSON, rules_api.h)
//   POST /-/reload                          (as Prometheus's lifecycle API)
// next to /metrics, /healthz and /readyz.
//
// Reload (POST /-/reload, or SIGHUP in strata-alerting): the rule files are
// read and validated again; if they are valid, the running RuleManager
// stops, and a new one starts with the new groups and the old one's alerts
// for every rule that is still there (same file, group, name, expression),
// so a pending `for` timer goes on and a firing alert is not sent as new.
// Invalid files change nothing: the error is logged, returned (500 on the
// HTTP API) and shown as strata_alerting_config_last_reload_successful 0.
//
// Thread-safety: start(), stop() and reload() may be called from any
// thread (reloads are serialized); the HTTP handlers read snapshots and may
// run concurrently with evaluation and with a reload.
#pragma once

#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

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
  // Re-reads the rule files; returns an empty string on success, else why
  // nothing changed.
  std::string reload();
  std::string url() const { return service_->url(); }
  // Not across a reload: tests only.
  RuleManager& manager() { return *manager_; }

 private:
  // The groups in the configured rule files, checked; throws
  // config::ConfigError listing every problem.
  std::vector<RuleGroup> load_groups() const;
  std::unique_ptr<RuleManager> make_manager(std::vector<RuleGroup> groups,
                                            std::shared_ptr<const SavedAlerts> inherited);

  SystemClock system_clock_;
  const Clock* clock_;
  std::vector<std::string> rule_files_;
  std::string push_url_;
  ManagerOptions manager_options_;
  QueryBackendFactory queries_;
  Pusher push_;
  NotifySink sink_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<DirLock> lock_;
  std::unique_ptr<Notifier> notifier_;
  std::mutex reload_mu_;                  // one reload (or start/stop) at a time
  mutable std::shared_mutex manager_mu_;  // manager_ swapped under it
  std::unique_ptr<RuleManager> manager_;
  bool started_ = false;
  metrics::Gauge* reload_ok_ = nullptr;
  metrics::Counter* reloads_ = nullptr;
};

}  // namespace strata::alerting
