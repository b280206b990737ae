#include "alerting/rule_test_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "alerting/query_client.h"
#include "alerting/rule_file.h"
#include "alerting/rule_manager.h"
#include "alerting/rule_test_file.h"
#include "common/http_client.h"
#include "common/metrics_registry.h"
#include "common/remote_write.h"

namespace strata::alerting::ruletest {
namespace {

using std::chrono::milliseconds;

// An environment problem (no binary, the store did not start): exit 2.
class RunError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// ---- the child tsdb --------------------------------------------------------

std::string make_temp_dir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/strata-rule-test-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data()))
    throw RunError(fmt::format("cannot create a temp dir {}: {}", tmpl, std::strerror(errno)));
  return buf.data();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The last `n` lines of `text`.
std::string tail_lines(const std::string& text, std::size_t n) {
  std::size_t start = text.size();
  if (start > 0 && text[start - 1] == '\n') --start;  // a final newline ends no line
  for (std::size_t seen = 0; start > 0; --start)
    if (text[start - 1] == '\n' && ++seen == n) break;
  return text.substr(start);
}

class TsdbChild {
 public:
  TsdbChild(const std::string& binary, milliseconds start_timeout) : dir_(make_temp_dir()) {
    log_path_ = dir_ + "/strata-tsdb.log";
    const std::vector<std::string> args = {
        binary,
        "--tsdb.listen=127.0.0.1:0",
        "--tsdb.data_dir=" + dir_ + "/data",
        "--tsdb.remote_write_receiver=true",
        "--tsdb.ingest.kafka=false",
        // Never cut the head into blocks: results are written at old
        // timestamps (from time 0) after the input series.
        "--tsdb.maintenance_interval=5200w",
        "--tsdb.wal.fsync=never",
        "--log.level=info",
        "--log.format=text",
    };
    // Everything the child needs is prepared before fork(): between fork and
    // exec it only makes system calls (no allocation).
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const char* log_c = log_path_.c_str();
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) throw RunError(std::string("fork: ") + std::strerror(errno));
    if (pid_ == 0) {
      // The child: dies with the parent, keeps nothing of it but the log.
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent) _exit(1);
      int fd = open(log_c, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
      close_range(3, ~0U, 0);
      sigset_t set;
      sigemptyset(&set);
      sigprocmask(SIG_SETMASK, &set, nullptr);
      execv(argv[0], argv.data());
      static constexpr char kMsg[] = "strata-alerting: cannot execute strata-tsdb\n";
      [[maybe_unused]] auto n = ::write(2, kMsg, sizeof kMsg - 1);
      _exit(127);
    }
    try {
      wait_ready(start_timeout);
    } catch (...) {
      stop();
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
      throw;
    }
  }

  ~TsdbChild() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TsdbChild(const TsdbChild&) = delete;
  TsdbChild& operator=(const TsdbChild&) = delete;

  const std::string& url() const { return url_; }

 private:
  bool exited() {
    if (pid_ <= 0) return true;
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      return true;
    }
    return false;
  }

  void wait_ready(milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    constexpr std::string_view kMarker = "listening on http://";
    while (url_.empty()) {
      const std::string log = read_file(log_path_);
      if (auto p = log.find(kMarker); p != std::string::npos) {
        auto end = log.find_first_of(" \t\r\n", p + kMarker.size());
        if (end != std::string::npos)
          url_ = "http://" + log.substr(p + kMarker.size(), end - p - kMarker.size());
      }
      if (!url_.empty()) break;
      if (exited())
        throw RunError(fmt::format("strata-tsdb exited before listening; its output:\n{}",
                                   tail_lines(read_file(log_path_), 20)));
      if (std::chrono::steady_clock::now() > deadline)
        throw RunError(fmt::format("strata-tsdb did not start listening within {}; its output:\n{}",
                                   format_duration(timeout), tail_lines(read_file(log_path_), 20)));
      std::this_thread::sleep_for(milliseconds(20));
    }
    http::HttpClient client(http::ClientOptions{milliseconds(1000), milliseconds(2000), 1,
                                                milliseconds(10), milliseconds(10)});
    while (true) {
      auto r = client.get(url_ + "/readyz");
      if (r.status == 200) return;
      if (exited())
        throw RunError(fmt::format("strata-tsdb exited while starting; its output:\n{}",
                                   tail_lines(read_file(log_path_), 20)));
      if (std::chrono::steady_clock::now() > deadline)
        throw RunError(fmt::format("strata-tsdb at {} not ready within {}: {}", url_,
                                   format_duration(timeout), r.error.empty() ? r.body : r.error));
      std::this_thread::sleep_for(milliseconds(20));
    }
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (exited()) return;
      std::this_thread::sleep_for(milliseconds(10));
    }
    ::kill(pid_, SIGKILL);
    int st = 0;
    waitpid(pid_, &st, 0);
    pid_ = -1;
  }

  std::string dir_;
  std::string log_path_;
  std::string url_;
  pid_t pid_ = -1;
};

