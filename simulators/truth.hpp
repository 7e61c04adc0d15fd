// Ground truth for `meter-sim truth`: a meter's registers at interval boundaries (or any instant)
// and the energy of each interval, exactly as its protocol exposes them (DL/T 645: 0.01 kWh
// floors; Modbus: the map's type and scale as a master decodes it; dial wrap), computed from the
// fleet description, seed and time alone, never from a running simulator. Replacement: registers
// restart from 0 at the replacement instant; an interval spanning it gets the old meter's part plus
// the new meter's part.
//
// Pure functions of their inputs; any thread. compute_truth() throws std::invalid_argument for a
// reversed range or a bad interval length (it serves the CLI edge).
#pragma once

#include <chrono>
#include <iosfwd>
#include <string>
#include <vector>

#include "simulators/fleet.hpp"
#include "simulators/meter.hpp"

namespace ami::sim {

struct TruthBoundary {
  UtcSeconds t;
  std::int64_t forward_wh = 0;
  std::int64_t reverse_wh = 0;
};

struct TruthInterval {
  UtcSeconds start;
  UtcSeconds end;
  std::int64_t forward_wh = 0;  // energy in [start, end): wrap- and replacement-aware
  std::int64_t reverse_wh = 0;
};

struct Truth {
  std::string meter_id;
  std::optional<Replacement> replacement;
  std::vector<TruthBoundary> boundaries;  // every aligned boundary in [from, to]
  std::vector<TruthInterval> intervals;   // between consecutive boundaries
};

// Forward/reverse registers as the meter's protocol shows them at t.
TruthBoundary exposed_registers(const SimMeter& meter, UtcMillis t);

Truth compute_truth(const MeterSpec& meter, UtcSeconds from, UtcSeconds to, std::chrono::minutes interval);

// {"meter_id":..., "boundaries":[{"t":..,"forward_wh":..,"reverse_wh":..}],
//  "intervals":[{"start":..,"end":..,"forward_wh":..,"reverse_wh":..}]}  (+ "replacement":{...} if any)
void write_truth_json(const Truth& truth, std::ostream& out);
// kind,t,end,forward_wh,reverse_wh  (kind = boundary | interval; for intervals t is the start)
void write_truth_csv(const Truth& truth, std::ostream& out);

}  // namespace ami::sim
