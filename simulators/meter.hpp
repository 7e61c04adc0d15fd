// One simulated meter: its identity, its load model and its own clock, and the register values
// it exposes at a protocol's resolution. The protocol responders (dlt645_responder.hpp) read
// meters through this class only, and `meter-sim truth` uses the same functions, so the ground
// truth is by construction what the wire shows.
//
// Ownership/threads: a SimMeter belongs to one bus (one io_context thread) or to a truth
// computation; const members are pure functions of (meter, instant) and safe from any thread.
// Errors: none.
#pragma once

#include <cstdint>

#include "simulators/fleet.hpp"
#include "simulators/load_model.hpp"

namespace ami::sim {

// DL/T 645 energy fields are XXXXXX.XX kWh: 10 Wh resolution, wrapping after 999999.99 kWh.
inline constexpr std::int64_t kDlt645ResolutionWh = 10;
inline constexpr std::int64_t kDlt645DialModulusWh = 1'000'000'000;

// Register value as a DL/T 645 meter shows it: floor to 0.01 kWh, wrapped at the dial maximum.
inline std::int64_t dlt645_exposed_wh(std::int64_t internal_wh) {
  const auto floored = internal_wh / kDlt645ResolutionWh * kDlt645ResolutionWh;
  return floored % kDlt645DialModulusWh;
}

class SimMeter {
 public:
  explicit SimMeter(const MeterSpec& spec) : spec_(&spec), load_(spec.load, spec.utc_offset_minutes) {}

  [[nodiscard]] const MeterSpec& spec() const { return *spec_; }
  [[nodiscard]] const LoadModel& load() const { return load_; }

  // The instant the meter's own clock shows at simulated time `sim_now` (UTC).
  [[nodiscard]] UtcMillis meter_clock(UtcMillis sim_now) const { return sim_now; }
  // The true instant at which the meter's clock showed `meter_time` (inverse of meter_clock).
  [[nodiscard]] UtcMillis true_instant_of(UtcMillis meter_time) const { return meter_time; }

  // True internal registers (Wh) at a true instant.
  [[nodiscard]] Registers registers_at(UtcMillis t) const { return load_.registers_at(t); }
  // The registers as the protocol exposes them (resolution and dial wrap applied).
  [[nodiscard]] Registers exposed_registers_at(UtcMillis t) const;

 private:
  const MeterSpec* spec_;
  LoadModel load_;
};

}  // namespace ami::sim
