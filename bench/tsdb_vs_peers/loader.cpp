// strata-bench-tsdb-loader: replays a dataset recorded by record.py into one
// storage system, in time order, and prints a one-line JSON summary.
//
//   --target prometheus-rw  POST snappy'd protobuf WriteRequests to --url
//                           (Prometheus' /api/v1/write remote-write receiver)
//   --target vm-rw          the same, to VictoriaMetrics' /api/v1/write
//   --target strata-kafka   produce Strata wire-format metrics batches (one
//                           series per message, keyed by label fingerprint,
//                           like the collector) to --topic on --brokers
//   --target openmetrics    write the samples as OpenMetrics text to --out
//                           (input of `promtool tsdb create-blocks-from openmetrics`)
//   --target stats          only parse and print the summary
//
// Dataset format (see README.md): Prometheus text exposition, one sample per
// line with an explicit millisecond timestamp, labels sorted by name,
// `job`/`instance` included; lines starting with '#' are comments.
//
//   node_load1{instance="127.0.0.1:9100",job="node"} 0.42 1700000000000
//
// Every line is one sample of the series named by the text before the value;
// histogram and summary lines are plain series. Samples whose value is NaN
// are skipped for every target (and counted in "nan_skipped").
//
// Ordering: samples are cut into time windows of --chunk-samples scrape
// intervals; windows are sent in order, and within a window every series
// sends its samples of that window as one "series chunk" (series in order of
// first appearance). So all series advance together and each series' samples
// arrive strictly in time order. Remote-write requests carry whole series
// chunks up to --request-samples samples; Strata gets one Kafka message per
// series chunk, sent --kafka-batch messages per KafkaProducer::send().
#include <curl/curl.h>
#include <snappy.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "common/kafka_bus.h"
#include "common/labels.h"
#include "common/wire_format.h"
#include "remote.pb.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string dataset;
  std::string target;
  std::string url;
  std::string brokers;
  std::string topic = "metrics";
  std::string out;
  std::int64_t interval_ms = 15000;
  std::size_t chunk_samples = 60;
  std::size_t request_samples = 2000;
  std::size_t kafka_batch = 1000;
};

[[noreturn]] void die(const std::string& msg) {
  std::cerr << "strata-bench-tsdb-loader: " << msg << std::endl;
  std::exit(1);
}

void usage() {
  std::cerr << "usage: strata-bench-tsdb-loader --dataset FILE --target "
               "prometheus-rw|vm-rw|strata-kafka|openmetrics|stats\n"
               "         [--url URL] [--brokers HOST:PORT] [--topic metrics] [--out FILE]\n"
               "         [--interval-ms 15000] [--chunk-samples 60] [--request-samples 2000]\n"
               "         [--kafka-batch 1000]\n";
  std::exit(2);
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string v;
    if (auto eq = a.find('='); eq != std::string::npos) {
      v = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (a != "--help" && i + 1 < argc) {
      v = argv[++i];
    } else {
      usage();
    }
    auto num = [&](const std::string& s) -> long long {
      char* end = nullptr;
      long long n = std::strtoll(s.c_str(), &end, 10);
      if (s.empty() || *end != '\0' || n <= 0)
        die("option " + a + ": expected a positive integer, got '" + s + "'");
      return n;
    };
    if (a == "--dataset")
      o.dataset = v;
    else if (a == "--target")
      o.target = v;
    else if (a == "--url")
      o.url = v;
    else if (a == "--brokers")
      o.brokers = v;
    else if (a == "--topic")
      o.topic = v;
    else if (a == "--out")
      o.out = v;
    else if (a == "--interval-ms")
      o.interval_ms = num(v);
    else if (a == "--chunk-samples")
      o.chunk_samples = static_cast<std::size_t>(num(v));
    else if (a == "--request-samples")
      o.request_samples = static_cast<std::size_t>(num(v));
    else if (a == "--kafka-batch")
      o.kafka_batch = static_cast<std::size_t>(num(v));
    else
      usage();
  }
  if (o.dataset.empty() || o.target.empty()) usage();
  if ((o.target == "prometheus-rw" || o.target == "vm-rw") && o.url.empty())
    die("--target " + o.target + " needs --url");
  if (o.target == "strata-kafka" && o.brokers.empty()) die("--target strata-kafka needs --brokers");
  if (o.target == "openmetrics" && o.out.empty()) die("--target openmetrics needs --out");
  return o;
}

