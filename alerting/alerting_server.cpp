#include "alerting/alerting_server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/logging.h"
#include "common/wire_format.h"

namespace strata::alerting {

void add_options(config::Schema& s) {
  using config::Type;
  add_http_options(s, "alerting", "127.0.0.1:9095");
  s.add("alerting.query_url", Type::kString, "http://127.0.0.1:9090",
        "Base URL of the Prometheus-compatible query API (strata-tsdb).");
  s.add("alerting.interval", Type::kDuration, "15s", "How often rules are evaluated.");
  s.add("alerting.webhook_url", Type::kString, "",
        "Where notifications are POSTed (Alertmanager webhook format). Required with a rule.");
  s.add("alerting.rule.name", Type::kString, "",
        "Alert name of the threshold rule; empty means no rule.");
  s.add("alerting.rule.expr", Type::kString, "",
        "PromQL selector the rule queries, e.g. node_load1.");
  s.add("alerting.rule.op", Type::kString, ">", "Comparison: > >= < <= == !=.");
  s.add("alerting.rule.threshold", Type::kDouble, "0", "Value compared against.");
  s.add("alerting.rule.for", Type::kDuration, "0s",
        "How long the condition must hold before the alert fires.");
  s.add("alerting.rule.labels", Type::kStringMap, "",
        "Labels added to the alert (e.g. severity=page).");
  s.add("alerting.rule.annotations", Type::kStringMap, "", "Annotations sent with the alert.");
}

AlertingServer::AlertingServer(const config::Config& cfg)
    : service_(std::make_unique<Service>("alerting", http_options(cfg, "alerting"))),
      interval_(cfg.duration("alerting.interval")),
      evaluations_(
          service_->metrics().counter("strata_alerting_evaluations_total", "Rule evaluations.")),
      evaluation_failures_(service_->metrics().counter("strata_alerting_evaluation_failures_total",
                                                       "Rule evaluations whose query failed.")),
      notifications_(service_->metrics().counter("strata_alerting_notifications_total",
                                                 "Webhook notifications delivered.")),
      notification_failures_(service_->metrics().counter(
          "strata_alerting_notification_failures_total", "Webhook notifications that failed.")) {
  if (interval_.count() <= 0)
    throw config::ConfigError("config key 'alerting.interval': must be > 0");
  std::string name = cfg.str("alerting.rule.name");
  if (!name.empty()) {
    RuleSpec spec;
    spec.name = name;
    spec.expr = cfg.str("alerting.rule.expr");
    if (spec.expr.empty())
      throw config::ConfigError(
          "config key 'alerting.rule.expr': required when alerting.rule.name is set");
    try {
      spec.op = parse_op(cfg.str("alerting.rule.op"));
    } catch (const std::invalid_argument& e) {
      throw config::ConfigError(std::string("config key 'alerting.rule.op': ") + e.what());
    }
    spec.threshold = cfg.number("alerting.rule.threshold");
    spec.hold = cfg.duration("alerting.rule.for");
    spec.labels = cfg.string_map("alerting.rule.labels");
    spec.annotations = cfg.string_map("alerting.rule.annotations");
    std::string webhook = cfg.str("alerting.webhook_url");
    if (webhook.empty())
      throw config::ConfigError(
          "config key 'alerting.webhook_url': required when a rule is configured");
    rule_ = std::make_unique<ThresholdRule>(std::move(spec));
    query_ = std::make_unique<QueryClient>(cfg.str("alerting.query_url"));
    notifier_ = std::make_unique<WebhookNotifier>(webhook, "http://" + cfg.str("alerting.listen"));
  }
  service_->http().add_route("GET", "/api/v1/alerts", [this](const http::Request&) {
    return http::Response::json(200, alerts_json());
  });
}

AlertingServer::~AlertingServer() { stop(); }

void AlertingServer::start() {
  service_->start();
  if (rule_) thread_ = std::thread([this] { loop(); });
}

void AlertingServer::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  service_->stop();
}

void AlertingServer::loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    evaluate_once(now);
    lock.lock();
    cv_.wait_for(lock, interval_, [this] { return stopping_; });
  }
}

void AlertingServer::evaluate_once(std::int64_t now_ms) {
  if (!rule_) return;
  std::vector<QueriedSample> result;
  try {
    result = query_->instant(rule_->spec().expr, now_ms);
  } catch (const std::exception& e) {
    // A failed query changes no state: alerts neither fire nor resolve on
    // missing data, as Prometheus keeps them on a failed evaluation.
    evaluation_failures_.inc();
    spdlog::warn("alerting: rule {}: {}", rule_->spec().name, e.what());
    return;
  }
  evaluations_.inc();
  Transitions t;
  {
    std::lock_guard lock(mu_);
    t = rule_->evaluate(result, now_ms);
  }
  for (auto [alerts, resolved] : {std::pair{&t.fired, false}, std::pair{&t.resolved, true}}) {
    if (alerts->empty()) continue;
    spdlog::info("alerting: rule {}: {} alert(s) {}", rule_->spec().name, alerts->size(),
                 resolved ? "resolved" : "firing");
    if (notifier_->notify(rule_->spec().name, *alerts, resolved, rule_->spec().annotations))
      notifications_.inc();
    else
      notification_failures_.inc();
  }
}

std::string AlertingServer::alerts_json() {
  std::lock_guard lock(mu_);
  std::string out = "{\"status\":\"success\",\"data\":{\"alerts\":[";
  if (rule_) {
    bool first = true;
    for (const auto& a : rule_->active()) {
      if (!first) out += ',';
      first = false;
      out += "{\"labels\":{";
      bool f2 = true;
      for (const auto& [n, v] : a.labels.items()) {
        if (!f2) out += ',';
        f2 = false;
        out += '"';
        logging::append_json_escaped(out, n);
        out += "\":\"";
        logging::append_json_escaped(out, v);
        out += '"';
      }
      out += fmt::format("}},\"state\":\"{}\",\"activeAt\":\"{}\",\"value\":\"{}\"}}",
                         a.state == AlertState::kFiring ? "firing" : "pending",
                         rfc3339(a.active_since_ms), wire::format_value(a.value));
    }
  }
  return out + "]}}";
}

}  // namespace strata::alerting
