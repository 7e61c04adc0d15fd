// Value decoding: raw 16-bit registers -> typed value -> canonical reading (integer, canonical unit).
//
// Integer registers convert exactly (rational scale, 128-bit intermediate) and round half away
// from zero only when the scale leaves a fraction of the canonical unit. Float registers convert
// as round-half-away-from-zero(value x scale x unit factor) computed in double: see docs/MODBUS.md
// ("Rounding of float32 kWh") for why. NaN and infinities mean "not available" (meters report
// NaN for quantities they do not measure); results outside int64 are "out of range".
//
// Pure functions; any thread may call; nothing throws or allocates (decode_block() appends to the
// caller's vector).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "protocols/modbus/read_plan.hpp"
#include "protocols/modbus/register_map.hpp"

namespace ami::modbus {

struct RawValue {
  enum class Kind : std::uint8_t { signed_integer, unsigned_integer, floating };
  Kind kind = Kind::signed_integer;
  std::int64_t i = 0;   // signed_integer (i16, i32, i64) and unsigned types that fit
  std::uint64_t u = 0;  // unsigned_integer (u16, u32, u64)
  double f = 0.0;       // floating (f32 widened exactly)
};

// The value of `type` stored in registers[0 .. width) with the given word order.
// std::nullopt when fewer than register_width(type) registers are given.
std::optional<RawValue> decode_raw(std::span<const std::uint16_t> registers, ValueType type, WordOrder order);

// The reverse, for simulators and tests: the registers a meter would serve for `bits` (the value's
// two's-complement or IEEE-754 bit pattern, right-aligned). `out` must hold register_width(type).
void encode_raw(std::uint64_t bits, ValueType type, WordOrder order, std::span<std::uint16_t> out);

enum class ValueStatus : std::uint8_t {
  ok,
  not_available,  // NaN or infinity
  out_of_range,   // does not fit int64 in the canonical unit
  missing,        // the point's registers were not in the data given
};

struct CanonicalValue {
  ValueStatus status = ValueStatus::missing;
  std::int64_t value = 0;  // in info(point.quantity).unit; meaningful only when status == ok
};

CanonicalValue to_canonical(const Point& point, const RawValue& raw);
// decode_raw() + to_canonical() for a point's own registers.
CanonicalValue decode_point(const Point& point, std::span<const std::uint16_t> registers);

// Rounds x to the nearest integer, halves away from zero; std::nullopt when not finite or outside int64.
std::optional<std::int64_t> round_half_away(double x);

struct PointReading {
  std::uint32_t point = 0;  // index into RegisterMap::points
  Quantity quantity = Quantity::forward_active_energy;
  CanonicalValue value;
};

// Decodes every point of `block` from the registers a read of that block returned
// (registers[0] is block.start). Short data marks the points it does not cover as missing.
void decode_block(const RegisterMap& map, const ReadBlock& block, std::span<const std::uint16_t> registers,
                  std::vector<PointReading>& out);

}  // namespace ami::modbus
