// TempDb: a tsdb DB in a fresh temporary directory, removed afterwards, for
// unit tests. Maintenance runs only when a test calls maintain(); the WAL
// does not fsync (a process crash is what the tests simulate).
#pragma once

#include <filesystem>
#include <memory>

#include "tests/support/process.h"
#include "tsdb/db.h"

namespace strata::tsdb::testdb {

inline DBOptions test_options(DBOptions o = {}) {
  o.maintenance_interval = std::chrono::milliseconds(0);
  o.fsync = FsyncPolicy::kNever;
  return o;
}

struct TempDb {
  DBOptions options;
  std::unique_ptr<DB> db;

  explicit TempDb(DBOptions o = {}) : options(test_options(o)) {
    options.dir = strata::testing::temp_dir("strata-tsdb");
    db = std::make_unique<DB>(options);
  }
  // Closes and opens the same directory (a restart).
  DB& reopen() {
    db.reset();
    db = std::make_unique<DB>(options);
    return *db;
  }
  ~TempDb() {
    db.reset();
    std::error_code ec;
    std::filesystem::remove_all(options.dir, ec);
  }
};

}  // namespace strata::tsdb::testdb
