#include "simulators/fleet.hpp"

#include <fmt/format.h>

#include <ostream>
#include <stdexcept>

#include "protocols/modbus/builtin_maps.hpp"

namespace ami::sim {
namespace {
constexpr int kMaxMetersPerDlt645Gateway = 9999;  // the address scheme g*10000 + i
constexpr int kMaxMetersPerModbusGateway = 247;   // unit ids 1..247
constexpr int kMaxGateways = 9999;
constexpr int kDefaultBasePort = 9600;
constexpr std::int64_t kDlt645NaturalDialWh = 1'000'000'000;  // XXXXXX.XX kWh wraps after 999999.99

void apply_override(const MeterOverride& o, MeterSpec& m) {
  if (o.initial_wh) m.load.initial_wh = *o.initial_wh;
  if (o.dial_modulus_wh) m.dial_modulus_wh = *o.dial_modulus_wh;
  if (o.clock_drift_ppm) m.clock_drift_ppm = *o.clock_drift_ppm;
  if (o.load_profile_hours) m.load_profile_hours = *o.load_profile_hours;
  if (o.replacement) m.replacement = o.replacement;
}

}  // namespace

bool is_dlt645(MeterProtocol p) { return p == MeterProtocol::dlt645_2007 || p == MeterProtocol::dlt645_1997; }
bool is_modbus(MeterProtocol p) { return !is_dlt645(p); }

std::string_view to_string(MeterProtocol p) {
  switch (p) {
    case MeterProtocol::dlt645_2007:
      return "dlt645-2007";
    case MeterProtocol::dlt645_1997:
      return "dlt645-1997";
    case MeterProtocol::modbus_tcp:
      return "modbus-tcp";
    case MeterProtocol::modbus_rtu:
      return "modbus-rtu";
    case MeterProtocol::modbus_rtu_over_tcp:
      return "modbus-rtu-over-tcp";
  }
  return "?";
}

std::optional<MeterProtocol> parse_meter_protocol(std::string_view text) {
  for (auto p : {MeterProtocol::dlt645_2007, MeterProtocol::dlt645_1997, MeterProtocol::modbus_tcp,
                 MeterProtocol::modbus_rtu, MeterProtocol::modbus_rtu_over_tcp})
    if (to_string(p) == text) return p;
  return std::nullopt;
}

std::string_view MeterSpec::model() const {
  if (modbus_map != nullptr) return modbus_map->name;
  return "dlt645-generic";
}

std::string MeterSpec::registry_address() const {
  return is_modbus(protocol) ? std::to_string(unit_id) : address.to_string();
}

const MeterSpec* Fleet::find_meter(std::string_view id) const {
  for (const auto& gw : gateways)
    if (id.starts_with(gw.id) && id.size() > gw.id.size() && id[gw.id.size()] == '-')
      for (const auto& m : gw.meters)
        if (m.id == id) return &m;
  return nullptr;
}

const GatewaySpec* Fleet::find_gateway(std::string_view id) const {
  for (const auto& gw : gateways)
    if (gw.id == id) return &gw;
  return nullptr;
}

std::size_t Fleet::meter_count() const {
  std::size_t n = 0;
  for (const auto& gw : gateways) n += gw.meters.size();
  return n;
}

Fleet build_fleet(const FleetSpec& spec) {
  if (spec.utc_offset_minutes % 15 != 0 || spec.utc_offset_minutes < -720 || spec.utc_offset_minutes > 840)
    throw std::invalid_argument(
        fmt::format("utc_offset_minutes must be a multiple of 15 in -720..840, got {}", spec.utc_offset_minutes));
  if (spec.dial_modulus_wh < 0)
    throw std::invalid_argument(fmt::format("--dial-wh must be >= 0, got {}", spec.dial_modulus_wh));
  if (spec.groups.empty()) throw std::invalid_argument("the fleet has no gateways");

  Fleet fleet;
  fleet.spec = spec;
  int g = 0;
  int next_port = kDefaultBasePort;
  for (std::size_t group_index = 0; group_index < spec.groups.size(); ++group_index) {
    auto group = spec.groups[group_index];
    if (group.base_port == 0) group.base_port = next_port;
    next_port = group.base_port + group.count;
    const auto where = spec.groups.size() > 1 ? fmt::format("gateway group {}: ", group_index + 1) : std::string{};
    const auto protocol = parse_meter_protocol(group.protocol);
    if (!protocol)
      throw std::invalid_argument(fmt::format(
          "{}--protocol: unsupported protocol '{}' (supported: dlt645-2007, dlt645-1997, modbus-tcp, modbus-rtu, "
          "modbus-rtu-over-tcp)",
          where,
          group.protocol));
    const modbus::RegisterMap* map = nullptr;
    if (is_modbus(*protocol)) {
      map = modbus::find_builtin_map(group.model);
      if (map == nullptr)
        throw std::invalid_argument(fmt::format(
            "{}--model: '{}' is not a built-in Modbus model (SDM630, SDM120, DTSU666, DDSU666, iEM3xxx, EM340)", where,
            group.model));
      if (*protocol == MeterProtocol::modbus_rtu && group.pty_dir.empty())
        throw std::invalid_argument(where + "modbus-rtu buses are served on a pseudo-terminal: give --pty-dir");
      if (*protocol != MeterProtocol::modbus_rtu && !group.pty_dir.empty())
        throw std::invalid_argument(where + "--pty-dir: Modbus buses on a pty use --protocol modbus-rtu");
    } else if (!group.model.empty() && group.model != "dlt645-generic") {
      throw std::invalid_argument(fmt::format("{}--model: DL/T 645 meters are 'dlt645-generic', got '{}'", where, group.model));
    }
    const int max_meters = is_modbus(*protocol) ? kMaxMetersPerModbusGateway : kMaxMetersPerDlt645Gateway;
    if (group.count < 1 || g + group.count > kMaxGateways)
      throw std::invalid_argument(fmt::format("{}--gateways must be 1..{}, got {}", where, kMaxGateways, group.count));
    if (group.meters_per_gateway < 1 || group.meters_per_gateway > max_meters)
      throw std::invalid_argument(fmt::format("{}--meters-per-gateway must be 1..{} for {}, got {}", where, max_meters,
                                              group.protocol, group.meters_per_gateway));
    if (group.pty_dir.empty() && (group.base_port < 1 || group.base_port + group.count - 1 > 65535))
      throw std::invalid_argument(fmt::format("{}--base-port {} with {} gateways leaves the TCP port range", where,
                                              group.base_port, group.count));
    if (group.baud < 0 || group.baud > 115200)
      throw std::invalid_argument(fmt::format("{}--baud must be 0 (no wire timing) or a rate up to 115200, got {}",
                                              where, group.baud));

    for (int k = 0; k < group.count; ++k) {
      ++g;
      GatewaySpec gw;
      gw.id = fmt::format("gw{:03d}", g);
      gw.number = g;
      gw.host = spec.listen;
      gw.protocol = *protocol;
      gw.baud = group.baud;
      if (group.pty_dir.empty()) {
        gw.port = static_cast<std::uint16_t>(group.base_port + k);
      } else {
        gw.pty_link = group.pty_dir + "/" + gw.id;
      }
      gw.meters.reserve(static_cast<std::size_t>(group.meters_per_gateway));
      for (int i = 1; i <= group.meters_per_gateway; ++i) {
        MeterSpec m;
        m.id = fmt::format("{}-m{:04d}", gw.id, i);
        m.gateway = g;
        m.index = i;
        m.key = static_cast<std::uint64_t>(g) * 100000u + static_cast<std::uint64_t>(i);
        m.protocol = *protocol;
        m.modbus_map = map;
        std::string error;
        const auto address = dlt645::Address::parse(fmt::format("{:012d}", g * 10000 + i), error);
        if (!address) throw std::logic_error("generated DL/T 645 address is invalid: " + error);
        m.address = *address;
        m.unit_id = i;
        m.utc_offset_minutes = spec.utc_offset_minutes;
        m.load = make_load_params(spec.seed, m.key);
        m.dial_modulus_wh = spec.dial_modulus_wh != 0 ? spec.dial_modulus_wh : (is_dlt645(*protocol) ? kDlt645NaturalDialWh : 0);
        gw.meters.push_back(std::move(m));
      }
      fleet.gateways.push_back(std::move(gw));
    }
  }

  for (const auto& o : spec.overrides) {
    MeterSpec* meter = nullptr;
    for (auto& gw : fleet.gateways)
      for (auto& m : gw.meters)
        if (m.id == o.id) meter = &m;
    if (meter == nullptr) throw std::invalid_argument(fmt::format("meters: no meter '{}' in this fleet", o.id));
    apply_override(o, *meter);
    if (meter->dial_modulus_wh < 0)
      throw std::invalid_argument(fmt::format("meters '{}': dial_wh must be >= 0", o.id));
    if (meter->dial_modulus_wh > kDlt645NaturalDialWh && is_dlt645(meter->protocol))
      throw std::invalid_argument(fmt::format("meters '{}': a DL/T 645 dial holds at most {} Wh", o.id, kDlt645NaturalDialWh));
  }
  return fleet;
}

void write_registry_csv(const Fleet& fleet, std::ostream& out) {
  out << "meter_id,protocol,channel,address,model,ct_ratio,pt_ratio,utc_offset_minutes,usage_point,"
         "interval_minutes,enabled,tags\n";
  for (const auto& gw : fleet.gateways) {
    const auto channel = gw.pty_link.empty()
                             ? fmt::format("tcp://{}:{}", gw.host, gw.port)
                             : fmt::format("serial://{}?baud={}&parity=E&stop=1", gw.pty_link, gw.baud != 0 ? gw.baud : 2400);
    for (const auto& m : gw.meters)
      out << fmt::format("{},{},{},{},{},1,1,{},up-{},15,true,gateway={};profile={}{}\n", m.id, to_string(m.protocol),
                         channel, m.registry_address(), m.model(), m.utc_offset_minutes, m.id, gw.id,
                         to_string(m.load.load_class), m.load.solar != 0 ? "-solar" : "");
  }
}

}  // namespace ami::sim