// ---------------------------------------------------------------------------
// Dataset

struct SeriesInfo {
  std::string text;                                         // name{labels} as in the file
  std::vector<std::pair<std::string, std::string>> labels;  // incl. __name__, sorted
};

struct Rec {
  std::int64_t ts;
  double value;
  std::uint32_t series;
};

struct Dataset {
  std::vector<SeriesInfo> series;
  std::vector<Rec> samples;  // file order (= time order per series)
  std::size_t nan_skipped = 0;
  std::size_t lines = 0;
  std::int64_t min_ts = INT64_MAX, max_ts = INT64_MIN;
};

double parse_value(std::string_view s, std::size_t line_no) {
  if (s == "+Inf" || s == "Inf") return INFINITY;
  if (s == "-Inf") return -INFINITY;
  if (s == "NaN") return NAN;
  std::string tmp(s);
  char* end = nullptr;
  double v = std::strtod(tmp.c_str(), &end);
  if (tmp.empty() || *end != '\0') die(fmt::format("dataset line {}: bad value '{}'", line_no, s));
  return v;
}

// Parses `name{a="x",b="y"}` into labels (unescaping \\ \" \n).
std::vector<std::pair<std::string, std::string>> parse_series(std::string_view s,
                                                              std::size_t line_no) {
  std::vector<std::pair<std::string, std::string>> out;
  auto brace = s.find('{');
  std::string name(s.substr(0, brace));
  if (name.empty()) die(fmt::format("dataset line {}: no metric name", line_no));
  out.emplace_back("__name__", name);
  if (brace == std::string_view::npos) return out;
  std::size_t i = brace + 1;
  while (i < s.size() && s[i] != '}') {
    if (s[i] == ',' || s[i] == ' ') {
      ++i;
      continue;
    }
    auto eq = s.find('=', i);
    if (eq == std::string_view::npos || eq + 1 >= s.size() || s[eq + 1] != '"')
      die(fmt::format("dataset line {}: bad label at column {}", line_no, i));
    std::string lname(s.substr(i, eq - i));
    std::string value;
    i = eq + 2;
    for (; i < s.size() && s[i] != '"'; ++i) {
      if (s[i] == '\\' && i + 1 < s.size()) {
        ++i;
        value.push_back(s[i] == 'n' ? '\n' : s[i]);
      } else {
        value.push_back(s[i]);
      }
    }
    if (i >= s.size()) die(fmt::format("dataset line {}: unterminated label value", line_no));
    ++i;  // closing quote
    if (!value.empty()) out.emplace_back(std::move(lname), std::move(value));
  }
  std::sort(out.begin(), out.end());
  return out;
}

Dataset load_dataset(const std::string& path) {
  std::ifstream in(path);
  if (!in) die("cannot open dataset " + path);
  Dataset d;
  std::unordered_map<std::string, std::uint32_t> ids;
  std::string line;
  while (std::getline(in, line)) {
    ++d.lines;
    if (line.empty() || line[0] == '#') continue;
    // The series text ends at the first space outside a quoted label value.
    std::size_t end = 0;
    bool quoted = false;
    for (; end < line.size(); ++end) {
      char c = line[end];
      if (quoted) {
        if (c == '\\')
          ++end;
        else if (c == '"')
          quoted = false;
      } else if (c == '"') {
        quoted = true;
      } else if (c == ' ') {
        break;
      }
    }
    auto sp2 = line.find(' ', end + 1);
    if (end >= line.size() || sp2 == std::string::npos)
      die(fmt::format("dataset line {}: expected 'series value timestamp_ms'", d.lines));
    std::string_view lv(line);
    double v = parse_value(lv.substr(end + 1, sp2 - end - 1), d.lines);
    std::string tss = line.substr(sp2 + 1);
    char* tend = nullptr;
    long long ts = std::strtoll(tss.c_str(), &tend, 10);
    if (tss.empty() || *tend != '\0')
      die(fmt::format("dataset line {}: bad timestamp '{}'", d.lines, tss));
    if (std::isnan(v)) {
      ++d.nan_skipped;
      continue;
    }
    std::string key = line.substr(0, end);
    auto [it, inserted] = ids.try_emplace(key, static_cast<std::uint32_t>(d.series.size()));
    if (inserted) d.series.push_back({key, parse_series(key, d.lines)});
    d.samples.push_back({ts, v, it->second});
    d.min_ts = std::min<std::int64_t>(d.min_ts, ts);
    d.max_ts = std::max<std::int64_t>(d.max_ts, ts);
  }
  if (d.samples.empty()) die("dataset " + path + " holds no samples");
  return d;
}

