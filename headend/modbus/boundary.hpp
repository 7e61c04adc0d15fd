// Modbus meters have no load profile: the collection engine reads their energy registers as close
// to each interval boundary B as it can and attributes the reading to B when the read completed
// within a tolerance of B (docs/ARCHITECTURE.md: plain register reads with a time tolerance).
// This turns one successful MeterReadResult into the staging store's BoundaryRead rows.
//
// Pure; any thread. Never throws.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "headend/modbus/session.hpp"
#include "storage/types.hpp"

namespace ami::modbus {

struct BoundaryAttribution {
  std::string meter_id;
  UtcSeconds boundary{};
  std::chrono::milliseconds tolerance{std::chrono::seconds{60}};
  storage::ReadSource source = storage::ReadSource::scheduled;
};

// Forward and reverse active energy of `result` as BoundaryRead rows for `boundary`, or an error
// (std::nullopt + `error`) when the read is not ok, has no forward energy, or completed outside
// [boundary - tolerance, boundary + tolerance]. Values are taken as read: resolve the meter with
// apply_ratios = false so that register_wh is before CT x PT, as the store expects.
std::optional<std::vector<storage::BoundaryRead>> to_boundary_reads(const MeterReadResult& result,
                                                                    const BoundaryAttribution& at,
                                                                    UtcMillis collected_at, std::string& error);

}  // namespace ami::modbus