// ---- writing and querying --------------------------------------------------

class Writer {
 public:
  explicit Writer(std::string url)
      : url_(std::move(url) + "/api/v1/write"),
        client_(http::ClientOptions{milliseconds(2000), milliseconds(30'000), 1, milliseconds(10),
                                    milliseconds(10)}) {}

  // Throws std::runtime_error unless the store answered 2xx.
  void write(const wire::MetricsBatch& batch) {
    auto r = client_.post(url_, remote_write::encode(batch),
                          {{"Content-Type", "application/x-protobuf"},
                           {"Content-Encoding", "snappy"},
                           {"X-Prometheus-Remote-Write-Version", "0.1.0"}});
    if (!r.ok()) {
      std::string detail = r.error.empty() ? fmt::format("HTTP {}: {}", r.status, r.body) : r.error;
      while (!detail.empty() && detail.back() == '\n') detail.pop_back();
      throw std::runtime_error(fmt::format("remote write to the test tsdb: {}", detail));
    }
  }

 private:
  std::string url_;
  http::HttpClient client_;
};

class StoreBackend final : public QueryBackend {
 public:
  explicit StoreBackend(const std::string& url)
      : client_(url, "/api/v1/query", std::chrono::seconds(60)) {}
  std::vector<Sample> query(RuleSource source, const std::string& expr,
                            std::int64_t ts_ms) override {
    if (source == RuleSource::kLogs)
      throw std::runtime_error("log rules are not unit-tested (no log store)");
    return client_.instant(expr, ts_ms);
  }

 private:
  QueryClient client_;
};

// Input series, in requests of at most kChunk samples.
void load_series(const TestGroup& t, Writer& writer) {
  constexpr std::size_t kChunk = 100'000;
  wire::MetricsBatch batch;
  std::size_t in_batch = 0;
  auto flush = [&] {
    if (batch.series.empty()) return;
    writer.write(batch);
    batch.series.clear();
    in_batch = 0;
  };
  for (const auto& s : t.input_series) {
    wire::Series out{s.labels, {}};
    for (std::size_t i = 0; i < s.values.size(); ++i) {
      if (!s.values[i]) continue;
      out.samples.push_back({static_cast<std::int64_t>(i) * t.interval.count(), *s.values[i]});
      if (++in_batch >= kChunk) {
        batch.series.push_back(std::move(out));
        out = wire::Series{s.labels, {}};
        flush();
      }
    }
    if (!out.samples.empty()) batch.series.push_back(std::move(out));
  }
  flush();
}

// ---- comparing, printing as promtool ---------------------------------------

// Go's strconv.FormatFloat(v, 'E', -1, 64): 5E+01, 1.5E-03, +Inf, NaN.
std::string format_e(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string s(buf, r.ptr);
  for (auto& c : s)
    if (c == 'e') c = 'E';
  return s;
}

Labels to_labels(const std::map<std::string, std::string>& m) {
  std::vector<Label> v(m.begin(), m.end());
  return Labels(std::move(v));
}

struct AlertView {
  Labels labels;
  Labels annotations;
  auto operator<=>(const AlertView&) const = default;
  bool operator==(const AlertView&) const = default;
};

std::string indent_lines(const std::string& lines, const std::string& indent) {
  std::string out;
  std::size_t start = 0;
  bool first = true;
  while (true) {
    auto nl = lines.find('\n', start);
    if (!first) out += indent;
    first = false;
    out += lines.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (nl == std::string::npos) break;
    out += '\n';
    start = nl + 1;
  }
  return out;
}

std::string alerts_string(const std::vector<AlertView>& v) {
  if (v.empty()) return "[]";
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) {
    s += i == 0 ? "\n" : ",\n";
    s += fmt::format("{}:", i);
    s += indent_lines(
        "\nLabels:" + v[i].labels.to_string() + "\nAnnotations:" + v[i].annotations.to_string(),
        "  ");
  }
  return s + "\n]";
}

struct SampleView {
  Labels labels;
  double value = 0;
};

std::string samples_string(const std::vector<SampleView>& v) {
  if (v.empty()) return "nil";
  std::string s;
  for (const auto& x : v) {
    if (!s.empty()) s += ", ";
    s += x.labels.to_string() + " " + format_e(x.value);
  }
  return s;
}

