#include "alerting/alerting_server.h"

#include <filesystem>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "alerting/query_client.h"
#include "alerting/rule_file.h"
#include "alerting/rules_api.h"
#include "common/http_client.h"

namespace strata::alerting {

void add_options(config::Schema& s) {
  using config::Type;
  add_http_options(s, "alerting", "127.0.0.1:9095");
  s.add("alerting.rule_files", Type::kList, "",
        "Rule files in Prometheus's format (glob patterns allowed). See docs/alerting.md.");
  s.add("alerting.query_url", Type::kString, "http://127.0.0.1:9090",
        "Base URL of the Prometheus-compatible query API (strata-tsdb) for PromQL rules.");
  s.add("alerting.logs_query_url", Type::kString, "http://127.0.0.1:3100",
        "Base URL of the Loki-compatible query API (strata-logindex) for groups with "
        "`source: logs`.");
  s.add("alerting.push_url", Type::kString, "",
        "Base URL of the collector; recording rules write their results to its "
        "/api/v1/push/metrics. Required when a rule file has recording rules.");
  s.add("alerting.interval", Type::kDuration, "15s",
        "Evaluation interval of groups that do not set their own `interval`.");
  s.add("alerting.query_timeout", Type::kDuration, "10s",
        "Deadline of one rule query; a slower query marks the rule unhealthy.");
  s.add("alerting.data_dir", Type::kString, "data/alerting",
        "Where alert state is kept across restarts (alert_state.json); empty: not kept.");
  s.add("alerting.webhook_urls", Type::kList, "",
        "Webhook receivers: each gets Alertmanager's webhook JSON (version 4) by POST.");
  s.add("alerting.alertmanager_urls", Type::kList, "",
        "Alertmanager base URLs; alerts are POSTed to <url>/api/v2/alerts.");
  s.add("alerting.resend_delay", Type::kDuration, "1m",
        "How often a still-firing alert is sent again to every receiver.");
  s.add("alerting.notify_timeout", Type::kDuration, "10s",
        "Deadline of one delivery attempt to a receiver (failed attempts are retried).");
  s.add("alerting.notification_queue_capacity", Type::kInt, "10000",
        "Notifications held per receiver while it is unreachable; beyond, the oldest is dropped.");
  s.add("alerting.external_url", Type::kString, "",
        "URL alerting is reached at, for generatorURL and externalURL; default http://<listen>.");
  s.add("alerting.external_labels", Type::kStringMap, "",
        "Labels added to every notified alert (unless it has them) and offered to templates "
        "as $externalLabels.");
}

namespace {

class HttpQueryBackend final : public QueryBackend {
 public:
  HttpQueryBackend(const std::string& metrics_url, const std::string& logs_url,
                   std::chrono::milliseconds timeout)
      : metrics_(metrics_url, "/api/v1/query", timeout),
        logs_(logs_url, "/loki/api/v1/query", timeout) {}
  std::vector<Sample> query(RuleSource source, const std::string& expr,
                            std::int64_t ts_ms) override {
    return (source == RuleSource::kLogs ? logs_ : metrics_).instant(expr, ts_ms);
  }

