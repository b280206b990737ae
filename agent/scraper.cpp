#include "agent/scraper.h"

#include <stdexcept>

#include <fmt/format.h>

#include "common/config.h"
#include "common/exposition_parser.h"

namespace strata::agent {

namespace {

// What Prometheus sends: OpenMetrics preferred, the text format accepted.
const std::vector<std::pair<std::string, std::string>> kScrapeHeaders = {
    {"Accept",
     "application/openmetrics-text;version=1.0.0;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"},
};

std::vector<std::string> split_blanks(const std::string& s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    std::size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace

std::string instance_of(const std::string& url) {
  std::size_t b = url.find("://");
  b = b == std::string::npos ? 0 : b + 3;
  std::size_t e = url.find_first_of("/?#", b);
  std::string host = url.substr(b, e == std::string::npos ? std::string::npos : e - b);
  if (const auto at = host.rfind('@'); at != std::string::npos) host = host.substr(at + 1);
  return host;
}

ScrapeConfig parse_scrape_config(const std::string& spec, std::chrono::milliseconds interval,
                                 std::chrono::milliseconds timeout) {
  const auto words = split_blanks(spec);
  if (words.size() < 2)
    throw std::invalid_argument(
        "expected \"JOB URL [URL...] [interval=15s] [timeout=10s]\", got \"" + spec + "\"");
  ScrapeConfig c;
  c.job = words[0];
  c.interval = interval;
  c.timeout = timeout;
  if (!wire::valid_utf8(c.job) || c.job.find('=') != std::string::npos)
    throw std::invalid_argument("the job name \"" + c.job +
                                "\" must be valid UTF-8 and contain no '='");
  bool timeout_set = false;
  for (std::size_t i = 1; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w.rfind("interval=", 0) == 0) {
      c.interval = config::parse_duration(w.substr(9), "the scrape interval");
    } else if (w.rfind("timeout=", 0) == 0) {
      c.timeout = config::parse_duration(w.substr(8), "the scrape timeout");
      timeout_set = true;
    } else if (w.rfind("http://", 0) == 0 || w.rfind("https://", 0) == 0) {
      if (instance_of(w).empty()) throw std::invalid_argument("target \"" + w + "\" has no host");
      for (const auto& t : c.targets)
        if (t == w) throw std::invalid_argument("target \"" + w + "\" is listed twice");
      c.targets.push_back(w);
    } else {
      throw std::invalid_argument("\"" + w +
                                  "\" is neither an http(s):// target URL nor interval=/timeout=");
    }
  }
  if (c.targets.empty()) throw std::invalid_argument("job \"" + c.job + "\" lists no target URL");
  if (c.interval.count() <= 0 || c.timeout.count() <= 0)
    throw std::invalid_argument("the interval and the timeout must be greater than 0");
  // As Prometheus: a scrape never overlaps the next one. An explicit timeout
  // longer than the interval is a mistake; the default one is just capped.
  if (c.timeout > c.interval) {
    if (timeout_set)
      throw std::invalid_argument(fmt::format(
          "the timeout ({} ms) is longer than the interval ({} ms); make it at most the interval",
          c.timeout.count(), c.interval.count()));
    c.timeout = c.interval;
  }
  return c;
}

TargetScraper::TargetScraper(std::string job, std::string url, std::chrono::milliseconds timeout,
                             const std::map<std::string, std::string>& extra_labels)
    : job_(std::move(job)), url_(std::move(url)), timeout_(timeout), extra_labels_(extra_labels) {
  target_labels_.emplace_back("job", job_);
  target_labels_.emplace_back("instance", instance_of(url_));
  for (const auto& [k, v] : extra_labels) target_labels_.emplace_back(k, v);
  http::ClientOptions o;
  o.max_attempts = 1;  // the next interval is the retry; a retry would blur the duration
  o.request_timeout = timeout;
  o.connect_timeout = std::min(timeout, std::chrono::milliseconds(2'000));
  client_ = std::make_unique<http::HttpClient>(o);
}

bool TargetScraper::same_target(const std::string& job, const std::string& url,
                                std::chrono::milliseconds timeout,
                                const std::map<std::string, std::string>& extra_labels) const {
  return job == job_ && url == url_ && timeout == timeout_ && extra_labels == extra_labels_;
}

Labels TargetScraper::synthetic(const char* name) const {
  std::vector<Label> l = target_labels_;
  l.emplace_back("__name__", name);
  return Labels(std::move(l));
}

ScrapeOutcome TargetScraper::scrape(std::int64_t now_ms) {
  const auto t0 = std::chrono::steady_clock::now();
  http::ClientResponse r = client_->get(url_, kScrapeHeaders);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string ct;
  if (auto it = r.headers.find("content-type"); it != r.headers.end()) ct = it->second;
  return apply(r.status, ct, r.body, r.error, secs, now_ms);
}

ScrapeOutcome TargetScraper::apply(int status, const std::string& content_type,
                                   const std::string& body, const std::string& error,
                                   double duration_seconds, std::int64_t now_ms) {
  ScrapeOutcome out;
  ParsedExposition parsed;
  if (!error.empty() || status == 0) {
    out.error = error.empty() ? "no response" : error;
  } else if (status < 200 || status >= 300) {
    out.error = fmt::format("HTTP status {}", status);
  } else {
    try {
      parsed = parse_exposition(body, now_ms, exposition_format_of(content_type));
      out.up = true;
    } catch (const ExpositionError& e) {
      out.error = std::string("unparsable response: ") + e.what();
      parsed = {};
    }
  }

  std::size_t scraped = 0;
  std::set<Labels> current;
  if (out.up) {
    out.batch.series.reserve(parsed.batch.series.size() + previous_.size() + 3);
    for (auto& s : parsed.batch.series) {
      // honor_labels: false -- the target's identity wins, the scraped value
      // survives as exported_<name>.
      for (const auto& [name, value] : target_labels_) {
        if (const std::string_view mine = s.labels.get(name); !mine.empty())
          s.labels.set("exported_" + name, std::string(mine));
        s.labels.set(name, value);
      }
      scraped += s.samples.size();
      bool own_timestamps = false;
      for (const auto& smp : s.samples) own_timestamps |= smp.timestamp_ms != now_ms;
      if (!own_timestamps) current.insert(s.labels);
      out.batch.series.push_back(std::move(s));
    }
  }
  for (const auto& l : previous_)
    if (!current.contains(l)) out.batch.series.push_back({l, {{now_ms, wire::stale_nan()}}});
  previous_ = std::move(current);
  out.batch.series.push_back({synthetic("up"), {{now_ms, out.up ? 1.0 : 0.0}}});
  out.batch.series.push_back({synthetic("scrape_duration_seconds"), {{now_ms, duration_seconds}}});
  out.batch.series.push_back(
      {synthetic("scrape_samples_scraped"), {{now_ms, static_cast<double>(scraped)}}});
  scraped_once_ = true;
  return out;
}

wire::MetricsBatch TargetScraper::retire(std::int64_t now_ms) {
  wire::MetricsBatch b;
  for (const auto& l : previous_) b.series.push_back({l, {{now_ms, wire::stale_nan()}}});
  previous_.clear();
  if (scraped_once_)
    for (const char* n : {"up", "scrape_duration_seconds", "scrape_samples_scraped"})
      b.series.push_back({synthetic(n), {{now_ms, wire::stale_nan()}}});
  return b;
}

}  // namespace strata::agent