bool close_enough(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (a == b) return true;
  return std::fabs(a - b) <= 1e-9 * std::max(std::fabs(a), std::fabs(b));
}

// ---- one test group --------------------------------------------------------

std::vector<RuleGroup> ordered(std::vector<RuleGroup> groups,
                               const std::vector<std::string>& order) {
  std::map<std::string, std::size_t> rank;
  for (std::size_t i = 0; i < order.size(); ++i) rank.emplace(order[i], i);
  std::stable_sort(groups.begin(), groups.end(), [&](const RuleGroup& a, const RuleGroup& b) {
    auto ra = rank.count(a.name) ? rank[a.name] : 0;
    auto rb = rank.count(b.name) ? rank[b.name] : 0;
    return ra < rb;
  });
  return groups;
}

std::vector<std::string> run_group(const TestFile& file, const TestGroup& t,
                                   const std::vector<RuleGroup>& groups,
                                   const std::string& tsdb_binary, const RunOptions& options) {
  std::vector<std::string> errs;
  const std::string name_line = t.name.empty() ? "" : fmt::format("    name: {},\n", t.name);
  TsdbChild tsdb(tsdb_binary, options.tsdb_start_timeout);
  Writer writer(tsdb.url());
  try {
    load_series(t, writer);
  } catch (const std::exception& e) {
    throw RunError(fmt::format("loading input_series: {}", e.what()));
  }

  FakeClock clock(0);
  metrics::Registry registry;
  ManagerOptions mo;
  mo.default_interval = file.evaluation_interval;
  mo.external.external_labels = t.external_labels;
  mo.external.external_url = t.external_url;
  mo.push_each_rule = true;
  const std::string url = tsdb.url();
  RuleManager manager(
      groups, mo, clock, [url] { return std::make_unique<StoreBackend>(url); },
      [&writer](const wire::MetricsBatch& b) { writer.write(b); }, nullptr, registry);

  // Alert tests by eval_time, checked after the step that covers them.
  std::map<std::int64_t, std::vector<const AlertTest*>> alert_tests;
  for (const auto& a : t.alert_tests) alert_tests[a.eval_time.count()].push_back(&a);
  auto next_alert = alert_tests.begin();

  const std::int64_t interval = file.evaluation_interval.count();
  const std::int64_t maxt = t.max_eval_time().count();
  for (std::int64_t ts = 0; ts <= maxt; ts += interval) {
    clock.set(ts);
    for (std::size_t g = 0; g < manager.group_count(); ++g) manager.evaluate_group(g, ts);
    auto snapshot = manager.snapshot();
    std::vector<std::string> eval_errs;
    for (const auto& g : snapshot)
      for (const auto& r : g.rules)
        if (r.health == "err" && r.last_evaluation_ms == ts)
          eval_errs.push_back(fmt::format("    rule: {}, time: {}, err: {}", r.def->name(),
                                          format_duration(milliseconds(ts)), r.last_error));
    if (!eval_errs.empty()) {
      errs.insert(errs.end(), eval_errs.begin(), eval_errs.end());
      return errs;
    }
    for (; next_alert != alert_tests.end() && next_alert->first < ts + interval; ++next_alert) {
      if (next_alert->first < ts) continue;
      for (const AlertTest* test : next_alert->second) {
        std::vector<AlertView> got;
        for (const auto& g : snapshot)
          for (const auto& r : g.rules) {
            if (r.def->alert != test->alertname) continue;
            for (const auto& a : r.alerts)
              if (a.state == AlertState::kFiring)
                got.push_back(AlertView{a.labels, to_labels(a.annotations)});
          }
        std::vector<AlertView> exp;
        for (const auto& e : test->exp_alerts) {
          Labels l = to_labels(e.labels);
          l.set("alertname", test->alertname);
          exp.push_back(AlertView{std::move(l), to_labels(e.annotations)});
        }
        std::sort(got.begin(), got.end());
        std::sort(exp.begin(), exp.end());
        if (got != exp)
          errs.push_back(
              fmt::format("{}    alertname: {}, time: {}, \n        exp:{}, \n        got:{}",
                          name_line, test->alertname, format_duration(test->eval_time),
                          indent_lines(alerts_string(exp), "            "),
                          indent_lines(alerts_string(got), "            ")));
      }
    }
  }

  QueryClient query(url, "/api/v1/query", std::chrono::seconds(60));
  for (const auto& e : t.expr_tests) {
    std::vector<SampleView> got, exp;
    try {
      for (auto& s : query.instant(e.expr, e.eval_time.count()))
        got.push_back(SampleView{std::move(s.labels), s.value});
    } catch (const std::exception& ex) {
      errs.push_back(fmt::format("    expr: {}, time: {}, err: {}", go_quote(e.expr),
                                 format_duration(e.eval_time), ex.what()));
      continue;
    }
    for (const auto& s : e.exp_samples) exp.push_back(SampleView{s.labels, s.value});
    auto by_labels = [](const SampleView& a, const SampleView& b) { return a.labels < b.labels; };
    std::stable_sort(got.begin(), got.end(), by_labels);
    std::stable_sort(exp.begin(), exp.end(), by_labels);
    bool same = got.size() == exp.size();
    for (std::size_t i = 0; same && i < got.size(); ++i)
      same = got[i].labels == exp[i].labels && close_enough(got[i].value, exp[i].value);
    if (!same)
      errs.push_back(fmt::format("    expr: {}, time: {},\n        exp: {}\n        got: {}",
                                 go_quote(e.expr), format_duration(e.eval_time),
                                 samples_string(exp), samples_string(got)));
  }
  return errs;
}

