// strata-collector: the ingest gateway. See collector/collector_server.h.
#include <malloc.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <thread>

#include <spdlog/spdlog.h>

#include "collector/collector_server.h"

int main(int argc, char** argv) {
  using namespace strata;
  // Every push allocates and frees buffers of 100 KiB to a few MiB (the body,
  // its decompressed form, the encoded messages). Above glibc's default
  // mmap threshold each one is a fresh mmap whose pages fault in and are
  // unmapped again on free: measured ~15% of the collector's CPU in
  // bench/collector. Kept in the heap (and not trimmed back to the kernel
  // at once), they are reused by the next request instead.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
  // SIGHUP re-reads the tokens file. Blocked here, before any thread starts,
  // so that every thread inherits the mask and only the waiter below takes it
  // (its default action would end the process).
  sigset_t hup;
  sigemptyset(&hup);
  sigaddset(&hup, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &hup, nullptr);

  config::Schema schema;
  add_logging_options(schema);
  add_kafka_options(schema);
  collector::add_options(schema);
  return run_main("strata-collector",
                  "ingest gateway: validates pushes, tags them and publishes them to Kafka", schema,
                  argc, argv, [&hup](const config::Config& cfg) {
                    collector::CollectorServer server(cfg);
                    server.start();
                    std::atomic<bool> stopping{false};
                    std::thread reloader([&] {
                      for (;;) {
                        int sig = 0;
                        sigwait(&hup, &sig);
                        if (stopping.load()) return;
                        spdlog::info("collector: SIGHUP, reloading the tokens file");
                        server.reload();
                      }
                    });
                    wait_for_shutdown_signal();
                    stopping = true;
                    pthread_kill(reloader.native_handle(), SIGHUP);
                    reloader.join();
                    server.stop();
                    return 0;
                  });
}
