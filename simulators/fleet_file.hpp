// Fleet files: a TOML description of gateways, per-meter overrides and scheduled faults, the
// alternative to the fleet flags for fleets that are not uniform (docs/SIMULATOR.md, "Fleet file").
//
//   seed = 42                      listen = "127.0.0.1"     utc_offset_minutes = 480   dial_wh = 0
//   [[gateway]]  count, meters, protocol, model, base_port, baud, pty_dir
//   [[meter]]    id, initial_wh, dial_wh, clock_drift_ppm, load_profile_hours, replaced_at, new_address,
//                new_unit_id
//   [[fault]]    kind, target, rate, from, until, delay_ms, seconds, wh  (faults.hpp)
//
// Pure parsing at the configuration edge: parse_fleet_file()/parse_fleet_toml() throw
// std::invalid_argument with the file, the table and the key that is wrong. Any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "simulators/faults.hpp"
#include "simulators/fleet.hpp"

namespace ami::sim {

struct FleetFile {
  FleetSpec spec;
  std::vector<FaultRule> faults;
};

FleetFile parse_fleet_file(const std::string& path);
FleetFile parse_fleet_toml(std::string_view text, std::string_view source_name);

}  // namespace ami::sim