std::string self_dir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : exe.parent_path().string();
}

bool executable(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

}  // namespace

std::string find_tsdb_binary(const RunOptions& options) {
  if (!options.tsdb_binary.empty()) {
    if (!executable(options.tsdb_binary))
      throw std::runtime_error(
          fmt::format("--tsdb-binary {}: not an executable file", options.tsdb_binary));
    return options.tsdb_binary;
  }
  std::vector<std::string> looked;
  if (auto dir = self_dir(); !dir.empty()) {
    auto p = dir + "/strata-tsdb";
    if (executable(p)) return p;
    looked.push_back(p);
  }
  const char* path = std::getenv("PATH");
  std::string_view rest = path ? path : "";
  while (!rest.empty()) {
    auto colon = rest.find(':');
    std::string dir(rest.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    if (dir.empty()) continue;
    auto p = dir + "/strata-tsdb";
    if (executable(p)) return p;
  }
  looked.push_back("$PATH");
  std::string where;
  for (const auto& l : looked) where += (where.empty() ? "" : ", ") + l;
  throw std::runtime_error(fmt::format(
      "strata-tsdb not found (looked at {}); the rule tests run their series in a child "
      "strata-tsdb: install it or pass --tsdb-binary PATH",
      where));
}

int run_test_files(const std::vector<std::string>& files, const RunOptions& options,
                   std::ostream& out, std::ostream& err) {
  bool failed = false, bad = false;
  std::string tsdb_binary;
  for (const auto& path : files) {
    out << "Unit Testing: " << path << std::endl;
    std::vector<std::string> errs;
    bool file_bad = false;
    try {
      TestFile file = load_test_file(path);
      std::vector<std::string> warnings;
      auto rule_paths = resolve_rule_files(file, &warnings);
      for (const auto& w : warnings) err << "  WARNING: " << w << std::endl;
      std::vector<RuleGroup> groups;
      for (auto& g : load_rule_files(rule_paths)) {
        if (g.source == RuleSource::kLogs) {
          err << "  WARNING: group \"" << g.name << "\" (" << g.file
              << ") has source: logs; log rules are not unit-tested" << std::endl;
          continue;
        }
        groups.push_back(std::move(g));
      }
      groups = ordered(std::move(groups), file.group_eval_order);
      if (!file.tests.empty() && tsdb_binary.empty()) tsdb_binary = find_tsdb_binary(options);
      for (std::size_t i = 0; i < file.tests.size(); ++i) {
        try {
          auto e = run_group(file, file.tests[i], groups, tsdb_binary, options);
          errs.insert(errs.end(), e.begin(), e.end());
        } catch (const RunError& e) {
          file_bad = true;
          errs.push_back(fmt::format("    tests[{}]: cannot run: {}", i, e.what()));
        }
      }
    } catch (const TestFileError& e) {
      file_bad = true;
      errs = e.messages();
    } catch (const RuleFileError& e) {
      file_bad = true;
      errs = e.messages();
    } catch (const std::exception& e) {
      file_bad = true;
      errs.push_back(e.what());
    }
    if (errs.empty()) {
      out << "  SUCCESS" << std::endl;
    } else {
      err << "  FAILED:" << std::endl;
      for (const auto& e : errs) {
        err << e << std::endl;
        out << std::endl;
      }
      failed = true;
      bad |= file_bad;
    }
    out << std::endl;
  }
  return bad ? 2 : failed ? 1 : 0;
}

}  // namespace strata::alerting::ruletest
