// strata-agent: the per-host daemon. Everything lives in strata_agent; this
// file wires the configuration schema to the process lifecycle: SIGTERM and
// SIGINT stop it, SIGHUP reloads the configuration.
//
// Reload re-reads the command line and the --config file and, if the new
// configuration is valid, replaces the running Agent with one built from it
// (every key takes effect: files, labels, scrape targets, collectors...). The
// old agent stops gracefully first (final delivery, checkpoint saved); the
// new one resumes each file where the old one left it -- from the checkpoint
// with agent.data_dir, else from the old agent's positions in memory. An
// invalid new configuration is logged and the running agent keeps going.
#include <malloc.h>

#include <memory>

#include <spdlog/spdlog.h>

#include "agent/agent.h"
#include "agent/options.h"
#include "common/service.h"

int main(int argc, char** argv) {
#ifdef __GLIBC__
  // One malloc arena for all threads: glibc gives each thread that allocates
  // its own (up to 8 per core), and each keeps freed memory resident. The
  // agent's threads mostly wait on I/O, so contention is nil, and its
  // resident size is what every host pays.
  mallopt(M_ARENA_MAX, 1);
#endif
  strata::block_reload_signal();  // before any thread: see wait_for_shutdown_signal()
  strata::config::Schema schema;
  strata::add_logging_options(schema);
  strata::agent::add_options(schema);
  const char* kDescription =
      "Host agent: ships host metrics (node_* series), scraped Prometheus endpoints and tailed "
      "log files to a Strata collector.";
  return strata::run_main(
      "strata-agent", kDescription, schema, argc, argv, [&](const strata::config::Config& c) {
        auto agent = std::make_unique<strata::agent::Agent>(c);
        agent->start();
        strata::wait_for_shutdown_signal([&] {
          strata::agent::AgentOptions next;
          try {
            auto cfg = strata::config::Config::from_command_line(schema, argc, argv, "strata-agent",
                                                                 kDescription);
            if (!cfg) return;
            next = strata::agent::AgentOptions::from_config(*cfg);
          } catch (const std::exception& e) {
            spdlog::error("SIGHUP: the new configuration is invalid, keeping the running one: {}",
                          e.what());
            return;
          }
          spdlog::info("SIGHUP: reloading the configuration");
          const strata::agent::AgentOptions previous = agent->options();
          agent->stop();
          next.resume = agent->tail_positions();
          next.scrapers = agent->take_scrapers();
          next.journal_cursor = agent->journal_cursor();
          agent.reset();
          try {
            agent = std::make_unique<strata::agent::Agent>(next);
            agent->start();
          } catch (const std::exception& e) {
            spdlog::error(
                "SIGHUP: cannot start with the new configuration ({}); back to the "
                "previous one",
                e.what());
            strata::agent::AgentOptions back = previous;
            back.scrapers = next.scrapers;
            back.journal_cursor = next.journal_cursor;
            agent.reset();
            agent = std::make_unique<strata::agent::Agent>(back);
            agent->start();
          }
        });
        agent->stop();
        return 0;
      });
}
