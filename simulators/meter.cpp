#include "simulators/meter.hpp"

#include <algorithm>
#include <cstdlib>

#include "simulators/hash.hpp"

namespace ami::sim {
namespace {

Registers subtract(const Registers& a, const Registers& b) {
  Registers r;
  r.forward_wh = a.forward_wh - b.forward_wh;
  r.reverse_wh = a.reverse_wh - b.reverse_wh;
  for (std::size_t i = 0; i < kTariffs; ++i) {
    r.forward_tariff_wh[i] = a.forward_tariff_wh[i] - b.forward_tariff_wh[i];
    r.reverse_tariff_wh[i] = a.reverse_tariff_wh[i] - b.reverse_tariff_wh[i];
  }
  return r;
}

std::int64_t dlt645_exposed(std::int64_t wh, std::int64_t modulus) {
  return wrap_dial(wh / kDlt645ResolutionWh * kDlt645ResolutionWh, modulus);
}

}  // namespace

const dlt645::Address& SimMeter::address_at(UtcMillis now) const {
  const auto& r = spec_->replacement;
  return r && now >= UtcMillis{r->at} ? r->new_address : spec_->address;
}

int SimMeter::unit_id_at(UtcMillis now) const {
  const auto& r = spec_->replacement;
  return r && r->new_unit_id != 0 && now >= UtcMillis{r->at} ? r->new_unit_id : spec_->unit_id;
}

UtcMillis SimMeter::meter_clock(UtcMillis sim_now) const {
  const auto since_ms = (sim_now - drift_reference_).count();
  const auto drift_ms = since_ms / 1'000'000 * spec_->clock_drift_ppm + since_ms % 1'000'000 * spec_->clock_drift_ppm / 1'000'000;
  return sim_now + std::chrono::milliseconds{clock_offset_ms_ + drift_ms};
}

UtcMillis SimMeter::true_instant_of(UtcMillis meter_time) const {
  // meter = sim + offset + (sim - ref) x ppm / 1e6, solved for sim, then nudged onto the
  // integer-millisecond grid meter_clock() rounds to.
  const auto ppm = spec_->clock_drift_ppm;
  const auto d = (meter_time - drift_reference_).count() - clock_offset_ms_;
  auto guess = drift_reference_ + std::chrono::milliseconds{d * 1'000'000 / (1'000'000 + ppm)};
  for (int i = 0; i < 4 && meter_clock(guess) < meter_time; ++i) guess += std::chrono::milliseconds{1};
  for (int i = 0; i < 4 && meter_clock(guess) > meter_time; ++i) guess -= std::chrono::milliseconds{1};
  return guess;
}

void SimMeter::set_clock(UtcMillis sim_now, UtcMillis meter_time) {
  drift_reference_ = sim_now;
  clock_offset_ms_ = (meter_time - sim_now).count();
}

Registers SimMeter::consumed_at(UtcMillis t) const {
  auto r = load_.registers_at(t);
  for (const auto& spike : spec_->spikes) {
    const UtcMillis from{spike.from};
    if (t <= from) continue;
    const auto span = (UtcMillis{spike.until} - from).count();
    const auto elapsed = std::min<std::int64_t>((t - from).count(), span);
    const auto wh = spike.wh * elapsed / span;  // parse_fault_rule bounds both: no overflow
    r.forward_wh += wh;
    // All of it on the tariff in force when the spike starts, so the tariffs still add up.
    const auto slot = ((load_.local_slot_of(from) % kSlotsPerDay) + kSlotsPerDay) % kSlotsPerDay;
    r.forward_tariff_wh[static_cast<std::size_t>(tariff_of_local_slot(static_cast<int>(slot)) - 1)] += wh;
  }
  return r;
}

Registers SimMeter::registers_at(UtcMillis t) const {
  const auto& r = spec_->replacement;
  if (!r || t < UtcMillis{r->at}) return consumed_at(t);
  // The new meter starts from zero at the replacement instant.
  return subtract(consumed_at(t), consumed_at(UtcMillis{r->at}));
}

Registers SimMeter::dlt645_registers_at(UtcMillis t) const {
  auto r = registers_at(t);
  const auto m = spec_->dial_modulus_wh;
  r.forward_wh = dlt645_exposed(r.forward_wh, m);
  r.reverse_wh = dlt645_exposed(r.reverse_wh, m);
  for (auto& v : r.forward_tariff_wh) v = dlt645_exposed(v, m);
  for (auto& v : r.reverse_tariff_wh) v = dlt645_exposed(v, m);
  return r;
}

Instantaneous SimMeter::instantaneous_at(UtcMillis t) const {
  // Per-minute jitter, deterministic per meter; power comes from the energy slot so that
  // P = sum(V x I x PF) holds to the rounding of the integer units.
  const auto minute = static_cast<std::uint64_t>(t.time_since_epoch().count() / 60'000);
  HashStream r(spec_->key, minute);
  Instantaneous v;
  v.frequency_mhz = 49'950 + static_cast<std::int64_t>(r.next() % 101);
  for (auto& mv : v.voltage_mv) mv = 220'000 + static_cast<std::int64_t>(r.next() % 12'001) - 4'000;
  const auto power_w = load_.power_w_at(t);
  v.active_power_mw = power_w * 1000;
  const auto pf_magnitude = 930 + static_cast<std::int64_t>(r.next() % 60);
  v.power_factor_permille = power_w < 0 ? -pf_magnitude : pf_magnitude;
  for (std::size_t phase = 0; phase < 3; ++phase) {
    // I = (|P| / 3) / (V x PF), in mA: mW x 1e6 / (mV x permille).
    const auto per_phase_mw = std::abs(v.active_power_mw) / 3;
    v.current_ma[phase] = per_phase_mw * 1'000'000 / (v.voltage_mv[phase] * pf_magnitude);
  }
  return v;
}

}  // namespace ami::sim
