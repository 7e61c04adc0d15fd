// Helpers for the storage tests: a fresh database file per test, meters and reads in one line.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

#include "storage/sqlite.hpp"
#include "storage/store_writer.hpp"
#include "storage/types.hpp"

namespace ami::storage::test {

// A database path unique to this test process (ctest runs test cases in parallel processes);
// the file and its WAL/SHM companions are removed before and after.
class TempDb {
 public:
  explicit TempDb(const std::string& name)
      : path_(std::filesystem::path(AMI_TEST_TMP_DIR) / "storage" /
              (name + "-" + std::to_string(::getpid()) + ".db")) {
    std::filesystem::create_directories(path_.parent_path());
    remove_files();
  }
  ~TempDb() { remove_files(); }
  TempDb(const TempDb&) = delete;
  TempDb& operator=(const TempDb&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  [[nodiscard]] StoreOptions options() const {
    StoreOptions options;
    options.path = path_;
    return options;
  }

 private:
  void remove_files() {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::error_code ignored;
      std::filesystem::remove(path_.string() + suffix, ignored);
    }
  }
  std::filesystem::path path_;
};

inline UtcSeconds t0() { return *parse_utc("2026-01-05T00:00:00Z"); }
inline UtcSeconds at_minutes(int minutes) { return t0() + std::chrono::minutes{minutes}; }

inline MeterRecord dlt_meter(const std::string& id, std::int64_t ct = 1, std::int64_t pt = 1) {
  MeterRecord m;
  m.meter_id = id;
  m.protocol = "dlt645-2007";
  m.channel = "tcp://127.0.0.1:8899";
  m.address = "000000000001";
  m.model = "dlt645-generic";
  m.ct_ratio = ct;
  m.pt_ratio = pt;
  m.usage_point = "UP-" + id;
  return m;
}

inline BoundaryRead read_at(const std::string& id, int minutes, std::int64_t register_wh,
                            EnergyChannel channel = EnergyChannel::forward_active,
                            ReadSource source = ReadSource::scheduled) {
  BoundaryRead read;
  read.meter_id = id;
  read.channel = channel;
  read.boundary = at_minutes(minutes);
  read.register_wh = register_wh;
  read.collected_at = UtcMillis{read.boundary} + std::chrono::milliseconds{2500};
  read.source = source;
  return read;
}

// outcome and category: literals (AttemptRecord keeps views of them).
inline AttemptRecord attempt_for(const std::string& id, int minutes, int number,
                                 std::string_view outcome, std::string_view category) {
  AttemptRecord a;
  a.meter_id = id;
  a.channel = "tcp://127.0.0.1:8899";
  a.boundary = at_minutes(minutes);
  a.started_at = UtcMillis{a.boundary} + std::chrono::seconds{number};
  a.latency_ms = 120;
  a.attempt = number;
  a.outcome = outcome;
  a.category = category;
  return a;
}

// A fresh database with the current schema, opened raw, and the EXPLAIN QUERY PLAN text of a
// statement on it (one line per plan step), for tests that pin a query's plan.
class PlanChecker {
 public:
  explicit PlanChecker(const TempDb& db) : db_(with_schema(db), false, 1000) {}
  std::string plan_of(const std::string& sql) {
    auto query = db_.query("EXPLAIN QUERY PLAN " + sql);
    std::string plan;
    while (query->step()) plan += query->column_text(3) + "\n";
    return plan;
  }

 private:
  static const std::filesystem::path& with_schema(const TempDb& db) {
    StoreWriter writer(db.options());  // creates the schema
    return db.path();
  }
  Database db_;
};

}  // namespace ami::storage::test
