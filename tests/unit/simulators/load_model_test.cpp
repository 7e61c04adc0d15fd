// Load model: determinism per (seed, meter), the closed-form registers against brute-force sums of
// slot energy, monotonicity, and "forward and reverse never grow in the same minute".
#include <catch2/catch.hpp>

#include <cstdlib>

#include "simulators/load_model.hpp"

using namespace ami;
using namespace ami::sim;
using namespace std::chrono;

namespace {

UtcMillis at(const char* text) { return UtcMillis{*parse_utc(text)}; }

// A meter key whose params have the wanted shape, searched deterministically.
std::uint64_t find_key(std::uint64_t seed, bool solar, LoadClass load_class) {
  for (std::uint64_t key = 1; key < 10'000; ++key) {
    const auto p = make_load_params(seed, key);
    if ((p.solar != 0) == solar && p.load_class == load_class) return key;
  }
  FAIL("no such meter in the first 10000 keys");
  return 0;
}

}  // namespace

TEST_CASE("load params are deterministic per seed and meter", "[simulators][load]") {
  CHECK(make_load_params(42, 100001) == make_load_params(42, 100001));
  CHECK_FALSE(make_load_params(42, 100001) == make_load_params(43, 100001));
  CHECK_FALSE(make_load_params(42, 100001) == make_load_params(42, 100002));

  const LoadModel a(make_load_params(42, 100001), 480);
  const LoadModel b(make_load_params(42, 100001), 480);
  const LoadModel c(make_load_params(43, 100001), 480);
  const auto t = at("2026-03-01T05:07:13Z");
  CHECK(a.registers_at(t) == b.registers_at(t));
  CHECK_FALSE(a.registers_at(t) == c.registers_at(t));
}

TEST_CASE("a fleet mixes residential, commercial and solar meters", "[simulators][load]") {
  int commercial = 0, solar = 0;
  for (std::uint64_t key = 1; key <= 1000; ++key) {
    const auto p = make_load_params(7, key);
    commercial += p.load_class == LoadClass::commercial ? 1 : 0;
    solar += p.solar != 0 ? 1 : 0;
  }
  CHECK(commercial > 100);
  CHECK(commercial < 300);
  CHECK(solar > 150);
  CHECK(solar < 400);
}

TEST_CASE("closed-form registers equal the brute-force sum of slot energies", "[simulators][load]") {
  const auto key = GENERATE(find_key(5, true, LoadClass::residential), find_key(5, false, LoadClass::residential),
                            find_key(5, false, LoadClass::commercial));
  const auto params = make_load_params(5, key);
  const LoadModel model(params, 480);
  const auto epoch_slot = model.local_slot_of(UtcMillis{LoadModel::epoch()});
  std::int64_t forward_mwh = params.initial_wh * 1000;
  std::int64_t reverse_mwh = 0;
  const auto window_start = model.local_slot_of(at("2026-01-04T00:00:00Z"));
  const auto window_end = window_start + 2 * kSlotsPerWeek;
  INFO("meter key " << key);
  for (auto k = epoch_slot; k < window_end; ++k) {
    const bool early = k < epoch_slot + kSlotsPerWeek;
    if (early || k >= window_start) {
      // Slot k starts at local k*900 s, i.e. UTC k*900 s - 8 h.
      const auto start = UtcMillis{milliseconds{(k * kSlotSeconds - 480 * 60) * 1000}};
      const auto r = model.registers_at(start);
      REQUIRE(r.forward_wh == forward_mwh / 1000);
      REQUIRE(r.reverse_wh == reverse_mwh / 1000);
    }
    const auto e = model.slot_energy_mwh(k);
    (e > 0 ? forward_mwh : reverse_mwh) += std::abs(e);
  }
}

TEST_CASE("registers are monotone and never grow in both directions in one minute", "[simulators][load]") {
  const auto key = find_key(11, true, LoadClass::residential);
  const LoadModel model(make_load_params(11, key), 480);
  auto previous = model.registers_at(at("2026-06-01T00:00:00Z"));
  int forward_minutes = 0, reverse_minutes = 0;
  for (int minute = 1; minute <= 3 * 24 * 60; ++minute) {
    const auto r = model.registers_at(at("2026-06-01T00:00:00Z") + minutes{minute});
    REQUIRE(r.forward_wh >= previous.forward_wh);
    REQUIRE(r.reverse_wh >= previous.reverse_wh);
    const bool forward_grew = r.forward_wh > previous.forward_wh;
    const bool reverse_grew = r.reverse_wh > previous.reverse_wh;
    REQUIRE_FALSE((forward_grew && reverse_grew));
    forward_minutes += forward_grew ? 1 : 0;
    reverse_minutes += reverse_grew ? 1 : 0;
    for (std::size_t i = 0; i < kTariffs; ++i) {
      REQUIRE(r.forward_tariff_wh[i] >= previous.forward_tariff_wh[i]);
      REQUIRE(r.reverse_tariff_wh[i] >= previous.reverse_tariff_wh[i]);
    }
    previous = r;
  }
  // A solar meter both imports (evening) and exports (midday).
  CHECK(forward_minutes > 100);
  CHECK(reverse_minutes > 100);
}

TEST_CASE("solar meters export around local noon, power sign follows the energy flow", "[simulators][load]") {
  const auto key = find_key(3, true, LoadClass::residential);
  const LoadModel model(make_load_params(3, key), 480);
  // 04:00Z = 12:00 local: exporting; 12:00Z = 20:00 local: importing.
  const auto noon = at("2026-05-04T04:00:00Z");
  const auto evening = at("2026-05-04T12:00:00Z");
  CHECK(model.power_w_at(noon) < 0);
  CHECK(model.power_w_at(evening) > 0);
  const auto a = model.registers_at(noon);
  const auto b = model.registers_at(noon + minutes{15});
  CHECK(b.reverse_wh > a.reverse_wh);
  CHECK(b.forward_wh == a.forward_wh);
}

TEST_CASE("tariff registers add up to the total within rounding", "[simulators][load]") {
  const auto key = find_key(9, false, LoadClass::commercial);
  const LoadModel model(make_load_params(9, key), 480);
  for (const auto* t : {"2026-01-05T00:00:00Z", "2026-01-07T13:37:00Z", "2026-08-30T23:59:59Z"}) {
    const auto r = model.registers_at(at(t));
    std::int64_t sum = 0;
    for (const auto v : r.forward_tariff_wh) sum += v;
    INFO(t);
    CHECK(std::abs(sum - r.forward_wh) <= kTariffs);
  }
}

TEST_CASE("weekday and weekend differ for a commercial meter", "[simulators][load]") {
  const auto key = find_key(2, false, LoadClass::commercial);
  const LoadModel model(make_load_params(2, key), 480);
  // Monday 2026-01-05 vs Sunday 2026-01-11, both 10:00-11:00 local (02:00Z).
  const auto weekday = model.registers_at(at("2026-01-05T03:00:00Z")).forward_wh -
                       model.registers_at(at("2026-01-05T02:00:00Z")).forward_wh;
  const auto weekend = model.registers_at(at("2026-01-11T03:00:00Z")).forward_wh -
                       model.registers_at(at("2026-01-11T02:00:00Z")).forward_wh;
  CHECK(weekday > 2 * weekend);
}
