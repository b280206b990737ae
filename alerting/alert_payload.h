// Alert payloads: the JSON bodies alerting sends, in the formats receivers
// already understand.
//
//   webhook  Alertmanager's webhook JSON (version "4": groupKey, status,
//            receiver, groupLabels, commonLabels, commonAnnotations,
//            externalURL, alerts[] with status, labels, annotations,
//            startsAt, endsAt, generatorURL, fingerprint), so a receiver
//            written for Alertmanager works unchanged.
//   v2       Alertmanager's POST /api/v2/alerts body: an array of postable
//            alerts (labels, annotations, startsAt, endsAt, generatorURL).
//            A firing alert's endsAt is `valid_until` (Prometheus sends
//            now + 4 * max(resend_delay, interval)), so Alertmanager resolves
//            it by itself if alerting stops sending.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "alerting/alert_rule.h"

namespace strata::alerting {

// One batch handed to the notifier: the alerts of one rule due at one round.
struct Notification {
  std::string group;          // rule group name
  std::string rule;           // alert name
  std::string generator_url;  // link back to the expression
  std::vector<Alert> alerts;  // firing, or resolved (state kInactive)
  std::int64_t valid_until_ms = 0;
};

std::string webhook_payload(const Notification& n, const std::string& receiver,
                            const std::string& external_url);
std::string alertmanager_v2_payload(const Notification& n);

// RFC 3339 with milliseconds in UTC: 2026-12-03T07:00:00.000Z.
std::string rfc3339(std::int64_t ms);

}  // namespace strata::alerting
