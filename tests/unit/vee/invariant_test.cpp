#include <catch2/catch.hpp>

#include "storage/vee/engine.hpp"
#include "storage/vee/invariant.hpp"
#include "storage/vee/versioning.hpp"
#include "vee_fixtures.hpp"

using namespace ami::storage::vee;
using namespace ami::storage::vee::test;

namespace {

std::vector<Interval> stored_as_version(std::vector<Interval> intervals, std::uint32_t version) {
  for (auto& iv : intervals) iv.version = version;
  return intervals;
}

}  // namespace

TEST_CASE("invariant: holds for derived and prorated intervals, fails when it should", "[vee][invariant]") {
  const auto truth = reads_of(registers_for(1'000, {100, 200, 300, 50, 0, 75}));
  // Only some reads reached the head-end: 0, 2, 6 (gaps get prorated).
  const std::vector<RegisterRead> collected{truth[0], truth[2], truth[6]};
  const auto result = run(input_for(collected, 6), VeeConfig{});
  const auto stored = stored_as_version(result.intervals, 1);
  SECTION("holds against the truth at every true read") {
    const auto report = check_invariant(spec(), collected, stored, {}, VeeConfig{});
    CHECK(report.holds());
    CHECK(report.spans_checked == 2);
  }
  SECTION("a wrong value is a violation naming the span") {
    auto broken = stored;
    broken[4].value_wh += 1;
    const auto report = check_invariant(spec(), collected, broken, {}, VeeConfig{});
    REQUIRE(report.violations.size() == 1);
    CHECK(report.violations[0].from == at_interval(2));
    CHECK(report.violations[0].sum_wh == report.violations[0].expected_wh + 1);
    CHECK(report.violations[0].describe().find("register delta") != std::string::npos);
  }
  SECTION("a missing interval is a violation") {
    auto broken = stored;
    broken.erase(broken.begin() + 1);
    const auto report = check_invariant(spec(), collected, broken, {}, VeeConfig{});
    REQUIRE(report.violations.size() == 1);
    CHECK(report.violations[0].missing == 1);
  }
  SECTION("only the latest version counts") {
    auto all = stored;
    auto old = stored[0];
    old.version = 0;  // an older version with a different value
    old.value_wh = 9'999;
    all.insert(all.begin(), old);
    CHECK(check_invariant(spec(), collected, all, {}, VeeConfig{}).holds());
    auto newer = stored[0];
    newer.version = 2;
    newer.value_wh += 5;
    all.push_back(newer);
    CHECK_FALSE(check_invariant(spec(), collected, all, {}, VeeConfig{}).holds());
  }
}

TEST_CASE("invariant: backfill actuals superseding estimates keep it true", "[vee][invariant][versioning]") {
  auto truth = reads_of(registers_for(0, {10, 20, 30, 40, 50, 60, 70, 80}));
  // First pass: reads 0..2 only, the meter then went silent; trailing intervals estimated.
  auto first = run(input_for({truth[0], truth[1], truth[2]}, 8), VeeConfig{});
  auto stored = stored_as_version(first.intervals, 1);
  // Backfill: everything arrives; plan the new versions and store them.
  auto second = run(input_for(truth, 8), VeeConfig{});
  const auto writes = plan_writes(latest_versions(stored), second.intervals);
  CHECK(writes.size() == 6);  // the 6 estimates superseded, the 2 actuals kept
  stored.insert(stored.end(), writes.begin(), writes.end());
  CHECK(check_invariant(spec(), truth, stored, {}, VeeConfig{}).holds());
}

TEST_CASE("invariant: rollover and replacement spans", "[vee][invariant][rollover][replacement]") {
  const auto reads = reads_of({999'999'800, 100, 7'654'000, 300});
  std::vector<MeterEvent> events{{EventKind::meter_replaced, at_interval(2) + 1min, {}, {}, 7'654'100, 0}};
  auto in = input_for(reads, 3);
  in.events = events;
  // The read at 2 is before the swap; the jump 100 -> 7,654,000 would be an implausible 7.6 MWh:
  // use an old meter whose register really was there.
  in.reads[1].register_wh = 7'653'900;
  in.reads[0].register_wh = 7'653'800;
  const auto result = run(in, VeeConfig{});
  const auto stored = stored_as_version(result.intervals, 1);
  const auto report = check_invariant(spec(), in.reads, stored, events, VeeConfig{});
  CHECK(report.holds());
  CHECK(result.intervals[2].value_wh == 100 + 300);

  const auto wrapped = reads_of({999'999'800, 100, 400});
  const auto wrapped_result = run(input_for(wrapped, 2), VeeConfig{});
  CHECK(check_invariant(spec(), wrapped, stored_as_version(wrapped_result.intervals, 1), {}, VeeConfig{}).holds());
  CHECK(wrapped_result.intervals[0].value_wh == 300);

  std::vector<MeterEvent> unknown{{EventKind::meter_replaced, at_interval(2) + 1min, {}, {}, std::nullopt, std::nullopt}};
  const auto unverifiable = check_invariant(spec(), in.reads, stored, unknown, VeeConfig{});
  CHECK(unverifiable.unverifiable == 1);
}
