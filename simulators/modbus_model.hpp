// The Modbus side of a simulated meter: a register read in, registers or an exception out.
//
// The register layout is the protocol library's built-in map of the model (SDM630, DTSU666,
// EM340 = int32 low word first, ...; protocols/modbus/builtin_maps.hpp): every point is encoded
// from the meter's values with the map's type, word order and scale (floats packed by hand, not
// with libmodbus's setters). A read must use a function the map has, stay within max_block and
// within the span of that function's points, else exception 0x02 (0x01 for other functions).
// Registers between points read as 0. Pure; any thread that owns the meter. Never throws.
#pragma once

#include <cstdint>
#include <variant>
#include <vector>

#include "simulators/meter.hpp"

namespace ami::sim {

inline constexpr std::uint8_t kModbusIllegalFunction = 0x01;
inline constexpr std::uint8_t kModbusIllegalDataAddress = 0x02;
inline constexpr std::uint8_t kModbusGatewayTargetFailed = 0x0B;

struct ModbusException {
  std::uint8_t code = 0;
};

std::variant<std::vector<std::uint16_t>, ModbusException> read_modbus_registers(const SimMeter& meter,
                                                                               std::uint8_t function,
                                                                               std::uint16_t start,
                                                                               std::uint16_t count, UtcMillis now);

// Forward/reverse energy (Wh) as a master decodes them from this meter's map at t (float
// rounding and dial wrap included): the Modbus ground truth.
struct ExposedEnergy {
  std::int64_t forward_wh = 0;
  std::int64_t reverse_wh = 0;
};
ExposedEnergy modbus_exposed_energy(const SimMeter& meter, UtcMillis t);

}  // namespace ami::sim
