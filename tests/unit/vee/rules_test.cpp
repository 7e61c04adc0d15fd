#include <catch2/catch.hpp>

#include "storage/vee/rules.hpp"
#include "vee_fixtures.hpp"

using namespace ami::storage::vee;
using namespace ami::storage::vee::test;

namespace {

std::vector<Interval> day_of(std::int64_t first_k, const std::vector<std::int64_t>& values) {
  std::vector<Interval> out;
  for (std::size_t i = 0; i < values.size(); ++i) out.push_back(actual(first_k + static_cast<std::int64_t>(i), values[i]));
  return out;
}

std::vector<std::size_t> flagged(const std::vector<Interval>& intervals, Flag flag) {
  std::vector<std::size_t> idx;
  for (std::size_t i = 0; i < intervals.size(); ++i) {
    if (has(intervals[i].flags, flag)) idx.push_back(i);
  }
  return idx;
}

}  // namespace

TEST_CASE("rule duplicates: identical repeats dropped, conflicts reported, first kept", "[vee][rules][duplicates]") {
  std::vector<RegisterRead> reads{snapshot_read(2, 300), snapshot_read(0, 100), snapshot_read(1, 200),
                                  snapshot_read(1, 200), snapshot_read(2, 999), snapshot_read(2, 301)};
  const auto outcome = remove_duplicate_reads(reads, VeeConfig{});
  REQUIRE(reads.size() == 3);
  CHECK(reads[0].register_wh == 100);
  CHECK(reads[1].register_wh == 200);
  CHECK(reads[2].register_wh == 300);
  CHECK(outcome.identical == 1);
  REQUIRE(outcome.conflicting.size() == 1);  // boundary 2 reported once
  CHECK(outcome.conflicting[0] == at_interval(2));

  VeeConfig off;
  off.check_duplicates = false;
  std::vector<RegisterRead> again{snapshot_read(1, 200), snapshot_read(1, 201)};
  CHECK(remove_duplicate_reads(again, off).conflicting.empty());
  CHECK(again.size() == 1);
}

TEST_CASE("rule time tolerance: plain reads far from the boundary are not anchors (table)", "[vee][rules][time]") {
  const VeeConfig config;  // 60 s
  struct Row {
    const char* name;
    bool snapshot;
    std::chrono::milliseconds taken_after_boundary;
    bool outside;
  };
  const Row rows[] = {
      {"plain read on time", false, 5s, false},
      {"plain read at the limit", false, 60s, false},
      {"plain read late", false, 61s, true},
      {"plain read early", false, -90s, true},
      {"snapshot late is fine", true, 600s, false},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    auto read = snapshot_read(4, 100);
    read.snapshot = row.snapshot;
    read.taken_at = std::chrono::time_point_cast<std::chrono::milliseconds>(read.boundary) + row.taken_after_boundary;
    CHECK(outside_read_tolerance(read, config) == row.outside);
  }
  VeeConfig off;
  off.check_time_tolerance = false;
  auto late = snapshot_read(4, 100);
  late.snapshot = false;
  late.taken_at += 1h;
  CHECK_FALSE(outside_read_tolerance(late, off));
}

TEST_CASE("rule meter clock and clock jumps (table)", "[vee][rules][time][clock]") {
  const VeeConfig config;  // tolerance 300 s, jump 120 s
  const auto with_offset = [](std::int64_t k, std::chrono::seconds offset) {
    auto read = snapshot_read(k, 100);
    read.meter_time = read.taken_at + offset;
    return read;
  };
  CHECK_FALSE(meter_clock_off(with_offset(1, 299s), config));
  CHECK(meter_clock_off(with_offset(1, 301s), config));
  CHECK(meter_clock_off(with_offset(1, -400s), config));
  CHECK_FALSE(meter_clock_off(snapshot_read(1, 100), config));  // no meter time: nothing to judge

  struct Row {
    std::chrono::seconds before;
    std::chrono::seconds after;
    std::optional<Flag> jump;
  };
  const Row rows[] = {
      {0s, 100s, std::nullopt},
      {0s, 3600s, Flag::clock_set_forward},
      {3600s, 0s, Flag::clock_set_backward},
      {-30s, -200s, Flag::clock_set_backward},
  };
  for (const auto& row : rows) {
    CAPTURE(row.before.count(), row.after.count());
    CHECK(clock_jump(with_offset(1, row.before), with_offset(2, row.after), config) == row.jump);
  }
}

