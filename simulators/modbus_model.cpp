#include "simulators/modbus_model.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

#include "protocols/modbus/decode.hpp"
#include "protocols/modbus/register_map.hpp"

namespace ami::sim {
namespace {

using modbus::Point;

// The meter's value of a point's quantity in the canonical unit, or nullopt if it has none.
std::optional<std::int64_t> canonical_value(const SimMeter& meter, Quantity q, UtcMillis t) {
  const auto energy = [&](bool forward) {
    const auto r = meter.registers_at(t);
    return wrap_dial(forward ? r.forward_wh : r.reverse_wh, meter.spec().dial_modulus_wh);
  };
  const auto v = meter.instantaneous_at(t);
  switch (q) {
    case Quantity::forward_active_energy: return energy(true);
    case Quantity::reverse_active_energy: return energy(false);
    case Quantity::active_power: return v.active_power_mw;
    case Quantity::voltage_l1: return v.voltage_mv[0];
    case Quantity::voltage_l2: return v.voltage_mv[1];
    case Quantity::voltage_l3: return v.voltage_mv[2];
    case Quantity::current_l1: return v.current_ma[0];
    case Quantity::current_l2: return v.current_ma[1];
    case Quantity::current_l3: return v.current_ma[2];
    case Quantity::power_factor: return v.power_factor_permille;
    case Quantity::frequency: return v.frequency_mhz;
    default: return std::nullopt;
  }
}

// Registers of one point holding `canonical` (register value x to_canonical = canonical).
void encode_point(const Point& p, std::int64_t canonical, std::span<std::uint16_t> out) {
  const double value = static_cast<double>(canonical) * static_cast<double>(p.to_canonical.den) /
                       static_cast<double>(p.to_canonical.num);
  std::uint64_t bits = 0;
  if (p.type == modbus::ValueType::f32) {
    bits = std::bit_cast<std::uint32_t>(static_cast<float>(value));
  } else {
    bits = static_cast<std::uint64_t>(static_cast<std::int64_t>(std::llround(value)));
  }
  modbus::encode_raw(bits, p.type, p.word_order, out);
}

}  // namespace

std::variant<std::vector<std::uint16_t>, ModbusException> read_modbus_registers(const SimMeter& meter,
                                                                               std::uint8_t function,
                                                                               std::uint16_t start,
                                                                               std::uint16_t count, UtcMillis now) {
  const auto* map = meter.spec().modbus_map;
  if (map == nullptr) return ModbusException{kModbusIllegalFunction};
  int lowest = 0x10000, highest = -1;
  for (const auto& p : map->points) {
    if (static_cast<std::uint8_t>(p.function) != function) continue;
    lowest = std::min<int>(lowest, p.address);
    highest = std::max<int>(highest, p.address + p.width());
  }
  if (highest < 0) return ModbusException{kModbusIllegalFunction};
  const int end = int{start} + count;
  if (count == 0 || count > map->limits.max_block || start < lowest || end > highest)
    return ModbusException{kModbusIllegalDataAddress};

  std::vector<std::uint16_t> registers(count, 0);
  for (const auto& p : map->points) {
    if (static_cast<std::uint8_t>(p.function) != function) continue;
    const int p_end = p.address + p.width();
    if (p.address >= end || p_end <= start) continue;
    const auto value = canonical_value(meter, p.quantity, now);
    std::vector<std::uint16_t> point_registers(p.width(), 0);
    if (value) {
      encode_point(p, *value, point_registers);
    } else if (p.type == modbus::ValueType::f32) {
      encode_point(p, 0, point_registers);
    }
    for (int a = std::max<int>(p.address, start); a < std::min(p_end, end); ++a)
      registers[static_cast<std::size_t>(a - start)] = point_registers[static_cast<std::size_t>(a - p.address)];
  }
  return registers;
}

ExposedEnergy modbus_exposed_energy(const SimMeter& meter, UtcMillis t) {
  ExposedEnergy e;
  const auto* map = meter.spec().modbus_map;
  if (map == nullptr) return e;
  for (const auto& p : map->points) {
    if (p.quantity != Quantity::forward_active_energy && p.quantity != Quantity::reverse_active_energy) continue;
    std::vector<std::uint16_t> regs(p.width(), 0);
    encode_point(p, *canonical_value(meter, p.quantity, t), regs);
    const auto decoded = modbus::decode_point(p, regs);
    (p.quantity == Quantity::forward_active_energy ? e.forward_wh : e.reverse_wh) = decoded.value;
  }
  return e;
}

}  // namespace ami::sim
