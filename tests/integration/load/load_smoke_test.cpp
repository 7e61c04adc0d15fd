// Smoke test of the load harness (issue 10): scripts/load.sh runs ami_load at 50 meters behind two
// gateways for one interval (meter-sim + headend + feed consumer + bare wire + one-meter baseline).
// It checks that the report carries every figure and that every read and interval made it; it
// asserts nothing about speed (speed is what the harness reports, docs/PERFORMANCE.md).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>

#include "tests/support/process.hpp"

TEST_CASE("load harness: smoke point reports every figure with 100% read success", "[integration][load]") {
  const auto dir = ami::test::fresh_temp_dir("load-smoke");
  const auto script = ami::test::source_dir() / "scripts" / "load.sh";
  const auto table = ami::test::run_and_capture(
      {"/bin/bash", script.string(), "--bin", ami::test::bin_dir().string(), "--out", dir.string(), "smoke"},
      std::chrono::seconds{120});
  INFO(table);
  CHECK(table.find("| reads/s") != std::string::npos);

  std::ifstream in(dir / "smoke.json");
  REQUIRE(in.good());
  const auto report = nlohmann::json::parse(in);
  const auto& run = report.at("run");

  CHECK(run.at("meters") == 50);
  CHECK(run.at("reads_scheduled") == 50);
  CHECK(run.at("reads_ok") == 50);
  CHECK(run.at("read_success") == 1.0);
  // Both energy channels of every meter: the cycle line's count, and what the consumer received.
  CHECK(run.at("intervals_expected") == 100);
  CHECK(run.at("intervals_received") == 100);

  for (const char* key : {"reads_per_second", "cpu_seconds_per_1000_reads", "busy_seconds", "startup_seconds",
                          "sqlite_bytes_per_meter_day", "ratio_to_bare_wire"}) {
    INFO(key);
    REQUIRE(run.at(key).is_number());
    CHECK(run.at(key).get<double>() > 0);
  }
  for (const char* key : {"transaction_latency_ms", "interval_to_feed_ms"}) {
    INFO(key);
    const auto& p = run.at(key);
    CHECK(p.at("p50").is_number());
    CHECK(p.at("p99").is_number());
    CHECK(p.at("p50").get<double>() <= p.at("p99").get<double>());
  }
  CHECK(run.at("transaction_latency_ms").at("count").get<int>() >= 50);
  CHECK(run.at("interval_to_feed_ms").at("count") == 100);

  const auto& bare = run.at("bare_wire");
  CHECK(bare.at("connections") == 2);
  CHECK(bare.at("replies") == 50);  // one round over the fleet, every frame answered
  CHECK(bare.at("reads_per_second").get<double>() > 0);

  // Memory per meter needs the one-meter baseline.
  CHECK(report.at("baseline").at("meters") == 1);
  CHECK(report.at("baseline").at("peak_kib").get<std::int64_t>() > 0);
  CHECK(report.at("bytes_per_meter").is_number());
}
