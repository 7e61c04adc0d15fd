// Ground truth for `meter-sim truth`: a meter's registers at interval boundaries and the energy
// of each interval, exactly as the protocol exposes them (DL/T 645: 0.01 kWh floors, dial wrap),
// computed from the fleet description, seed and time alone, never from a running simulator.
//
// Pure functions of their inputs; any thread. compute_truth() throws std::invalid_argument for an
// empty or reversed range or a bad interval length (it serves the CLI edge).
#pragma once

#include <chrono>
#include <iosfwd>
#include <string>
#include <vector>

#include "simulators/fleet.hpp"

namespace ami::sim {

struct TruthBoundary {
  UtcSeconds t;
  std::int64_t forward_wh = 0;
  std::int64_t reverse_wh = 0;
};

struct TruthInterval {
  UtcSeconds start;
  UtcSeconds end;
  std::int64_t forward_wh = 0;  // register(end) - register(start), wrap-aware
  std::int64_t reverse_wh = 0;
};

struct Truth {
  std::string meter_id;
  std::vector<TruthBoundary> boundaries;  // every aligned boundary in [from, to]
  std::vector<TruthInterval> intervals;   // between consecutive boundaries
};

Truth compute_truth(const MeterSpec& meter, UtcSeconds from, UtcSeconds to, std::chrono::minutes interval);

// {"meter_id":..., "boundaries":[{"t":..,"forward_wh":..,"reverse_wh":..}],
//  "intervals":[{"start":..,"end":..,"forward_wh":..,"reverse_wh":..}]}
void write_truth_json(const Truth& truth, std::ostream& out);
// kind,t,end,forward_wh,reverse_wh  (kind = boundary | interval; for intervals t is the start)
void write_truth_csv(const Truth& truth, std::ostream& out);

}  // namespace ami::sim
