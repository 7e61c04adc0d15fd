#include "simulators/load_model.hpp"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "simulators/hash.hpp"

namespace ami::sim {

// One precomputed week shape (in mWh per scale-percent per slot) with prefix sums of its
// positive and negative parts, in total and per tariff. Shared by every meter of the variant.
struct VariantTables {
  std::array<std::int64_t, kSlotsPerWeek> net{};
  std::array<std::int64_t, kSlotsPerWeek + 1> pos_prefix{};
  std::array<std::int64_t, kSlotsPerWeek + 1> neg_prefix{};
  std::array<std::array<std::int64_t, kSlotsPerWeek + 1>, kTariffs> pos_tariff_prefix{};
  std::array<std::array<std::int64_t, kSlotsPerWeek + 1>, kTariffs> neg_tariff_prefix{};
};

namespace {

// Average power in W at scale 100 for each local hour; linear in between.
constexpr std::array<int, 24> kResidentialWeekday{250, 200, 180, 180, 180, 220, 400, 800, 700, 400, 300, 300,
                                                  350, 300, 300, 350, 500, 900, 1400, 1600, 1500, 1200, 800, 400};
constexpr std::array<int, 24> kResidentialWeekend{300, 250, 200, 180, 180, 200, 300, 500, 800, 900, 800, 700,
                                                  800, 700, 600, 600, 700, 1000, 1500, 1700, 1500, 1200, 900, 500};
constexpr std::array<int, 24> kCommercialWeekday{400,  400,  400,  400,  400,  450,  600,  1500, 3000, 3500, 3600, 3600,
                                                 3200, 3500, 3600, 3500, 3300, 3000, 2000, 1200, 800,  600,  500,  400};
constexpr std::array<int, 24> kCommercialWeekend{400, 400, 400, 400, 400, 400, 450, 500, 600, 700, 700, 700,
                                                 700, 700, 700, 700, 650, 600, 550, 500, 450, 400, 400, 400};
constexpr std::array<int, kSolarVariants> kSolarPeakW{0, 1500, 3500};
// W per slot -> mWh per scale-percent: W x 0.25 h x 1000 / 100.
constexpr std::int64_t kMwhPerWattSlotPercent2 = 5;  // numerator over 2

std::int64_t hourly_interpolated_w(const std::array<int, 24>& hours, int slot_of_day) {
  const int h = slot_of_day / 4;
  const int q = slot_of_day % 4;
  const int next = hours[static_cast<std::size_t>((h + 1) % 24)];
  const int cur = hours[static_cast<std::size_t>(h)];
  return (cur * (4 - q) + next * q) / 4;
}

// Rooftop PV: a parabola from 06:00 to 18:00 local, peaking at noon; integer so tables are exact.
std::int64_t solar_w(int solar, int slot_of_day) {
  const std::int64_t peak = kSolarPeakW[static_cast<std::size_t>(solar)];
  const std::int64_t mid_minute = slot_of_day * 15 + 7;
  const std::int64_t d = mid_minute - 720;
  if (d <= -360 || d >= 360) return 0;
  return peak * (360 * 360 - d * d) / (360 * 360);
}

VariantTables build_variant(LoadClass load_class, int shift, int solar) {
  VariantTables t;
  for (int w = 0; w < kSlotsPerWeek; ++w) {
    // Load at week slot w is the unshifted shape `shift` slots earlier.
    const int src = ((w - shift) % kSlotsPerWeek + kSlotsPerWeek) % kSlotsPerWeek;
    const int day = src / kSlotsPerDay;  // 0 = Monday
    const int slot_of_day = src % kSlotsPerDay;
    const bool weekend = day >= 5;
    const auto& hours = load_class == LoadClass::commercial ? (weekend ? kCommercialWeekend : kCommercialWeekday)
                                                            : (weekend ? kResidentialWeekend : kResidentialWeekday);
    const std::int64_t watts = hourly_interpolated_w(hours, slot_of_day) - solar_w(solar, slot_of_day);
    t.net[static_cast<std::size_t>(w)] = watts * kMwhPerWattSlotPercent2 / 2;
  }
  for (std::size_t w = 0; w < kSlotsPerWeek; ++w) {
    const auto v = t.net[w];
    const auto pos = std::max<std::int64_t>(v, 0);
    const auto neg = std::max<std::int64_t>(-v, 0);
    const auto tariff = static_cast<std::size_t>(tariff_of_local_slot(static_cast<int>(w % kSlotsPerDay)) - 1);
    t.pos_prefix[w + 1] = t.pos_prefix[w] + pos;
    t.neg_prefix[w + 1] = t.neg_prefix[w] + neg;
    for (std::size_t i = 0; i < kTariffs; ++i) {
      t.pos_tariff_prefix[i][w + 1] = t.pos_tariff_prefix[i][w] + (i == tariff ? pos : 0);
      t.neg_tariff_prefix[i][w + 1] = t.neg_tariff_prefix[i][w] + (i == tariff ? neg : 0);
    }
  }
  return t;
}

constexpr int kVariants = 2 * kShiftVariants * kSolarVariants;

int variant_index(LoadClass c, int shift, int solar) {
  return (static_cast<int>(c) * kShiftVariants + shift) * kSolarVariants + solar;
}

const std::vector<VariantTables>& all_variants() {
  static const std::vector<VariantTables> tables = [] {
    std::vector<VariantTables> v(kVariants);
    for (auto c : {LoadClass::residential, LoadClass::commercial})
      for (int s = 0; s < kShiftVariants; ++s)
        for (int p = 0; p < kSolarVariants; ++p)
          v[static_cast<std::size_t>(variant_index(c, s, p))] = build_variant(c, s, p);
    return v;
  }();
  return tables;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const auto q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

std::int64_t floor_mod(std::int64_t a, std::int64_t b) { return a - floor_div(a, b) * b; }

// Monday-based slot of the week of local slot k counted from 1970-01-01 00:00 local (a Thursday).
std::size_t week_slot(std::int64_t k) {
  return static_cast<std::size_t>(floor_mod(k + 3 * kSlotsPerDay, kSlotsPerWeek));
}

// Sum over local slots [0, k) of a week-periodic table given by its prefix sums (up to a constant).
std::int64_t periodic_sum(const std::array<std::int64_t, kSlotsPerWeek + 1>& prefix, std::int64_t k) {
  const auto n = k + 3 * kSlotsPerDay;
  return floor_div(n, kSlotsPerWeek) * prefix[kSlotsPerWeek] +
         prefix[static_cast<std::size_t>(floor_mod(n, kSlotsPerWeek))];
}

}  // namespace

std::string_view to_string(LoadClass c) { return c == LoadClass::commercial ? "commercial" : "residential"; }

int tariff_of_local_slot(int slot_of_day) {
  const int hour = slot_of_day / 4;
  if (hour >= 19 && hour < 21) return 1;                              // sharp
  if ((hour >= 10 && hour < 15) || hour == 18) return 2;              // peak
  if ((hour >= 7 && hour < 10) || (hour >= 15 && hour < 18) || hour >= 21) return 3;  // flat (until 23)
  return 4;                                                           // valley 23:00-07:00
}

LoadParams make_load_params(std::uint64_t seed, std::uint64_t meter_key) {
  HashStream r(seed, meter_key);
  LoadParams p;
  p.load_class = r.next() % 5 == 0 ? LoadClass::commercial : LoadClass::residential;
  p.shift_slots = static_cast<std::uint8_t>(r.next() % kShiftVariants);
  const auto solar_roll = r.next() % 10;
  if (p.load_class == LoadClass::residential) {
    p.solar = solar_roll < 2 ? 1 : (solar_roll < 3 ? 2 : 0);
    p.scale_percent = static_cast<std::uint16_t>(50 + r.next() % 151);
    p.initial_wh = static_cast<std::int64_t>(500'000 + r.next() % 30'000'000);
  } else {
    p.solar = solar_roll < 1 ? 2 : 0;
    p.scale_percent = static_cast<std::uint16_t>(150 + r.next() % 451);
    p.initial_wh = static_cast<std::int64_t>(5'000'000 + r.next() % 300'000'000);
  }
  p.noise_key = r.next();
  return p;
}

UtcSeconds LoadModel::epoch() {
  using namespace std::chrono;
  return UtcSeconds{sys_days{year{2020} / January / 1}.time_since_epoch()};
}

LoadModel::LoadModel(const LoadParams& params, int utc_offset_minutes)
    : params_(params),
      offset_seconds_(std::int64_t{utc_offset_minutes} * 60),
      tables_(&all_variants()[static_cast<std::size_t>(
          variant_index(params.load_class, params.shift_slots % kShiftVariants, params.solar % kSolarVariants))]),
      epoch_sums_(sums_at(UtcMillis{epoch()}.time_since_epoch().count() + offset_seconds_ * 1000)) {}

std::int64_t LoadModel::base_mwh(std::int64_t k) const {
  return std::int64_t{params_.scale_percent} * tables_->net[week_slot(k)];
}

std::int64_t LoadModel::noise_mwh(std::int64_t k) const {
  const auto prev = base_mwh(k - 1);
  const auto cur = base_mwh(k);
  if (prev == 0 || cur == 0 || (prev > 0) != (cur > 0)) return 0;
  if (tariff_of_local_slot(static_cast<int>(week_slot(k - 1) % kSlotsPerDay)) !=
      tariff_of_local_slot(static_cast<int>(week_slot(k) % kSlotsPerDay)))
    return 0;
  // |h| <= 0.3 min(|B(k-1)|, |B(k)|) keeps |E(k) - B(k)| <= 0.6 |B(k)|, so E keeps B's sign.
  const auto amplitude = std::min(std::abs(prev), std::abs(cur)) * 3 / 10;
  const auto span = static_cast<std::uint64_t>(2 * amplitude + 1);
  return static_cast<std::int64_t>(mix64(params_.noise_key ^ mix64(static_cast<std::uint64_t>(k))) % span) -
         amplitude;
}

std::int64_t LoadModel::slot_energy_mwh(std::int64_t k) const {
  return base_mwh(k) + noise_mwh(k + 1) - noise_mwh(k);
}

std::int64_t LoadModel::local_slot_of(UtcMillis t) const {
  const auto ms = t.time_since_epoch().count() + offset_seconds_ * 1000;
  return floor_div(ms, kSlotSeconds * 1000);
}

LoadModel::Sums LoadModel::sums_before(std::int64_t k) const {
  const std::int64_t scale = params_.scale_percent;
  Sums s;
  s.forward = scale * periodic_sum(tables_->pos_prefix, k);
  s.reverse = scale * periodic_sum(tables_->neg_prefix, k);
  for (std::size_t i = 0; i < kTariffs; ++i) {
    s.forward_tariff[i] = scale * periodic_sum(tables_->pos_tariff_prefix[i], k);
    s.reverse_tariff[i] = scale * periodic_sum(tables_->neg_tariff_prefix[i], k);
  }
  // The noise telescopes inside each run of equal sign and tariff; only the open run ending at k
  // leaves its last h behind.
  const auto last = base_mwh(k - 1);
  const auto h = noise_mwh(k);
  const auto tariff = static_cast<std::size_t>(tariff_of_local_slot(static_cast<int>(week_slot(k - 1) % kSlotsPerDay)) - 1);
  if (last > 0) {
    s.forward += h;
    s.forward_tariff[tariff] += h;
  } else if (last < 0) {
    s.reverse -= h;
    s.reverse_tariff[tariff] -= h;
  }
  return s;
}

LoadModel::Sums LoadModel::sums_at(std::int64_t local_ms) const {
  const auto k = floor_div(local_ms, kSlotSeconds * 1000);
  auto s = sums_before(k);
  const auto energy = slot_energy_mwh(k);
  const auto partial = std::abs(energy) * (local_ms - k * kSlotSeconds * 1000) / (kSlotSeconds * 1000);
  const auto tariff = static_cast<std::size_t>(tariff_of_local_slot(static_cast<int>(week_slot(k) % kSlotsPerDay)) - 1);
  if (energy > 0) {
    s.forward += partial;
    s.forward_tariff[tariff] += partial;
  } else {
    s.reverse += partial;
    s.reverse_tariff[tariff] += partial;
  }
  return s;
}

Registers LoadModel::registers_at(UtcMillis t) const {
  const auto epoch_ms = UtcMillis{epoch()};
  if (t < epoch_ms) t = epoch_ms;
  const auto now = sums_at(t.time_since_epoch().count() + offset_seconds_ * 1000);
  const auto& start = epoch_sums_;

  // The initial forward register is split over the tariffs 10/30/30/30 (sharp/peak/flat/valley).
  static constexpr std::array<std::int64_t, kTariffs> kInitialShare{10, 30, 30, 30};
  Registers r;
  r.forward_wh = floor_div(params_.initial_wh * 1000 + now.forward - start.forward, 1000);
  r.reverse_wh = floor_div(now.reverse - start.reverse, 1000);
  for (std::size_t i = 0; i < kTariffs; ++i) {
    const auto initial_mwh = params_.initial_wh * kInitialShare[i] * 10;
    r.forward_tariff_wh[i] = floor_div(initial_mwh + now.forward_tariff[i] - start.forward_tariff[i], 1000);
    r.reverse_tariff_wh[i] = floor_div(now.reverse_tariff[i] - start.reverse_tariff[i], 1000);
  }
  return r;
}

std::int64_t LoadModel::power_w_at(UtcMillis t) const { return slot_energy_mwh(local_slot_of(t)) * 4 / 1000; }

}  // namespace ami::sim
