// User-defined Modbus register maps from the daemon's TOML configuration.
//
//   [[modbus.maps]]
//   name = "site-meter"          # what the registry's `model` column refers to
//   max_block = 60               # 1..125 (default 125)
//   max_gap = 4                  # default 0
//   [[modbus.maps.points]]
//   name = "import"              # optional; defaults to the quantity
//   function = 4                 # 3 holding (default) or 4 input
//   address = 0x48               # 0-based wire address
//   type = "f32"                 # u16 i16 u32 i32 u64 i64 f32
//   word_order = "ABCD"          # ABCD (default) CDAB BADC DCBA
//   scale = 0.1                  # number or string ("1/10", "1e-3"); default 1
//   unit = "kWh"
//   quantity = "forward_active_energy"
//   encoding = "plain"           # optional
//
// Validation is build_register_map()'s (protocols/modbus/register_map.hpp) plus TOML shape checks
// (types, unknown keys) and a clash with a built-in model name. Every error names the file (and
// line where toml++ knows it), the map, the point and the field.
//
// Threads: call at start-up from any one thread. Never throws: errors come back in the result.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "protocols/modbus/register_map.hpp"

namespace ami::modbus {

struct MapConfigResult {
  std::vector<RegisterMap> maps;    // only when errors is empty
  std::vector<std::string> errors;  // "maps.toml: map 'X', point 'Y', field 'type': unknown type 'f16' ..."
};

// `modbus` is the [modbus] table (its `maps` array is read; other keys are left to the caller).
MapConfigResult load_user_maps(const toml::table& modbus, std::string_view source);
// Parses a whole file and reads its [modbus] table.
MapConfigResult load_user_maps_file(const std::filesystem::path& file);

// A map by model name: the user's maps first (exact name), then the built-in ones
// (case-insensitive). nullptr when neither has it.
const RegisterMap* find_map(const std::vector<RegisterMap>& user_maps, std::string_view model);

}  // namespace ami::modbus
