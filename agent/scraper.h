// Scraper: pulls Prometheus /metrics endpoints (agent.scrape_configs) the way
// Prometheus does, so what the agent ships for a target is what a Prometheus
// scraping it would store:
//
//  - one GET per target and interval, bounded by the scrape timeout, asking
//    for OpenMetrics first and the text format 0.0.4 second (the response's
//    Content-Type decides how it is parsed, common/exposition_parser.h);
//  - every series gets job=<job name> and instance=<host:port of the URL>
//    plus agent.labels; a scraped label of the same name is kept as
//    exported_<name> (Prometheus's honor_labels: false);
//  - synthetic series per scrape: up (1 or 0), scrape_duration_seconds and
//    scrape_samples_scraped;
//  - staleness: a series present in the previous successful scrape and
//    absent from this one gets one sample of the wire format's StaleNaN at the
//    scrape time (what Prometheus writes, and what the tsdb reads as "series
//    ended", so queries stop returning it at once instead of after 5 minutes).
//    When a target goes down (transport error, timeout, non-2xx, or a body
//    that does not parse) every series of its last good scrape is marked
//    stale; up=0 is still written. Series that carry their own timestamps get
//    no staleness marker, as in Prometheus.
//
// Thread-safety: a TargetScraper belongs to one thread (it owns an
// HttpClient, which is not thread-safe).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/http_client.h"
#include "common/labels.h"
#include "common/wire_format.h"

namespace strata::agent {

// One entry of agent.scrape_configs.
struct ScrapeConfig {
  std::string job;
  std::vector<std::string> targets;  // http(s) URLs of /metrics pages
  std::chrono::milliseconds interval{15'000};
  std::chrono::milliseconds timeout{10'000};
  bool operator==(const ScrapeConfig&) const = default;
};

// Parses "JOB URL [URL...] [interval=DURATION] [timeout=DURATION]". Throws
// std::invalid_argument naming what is wrong (the caller adds the key).
ScrapeConfig parse_scrape_config(const std::string& spec, std::chrono::milliseconds interval,
                                 std::chrono::milliseconds timeout);

// The instance label Prometheus gives a URL: its host[:port].
std::string instance_of(const std::string& url);

struct ScrapeOutcome {
  wire::MetricsBatch batch;  // samples, synthetic series and staleness markers
  bool up = false;
  std::string error;  // why the target is down, empty when up
};

class TargetScraper {
 public:
  TargetScraper(std::string job, std::string url, std::chrono::milliseconds timeout,
                const std::map<std::string, std::string>& extra_labels);

  // GETs the target (bounded by the timeout) and builds what to ship;
  // `now_ms` stamps samples without their own timestamp, the synthetic
  // series and the staleness markers.
  ScrapeOutcome scrape(std::int64_t now_ms);

  // The same from a response already received (status 0 = transport error
  // described by `error`): the part of scrape() after the GET.
  ScrapeOutcome apply(int status, const std::string& content_type, const std::string& body,
                      const std::string& error, double duration_seconds, std::int64_t now_ms);

  // Staleness markers for everything this target produced (its series and
  // the synthetic ones), for when the target is removed from the config.
  wire::MetricsBatch retire(std::int64_t now_ms);

  // Whether a reloaded configuration names this very target (same job, URL,
  // timeout and extra labels), so the new agent keeps this scraper and what
  // it last scraped instead of starting over.
  bool same_target(const std::string& job, const std::string& url,
                   std::chrono::milliseconds timeout,
                   const std::map<std::string, std::string>& extra_labels) const;

  const std::string& job() const { return job_; }
  const std::string& url() const { return url_; }

 private:
  Labels synthetic(const char* name) const;

  std::string job_, url_;
  std::chrono::milliseconds timeout_;
  std::map<std::string, std::string> extra_labels_;
  std::vector<Label> target_labels_;  // job, instance, agent.labels
  std::unique_ptr<http::HttpClient> client_;
  std::set<Labels> previous_;  // series of the last good scrape, final labels
  bool scraped_once_ = false;
};

}  // namespace strata::agent
