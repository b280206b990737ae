// AppendCounters: the /metrics counters of what the head did with incoming
// samples -- stored, duplicate, conflicting, too old -- shared by every way
// samples come in (the Kafka ingester, the remote-write receiver), so both
// add to the same series and an operator reads one set of figures.
//
// Thread-safety: as metrics::Counter (atomic increments).
#pragma once

#include "common/metrics_registry.h"
#include "tsdb/head.h"

namespace strata::tsdb {

struct AppendCounters {
  explicit AppendCounters(metrics::Registry& registry)
      : appended(registry.counter("strata_tsdb_appended_samples_total", "Samples stored.")),
        duplicates(registry.counter(
            "strata_tsdb_duplicate_samples_total",
            "Samples ignored because the identical (timestamp, value) was already stored "
            "(at-least-once replays).")),
        conflicts(registry.counter(
            "strata_tsdb_conflicting_samples_total",
            "Samples rejected because another value was already stored at their timestamp.")),
        too_old(registry.counter("strata_tsdb_out_of_bounds_samples_total",
                                 "Samples rejected for being older than the out-of-order window "
                                 "or the last block cut.")) {}

  void add(const AppendResult& r) {
    appended.inc(static_cast<double>(r.appended));
    duplicates.inc(static_cast<double>(r.duplicates));
    conflicts.inc(static_cast<double>(r.conflicts));
    too_old.inc(static_cast<double>(r.too_old));
  }

  metrics::Counter& appended;
  metrics::Counter& duplicates;
  metrics::Counter& conflicts;
  metrics::Counter& too_old;
};

}  // namespace strata::tsdb