 private:
  QueryClient metrics_, logs_;
};

std::string trim_slash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

}  // namespace

std::vector<RuleGroup> AlertingServer::load_groups() const {
  std::vector<RuleGroup> groups;
  try {
    groups = load_rule_files(rule_files_);
  } catch (const RuleFileError& e) {
    throw config::ConfigError("config key 'alerting.rule_files': invalid rule file(s):\n" +
                              std::string(e.what()));
  }
  std::size_t recording = 0;
  for (const auto& g : groups)
    for (const auto& r : g.rules) recording += !r.is_alert();
  if (recording > 0 && push_url_.empty())
    throw config::ConfigError(fmt::format(
        "config key 'alerting.push_url': required: the rule files have {} recording rule(s)",
        recording));
  return groups;
}

std::unique_ptr<RuleManager> AlertingServer::make_manager(
    std::vector<RuleGroup> groups, std::shared_ptr<const SavedAlerts> inherited) {
  std::size_t rules = 0;
  for (const auto& g : groups) rules += g.rules.size();
  ManagerOptions mo = manager_options_;
  mo.inherited_alerts = std::move(inherited);
  auto m = std::make_unique<RuleManager>(std::move(groups), std::move(mo), *clock_, queries_, push_,
                                         sink_, service_->metrics());
  spdlog::info("alerting: {} rule(s) in {} group(s) loaded", rules, m->group_count());
  return m;
}

AlertingServer::AlertingServer(const config::Config& cfg, const Clock* clock)
    : clock_(clock ? clock : &system_clock_),
      rule_files_(cfg.list("alerting.rule_files")),
      push_url_(trim_slash(cfg.str("alerting.push_url"))),
      service_(std::make_unique<Service>("alerting", http_options(cfg, "alerting"))) {
  auto interval = cfg.positive_duration("alerting.interval");
  auto query_timeout = cfg.positive_duration("alerting.query_timeout");
  auto resend = cfg.positive_duration("alerting.resend_delay");

  std::vector<RuleGroup> groups = load_groups();
  std::size_t rules = 0;
  for (const auto& g : groups) rules += g.rules.size();

  ManagerOptions& mo = manager_options_;
  mo.default_interval = interval;
  mo.resend_delay = resend;
  mo.data_dir = cfg.str("alerting.data_dir");
  mo.external.external_labels = cfg.string_map("alerting.external_labels");
  mo.external.external_url = cfg.str("alerting.external_url");
  if (mo.external.external_url.empty())
    mo.external.external_url = "http://" + cfg.str("alerting.listen");
  mo.external.external_url = trim_slash(mo.external.external_url);
  if (!mo.data_dir.empty()) {
    std::filesystem::create_directories(mo.data_dir);
    lock_ = std::make_unique<DirLock>(mo.data_dir);
  }

  NotifierOptions no;
  no.webhook_urls = cfg.list("alerting.webhook_urls");
  no.alertmanager_urls = cfg.list("alerting.alertmanager_urls");
  no.external_url = mo.external.external_url;
  no.timeout = cfg.positive_duration("alerting.notify_timeout");
  no.queue_capacity =
      static_cast<std::size_t>(cfg.positive_integer("alerting.notification_queue_capacity"));
  notifier_ = std::make_unique<Notifier>(no, service_->metrics());
  if (rules > 0 && !notifier_->has_receivers())
    spdlog::warn(
        "alerting: no alerting.webhook_urls or alerting.alertmanager_urls: alerts are "
        "evaluated and shown at /api/v1/alerts but sent nowhere");

  std::string metrics_url = trim_slash(cfg.str("alerting.query_url"));
  std::string logs_url = trim_slash(cfg.str("alerting.logs_query_url"));
  queries_ = [metrics_url, logs_url, query_timeout] {
    return std::make_unique<HttpQueryBackend>(metrics_url, logs_url, query_timeout);
  };
  if (!push_url_.empty()) {
    // One client per thread: HttpClient is not thread-safe.
    push_ = [url = push_url_ + "/api/v1/push/metrics"](const wire::MetricsBatch& batch) {
      thread_local http::HttpClient client(
          http::ClientOptions{std::chrono::milliseconds(2000), std::chrono::milliseconds(10000), 3,
                              std::chrono::milliseconds(100), std::chrono::milliseconds(1000)});
      auto resp = client.post(url, wire::encode(batch), {{"Content-Type", "application/json"}});
      if (!resp.ok())
        throw std::runtime_error(fmt::format(
            "POST {}: {}", url,
            resp.error.empty() ? fmt::format("HTTP {}: {}", resp.status, resp.body) : resp.error));
    };
  }
  std::map<std::string, std::string> external_labels = mo.external.external_labels;
  Notifier* notifier = notifier_.get();
  sink_ = [notifier, external_labels](const Notification& n) {
    if (external_labels.empty()) return notifier->enqueue(n);
    Notification copy = n;
    for (auto& a : copy.alerts)
      for (const auto& [k, v] : external_labels)
        if (a.labels.get(k).empty()) a.labels.set(k, v);
    notifier->enqueue(copy);
  };
  manager_ = make_manager(std::move(groups), nullptr);
  reload_ok_ = &service_->metrics().gauge(
      "strata_alerting_config_last_reload_successful",
      "1 if the last reload of the rule files succeeded (or none was asked for), else 0.");
  reload_ok_->set(1);
  reloads_ = &service_->metrics().counter("strata_alerting_config_reloads_total",
                                          "Reloads of the rule files asked for (SIGHUP or "
                                          "POST /-/reload), successful or not.");

  service_->http().add_route("GET", "/api/v1/rules", [this](const http::Request& req) {
    std::shared_lock lock(manager_mu_);
    return http::Response::json(200,
                                rules_json(manager_->snapshot(), req.param("type").value_or("")));
  });
  service_->http().add_route("GET", "/api/v1/alerts", [this](const http::Request&) {
    std::shared_lock lock(manager_mu_);
    return http::Response::json(200, alerts_json(manager_->snapshot()));
  });
  service_->http().add_route("POST", "/-/reload", [this](const http::Request&) {
    std::string error = reload();
    if (!error.empty())
      return http::Response::text(500, "failed to reload rule files: " + error + "\n");
    return http::Response::text(200, "");
  });
}

AlertingServer::~AlertingServer() { stop(); }

void AlertingServer::start() {
  std::lock_guard guard(reload_mu_);
  service_->start();
  notifier_->start();
  manager_->start();
  started_ = true;
}

void AlertingServer::stop() {
  std::lock_guard guard(reload_mu_);
  if (!started_) return;
  started_ = false;
  manager_->stop();  // no new notifications after this
  notifier_->stop();
  service_->stop();
}

std::string AlertingServer::reload() {
  std::lock_guard guard(reload_mu_);
  reloads_->inc();
  std::vector<RuleGroup> groups;
  try {
    groups = load_groups();
  } catch (const std::exception& e) {
    reload_ok_->set(0);
    spdlog::error("alerting: reload failed, the running rules stay: {}", e.what());
    return e.what();
  }
  // Stop first: the alerts handed over are final, and no round of the old
  // rules runs next to the new ones.
  manager_->stop();
  auto inherited = std::make_shared<const SavedAlerts>(manager_->alerts_by_rule());
  std::unique_ptr<RuleManager> next;
  try {
    next = make_manager(std::move(groups), inherited);
  } catch (const std::exception& e) {
    if (started_) manager_->start();
    reload_ok_->set(0);
    spdlog::error("alerting: reload failed, the running rules stay: {}", e.what());
    return e.what();
  }
  {
    std::unique_lock lock(manager_mu_);
    manager_.swap(next);
  }
  next.reset();  // the old manager, stopped
  if (started_) manager_->start();
  reload_ok_->set(1);
  spdlog::info("alerting: rule files reloaded");
  return {};
}

}  // namespace strata::alerting
