// Built-in register maps of the Modbus energy meters the head-end knows by model name:
// SDM630, SDM120, DTSU666, DDSU666, iEM3xxx, EM340 (register tables: docs/MODBUS.md).
//
// The maps are built once, on first use, through build_register_map() (so they obey the same
// rules as user maps) and live for the whole process; returned references and pointers stay valid.
// Any thread may call (function-local static initialisation is thread-safe). Never throws.
#pragma once

#include <span>
#include <string_view>

#include "protocols/modbus/register_map.hpp"

namespace ami::modbus {

std::span<const RegisterMap> builtin_maps();
// Case-insensitive model name; nullptr when the model has no built-in map.
const RegisterMap* find_builtin_map(std::string_view model);

}  // namespace ami::modbus