TEST_CASE("rule outlier reads: a read out of line with consistent neighbours (table)", "[vee][rules][reverse]") {
  struct Row {
    const char* name;
    std::vector<std::int64_t> registers;
    std::vector<std::size_t> outliers;
  };
  const Row rows[] = {
      {"clean", {100, 200, 300, 400}, {}},
      {"one read far too high", {100, 200, 90'000, 400, 500}, {2}},
      {"one read too low", {100'000, 100'200, 5, 100'400, 100'500}, {2}},
      {"a small dip is reverse rotation, not a misread", {100, 200, 5, 400, 500}, {}},
      {"real reverse rotation stays down", {1'000, 900, 950, 1'000}, {}},
      {"rollover is not an outlier", {999'999'800, 999'999'900, 100, 200}, {}},
      {"first and last reads are never judged", {900'000, 100, 200, 5}, {}},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    const auto reads = reads_of(row.registers);
    CHECK(outlier_reads(reads, spec(), {}, VeeConfig{}) == row.outliers);
  }
  auto bidirectional = spec();
  bidirectional.bidirectional = true;
  CHECK(outlier_reads(reads_of({100, 200, 900'000, 400}), bidirectional, {}, VeeConfig{}).empty());
  VeeConfig off;
  off.reject_outlier_reads = false;
  CHECK(outlier_reads(reads_of({100, 200, 900'000, 400}), spec(), {}, off).empty());
}

TEST_CASE("rule spike: above factor x the trailing day's third-highest", "[vee][rules][spike]") {
  VeeConfig config;  // factor 3, min excess 2000
  std::vector<std::int64_t> values(96, 400);
  values[10] = 1'000;
  values[20] = 900;
  SECTION("no spike in a normal day") {
    auto day = day_of(1, values);
    const std::vector<Interval> none;
    flag_spikes(day, Timeline(none, day), spec(), config);
    CHECK(flagged(day, Flag::spike).empty());
  }
  SECTION("one interval at 20x") {
    values[50] = 8'000;
    auto day = day_of(1, values);
    const std::vector<Interval> none;
    flag_spikes(day, Timeline(none, day), spec(), config);
    CHECK(flagged(day, Flag::spike) == std::vector<std::size_t>{50});
  }
  SECTION("big but not beyond the factor") {
    values[50] = 2'600;  // third highest is 900: 2,600 < 3 x 900
    auto day = day_of(1, values);
    const std::vector<Interval> none;
    flag_spikes(day, Timeline(none, day), spec(), config);
    CHECK(flagged(day, Flag::spike).empty());
  }
  SECTION("small absolute excess is not a spike") {
    std::vector<std::int64_t> quiet(96, 10);
    quiet[50] = 500;  // 50x but only 490 Wh above
    auto day = day_of(1, quiet);
    const std::vector<Interval> none;
    flag_spikes(day, Timeline(none, day), spec(), config);
    CHECK(flagged(day, Flag::spike).empty());
  }
  SECTION("too little context: no judgement") {
    auto few = day_of(1, {400, 400, 9'000});
    const std::vector<Interval> none;
    flag_spikes(few, Timeline(none, few), spec(), config);
    CHECK(flagged(few, Flag::spike).empty());
  }
  SECTION("switched off") {
    values[50] = 8'000;
    config.check_spike = false;
    auto day = day_of(1, values);
    const std::vector<Interval> none;
    flag_spikes(day, Timeline(none, day), spec(), config);
    CHECK(flagged(day, Flag::spike).empty());
  }
}

TEST_CASE("rule high/low against the meter's own history (table)", "[vee][rules][highlow]") {
  VeeConfig config;  // high 5x & +2000, low off by default
  config.low_factor = 0.1;
  const auto history = history_days(14, std::vector<std::int64_t>(96, 1'000));
  struct Row {
    const char* name;
    std::int64_t value;
    int history_days_available;
    Flags expected;
  };
  const Row rows[] = {
      {"normal", 1'200, 14, 0},
      {"high", 7'000, 14, static_cast<Flags>(Flag::usage_high)},
      {"just under high", 5'000, 14, 0},
      {"low", 50, 14, static_cast<Flags>(Flag::usage_low)},
      {"too little history", 7'000, 6, 0},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    const auto first = history.size() - static_cast<std::size_t>(row.history_days_available) * 96;
    const std::span<const Interval> h(history.data() + first, history.size() - first);
    std::vector<Interval> target{actual(96, row.value)};
    flag_high_low(target, Timeline(h, target), spec(), config);
    CHECK(describe(target[0].flags) == describe(row.expected));
  }
  SECTION("export channel only when asked") {
    auto export_spec = spec();
    export_spec.channel = ami::storage::EnergyChannel::reverse_active;
    std::vector<Interval> target{actual(96, 7'000)};
    flag_high_low(target, Timeline(history, target), export_spec, config);
    CHECK(target[0].flags == 0);
    config.high_low_on_reverse_channel = true;
    flag_high_low(target, Timeline(history, target), export_spec, config);
    CHECK(has(target[0].flags, Flag::usage_high));
  }
}

TEST_CASE("rule consecutive zeros: runs of N zeros, history counts, power-down excuses", "[vee][rules][zeros]") {
  VeeConfig config;
  config.zero_run_intervals = 4;
  const std::vector<Interval> none;
  SECTION("run of 3 is fine, run of 4 is flagged") {
    auto series = day_of(1, {5, 0, 0, 0, 5, 0, 0, 0, 0, 5});
    flag_zero_runs(series, Timeline(none, series), spec(), config);
    CHECK(flagged(series, Flag::zero_usage) == std::vector<std::size_t>{5, 6, 7, 8});
  }
  SECTION("zeros in the history complete the run") {
    const std::vector<Interval> history{actual(-1, 0), actual(0, 0)};
    auto series = day_of(1, {0, 0, 7});
    flag_zero_runs(series, Timeline(history, series), spec(), config);
    CHECK(flagged(series, Flag::zero_usage) == std::vector<std::size_t>{0, 1});
  }
  SECTION("power-down zeros are explained") {
    auto series = day_of(1, {0, 0, 0, 0, 0});
    for (auto& iv : series) set(iv.flags, Flag::power_down);
    flag_zero_runs(series, Timeline(none, series), spec(), config);
    CHECK(flagged(series, Flag::zero_usage).empty());
  }
  SECTION("import zeros while exporting are a prosumer, not a dead meter") {
    auto series = day_of(1, {0, 0, 0, 0, 0, 0});
    const auto exported = day_of(1, {0, 0, 40, 90, 0, 0});
    const Timeline opposite(exported, none);
    flag_zero_runs(series, Timeline(none, series), spec(), config, &opposite);
    CHECK(flagged(series, Flag::zero_usage).empty());
    const auto quiet = day_of(1, {0, 0, 0, 0, 0, 0});
    const Timeline quiet_opposite(quiet, none);
    flag_zero_runs(series, Timeline(none, series), spec(), config, &quiet_opposite);
    CHECK(flagged(series, Flag::zero_usage).size() == 6);
  }
  SECTION("export channel is quiet at night unless asked") {
    auto s = spec();
    s.channel = ami::storage::EnergyChannel::reverse_active;
    auto series = day_of(1, {0, 0, 0, 0, 0});
    flag_zero_runs(series, Timeline(none, series), s, config);
    CHECK(flagged(series, Flag::zero_usage).empty());
    config.zeros_on_reverse_channel = true;
    flag_zero_runs(series, Timeline(none, series), s, config);
    CHECK(flagged(series, Flag::zero_usage).size() == 5);
  }
}

TEST_CASE("rule events: power-down, clock set and replacement flag the intervals they touch", "[vee][rules][events]") {
  auto series = day_of(1, {10, 10, 10, 10, 10, 10});  // ends at boundaries 1..6
  std::vector<MeterEvent> events;
  events.push_back({EventKind::power_down, at_interval(1) + 5min, at_interval(3) + 1min, {}, {}, {}});
  events.push_back({EventKind::clock_set, at_interval(4) + 7min, {}, std::chrono::seconds{3600}, {}, {}});
  events.push_back({EventKind::clock_set, at_interval(5), {}, std::chrono::seconds{-600}, {}, {}});
  events.push_back({EventKind::meter_replaced, at_interval(0) + 1min, {}, {}, {}, {}});
  flag_events(series, events, spec(), VeeConfig{});
  CHECK(flagged(series, Flag::power_down) == std::vector<std::size_t>{1, 2, 3});
  CHECK(flagged(series, Flag::clock_set_forward) == std::vector<std::size_t>{4});
  CHECK(flagged(series, Flag::clock_set_backward) == std::vector<std::size_t>{5});
  CHECK(flagged(series, Flag::meter_replaced) == std::vector<std::size_t>{0});
}

TEST_CASE("rule sum check (table)", "[vee][rules][sum]") {
  const auto series = day_of(1, {100, 250, 0, 50});
  CHECK(sum_matches(series, 400));
  CHECK_FALSE(sum_matches(series, 399));
  CHECK_FALSE(sum_matches(series, 410));
  CHECK(sum_matches({}, 0));
}
