// PrometheusServer: Debian's real Prometheus (/usr/bin/prometheus), started
// by a test as a reference peer on a free loopback port with an empty scrape
// config, over a fresh temp dir or over TSDB blocks the test made (promtool).
// Stopped when the object goes away (ChildProcess). Not thread-safe.
#pragma once

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace strata::testing {

inline constexpr const char* kPrometheusBinary = "/usr/bin/prometheus";
inline constexpr const char* kPromtoolBinary = "/usr/bin/promtool";

// Whether Debian's prometheus (and promtool) are installed; tests FAIL with
// "run scripts/setup.sh" otherwise, since setup installs them.
inline bool prometheus_installed() {
  return access(kPrometheusBinary, X_OK) == 0 && access(kPromtoolBinary, X_OK) == 0;
}

class PrometheusServer {
 public:
  // `data_dir` empty: a fresh temp dir. `extra_config`: appended to
  // prometheus.yml (e.g. a remote_read section).
  explicit PrometheusServer(const std::string& data_dir = "",
                            const std::string& extra_config = "") {
    dir_ = temp_dir("prometheus-peer");
    std::ofstream(dir_ + "/prometheus.yml") << "global:\n  scrape_interval: 1m\n" << extra_config;
    port_ = free_port();
    proc_ = std::make_unique<ChildProcess>(
        "prometheus", kPrometheusBinary,
        std::vector<std::string>{
            "--config.file=" + dir_ + "/prometheus.yml",
            "--storage.tsdb.path=" + (data_dir.empty() ? dir_ + "/data" : data_dir),
            "--web.listen-address=127.0.0.1:" + std::to_string(port_)});
  }
  bool ready() { return wait_http_ok(base() + "/-/ready", std::chrono::seconds(60)); }
  void dump() const { proc_->dump(); }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> proc_;
};

}  // namespace strata::testing
