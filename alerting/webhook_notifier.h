// WebhookNotifier: delivers alert transitions as HTTP POSTs in Alertmanager's
// webhook payload format (version "4"), so the same receiver works for
// Strata and for Alertmanager, and a real Alertmanager can be pointed at via
// its own webhook config later.
//
// Delivery retries with backoff (HttpClient); a notification that still fails
// is logged and counted, and the alert is sent again on the next transition.
// Not thread-safe: one evaluator thread owns it.
#pragma once

#include <string>
#include <vector>

#include "alerting/threshold_rule.h"
#include "common/http_client.h"

namespace strata::alerting {

class WebhookNotifier {
 public:
  WebhookNotifier(std::string url, std::string external_url);

  // Returns true when the receiver answered 2xx.
  bool notify(const std::string& rule_name, const std::vector<Alert>& alerts, bool resolved,
              const std::map<std::string, std::string>& annotations);

  // The JSON body (exposed for tests).
  std::string payload(const std::string& rule_name, const std::vector<Alert>& alerts, bool resolved,
                      const std::map<std::string, std::string>& annotations) const;

 private:
  std::string url_;
  std::string external_url_;
  http::HttpClient client_;
};

std::string rfc3339(std::int64_t ms);

}  // namespace strata::alerting
