// strata-query: the query node of a sharded cluster. See allinone/query_node.h.
#include "allinone/query_node.h"
#include "common/service.h"
#include "tsdb/tsdb_server.h"

int main(int argc, char** argv) {
  using namespace strata;
  tsdb::tune_allocator_for_queries();
  config::Schema schema;
  add_logging_options(schema);
  add_query_node_options(schema);
  return run_main("strata-query",
                  "Query node: answers PromQL and log queries over the tsdb and logindex "
                  "shards it is given, holding no data itself.",
                  schema, argc, argv, [](const config::Config& c) {
                    QueryNode node(c);
                    node.start();
                    wait_for_shutdown_signal();
                    node.stop();
                    return 0;
                  });
}
