#include "protocols/modbus/builtin_maps.hpp"

#include <vector>

namespace ami::modbus {
namespace {

// One row of a built-in table; the strings are the same a user map would give.
struct Row {
  const char* quantity;
  std::int64_t address;
  const char* type;
  const char* scale;
  const char* unit;
  const char* word_order = "ABCD";
  const char* encoding = "plain";
};

MapSpec spec(const char* name, std::int64_t function, std::int64_t max_block, std::int64_t max_gap,
             std::initializer_list<Row> rows) {
  MapSpec s{name, max_block, max_gap, {}};
  for (const Row& r : rows)
    s.points.push_back(PointSpec{r.quantity, function, r.address, r.type, r.word_order, r.scale, r.unit, r.quantity,
                                 r.encoding});
  return s;
}

// Sources: vendor register tables as summarised in ../shared/reference/modbus.md; 0-based wire
// addresses. Limits: SDMs answer exception 0x02 above ~40-50 registers, so they stay at 40.
std::vector<MapSpec> builtin_specs() {
  std::vector<MapSpec> specs;
  specs.push_back(spec("SDM630", 4, 40, 10,
                       {{"voltage_l1", 0x0000, "f32", "1", "V"},
                        {"voltage_l2", 0x0002, "f32", "1", "V"},
                        {"voltage_l3", 0x0004, "f32", "1", "V"},
                        {"current_l1", 0x0006, "f32", "1", "A"},
                        {"current_l2", 0x0008, "f32", "1", "A"},
                        {"current_l3", 0x000A, "f32", "1", "A"},
                        {"active_power", 0x0034, "f32", "1", "W"},
                        {"power_factor", 0x003E, "f32", "1", "1"},
                        {"frequency", 0x0046, "f32", "1", "Hz"},
                        {"forward_active_energy", 0x0048, "f32", "1", "kWh"},
                        {"reverse_active_energy", 0x004A, "f32", "1", "kWh"}}));
  specs.push_back(spec("SDM120", 4, 40, 10,
                       {{"voltage_l1", 0x0000, "f32", "1", "V"},
                        {"current_l1", 0x0006, "f32", "1", "A"},
                        {"active_power", 0x000C, "f32", "1", "W"},
                        {"power_factor", 0x001E, "f32", "1", "1"},
                        {"frequency", 0x0046, "f32", "1", "Hz"},
                        {"forward_active_energy", 0x0048, "f32", "1", "kWh"},
                        {"reverse_active_energy", 0x004A, "f32", "1", "kWh"}}));
  specs.push_back(spec("DTSU666", 3, 64, 30,
                       {{"forward_active_energy", 0x101E, "f32", "1", "kWh"},
                        {"reverse_active_energy", 0x1028, "f32", "1", "kWh"},
                        {"voltage_l1", 0x2006, "f32", "0.1", "V"},
                        {"voltage_l2", 0x2008, "f32", "0.1", "V"},
                        {"voltage_l3", 0x200A, "f32", "0.1", "V"},
                        {"current_l1", 0x200C, "f32", "0.001", "A"},
                        {"current_l2", 0x200E, "f32", "0.001", "A"},
                        {"current_l3", 0x2010, "f32", "0.001", "A"},
                        {"active_power", 0x2012, "f32", "0.1", "W"},
                        {"power_factor", 0x202A, "f32", "0.001", "1"},
                        {"frequency", 0x2044, "f32", "0.01", "Hz"}}));
  // DDSU666 export energy and power factor: the reference marks both "(unverified)" and gives no
  // address, so they stay unmapped rather than guessed (docs/MODBUS.md says how to add them).
  specs.push_back(spec("DDSU666", 3, 40, 10,
                       {{"voltage_l1", 0x2000, "f32", "1", "V"},
                        {"current_l1", 0x2002, "f32", "1", "A"},
                        {"active_power", 0x2004, "f32", "1", "kW"},
                        {"frequency", 0x200E, "f32", "1", "Hz"},
                        {"forward_active_energy", 0x4000, "f32", "1", "kWh"}}));
  specs.push_back(spec("iEM3xxx", 3, 100, 30,
                       {{"current_l1", 2999, "f32", "1", "A"},
                        {"current_l2", 3001, "f32", "1", "A"},
                        {"current_l3", 3003, "f32", "1", "A"},
                        {"voltage_l1", 3027, "f32", "1", "V"},
                        {"voltage_l2", 3029, "f32", "1", "V"},
                        {"voltage_l3", 3031, "f32", "1", "V"},
                        {"active_power", 3059, "f32", "1", "kW"},
                        {"power_factor", 3083, "f32", "1", "1", "ABCD", "schneider_four_quadrant_pf"},
                        {"frequency", 3109, "f32", "1", "Hz"},
                        {"forward_active_energy", 3203, "i64", "1", "Wh"},
                        {"reverse_active_energy", 3207, "i64", "1", "Wh"}}));
  specs.push_back(spec("EM340", 4, 50, 16,
                       {{"voltage_l1", 0x0000, "i32", "0.1", "V", "CDAB"},
                        {"voltage_l2", 0x0002, "i32", "0.1", "V", "CDAB"},
                        {"voltage_l3", 0x0004, "i32", "0.1", "V", "CDAB"},
                        {"current_l1", 0x000C, "i32", "0.001", "A", "CDAB"},
                        {"current_l2", 0x000E, "i32", "0.001", "A", "CDAB"},
                        {"current_l3", 0x0010, "i32", "0.001", "A", "CDAB"},
                        {"active_power", 0x0028, "i32", "0.1", "W", "CDAB"},
                        {"power_factor", 0x0031, "i16", "0.001", "1"},
                        {"frequency", 0x0033, "i16", "0.1", "Hz"},
                        {"forward_active_energy", 0x0034, "i32", "0.1", "kWh", "CDAB"},
                        {"reverse_active_energy", 0x004E, "i32", "0.1", "kWh", "CDAB"}}));
  return specs;
}

std::vector<RegisterMap> build_all() {
  std::vector<RegisterMap> maps;
  for (const MapSpec& s : builtin_specs()) {
    auto built = build_register_map(s);
    // The tables above are fixed; unit_protocols_modbus checks every one builds. A broken row is
    // left out rather than taking the process down.
    if (built.map) maps.push_back(std::move(*built.map));
  }
  return maps;
}

}  // namespace

std::span<const RegisterMap> builtin_maps() {
  static const std::vector<RegisterMap> maps = build_all();
  return maps;
}

const RegisterMap* find_builtin_map(std::string_view model) {
  for (const RegisterMap& m : builtin_maps())
    if (iequals_ascii(m.name, model)) return &m;
  return nullptr;
}

}  // namespace ami::modbus
