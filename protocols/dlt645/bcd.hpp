// BCD helpers for DL/T 645 values: low byte first, optional sign in bit 7 of the last byte.
// Pure, constexpr-friendly, never throw. "Not available" (all FF) is reported separately from
// "not BCD" so callers can tell a meter that has no value from a corrupt one.
#pragma once

#include <cstdint>
#include <span>

namespace ami::dlt645 {

enum class BcdStatus : std::uint8_t { ok, not_available, invalid };

struct BcdValue {
  BcdStatus status = BcdStatus::invalid;
  std::int64_t value = 0;  // integer of all the digits; scale is the caller's (catalogue's) business
};

inline bool is_all_ff(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return false;
  for (auto b : bytes)
    if (b != 0xFF) return false;
  return true;
}

// Unsigned BCD, low byte first. At most 9 bytes (18 digits) fit an int64.
inline BcdValue decode_bcd(std::span<const std::uint8_t> bytes) {
  if (is_all_ff(bytes)) return {BcdStatus::not_available, 0};
  if (bytes.empty() || bytes.size() > 9) return {BcdStatus::invalid, 0};
  std::int64_t v = 0;
  for (std::size_t i = bytes.size(); i-- > 0;) {
    const auto hi = bytes[i] >> 4;
    const auto lo = bytes[i] & 0x0F;
    if (hi > 9 || lo > 9) return {BcdStatus::invalid, 0};
    v = v * 100 + hi * 10 + lo;
  }
  return {BcdStatus::ok, v};
}

// Signed BCD: bit 7 of the most significant (last) byte is the sign, the rest the magnitude.
inline BcdValue decode_signed_bcd(std::span<const std::uint8_t> bytes) {
  if (is_all_ff(bytes)) return {BcdStatus::not_available, 0};
  if (bytes.empty() || bytes.size() > 9) return {BcdStatus::invalid, 0};
  std::uint8_t copy[9];
  for (std::size_t i = 0; i < bytes.size(); ++i) copy[i] = bytes[i];
  const bool negative = (copy[bytes.size() - 1] & 0x80) != 0;
  copy[bytes.size() - 1] &= 0x7F;
  auto r = decode_bcd(std::span<const std::uint8_t>(copy, bytes.size()));
  if (r.status == BcdStatus::ok && negative) r.value = -r.value;
  return r;
}

// Writes `value` (>= 0) as `bytes.size()` BCD bytes, low byte first; false if it does not fit.
inline bool encode_bcd(std::uint64_t value, std::span<std::uint8_t> bytes) {
  for (auto& b : bytes) {
    const auto two = value % 100;
    value /= 100;
    b = static_cast<std::uint8_t>(((two / 10) << 4) | (two % 10));
  }
  return value == 0;
}

inline bool encode_signed_bcd(std::int64_t value, std::span<std::uint8_t> bytes) {
  if (bytes.empty()) return false;
  const bool negative = value < 0;
  const auto magnitude = static_cast<std::uint64_t>(negative ? -value : value);
  if (!encode_bcd(magnitude, bytes)) return false;
  if (bytes.back() & 0x80) return false;  // magnitude overflows into the sign bit
  if (negative) bytes.back() |= 0x80;
  return true;
}

}  // namespace ami::dlt645
