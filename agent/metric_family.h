// MetricFamily: the HELP text and TYPE node_exporter 1.5.0 gives one host
// metric family. The wire format carries samples only, no metadata, so these
// tables are where the agent records, word for word as node_exporter, what a
// family means and whether it is a counter or a gauge; the node_exporter
// comparison test checks them against a real node_exporter's page.
#pragma once

namespace strata::agent {

struct MetricFamily {
  const char* name;
  const char* type;  // "counter" or "gauge"
  const char* help;
};

}  // namespace strata::agent