// A series chunk: samples [begin, end) of `order` (all of one series).
struct Chunk {
  std::uint32_t series;
  std::size_t begin, end;
};

// Sorts sample indexes by (window, series order, time) and cuts series chunks.
std::vector<Chunk> make_chunks(const Dataset& d, const Options& o, std::vector<Rec>& order) {
  const std::int64_t window_ms = o.interval_ms * static_cast<std::int64_t>(o.chunk_samples);
  order = d.samples;
  std::stable_sort(order.begin(), order.end(), [&](const Rec& a, const Rec& b) {
    auto wa = (a.ts - d.min_ts) / window_ms, wb = (b.ts - d.min_ts) / window_ms;
    if (wa != wb) return wa < wb;
    if (a.series != b.series) return a.series < b.series;
    return a.ts < b.ts;
  });
  std::vector<Chunk> chunks;
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i + 1;
    auto w = (order[i].ts - d.min_ts) / window_ms;
    while (j < order.size() && order[j].series == order[i].series &&
           (order[j].ts - d.min_ts) / window_ms == w)
      ++j;
    chunks.push_back({order[i].series, i, j});
    i = j;
  }
  return chunks;
}

// ---------------------------------------------------------------------------
// Targets

struct Result {
  std::size_t requests = 0;
  std::size_t payload_bytes = 0;  // as sent (compressed body / Kafka message values)
  std::size_t raw_bytes = 0;      // before snappy (remote write)
};

size_t curl_sink(char* ptr, size_t size, size_t nmemb, void* userdata) {
  static_cast<std::string*>(userdata)->append(ptr, size * nmemb);
  return size * nmemb;
}

Result send_remote_write(const Dataset& d, const Options& o) {
  std::vector<Rec> order;
  auto chunks = make_chunks(d, o, order);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL* curl = curl_easy_init();
  if (!curl) die("curl_easy_init failed");
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Encoding: snappy");
  headers = curl_slist_append(headers, "Content-Type: application/x-protobuf");
  headers = curl_slist_append(headers, "X-Prometheus-Remote-Write-Version: 0.1.0");
  headers = curl_slist_append(headers, "User-Agent: strata-bench-tsdb-loader");
  curl_easy_setopt(curl, CURLOPT_URL, o.url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 120L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, curl_sink);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);

  Result r;
  prometheus::WriteRequest req;
  std::size_t in_req = 0;
  std::string raw, body, response;
  auto flush = [&] {
    if (req.timeseries_size() == 0) return;
    raw.clear();
    if (!req.SerializeToString(&raw)) die("protobuf serialization failed");
    body.clear();
    snappy::Compress(raw.data(), raw.size(), &body);
    response.clear();
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
    CURLcode rc = curl_easy_perform(curl);
    if (rc != CURLE_OK)
      die(fmt::format("POST {} (request #{}, {} samples): {}", o.url, r.requests + 1, in_req,
                      curl_easy_strerror(rc)));
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299)
      die(fmt::format("POST {} (request #{}, {} samples): HTTP {}: {}", o.url, r.requests + 1,
                      in_req, status, response.substr(0, 2000)));
    ++r.requests;
    r.payload_bytes += body.size();
    r.raw_bytes += raw.size();
    req.Clear();
    in_req = 0;
  };
  for (const auto& c : chunks) {
    // A chunk larger than a request is split (only with --chunk-samples > --request-samples).
    for (std::size_t b = c.begin; b < c.end;) {
      std::size_t e = std::min(c.end, b + o.request_samples - in_req);
      auto* ts = req.add_timeseries();
      for (const auto& [n, v] : d.series[c.series].labels) {
        auto* l = ts->add_labels();
        l->set_name(n);
        l->set_value(v);
      }
      for (std::size_t k = b; k < e; ++k) {
        auto* s = ts->add_samples();
        s->set_timestamp(order[k].ts);
        s->set_value(order[k].value);
      }
      in_req += e - b;
      b = e;
      if (in_req >= o.request_samples) flush();
    }
  }
  flush();
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return r;
}

