// Canonical quantities and their canonical units, shared by every protocol (DL/T 645, Modbus) and
// by everything downstream (normalizer, storage, VEE). One reading = one Quantity + one int64 in
// that quantity's canonical unit. The table of units is documented in docs/MODBUS.md.
//
//   quantity                         canonical unit   why
//   active/reactive energy           Wh / varh        billing unit, integer end to end
//   active/reactive power            mW / mvar        keeps 0.001 W resolution of meters as integers
//   voltage (phase to neutral)       mV
//   current (per phase)              mA
//   power factor (signed)            1/1000           -1000..1000, sign as the meter reports it
//   frequency                        mHz
//
// Pure values and functions; any thread may call. Nothing throws: parsing returns std::nullopt,
// arithmetic that would overflow int64 returns std::nullopt.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace ami {

enum class Quantity : std::uint8_t {
  forward_active_energy,    // Wh, forward / delivered to the customer
  reverse_active_energy,    // Wh, reverse / received from the customer
  forward_reactive_energy,  // varh
  reverse_reactive_energy,  // varh
  active_power,      // mW, signed
  reactive_power,    // mvar, signed
  voltage_l1,              // mV
  voltage_l2,
  voltage_l3,
  current_l1,  // mA
  current_l2,
  current_l3,
  power_factor,  // 1/1000, signed
  frequency,           // mHz
};
inline constexpr std::size_t kQuantityCount = 14;

// The canonical unit each quantity's int64 value is expressed in.
enum class CanonicalUnit : std::uint8_t { wh, varh, milliwatt, millivar, millivolt, milliampere, per_mille, millihertz };

// What the current- and voltage-transformer ratios do to a quantity measured on the secondary side.
enum class TransformerScaling : std::uint8_t {
  none,           // frequency, power factor
  current,        // x CT
  voltage,        // x PT
  current_voltage // energy and power: x CT x PT
};

struct QuantityInfo {
  Quantity quantity;
  std::string_view name;  // stable snake_case name used in configuration, storage and the API
  CanonicalUnit unit;
  TransformerScaling scaling;
};

// Every quantity, in enum order.
std::span<const QuantityInfo> all_quantities();
const QuantityInfo& info(Quantity q);
std::string_view to_string(Quantity q);
std::string_view to_string(CanonicalUnit u);  // "Wh", "mW", "mV", ...
std::optional<Quantity> parse_quantity(std::string_view name);

// Applies CT and PT ratios (from the meter registry) to a canonical value measured on the
// secondary side. Returns std::nullopt on int64 overflow or a ratio < 1.
std::optional<std::int64_t> apply_transformer_ratios(Quantity q, std::int64_t value, std::int64_t ct_ratio,
                                                     std::int64_t pt_ratio);

}  // namespace ami
