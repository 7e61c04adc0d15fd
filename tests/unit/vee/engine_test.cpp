#include <catch2/catch.hpp>

#include <numeric>

#include "storage/vee/engine.hpp"
#include "storage/vee/invariant.hpp"
#include "vee_fixtures.hpp"

using namespace ami::storage::vee;
using namespace ami::storage::vee::test;
using ami::storage::EstimationMethod;
using ami::storage::IntervalStatus;

namespace {

std::int64_t total(const std::vector<Interval>& intervals) {
  return std::accumulate(intervals.begin(), intervals.end(), std::int64_t{0},
                         [](std::int64_t s, const Interval& iv) { return s + iv.value_wh; });
}

// Realistic-ish day: quiet nights, evening peak (Wh per 15 min).
std::vector<std::int64_t> household_day() {
  std::vector<std::int64_t> day(96);
  for (std::size_t i = 0; i < 96; ++i) day[i] = (i >= 68 && i < 88) ? 300 : (i >= 28 ? 150 : 60);
  return day;
}

}  // namespace

TEST_CASE("engine: clean reads give actual intervals with no flags", "[vee][engine]") {
  const std::vector<std::int64_t> usage{120, 80, 0, 95, 130};
  auto result = run(input_for(reads_of(registers_for(5'000, usage)), 5), VeeConfig{});
  REQUIRE(result.intervals.size() == 5);
  CHECK(values_of(result.intervals) == usage);
  for (std::size_t i = 0; i < usage.size(); ++i) {
    const auto& iv = result.intervals[i];
    CHECK(iv.end == at_interval(static_cast<std::int64_t>(i) + 1));
    CHECK(iv.status == IntervalStatus::actual);
    CHECK(iv.flags == 0);
    CHECK(iv.method == EstimationMethod::none);
    CHECK(iv.register_end_wh == iv.register_start_wh.value() + usage[i]);
  }
  CHECK(result.findings.empty());
}

TEST_CASE("engine: CT x PT multiplies the register delta", "[vee][engine]") {
  auto in = input_for(reads_of({1'000, 1'010, 1'025}), 2);
  in.spec.multiplier = 40;  // CT 200/5
  const auto result = run(in, VeeConfig{});
  CHECK(values_of(result.intervals) == std::vector<std::int64_t>{400, 600});
}

TEST_CASE("engine: gap with both registers is the exact delta, prorated", "[vee][engine][estimation]") {
  // Reads at 0 and 4 only: 3 boundaries missing, 400 Wh in between.
  std::vector<RegisterRead> reads{snapshot_read(0, 10'000), snapshot_read(4, 10'400), snapshot_read(5, 10'500)};
  SECTION("evenly without history") {
    const auto result = run(input_for(reads, 5), VeeConfig{});
    REQUIRE(result.intervals.size() == 5);
    for (std::size_t i = 0; i < 4; ++i) {
      const auto& iv = result.intervals[i];
      CHECK(iv.value_wh == 100);
      CHECK(iv.status == IntervalStatus::estimated);
      CHECK(iv.method == EstimationMethod::register_prorated_even);
      CHECK(has(iv.flags, Flag::estimated));
      CHECK(has(iv.flags, Flag::skipped_interval));
    }
    CHECK(result.intervals[0].register_start_wh == 10'000);
    CHECK(result.intervals[3].register_end_wh == 10'400);
    CHECK(result.intervals[4].status == IntervalStatus::actual);
  }
  SECTION("by like-day shape with history") {
    // Previous day at the same slots used 10, 30, 40, 20.
    const std::vector<Interval> history{actual(-95, 10), actual(-94, 30), actual(-93, 40), actual(-92, 20)};
    auto in = input_for(reads, 5);
    in.history = history;
    const auto result = run(in, VeeConfig{});
    REQUIRE(result.intervals.size() == 5);
    CHECK(values_of(result.intervals) == std::vector<std::int64_t>{40, 120, 160, 80, 100});
    CHECK(result.intervals[0].method == EstimationMethod::register_prorated_shape);
  }
}

TEST_CASE("engine: trailing gap without an anchor: linear when short, like-day when long", "[vee][engine][estimation]") {
  const auto history = history_days(8, household_day());
  SECTION("short gap (<= 2 h) carries the last value") {
    auto in = input_for(reads_of(registers_for(0, {60, 60})), 6);  // reads to 2, expected to 6
    in.history = history;
    const auto result = run(in, VeeConfig{});
    REQUIRE(result.intervals.size() == 6);
    for (std::size_t i = 2; i < 6; ++i) {
      CHECK(result.intervals[i].method == EstimationMethod::linear_interpolation);
      CHECK(result.intervals[i].value_wh == 60);
      CHECK(result.intervals[i].status == IntervalStatus::estimated);
    }
  }
  SECTION("long gap takes like days") {
    auto in = input_for(reads_of(registers_for(0, {60, 60})), 96);  // a whole day missing
    in.history = history;
    const auto result = run(in, VeeConfig{});
    REQUIRE(result.intervals.size() == 96);
    const auto day = household_day();
    for (std::size_t i = 2; i < 96; ++i) {
      CAPTURE(i);
      CHECK(result.intervals[i].method == EstimationMethod::like_day);
      CHECK(result.intervals[i].value_wh == day[(i + 1) % 96]);
    }
  }
  SECTION("cap on unanchored estimates") {
    VeeConfig config;
    config.max_unanchored_intervals = 10;
    auto in = input_for(reads_of(registers_for(0, {60, 60})), 96);
    in.history = history;
    CHECK(run(in, config).intervals.size() == 12);
  }
  SECTION("estimation off leaves the gap") {
    VeeConfig config;
    config.estimate_gaps = false;
    CHECK(run(input_for(reads_of(registers_for(0, {60, 60})), 6), config).intervals.size() == 2);
  }
}

TEST_CASE("engine: a trailing gap after a prorated gap carries the prorated value", "[vee][engine][estimation]") {
  // Reads at 0 and 3 only (1..3 prorated to 100 each), nothing after: 4 and 5 carry 100.
  const auto result = run(input_for({snapshot_read(0, 0), snapshot_read(3, 300)}, 5), VeeConfig{});
  REQUIRE(result.intervals.size() == 5);
  CHECK(values_of(result.intervals) == std::vector<std::int64_t>{100, 100, 100, 100, 100});
  CHECK(result.intervals[4].method == EstimationMethod::linear_interpolation);
}

TEST_CASE("engine: a late read re-estimates the whole gap from its anchors", "[vee][engine][estimation]") {
  // Window starts at 4, but the last read before it was at 1: the gap 1..4 is re-derived.
  std::vector<RegisterRead> reads{snapshot_read(0, 0), snapshot_read(1, 50), snapshot_read(6, 550)};
  auto in = input_for(reads, 6, 4);
  const auto result = run(in, VeeConfig{});
  REQUIRE(result.intervals.size() == 5);
  CHECK(result.intervals.front().end == at_interval(2));
  CHECK(total(result.intervals) == 500);
}

TEST_CASE("engine: rollover gives the exact small interval, flagged", "[vee][engine][rollover]") {
  const auto result = run(input_for(reads_of({999'999'700, 999'999'900, 150, 400}), 3), VeeConfig{});
  REQUIRE(result.intervals.size() == 3);
  CHECK(values_of(result.intervals) == std::vector<std::int64_t>{200, 250, 250});
  CHECK(result.intervals[1].status == IntervalStatus::actual);
  CHECK(has(result.intervals[1].flags, Flag::rollover));
  CHECK_FALSE(has(result.intervals[0].flags, Flag::rollover));
}

TEST_CASE("engine: meter replacement never yields a huge or negative interval", "[vee][engine][replacement]") {
  // Old meter at 7,654,300 Wh; swapped during interval 2; new meter starts at 0.
  std::vector<RegisterRead> reads = reads_of({7'654'000, 7'654'300, 40, 240});
  SECTION("registry event with both registers: exact") {
    auto in = input_for(reads, 3);
    in.events.push_back({EventKind::meter_replaced, at_interval(1) + 7min, {}, {}, 7'654'420, 0});
    const auto result = run(in, VeeConfig{});
    CHECK(values_of(result.intervals) == std::vector<std::int64_t>{300, 160, 200});
    CHECK(result.intervals[1].status == IntervalStatus::actual);
    CHECK(has(result.intervals[1].flags, Flag::meter_replaced));
  }
  SECTION("registry event without registers: that interval is estimated") {
    auto in = input_for(reads, 3);
    in.events.push_back({EventKind::meter_replaced, at_interval(1) + 7min, {}, {}, std::nullopt, std::nullopt});
    const auto result = run(in, VeeConfig{});
    REQUIRE(result.intervals.size() == 3);
    CHECK(result.intervals[1].status == IntervalStatus::estimated);
    CHECK(result.intervals[1].method == EstimationMethod::linear_interpolation);
    CHECK(result.intervals[1].value_wh == 250);  // between 300 and 200
    CHECK(has(result.intervals[1].flags, Flag::meter_replaced));
  }
  SECTION("no event: a reset is held as suspect, not guessed") {
    const auto result = run(input_for(reads, 3), VeeConfig{});
    CHECK(result.intervals[1].status == IntervalStatus::suspect);
    CHECK(has(result.intervals[1].flags, Flag::reverse_rotation));
    CHECK(result.intervals[2].value_wh == 200);
  }
}

TEST_CASE("engine: reverse rotation is suspect, bidirectional is energy", "[vee][engine][reverse]") {
  const auto reads = reads_of({1'000, 1'100, 1'040, 1'030});
  const auto result = run(input_for(reads, 3), VeeConfig{});
  REQUIRE(result.intervals.size() == 3);
  CHECK(result.intervals[1].status == IntervalStatus::suspect);
  CHECK(result.intervals[1].value_wh == -60);  // kept so the store still adds up
  CHECK(has(result.intervals[1].flags, Flag::reverse_rotation));

  auto in = input_for(reads, 3);
  in.spec.bidirectional = true;
  const auto net = run(in, VeeConfig{});
  CHECK(values_of(net.intervals) == std::vector<std::int64_t>{100, -60, -10});
  for (const auto& iv : net.intervals) CHECK(iv.status == IntervalStatus::actual);
}

TEST_CASE("engine: an outlier read is replaced by an anchored estimate", "[vee][engine][reverse]") {
  const auto result = run(input_for(reads_of({0, 100, 99'999, 300, 400}), 4), VeeConfig{});
  REQUIRE(result.intervals.size() == 4);
  CHECK(values_of(result.intervals) == std::vector<std::int64_t>{100, 100, 100, 100});
  CHECK(result.intervals[1].method == EstimationMethod::register_prorated_even);
  CHECK(has(result.intervals[1].flags, Flag::outlier_read));
  CHECK(has(result.intervals[2].flags, Flag::outlier_read));
  REQUIRE(result.findings.size() == 1);
  CHECK(result.findings[0].flag == Flag::outlier_read);
}

TEST_CASE("engine: plain reads outside the time tolerance are not anchors", "[vee][engine][time]") {
  auto reads = reads_of({0, 100, 200, 300});
  for (auto& r : reads) r.snapshot = false;
  reads[2].taken_at += 10min;  // read 10 minutes late: the register is not reg(boundary 2)
  reads[2].register_wh = 260;
  const auto result = run(input_for(reads, 3), VeeConfig{});
  REQUIRE(result.intervals.size() == 3);
  CHECK(result.intervals[1].value_wh + result.intervals[2].value_wh == 200);
  CHECK(result.intervals[1].status == IntervalStatus::estimated);
  CHECK(has(result.intervals[1].flags, Flag::time_tolerance));
  CHECK(has(result.intervals[2].flags, Flag::time_tolerance));
}

TEST_CASE("engine: meter clock jump between reads flags the intervals between", "[vee][engine][clock]") {
  auto reads = reads_of({0, 100, 200, 300});
  for (auto& r : reads) r.meter_time = r.taken_at + 5s;
  *reads[3].meter_time += 1h;  // clock set forward an hour before the last read
  const auto result = run(input_for(reads, 3), VeeConfig{});
  REQUIRE(result.intervals.size() == 3);
  CHECK(has(result.intervals[2].flags, Flag::clock_set_forward));
  CHECK(has(result.intervals[2].flags, Flag::time_tolerance));  // now an hour off: outside 300 s
  CHECK_FALSE(has(result.intervals[1].flags, Flag::clock_set_forward));
  CHECK(values_of(result.intervals) == std::vector<std::int64_t>{100, 100, 100});
}

TEST_CASE("engine: conflicting duplicate flags both neighbours, first value kept", "[vee][engine][duplicates]") {
  auto reads = reads_of({0, 100, 200});
  reads.push_back(snapshot_read(1, 100));  // identical: silent
  reads.push_back(snapshot_read(1, 150));  // conflicting
  const auto result = run(input_for(reads, 2), VeeConfig{});
  CHECK(values_of(result.intervals) == std::vector<std::int64_t>{100, 100});
  CHECK(result.duplicate_reads == 1);
  CHECK(has(result.intervals[0].flags, Flag::duplicate_conflict));
  CHECK(has(result.intervals[1].flags, Flag::duplicate_conflict));
}

TEST_CASE("engine: hourly freezes backfill 15-minute intervals by shape", "[vee][engine][backfill]") {
  // Only hourly register freezes (every 4th boundary) for a day, with a week of history.
  const auto day = household_day();
  std::vector<RegisterRead> reads;
  std::int64_t reg = 1'000'000;
  for (std::int64_t k = 0; k <= 96; ++k) {
    if (k % 4 == 0) {
      auto r = snapshot_read(k, reg);
      r.source = ami::storage::ReadSource::backfill;
      reads.push_back(r);
    }
    if (k < 96) reg += day[static_cast<std::size_t>(k + 1) % 96];
  }
  auto in = input_for(reads, 96);
  const auto history = history_days(7, day);
  in.history = history;
  const auto result = run(in, VeeConfig{});
  REQUIRE(result.intervals.size() == 96);
  for (std::size_t i = 0; i < 96; ++i) {
    CAPTURE(i);
    CHECK(result.intervals[i].value_wh == day[(i + 1) % 96]);  // the shape reproduces the day
    CHECK(result.intervals[i].method == EstimationMethod::register_prorated_shape);
  }
  CHECK(total(result.intervals) == reg - 1'000'000);
}

TEST_CASE("engine: power-down zeros are flagged as power-down, not zero usage", "[vee][engine][events]") {
  std::vector<std::int64_t> usage(30, 100);
  for (std::size_t i = 5; i < 25; ++i) usage[i] = 0;
  auto in = input_for(reads_of(registers_for(0, usage)), 30);
  SECTION("without the event the run is zero usage") {
    const auto result = run(in, VeeConfig{});
    CHECK(has(result.intervals[10].flags, Flag::zero_usage));
    CHECK_FALSE(has(result.intervals[4].flags, Flag::zero_usage));
  }
  SECTION("with the event it is power-down") {
    in.events.push_back({EventKind::power_down, at_interval(5), at_interval(25), {}, {}, {}});
    const auto result = run(in, VeeConfig{});
    CHECK(has(result.intervals[10].flags, Flag::power_down));
    CHECK_FALSE(has(result.intervals[10].flags, Flag::zero_usage));
  }
}

TEST_CASE("engine: a meter with no reads and no history produces nothing", "[vee][engine]") {
  CHECK(run(input_for({}, 10), VeeConfig{}).intervals.empty());
}

TEST_CASE("engine: reads off the interval grid are reported and skipped", "[vee][engine]") {
  auto reads = reads_of({0, 100, 200});
  auto odd = snapshot_read(1, 150);
  odd.boundary += 7min;
  reads.push_back(odd);
  const auto result = run(input_for(reads, 2), VeeConfig{});
  CHECK(values_of(result.intervals) == std::vector<std::int64_t>{100, 100});
  REQUIRE(result.findings.size() == 1);
  CHECK(result.findings[0].detail.find("not on the interval grid") != std::string::npos);
}