Result send_kafka(const Dataset& d, const Options& o) {
  std::vector<Rec> order;
  auto chunks = make_chunks(d, o, order);
  std::vector<strata::Labels> labels;
  std::vector<std::string> keys;
  labels.reserve(d.series.size());
  for (const auto& s : d.series) {
    labels.emplace_back(std::vector<strata::Label>(s.labels.begin(), s.labels.end()));
    keys.push_back(fmt::format("{:016x}", labels.back().fingerprint()));
  }
  strata::kafka::KafkaOptions ko;
  ko.brokers = o.brokers;
  ko.client_id = "strata-bench-tsdb-loader";
  strata::kafka::KafkaProducer producer(ko);
  Result r;
  std::vector<strata::kafka::OutMessage> batch;
  auto flush = [&] {
    if (batch.empty()) return;
    try {
      producer.send(batch, std::chrono::seconds(120));
    } catch (const std::exception& e) {
      die(fmt::format("Kafka send of {} messages to {} (topic {}): {}", batch.size(), o.brokers,
                      o.topic, e.what()));
    }
    ++r.requests;
    batch.clear();
  };
  for (const auto& c : chunks) {
    strata::wire::MetricsBatch mb;
    auto& s = mb.series.emplace_back();
    s.labels = labels[c.series];
    s.samples.reserve(c.end - c.begin);
    for (std::size_t k = c.begin; k < c.end; ++k)
      s.samples.push_back({order[k].ts, order[k].value});
    std::string value;
    try {
      value = strata::wire::encode(mb);
    } catch (const std::exception& e) {
      die(fmt::format("wire encode of {}: {}", d.series[c.series].text, e.what()));
    }
    r.payload_bytes += value.size();
    batch.push_back({o.topic, keys[c.series], std::move(value)});
    if (batch.size() >= o.kafka_batch) flush();
  }
  flush();
  return r;
}

Result write_openmetrics(const Dataset& d, const Options& o) {
  std::FILE* f = std::fopen(o.out.c_str(), "w");
  if (!f) die("cannot write " + o.out + ": " + std::strerror(errno));
  Result r;
  std::string line;
  for (const auto& s : d.samples) {
    line.clear();
    line += d.series[s.series].text;
    line += ' ';
    if (std::isinf(s.value))
      line += s.value > 0 ? "+Inf" : "-Inf";
    else
      line += fmt::format("{}", s.value);
    // OpenMetrics timestamps are seconds; keep the milliseconds exactly.
    std::int64_t sec = s.ts / 1000, ms = s.ts % 1000;
    if (ms < 0) {
      sec -= 1;
      ms += 1000;
    }
    line += fmt::format(" {}.{:03d}\n", sec, ms);
    std::fwrite(line.data(), 1, line.size(), f);
    r.payload_bytes += line.size();
  }
  std::fputs("# EOF\n", f);
  if (std::fclose(f) != 0) die("writing " + o.out + " failed");
  r.requests = 1;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse_args(argc, argv);
  auto t0 = Clock::now();
  Dataset d = load_dataset(o.dataset);
  auto t1 = Clock::now();
  Result r;
  if (o.target == "prometheus-rw" || o.target == "vm-rw")
    r = send_remote_write(d, o);
  else if (o.target == "strata-kafka")
    r = send_kafka(d, o);
  else if (o.target == "openmetrics")
    r = write_openmetrics(d, o);
  else if (o.target != "stats")
    die("unknown --target " + o.target);
  auto t2 = Clock::now();
  auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  std::cout << fmt::format(
                   "{{\"target\":\"{}\",\"series\":{},\"samples\":{},\"nan_skipped\":{},"
                   "\"min_ts\":{},\"max_ts\":{},\"requests\":{},\"payload_bytes\":{},"
                   "\"raw_bytes\":{},\"parse_seconds\":{:.3f},\"send_seconds\":{:.3f}}}",
                   o.target, d.series.size(), d.samples.size(), d.nan_skipped, d.min_ts, d.max_ts,
                   r.requests, r.payload_bytes, r.raw_bytes, secs(t0, t1), secs(t1, t2))
            << std::endl;
  return 0;
}
