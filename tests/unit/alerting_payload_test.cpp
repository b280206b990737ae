#include "alerting/alert_payload.h"

#include <simdjson.h>
#include <catch2/catch.hpp>

#include "alerting/query_client.h"
#include "alerting/rules_api.h"

using namespace strata;
using namespace strata::alerting;

namespace {
Notification note(bool resolved) {
  Notification n;
  n.group = "g";
  n.rule = "High";
  n.generator_url = "http://alerting/graph?g0.expr=up";
  n.valid_until_ms = 1'700'000'240'000;
  Alert a;
  a.labels = Labels{{"alertname", "High"}, {"instance", "a"}, {"severity", "page"}};
  a.annotations = {{"summary", "a is \"high\""}};
  a.state = resolved ? AlertState::kInactive : AlertState::kFiring;
  a.fired_at_ms = 1'700'000'000'000;
  a.resolved_at_ms = resolved ? 1'700'000'060'000 : 0;
  Alert b = a;
  b.labels.set("instance", "b");
  n.alerts = {a, b};
  return n;
}
}  // namespace

TEST_CASE("webhook payload follows Alertmanager's webhook format", "[alerting]") {
  std::string body = webhook_payload(note(false), "http://hook", "http://alerting:9095");
  simdjson::dom::parser p;
  auto doc = p.parse(body);
  CHECK(std::string_view(doc["version"]) == "4");
  CHECK(std::string_view(doc["status"]) == "firing");
  CHECK(std::string_view(doc["groupKey"]) == "{}/{}:{alertname=\"High\"}");
  CHECK(std::string_view(doc["externalURL"]) == "http://alerting:9095");
  CHECK(std::string_view(doc["groupLabels"]["alertname"]) == "High");
  CHECK(std::string_view(doc["commonLabels"]["severity"]) == "page");
  CHECK(doc["commonLabels"]["instance"].error());  // differs between the alerts
  CHECK(std::string_view(doc["commonAnnotations"]["summary"]) == "a is \"high\"");
  auto alerts = doc["alerts"].get_array();
  REQUIRE(alerts.size() == 2);
  auto a = alerts.at(0);
  CHECK(std::string_view(a["status"]) == "firing");
  CHECK(std::string_view(a["labels"]["instance"]) == "a");
  CHECK(std::string_view(a["startsAt"]) == "2023-11-14T22:13:20.000Z");
  CHECK(std::string_view(a["endsAt"]) == "0001-01-01T00:00:00Z");
  CHECK(std::string_view(a["generatorURL"]) == "http://alerting/graph?g0.expr=up");
  CHECK(std::string_view(a["fingerprint"]).size() == 16);

  auto resolved = p.parse(webhook_payload(note(true), "r", "x"));
  CHECK(std::string_view(resolved["status"]) == "resolved");
  CHECK(std::string_view(resolved["alerts"].at(0)["endsAt"]) == "2023-11-14T22:14:20.000Z");
}

TEST_CASE("Alertmanager v2 payload is an array of postable alerts", "[alerting]") {
  simdjson::dom::parser p;
  auto doc = p.parse(alertmanager_v2_payload(note(false)));
  auto arr = doc.get_array();
  REQUIRE(arr.size() == 2);
  CHECK(std::string_view(arr.at(0)["labels"]["alertname"]) == "High");
  CHECK(std::string_view(arr.at(0)["endsAt"]) == "2023-11-14T22:17:20.000Z");  // valid_until
  auto res = p.parse(alertmanager_v2_payload(note(true)));
  CHECK(std::string_view(res.at(0)["endsAt"]) == "2023-11-14T22:14:20.000Z");
}

TEST_CASE("query responses are parsed and errors named", "[alerting]") {
  auto v = QueryClient::parse_response(
      R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"x","a":"b"},"value":[1.5,"2.5"]}]}})");
  REQUIRE(v.size() == 1);
  CHECK(v[0].labels.get("a") == "b");
  CHECK(v[0].value == 2.5);
  auto s = QueryClient::parse_response(
      R"({"status":"success","data":{"resultType":"scalar","result":[1.5,"7"]}})");
  REQUIRE(s.size() == 1);
  CHECK(s[0].labels.empty());
  CHECK(s[0].value == 7);
  CHECK_THROWS_WITH(QueryClient::parse_response(R"({"status":"error","error":"bad query"})"),
                    Catch::Contains("bad query"));
  CHECK_THROWS_WITH(QueryClient::parse_response(
                        R"({"status":"success","data":{"resultType":"matrix","result":[]}})"),
                    Catch::Contains("matrix"));
  CHECK_THROWS_WITH(QueryClient::parse_response("nope"), Catch::Contains("not JSON"));
}

TEST_CASE("rules and alerts APIs answer in Prometheus's format", "[alerting]") {
  auto groups = parse_rule_file(
      "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n    for: 5m\n"
      "  - record: r:up\n    expr: sum(up)\n",
      "f.yml");
  GroupSnapshot gs;
  gs.def = &groups[0];
  gs.interval = std::chrono::seconds(15);
  RuleSnapshot a;
  a.def = &groups[0].rules[0];
  a.health = "ok";
  a.state = AlertState::kPending;
  Alert al;
  al.labels = Labels{{"alertname", "A"}};
  al.state = AlertState::kPending;
  al.value = 15;
  al.active_at_ms = 1'700'000'000'000;
  a.alerts = {al};
  RuleSnapshot r;
  r.def = &groups[0].rules[1];
  r.health = "err";
  r.last_error = "boom";
  gs.rules = {a, r};
  simdjson::dom::parser p;
  auto doc = p.parse(rules_json({gs}, ""));
  CHECK(std::string_view(doc["status"]) == "success");
  auto g = doc["data"]["groups"].at(0);
  CHECK(std::string_view(g["file"]) == "f.yml");
  CHECK(double(g["interval"]) == 15);
  auto rule = g["rules"].at(0);
  CHECK(std::string_view(rule["type"]) == "alerting");
  CHECK(std::string_view(rule["state"]) == "pending");
  CHECK(std::int64_t(rule["duration"]) == 300);
  CHECK(std::string_view(rule["alerts"].at(0)["value"]) == "1.5e+01");
  CHECK(std::string_view(rule["alerts"].at(0)["activeAt"]) == "2023-11-14T22:13:20.000Z");
  auto rec = g["rules"].at(1);
  CHECK(std::string_view(rec["type"]) == "recording");
  CHECK(std::string_view(rec["health"]) == "err");
  CHECK(std::string_view(rec["lastError"]) == "boom");
  CHECK(p.parse(rules_json({gs}, "record"))["data"]["groups"].at(0)["rules"].get_array().size() ==
        1);
  auto alerts = p.parse(alerts_json({gs}));
  CHECK(alerts["data"]["alerts"].get_array().size() == 1);
}
