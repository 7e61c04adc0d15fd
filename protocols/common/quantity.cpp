#include "protocols/common/quantity.hpp"

#include <array>

namespace ami {
namespace {

using enum Quantity;
using enum CanonicalUnit;
using enum TransformerScaling;

constexpr std::array<QuantityInfo, kQuantityCount> kQuantities{{
    {forward_active_energy, "forward_active_energy", wh, current_voltage},
    {reverse_active_energy, "reverse_active_energy", wh, current_voltage},
    {forward_reactive_energy, "forward_reactive_energy", varh, current_voltage},
    {reverse_reactive_energy, "reverse_reactive_energy", varh, current_voltage},
    {active_power, "active_power", milliwatt, current_voltage},
    {reactive_power, "reactive_power", millivar, current_voltage},
    {voltage_l1, "voltage_l1", millivolt, voltage},
    {voltage_l2, "voltage_l2", millivolt, voltage},
    {voltage_l3, "voltage_l3", millivolt, voltage},
    {current_l1, "current_l1", milliampere, current},
    {current_l2, "current_l2", milliampere, current},
    {current_l3, "current_l3", milliampere, current},
    {power_factor, "power_factor", per_mille, none},
    {frequency, "frequency", millihertz, none},
}};

constexpr bool table_in_enum_order() {
  for (std::size_t i = 0; i < kQuantities.size(); ++i)
    if (static_cast<std::size_t>(kQuantities[i].quantity) != i) return false;
  return true;
}
static_assert(table_in_enum_order(), "kQuantities must list every Quantity in enum order");

}  // namespace

std::span<const QuantityInfo> all_quantities() { return kQuantities; }

const QuantityInfo& info(Quantity q) { return kQuantities[static_cast<std::size_t>(q)]; }

std::string_view to_string(Quantity q) { return info(q).name; }

std::string_view to_string(CanonicalUnit u) {
  switch (u) {
    case wh: return "Wh";
    case varh: return "varh";
    case milliwatt: return "mW";
    case millivar: return "mvar";
    case millivolt: return "mV";
    case milliampere: return "mA";
    case per_mille: return "1/1000";
    case millihertz: return "mHz";
  }
  return "?";
}

std::optional<Quantity> parse_quantity(std::string_view name) {
  for (const auto& q : kQuantities)
    if (q.name == name) return q.quantity;
  return std::nullopt;
}

std::optional<std::int64_t> apply_transformer_ratios(Quantity q, std::int64_t value, std::int64_t ct_ratio,
                                                     std::int64_t pt_ratio) {
  if (ct_ratio < 1 || pt_ratio < 1) return std::nullopt;
  std::int64_t factor = 1;
  switch (info(q).scaling) {
    case none: break;
    case current: factor = ct_ratio; break;
    case voltage: factor = pt_ratio; break;
    case current_voltage:
      if (__builtin_mul_overflow(ct_ratio, pt_ratio, &factor)) return std::nullopt;
      break;
  }
  std::int64_t result = 0;
  if (__builtin_mul_overflow(value, factor, &result)) return std::nullopt;
  return result;
}

}  // namespace ami
