// The simulated fleet: gateways (TCP listeners or pseudo-terminals standing for RS-485 serial
// servers) and the meters on their buses, built deterministically from a FleetSpec, which comes
// from command-line flags or a TOML fleet file (fleet_file.hpp).
//
// Naming: gateway g (1-based, in file order) is "gw%03d" and listens on its group's base port +
// its position in the group; meter i on it is "gwGGG-m%04d" with DL/T 645 address g*10000 + i
// as 12 digits (Modbus: unit id i), and load key g*100000 + i so that adding gateways or meters
// never changes the existing meters.
// Ownership/threads: a Fleet is a plain value built once at start-up and read-only afterwards.
// Errors: build_fleet() throws std::invalid_argument naming the bad field (configuration edge).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "protocols/dlt645/address.hpp"
#include "simulators/load_model.hpp"

namespace ami::modbus {
struct RegisterMap;
}

namespace ami::sim {

enum class MeterProtocol : std::uint8_t { dlt645_2007, dlt645_1997, modbus_tcp, modbus_rtu, modbus_rtu_over_tcp };

// DL/T 645 (either edition) / any Modbus flavour.
bool is_dlt645(MeterProtocol p);
bool is_modbus(MeterProtocol p);

// Registry names: dlt645-2007, dlt645-1997, modbus-tcp, modbus-rtu (a pty), modbus-rtu-over-tcp.
std::string_view to_string(MeterProtocol p);
std::optional<MeterProtocol> parse_meter_protocol(std::string_view text);

// A meter swapped for a new one at `at`: registers restart from 0, the address changes.
struct Replacement {
  UtcSeconds at;
  dlt645::Address new_address;  // DL/T 645
  int new_unit_id = 0;          // Modbus; 0 = keep
};

// Extra energy a meter really consumes: `wh` spread evenly over [from, until) (a spike fault).
struct Spike {
  UtcSeconds from;
  UtcSeconds until;
  std::int64_t wh = 0;
};

// Per-meter settings a fleet file may override (by meter id).
struct MeterOverride {
  std::string id;
  std::optional<std::int64_t> initial_wh;
  std::optional<std::int64_t> dial_modulus_wh;
  std::optional<std::int64_t> clock_drift_ppm;
  std::optional<Replacement> replacement;
  std::optional<int> load_profile_hours;  // 0 = no load profile configured
};

// A group of identical gateways.
struct GatewayGroupSpec {
  int count = 1;
  int meters_per_gateway = 1;
  std::string protocol = "dlt645-2007";
  std::string model;     // empty: "dlt645-generic" for DL/T 645, required for Modbus (SDM630, DTSU666, EM340, ...)
  int base_port = 0;     // gateway k (0-based) of the group listens on base_port + k; 0 = right after
                         // the previous group's ports (9600 for the first group)
  int baud = 0;          // wire timing: 0 = zero latency (benchmarks), else 8E1 frames at this rate
  std::string pty_dir;   // non-empty: serve each bus on a pseudo-terminal linked at <pty_dir>/gwGGG instead of
                         // TCP (DL/T 645 and modbus-rtu; modbus-rtu requires it)
};

struct FleetSpec {
  std::uint64_t seed = 1;
  std::string listen = "127.0.0.1";
  int utc_offset_minutes = 480;
  std::int64_t dial_modulus_wh = 0;  // 0 = the protocol's natural dial (DL/T 645: 999999.99 kWh)
  std::vector<GatewayGroupSpec> groups{GatewayGroupSpec{}};
  std::vector<MeterOverride> overrides;
};

struct MeterSpec {
  std::string id;             // gw001-m0001
  int gateway = 0;            // 1-based
  int index = 0;              // 1-based on its gateway
  std::uint64_t key = 0;      // load/fault hash key
  MeterProtocol protocol = MeterProtocol::dlt645_2007;
  const modbus::RegisterMap* modbus_map = nullptr;  // Modbus meters: the built-in map of the model
  dlt645::Address address;    // DL/T 645
  int unit_id = 0;            // Modbus
  int utc_offset_minutes = 480;
  LoadParams load;
  std::int64_t dial_modulus_wh = 1'000'000'000;
  std::int64_t clock_drift_ppm = 0;
  // DL/T 645-2007 load-profile memory depth: 62 days (24 * 62 h) unless a fleet file says less;
  // 0 = no load profile configured (06000001 answered "no requested data"; freezes still served).
  int load_profile_hours = 24 * 62;
  std::optional<Replacement> replacement;
  std::vector<Spike> spikes;  // from [[fault]] kind = "spike" (apply_spikes, faults.hpp)

  [[nodiscard]] std::string_view model() const;
  // The address (12 digits) or unit id the registry shows, before any replacement.
  [[nodiscard]] std::string registry_address() const;
};

struct GatewaySpec {
  std::string id;  // gw001
  int number = 0;
  std::string host;
  std::uint16_t port = 0;  // 0: no TCP listener (served on a pty)
  MeterProtocol protocol = MeterProtocol::dlt645_2007;
  int baud = 0;
  std::string pty_link;    // non-empty: the bus is served on a pty, symlinked here
  std::vector<MeterSpec> meters;
};

struct Fleet {
  FleetSpec spec;
  std::vector<GatewaySpec> gateways;

  // nullptr when no meter or gateway has this id.
  [[nodiscard]] const MeterSpec* find_meter(std::string_view id) const;
  [[nodiscard]] const GatewaySpec* find_gateway(std::string_view id) const;
  [[nodiscard]] std::size_t meter_count() const;
};

Fleet build_fleet(const FleetSpec& spec);

// The head-end registry CSV (docs/ARCHITECTURE.md) for the whole fleet, header row first.
// Pty buses show as serial://<pty link>?baud=B&parity=E&stop=1.
void write_registry_csv(const Fleet& fleet, std::ostream& out);

}  // namespace ami::sim
