// The simulated fleet: gateways (TCP listeners standing for RS-485 serial servers) and the meters
// on their buses, built deterministically from a FleetSpec (flags or a fleet file).
//
// Naming: gateway g (1-based) is "gw%03d" and listens on base_port + g - 1; meter i on it is
// "gwGGG-m%04d" with DL/T 645 address g*10000 + i as 12 digits, and load key g*100000 + i so that
// adding gateways or meters never changes the existing meters.
// Ownership/threads: a Fleet is a plain value built once at start-up and read-only afterwards.
// Errors: build_fleet() throws std::invalid_argument naming the bad field (configuration edge).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "protocols/dlt645/address.hpp"
#include "simulators/load_model.hpp"

namespace ami::sim {

enum class MeterProtocol : std::uint8_t { dlt645_2007 };

std::string_view to_string(MeterProtocol p);

struct FleetSpec {
  int gateways = 1;
  int meters_per_gateway = 1;
  std::string protocol = "dlt645-2007";
  int base_port = 9600;
  std::uint64_t seed = 1;
  std::string listen = "127.0.0.1";
  int utc_offset_minutes = 480;
};

struct MeterSpec {
  std::string id;             // gw001-m0001
  int gateway = 0;            // 1-based
  int index = 0;              // 1-based on its gateway
  std::uint64_t key = 0;      // load/fault hash key
  MeterProtocol protocol = MeterProtocol::dlt645_2007;
  dlt645::Address address;
  int utc_offset_minutes = 480;
  LoadParams load;
};

struct GatewaySpec {
  std::string id;  // gw001
  int number = 0;
  std::string host;
  std::uint16_t port = 0;
  std::vector<MeterSpec> meters;
};

struct Fleet {
  FleetSpec spec;
  std::vector<GatewaySpec> gateways;

  // nullptr when no meter has this id.
  [[nodiscard]] const MeterSpec* find_meter(std::string_view id) const;
  [[nodiscard]] std::size_t meter_count() const;
};

Fleet build_fleet(const FleetSpec& spec);

// The head-end registry CSV (docs/ARCHITECTURE.md) for the whole fleet, header row first.
void write_registry_csv(const Fleet& fleet, std::ostream& out);

}  // namespace ami::sim
