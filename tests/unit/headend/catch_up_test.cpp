#include <catch2/catch.hpp>

#include "headend/collection/catch_up.hpp"

using namespace ami;
using namespace ami::collection;
using namespace std::chrono_literals;

namespace {
const MeterTarget kMeter{"m1", "dlt645-2007", "tcp://127.0.0.1:1", {}, 480};
UtcSeconds at(const char* t) { return *parse_utc(t); }
}  // namespace

TEST_CASE("catch-up reads the gap in chunks that each re-read the boundary before them", "[catch_up]") {
  // Stored up to 00:00; the daemon's first cycle will be 03:00 (which reads 02:45 and 03:00).
  const auto jobs = plan_catch_up(kMeter, at("2026-01-05T00:00:00Z"), at("2026-01-05T03:00:00Z"), 15min, 24h,
                                  UtcMillis{at("2026-01-05T02:50:00Z")});
  // Missing boundaries 00:15 .. 02:30 = 10, in chunks of 7 new boundaries: 00:00->01:45, 01:45->02:30.
  REQUIRE(jobs.size() == 2);
  CHECK(jobs[0].boundary == at("2026-01-05T01:45:00Z"));
  CHECK(jobs[0].records == 8);
  CHECK(jobs[1].boundary == at("2026-01-05T02:30:00Z"));
  CHECK(jobs[1].records == 4);
  for (const auto& j : jobs) {
    CHECK(j.source == storage::ReadSource::backfill);
    CHECK(j.priority == Priority::backfill);
    CHECK(j.meter.meter_id == "m1");
  }
}

TEST_CASE("no catch-up when nothing is missing or the meter was never read", "[catch_up]") {
  const auto now = UtcMillis{at("2026-01-05T02:50:00Z")};
  CHECK(plan_catch_up(kMeter, at("2026-01-05T02:30:00Z"), at("2026-01-05T03:00:00Z"), 15min, 24h, now).empty());
  CHECK(plan_catch_up(kMeter, at("2026-01-05T02:45:00Z"), at("2026-01-05T03:00:00Z"), 15min, 24h, now).empty());
  CHECK(plan_catch_up(kMeter, std::nullopt, at("2026-01-05T03:00:00Z"), 15min, 24h, now).empty());
  // One boundary missing (02:15 stored, 02:30 missing): one job of 2 records.
  const auto one = plan_catch_up(kMeter, at("2026-01-05T02:15:00Z"), at("2026-01-05T03:00:00Z"), 15min, 24h, now);
  REQUIRE(one.size() == 1);
  CHECK(one[0].boundary == at("2026-01-05T02:30:00Z"));
  CHECK(one[0].records == 2);
}

TEST_CASE("catch-up does not reach further back than the lookback", "[catch_up]") {
  const auto jobs = plan_catch_up(kMeter, at("2026-01-01T00:00:00Z"), at("2026-01-05T03:00:00Z"), 15min, 2h,
                                  UtcMillis{at("2026-01-05T02:50:00Z")});
  REQUIRE_FALSE(jobs.empty());
  const auto first_start = jobs.front().boundary - 15min * (jobs.front().records - 1);
  CHECK(first_start == at("2026-01-05T00:45:00Z"));
  CHECK(jobs.back().boundary == at("2026-01-05T02:30:00Z"));
}
