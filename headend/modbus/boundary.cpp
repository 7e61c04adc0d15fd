#include "headend/modbus/boundary.hpp"

#include <algorithm>

namespace ami::modbus {

std::optional<std::vector<storage::BoundaryRead>> to_boundary_reads(const MeterReadResult& result,
                                                                    const BoundaryAttribution& at,
                                                                    UtcMillis collected_at, std::string& error) {
  if (result.outcome != MeterOutcome::ok) {
    error = "meter " + at.meter_id + ": read failed (" + std::string(to_string(result.outcome)) + ")";
    return std::nullopt;
  }
  const auto offset = collected_at - std::chrono::time_point_cast<std::chrono::milliseconds>(at.boundary);
  if (offset > at.tolerance || offset < -at.tolerance) {
    error = "meter " + at.meter_id + ": read completed " + std::to_string(offset.count()) +
            " ms from the boundary, outside the tolerance of " + std::to_string(at.tolerance.count()) + " ms";
    return std::nullopt;
  }
  std::vector<storage::BoundaryRead> rows;
  for (const CanonicalReading& r : result.readings) {
    storage::EnergyChannel channel;
    if (r.quantity == Quantity::forward_active_energy)
      channel = storage::EnergyChannel::forward_active;
    else if (r.quantity == Quantity::reverse_active_energy)
      channel = storage::EnergyChannel::reverse_active;
    else
      continue;
    rows.push_back(storage::BoundaryRead{at.meter_id, channel, at.boundary, r.value, collected_at, at.source, std::nullopt});
  }
  const bool has_forward = std::any_of(rows.begin(), rows.end(), [](const storage::BoundaryRead& b) {
    return b.channel == storage::EnergyChannel::forward_active;
  });
  if (!has_forward) {
    error = "meter " + at.meter_id + ": no forward active energy in the reply (map or meter lacks it)";
    return std::nullopt;
  }
  return rows;
}

}  // namespace ami::modbus
