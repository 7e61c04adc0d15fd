#include <catch2/catch.hpp>

#include "storage/vee/register_delta.hpp"
#include "vee_fixtures.hpp"

using namespace ami::storage::vee;
using namespace ami::storage::vee::test;

TEST_CASE("register dial: maximum and modulus from the digits", "[vee][rollover]") {
  struct Row {
    int integer_digits;
    int decimal_digits;
    std::int64_t max_wh;
    std::int64_t modulus_wh;
  };
  const Row rows[] = {
      {6, 2, 999'999'990, 1'000'000'000},  // DL/T 645 XXXXXX.XX kWh
      {8, 2, 99'999'999'990, 100'000'000'000},
      {5, 1, 99'999'900, 100'000'000},  // 99999.9 kWh
      {6, 0, 999'999'000, 1'000'000'000},
      {6, 3, 999'999'999, 1'000'000'000},
      {0, 2, 0, 0},   // unknown dial: no rollover
      {16, 2, 0, 0},  // beyond int64 comfort: treated as unknown
  };
  for (const auto& row : rows) {
    CAPTURE(row.integer_digits, row.decimal_digits);
    const RegisterDial dial{row.integer_digits, row.decimal_digits};
    CHECK(dial.max_wh() == row.max_wh);
    CHECK(dial.modulus_wh() == row.modulus_wh);
  }
}

TEST_CASE("register delta: normal, rollover, reverse, replacement (table)", "[vee][rollover][reverse]") {
  const VeeConfig config;
  struct Row {
    const char* name;
    std::int64_t start;
    std::int64_t end;
    std::int64_t intervals;
    bool bidirectional;
    std::optional<MeterEvent> swap;
    DeltaKind kind;
    std::int64_t wh;
    Flags flags;
  };
  MeterEvent swap_known{EventKind::meter_replaced, at_interval(1), {}, {}, 5'000'000, 20};
  MeterEvent swap_unknown{EventKind::meter_replaced, at_interval(1), {}, {}, std::nullopt, std::nullopt};
  const Row rows[] = {
      {"increase", 1'000, 1'250, 1, false, std::nullopt, DeltaKind::normal, 250, 0},
      {"no change", 1'000, 1'000, 1, false, std::nullopt, DeltaKind::normal, 0, 0},
      {"rollover at 999999.99 kWh", 999'999'900, 140, 1, false, std::nullopt, DeltaKind::rollover, 240,
       static_cast<Flags>(Flag::rollover)},
      {"rollover from the very maximum", 999'999'990, 0, 1, false, std::nullopt, DeltaKind::rollover, 10,
       static_cast<Flags>(Flag::rollover)},
      {"reset to zero is not a rollover", 500'000'000, 30, 1, false, std::nullopt, DeltaKind::reverse,
       -499'999'970, static_cast<Flags>(Flag::reverse_rotation)},
      {"small decrease is reverse rotation", 10'000, 9'950, 1, false, std::nullopt, DeltaKind::reverse, -50,
       static_cast<Flags>(Flag::reverse_rotation)},
      {"decrease through zero is reverse, not a huge interval", 30, 999'999'980, 1, false, std::nullopt,
       DeltaKind::reverse, -50, static_cast<Flags>(Flag::reverse_rotation)},
      {"bidirectional decrease is energy", 10'000, 9'950, 1, true, std::nullopt, DeltaKind::normal, -50, 0},
      {"bidirectional wrap the short way", 999'999'900, 140, 1, true, std::nullopt, DeltaKind::rollover, 240,
       static_cast<Flags>(Flag::rollover)},
      {"replacement with both registers", 4'999'000, 120, 1, false, swap_known, DeltaKind::replacement,
       1'000 + 100, static_cast<Flags>(Flag::meter_replaced)},
      {"replacement without registers", 4'999'000, 120, 1, false, swap_unknown, DeltaKind::unknown, 0,
       static_cast<Flags>(Flag::meter_replaced)},
      {"long gap allows a larger wrapped delta", 999'900'000, 200'000, 8, false, std::nullopt,
       DeltaKind::rollover, 300'000, static_cast<Flags>(Flag::rollover)},
      {"wrapped delta too big for one interval", 999'900'000, 200'000, 1, false, std::nullopt,
       DeltaKind::reverse, 200'000 - 999'900'000, static_cast<Flags>(Flag::reverse_rotation)},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    auto s = spec();
    s.bidirectional = row.bidirectional;
    const auto d = register_delta(row.start, row.end, row.intervals, s, config, row.swap ? &*row.swap : nullptr);
    CHECK(d.kind == row.kind);
    if (d.known()) CHECK(d.register_wh == row.wh);
    CHECK(describe(d.flags) == describe(row.flags));
  }
}

TEST_CASE("register delta: an implausible wrap is reverse rotation", "[vee][rollover]") {
  VeeConfig config;
  config.max_register_wh_per_interval = 1'000;
  // Wrapped delta would be 5,000 Wh in one interval: more than the plausible 1,000.
  const auto d = register_delta(999'996'000, 1'000, 1, spec(), config, nullptr);
  CHECK(d.kind == DeltaKind::reverse);
  CHECK_FALSE(d.trusted());
}

TEST_CASE("register delta: unknown dial never wraps", "[vee][rollover]") {
  auto s = spec();
  s.dial = RegisterDial{0, 2};
  const auto d = register_delta(999'999'900, 140, 1, s, VeeConfig{}, nullptr);
  CHECK(d.kind == DeltaKind::reverse);
  CHECK(d.register_wh == 140 - 999'999'900);
}

TEST_CASE("register delta: reverse check off keeps the negative delta unflagged", "[vee][reverse]") {
  VeeConfig config;
  config.check_reverse = false;
  const auto d = register_delta(1'000, 900, 1, spec(), config, nullptr);
  CHECK(d.kind == DeltaKind::normal);
  CHECK(d.register_wh == -100);
  CHECK(d.flags == 0);
}
