#include "alerting/webhook_notifier.h"

#include <simdjson.h>
#include <catch2/catch.hpp>

using namespace strata;
using namespace strata::alerting;

TEST_CASE("webhook payload follows Alertmanager's format", "[alerting]") {
  WebhookNotifier n("http://127.0.0.1:1/hook", "http://strata:9095");
  Alert a;
  a.labels = Labels{{"alertname", "High"}, {"host", "a\"b"}};
  a.state = AlertState::kFiring;
  a.value = 7.5;
  a.fired_at_ms = 1700000000123;
  std::string body = n.payload("High", {a}, false, {{"summary", "load high"}});
  simdjson::dom::parser p;
  simdjson::dom::element doc = p.parse(body);
  CHECK(std::string_view(doc["version"]) == "4");
  CHECK(std::string_view(doc["status"]) == "firing");
  CHECK(std::string_view(doc["groupLabels"]["alertname"]) == "High");
  CHECK(std::string_view(doc["commonAnnotations"]["summary"]) == "load high");
  auto alert = doc["alerts"].at(0);
  CHECK(std::string_view(alert["labels"]["host"]) == "a\"b");
  CHECK(std::string_view(alert["startsAt"]) == "2023-11-14T22:13:20.123Z");
  CHECK(std::string_view(alert["endsAt"]) == "0001-01-01T00:00:00Z");
  CHECK(std::string_view(alert["annotations"]["value"]) == "7.5");

  a.resolved_at_ms = 1700000060000;
  simdjson::dom::element resolved = p.parse(n.payload("High", {a}, true, {}));
  CHECK(std::string_view(resolved["status"]) == "resolved");
  CHECK(std::string_view(resolved["alerts"].at(0)["endsAt"]) == "2023-11-14T22:14:20.000Z");
}

TEST_CASE("an unreachable webhook is reported as a failure, not swallowed", "[alerting]") {
  WebhookNotifier n("http://127.0.0.1:1/hook", "");
  Alert a;
  a.labels = Labels{{"alertname", "X"}};
  CHECK_FALSE(n.notify("X", {a}, false, {}));
}
