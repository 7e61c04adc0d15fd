#include "protocols/modbus/decode.hpp"

#include <bit>
#include <cmath>
#include <limits>

namespace ami::modbus {
namespace {

__extension__ typedef __int128 int128;

constexpr bool reverses_registers(WordOrder o) { return o == WordOrder::cdab || o == WordOrder::dcba; }
constexpr bool swaps_bytes(WordOrder o) { return o == WordOrder::badc || o == WordOrder::dcba; }
constexpr std::uint16_t byte_swapped(std::uint16_t w) { return static_cast<std::uint16_t>((w << 8) | (w >> 8)); }

// Divides by den > 0, rounding halves away from zero.
int128 divide_half_away(int128 value, std::int64_t den) {
  const int128 quotient = value / den;
  const int128 remainder = value % den;
  const int128 twice = (remainder < 0 ? -remainder : remainder) * 2;
  if (twice >= den) return quotient + (value < 0 ? -1 : 1);
  return quotient;
}

CanonicalValue from_int128(int128 v) {
  if (v > std::numeric_limits<std::int64_t>::max() || v < std::numeric_limits<std::int64_t>::min())
    return {ValueStatus::out_of_range, 0};
  return {ValueStatus::ok, static_cast<std::int64_t>(v)};
}

CanonicalValue from_double(double v) {
  if (!std::isfinite(v)) return {ValueStatus::not_available, 0};
  const auto rounded = round_half_away(v);
  if (!rounded) return {ValueStatus::out_of_range, 0};
  return {ValueStatus::ok, *rounded};
}

double as_double(const RawValue& raw) {
  switch (raw.kind) {
    case RawValue::Kind::signed_integer: return static_cast<double>(raw.i);
    case RawValue::Kind::unsigned_integer: return static_cast<double>(raw.u);
    case RawValue::Kind::floating: return raw.f;
  }
  return 0.0;
}

double schneider_four_quadrant_pf(double r) {
  if (r < -1.0) return -2.0 - r;
  if (r > 1.0) return 2.0 - r;
  return r;
}

}  // namespace

std::optional<std::int64_t> round_half_away(double x) {
  // 2^63 is exactly representable; anything at or beyond it does not fit.
  constexpr double kLimit = 9223372036854775808.0;
  if (!std::isfinite(x) || x >= kLimit || x < -kLimit) return std::nullopt;
  const double r = std::round(x);  // halves away from zero, independent of the FP rounding mode
  if (r >= kLimit) return std::nullopt;
  return static_cast<std::int64_t>(r);
}

std::optional<RawValue> decode_raw(std::span<const std::uint16_t> registers, ValueType type, WordOrder order) {
  const std::size_t width = register_width(type);
  if (registers.size() < width) return std::nullopt;
  std::uint64_t bits = 0;
  for (std::size_t i = 0; i < width; ++i) {
    std::uint16_t w = registers[reverses_registers(order) ? width - 1 - i : i];
    if (swaps_bytes(order)) w = byte_swapped(w);
    bits = (bits << 16) | w;
  }
  RawValue raw;
  switch (type) {
    case ValueType::u16:
    case ValueType::u32:
    case ValueType::u64:
      raw.kind = RawValue::Kind::unsigned_integer;
      raw.u = bits;
      break;
    case ValueType::i16:
      raw.i = static_cast<std::int16_t>(static_cast<std::uint16_t>(bits));
      break;
    case ValueType::i32:
      raw.i = static_cast<std::int32_t>(static_cast<std::uint32_t>(bits));
      break;
    case ValueType::i64:
      raw.i = static_cast<std::int64_t>(bits);
      break;
    case ValueType::f32:
      raw.kind = RawValue::Kind::floating;
      raw.f = static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(bits)));
      break;
  }
  return raw;
}

void encode_raw(std::uint64_t bits, ValueType type, WordOrder order, std::span<std::uint16_t> out) {
  const std::size_t width = register_width(type);
  if (out.size() < width) return;
  for (std::size_t i = 0; i < width; ++i) {
    // i-th register in ABCD order holds bits of significance (width-1-i).
    auto w = static_cast<std::uint16_t>(bits >> (16 * (width - 1 - i)));
    if (swaps_bytes(order)) w = byte_swapped(w);
    out[reverses_registers(order) ? width - 1 - i : i] = w;
  }
}

CanonicalValue to_canonical(const Point& point, const RawValue& raw) {
  if (point.encoding == ValueEncoding::schneider_four_quadrant_pf) {
    const double in_unit = as_double(raw) * static_cast<double>(point.scale.num) / static_cast<double>(point.scale.den);
    if (!std::isfinite(in_unit)) return {ValueStatus::not_available, 0};
    const Ratio unit_factor = canonical_factor(point.unit);
    return from_double(schneider_four_quadrant_pf(in_unit) * static_cast<double>(unit_factor.num) /
                       static_cast<double>(unit_factor.den));
  }
  switch (raw.kind) {
    case RawValue::Kind::signed_integer:
      return from_int128(divide_half_away(int128{raw.i} * point.to_canonical.num, point.to_canonical.den));
    case RawValue::Kind::unsigned_integer:
      return from_int128(divide_half_away(int128{raw.u} * point.to_canonical.num, point.to_canonical.den));
    case RawValue::Kind::floating:
      // float32 has a 24-bit significand, so for the usual factors (x1000 for kWh, x10, x100) the
      // product is exact in double and round_half_away() is the only rounding.
      return from_double(raw.f * static_cast<double>(point.to_canonical.num) /
                         static_cast<double>(point.to_canonical.den));
  }
  return {};
}

CanonicalValue decode_point(const Point& point, std::span<const std::uint16_t> registers) {
  const auto raw = decode_raw(registers, point.type, point.word_order);
  if (!raw) return {ValueStatus::missing, 0};
  return to_canonical(point, *raw);
}

void decode_block(const RegisterMap& map, const ReadBlock& block, std::span<const std::uint16_t> registers,
                  std::vector<PointReading>& out) {
  for (std::uint32_t index : block.points) {
    if (index >= map.points.size()) continue;
    const Point& point = map.points[index];
    PointReading reading{index, point.quantity, {ValueStatus::missing, 0}};
    if (point.address >= block.start) {
      const std::size_t offset = point.address - block.start;
      if (offset < registers.size()) reading.value = decode_point(point, registers.subspan(offset));
    }
    out.push_back(reading);
  }
}

}  // namespace ami::modbus
