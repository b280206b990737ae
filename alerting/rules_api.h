// The alerting HTTP API in Prometheus's JSON format, so Grafana's
// Prometheus data source (alert list, rule view) and scripts written for
// Prometheus read it unchanged:
//
//   GET /api/v1/rules[?type=alert|record]  groups, rules, health, lastError,
//                                          evaluation times, active alerts
//   GET /api/v1/alerts                     every pending and firing alert
//
// Values are formatted as Prometheus does (strconv 'e' format: "1.5e+01"),
// times as RFC 3339. Pure functions over a RuleManager snapshot.
#pragma once

#include <string>
#include <vector>

#include "alerting/rule_manager.h"

namespace strata::alerting {

// `type`: "" (all), "alert" or "record".
std::string rules_json(const std::vector<GroupSnapshot>& groups, const std::string& type);
std::string alerts_json(const std::vector<GroupSnapshot>& groups);

}  // namespace strata::alerting
