#include "simulators/truth.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <ostream>
#include <stdexcept>

#include "simulators/modbus_model.hpp"

namespace ami::sim {
namespace {

// Energy between two exposed readings of a register that wraps at `modulus` (0 = never).
std::int64_t register_delta(std::int64_t from, std::int64_t to, std::int64_t modulus) {
  return to >= from || modulus == 0 ? to - from : to + modulus - from;
}

}  // namespace

TruthBoundary exposed_registers(const SimMeter& meter, UtcMillis t) {
  const auto seconds = std::chrono::floor<std::chrono::seconds>(t);
  if (is_modbus(meter.spec().protocol)) {
    const auto e = modbus_exposed_energy(meter, t);
    return TruthBoundary{seconds, e.forward_wh, e.reverse_wh};
  }
  const auto r = meter.dlt645_registers_at(t);
  return TruthBoundary{seconds, r.forward_wh, r.reverse_wh};
}

Truth compute_truth(const MeterSpec& meter, UtcSeconds from, UtcSeconds to, std::chrono::minutes interval) {
  if (interval.count() <= 0 || (24 * 60) % interval.count() != 0)
    throw std::invalid_argument(
        fmt::format("--interval-minutes must divide a day (1, 5, 15, 30, 60, ...), got {}", interval.count()));
  if (to < from)
    throw std::invalid_argument(fmt::format("--to {} is before --from {}", format_utc(to), format_utc(from)));
  const auto step = std::chrono::duration_cast<std::chrono::seconds>(interval);
  auto first = floor_to_interval(from, step);
  if (first < from) first += step;

  const SimMeter sim_meter(meter);
  MeterSpec old_spec = meter;  // the meter as it was before any replacement
  old_spec.replacement.reset();
  const SimMeter old_meter(old_spec);
  const auto modulus = meter.dial_modulus_wh;

  Truth truth;
  truth.meter_id = meter.id;
  truth.replacement = meter.replacement;
  for (auto t = first; t <= to; t += step) truth.boundaries.push_back(exposed_registers(sim_meter, UtcMillis{t}));
  for (std::size_t i = 1; i < truth.boundaries.size(); ++i) {
    const auto& a = truth.boundaries[i - 1];
    const auto& b = truth.boundaries[i];
    TruthInterval iv{a.t, b.t, 0, 0};
    const auto& r = meter.replacement;
    if (r && a.t < r->at && r->at <= b.t) {
      // Old meter up to the swap, new meter (from zero) after it.
      const auto old_end = exposed_registers(old_meter, UtcMillis{r->at});
      iv.forward_wh = register_delta(a.forward_wh, old_end.forward_wh, modulus) + b.forward_wh;
      iv.reverse_wh = register_delta(a.reverse_wh, old_end.reverse_wh, modulus) + b.reverse_wh;
    } else {
      iv.forward_wh = register_delta(a.forward_wh, b.forward_wh, modulus);
      iv.reverse_wh = register_delta(a.reverse_wh, b.reverse_wh, modulus);
    }
    truth.intervals.push_back(iv);
  }
  return truth;
}

void write_truth_json(const Truth& truth, std::ostream& out) {
  nlohmann::ordered_json j;
  j["meter_id"] = truth.meter_id;
  j["boundaries"] = nlohmann::ordered_json::array();
  for (const auto& b : truth.boundaries)
    j["boundaries"].push_back({{"t", format_utc(b.t)}, {"forward_wh", b.forward_wh}, {"reverse_wh", b.reverse_wh}});
  j["intervals"] = nlohmann::ordered_json::array();
  for (const auto& iv : truth.intervals)
    j["intervals"].push_back({{"start", format_utc(iv.start)},
                              {"end", format_utc(iv.end)},
                              {"forward_wh", iv.forward_wh},
                              {"reverse_wh", iv.reverse_wh}});
  if (truth.replacement)
    j["replacement"] = {{"at", format_utc(truth.replacement->at)},
                        {"new_address", truth.replacement->new_address.to_string()},
                        {"new_unit_id", truth.replacement->new_unit_id}};
  out << j.dump() << '\n';
}

void write_truth_csv(const Truth& truth, std::ostream& out) {
  out << "kind,t,end,forward_wh,reverse_wh\n";
  for (const auto& b : truth.boundaries)
    out << fmt::format("boundary,{},,{},{}\n", format_utc(b.t), b.forward_wh, b.reverse_wh);
  for (const auto& iv : truth.intervals)
    out << fmt::format("interval,{},{},{},{}\n", format_utc(iv.start), format_utc(iv.end), iv.forward_wh,
                       iv.reverse_wh);
}

}  // namespace ami::sim
