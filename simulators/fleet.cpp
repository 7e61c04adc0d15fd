#include "simulators/fleet.hpp"

#include <fmt/format.h>

#include <ostream>
#include <stdexcept>

namespace ami::sim {
namespace {
constexpr int kMaxMetersPerGateway = 9999;  // the address scheme g*10000 + i
constexpr int kMaxGateways = 9999;
}  // namespace

std::string_view to_string(MeterProtocol p) {
  switch (p) {
    case MeterProtocol::dlt645_2007:
      return "dlt645-2007";
  }
  return "?";
}

const MeterSpec* Fleet::find_meter(std::string_view id) const {
  // Ids are gwGGG-mIIII: go straight to the gateway and index when they parse, else scan.
  for (const auto& gw : gateways)
    if (id.starts_with(gw.id) && id.size() > gw.id.size() && id[gw.id.size()] == '-')
      for (const auto& m : gw.meters)
        if (m.id == id) return &m;
  return nullptr;
}

std::size_t Fleet::meter_count() const {
  std::size_t n = 0;
  for (const auto& gw : gateways) n += gw.meters.size();
  return n;
}

Fleet build_fleet(const FleetSpec& spec) {
  if (spec.gateways < 1 || spec.gateways > kMaxGateways)
    throw std::invalid_argument(fmt::format("--gateways must be 1..{}, got {}", kMaxGateways, spec.gateways));
  if (spec.meters_per_gateway < 1 || spec.meters_per_gateway > kMaxMetersPerGateway)
    throw std::invalid_argument(
        fmt::format("--meters-per-gateway must be 1..{}, got {}", kMaxMetersPerGateway, spec.meters_per_gateway));
  if (spec.protocol != "dlt645-2007")
    throw std::invalid_argument(fmt::format("--protocol: unsupported protocol '{}' (supported: dlt645-2007)", spec.protocol));
  if (spec.base_port < 1 || spec.base_port + spec.gateways - 1 > 65535)
    throw std::invalid_argument(
        fmt::format("--base-port {} with {} gateways leaves the TCP port range", spec.base_port, spec.gateways));
  if (spec.utc_offset_minutes % 15 != 0 || spec.utc_offset_minutes < -720 || spec.utc_offset_minutes > 840)
    throw std::invalid_argument(
        fmt::format("utc offset must be a multiple of 15 minutes in -720..840, got {}", spec.utc_offset_minutes));

  Fleet fleet;
  fleet.spec = spec;
  fleet.gateways.reserve(static_cast<std::size_t>(spec.gateways));
  for (int g = 1; g <= spec.gateways; ++g) {
    GatewaySpec gw;
    gw.id = fmt::format("gw{:03d}", g);
    gw.number = g;
    gw.host = spec.listen;
    gw.port = static_cast<std::uint16_t>(spec.base_port + g - 1);
    gw.meters.reserve(static_cast<std::size_t>(spec.meters_per_gateway));
    for (int i = 1; i <= spec.meters_per_gateway; ++i) {
      MeterSpec m;
      m.id = fmt::format("{}-m{:04d}", gw.id, i);
      m.gateway = g;
      m.index = i;
      m.key = static_cast<std::uint64_t>(g) * 100000u + static_cast<std::uint64_t>(i);
      m.protocol = MeterProtocol::dlt645_2007;
      std::string error;
      const auto address = dlt645::Address::parse(fmt::format("{:012d}", g * 10000 + i), error);
      if (!address) throw std::logic_error("generated DL/T 645 address is invalid: " + error);
      m.address = *address;
      m.utc_offset_minutes = spec.utc_offset_minutes;
      m.load = make_load_params(spec.seed, m.key);
      gw.meters.push_back(std::move(m));
    }
    fleet.gateways.push_back(std::move(gw));
  }
  return fleet;
}

void write_registry_csv(const Fleet& fleet, std::ostream& out) {
  out << "meter_id,protocol,channel,address,model,ct_ratio,pt_ratio,utc_offset_minutes,usage_point,"
         "interval_minutes,enabled,tags\n";
  for (const auto& gw : fleet.gateways)
    for (const auto& m : gw.meters)
      out << fmt::format("{},{},tcp://{}:{},{},dlt645-generic,1,1,{},up-{},15,true,gateway={};profile={}{}\n", m.id,
                         to_string(m.protocol), gw.host, gw.port, m.address.to_string(), m.utc_offset_minutes, m.id,
                         gw.id, to_string(m.load.load_class), m.load.solar != 0 ? "-solar" : "");
}

}  // namespace ami::sim
