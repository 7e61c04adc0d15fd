#include "simulators/truth.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <ostream>
#include <stdexcept>

#include "simulators/meter.hpp"

namespace ami::sim {
namespace {

// Energy between two exposed readings of a register that wraps at the dial maximum.
std::int64_t register_delta(std::int64_t from, std::int64_t to) {
  return to >= from ? to - from : to + kDlt645DialModulusWh - from;
}

}  // namespace

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
  Truth truth;
  truth.meter_id = meter.id;
  for (auto t = first; t <= to; t += step) {
    const auto r = sim_meter.exposed_registers_at(UtcMillis{t});
    truth.boundaries.push_back(TruthBoundary{t, r.forward_wh, r.reverse_wh});
  }
  for (std::size_t i = 1; i < truth.boundaries.size(); ++i) {
    const auto& a = truth.boundaries[i - 1];
    const auto& b = truth.boundaries[i];
    truth.intervals.push_back(TruthInterval{a.t, b.t, register_delta(a.forward_wh, b.forward_wh),
                                            register_delta(a.reverse_wh, b.reverse_wh)});
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
