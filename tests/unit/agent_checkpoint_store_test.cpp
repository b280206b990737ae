// Tail checkpoints: the file round-trips (odd paths included), is replaced
// whole, and a damaged one is an error that says what to do.
#include <catch2/catch.hpp>

#include "agent/checkpoint_store.h"
#include "agent_test_util.h"
#include "common/file.h"

using namespace strata;
using namespace strata::agent;
using strata::agent::testing::TempDir;
using strata::agent::testing::write_file;

TEST_CASE("checkpoints: save, load, and skip unchanged writes", "[unit][agent][checkpoint]") {
  TempDir dir;
  CheckpointStore store(dir.path());
  CHECK_FALSE(store.load().has_value());
  std::vector<FilePosition> ps = {
      {"/var/log/app.log", 2049, 1234, 4096, 1024, 0xfedcba9876543210ULL},
      {std::string("/var/log/\"odd\\ name\n\xff\xc3.log"), 1, 2, 3, 3, 42},
  };
  store.save(ps);
  auto back = store.load();
  REQUIRE(back.has_value());
  REQUIRE(back->size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK((*back)[i].path == ps[i].path);
    CHECK((*back)[i].device == ps[i].device);
    CHECK((*back)[i].inode == ps[i].inode);
    CHECK((*back)[i].offset == ps[i].offset);
    CHECK((*back)[i].head_length == ps[i].head_length);
    CHECK((*back)[i].head_hash == ps[i].head_hash);
  }
  // Unchanged: no write (the file is left alone even if removed meanwhile).
  std::filesystem::remove(store.path());
  store.save(ps);
  CHECK_FALSE(std::filesystem::exists(store.path()));
  ps[0].offset = 5000;
  store.save(ps);
  CHECK(CheckpointStore(dir.path()).load()->at(0).offset == 5000);
}

TEST_CASE("checkpoints: a damaged file is an error naming it", "[unit][agent][checkpoint]") {
  TempDir dir;
  CheckpointStore store(dir.path());
  write_file(store.path().string(), "{\"version\":1,\"files\":[{\"path\":\"a\"");
  CHECK_THROWS_WITH(store.load(), Catch::Contains(store.path().string()) &&
                                      Catch::Contains("invalid JSON") &&
                                      Catch::Contains("move it away"));
  write_file(store.path().string(), "{\"version\":7,\"files\":[]}");
  CHECK_THROWS_WITH(store.load(), Catch::Contains("version 7"));
}
