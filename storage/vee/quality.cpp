#include "storage/vee/quality.hpp"

#include <array>

namespace ami::storage::vee {
namespace {

struct FlagInfo {
  Flag flag;
  std::string_view code;
  std::string_view name;
};

constexpr std::array<FlagInfo, 16> flag_table{{
    {Flag::skipped_interval, "2.4.4", "skipped_interval"},
    {Flag::estimated, "2.8.0", "estimated"},
    {Flag::time_tolerance, "2.6.1001", "time_tolerance"},
    {Flag::duplicate_conflict, "2.6.1002", "duplicate_conflict"},
    {Flag::reverse_rotation, "2.3.4", "reverse_rotation"},
    {Flag::rollover, "2.6.1005", "rollover"},
    {Flag::meter_replaced, "2.6.1006", "meter_replaced"},
    {Flag::spike, "2.6.1003", "spike"},
    {Flag::usage_high, "2.6.3", "usage_high"},
    {Flag::usage_low, "2.6.4", "usage_low"},
    {Flag::zero_usage, "2.6.1", "zero_usage"},
    {Flag::sum_check, "2.6.1004", "sum_check"},
    {Flag::clock_set_forward, "2.4.64", "clock_set_forward"},
    {Flag::clock_set_backward, "2.4.128", "clock_set_backward"},
    {Flag::power_down, "2.2.32", "power_down"},
    {Flag::outlier_read, "2.6.1007", "outlier_read"},
}};

constexpr std::array<Flag, flag_table.size()> make_flag_order() {
  std::array<Flag, flag_table.size()> order{};
  for (std::size_t i = 0; i < flag_table.size(); ++i) order[i] = flag_table[i].flag;
  return order;
}
constexpr auto flag_order = make_flag_order();

const FlagInfo* find(Flag flag) {
  for (const auto& info : flag_table) {
    if (info.flag == flag) return &info;
  }
  return nullptr;
}

}  // namespace

std::span<const Flag> all_flags() { return flag_order; }

std::string_view quality_code(Flag flag) {
  const auto* info = find(flag);
  return info != nullptr ? info->code : std::string_view{};
}

std::string_view flag_name(Flag flag) {
  const auto* info = find(flag);
  return info != nullptr ? info->name : std::string_view{"unknown"};
}

std::vector<std::string> quality_codes(Flags flags) {
  std::vector<std::string> codes;
  if (flags == 0) return codes;
  for (const auto& info : flag_table) {
    if (has(flags, info.flag)) codes.emplace_back(info.code);
  }
  return codes;
}

Flags flags_from_codes(std::span<const std::string> codes) {
  Flags flags = 0;
  for (const auto& code : codes) {
    for (const auto& info : flag_table) {
      if (info.code == code) set(flags, info.flag);
    }
  }
  return flags;
}

std::string describe(Flags flags) {
  std::string text;
  for (const auto& info : flag_table) {
    if (!has(flags, info.flag)) continue;
    if (!text.empty()) text += ',';
    text += info.name;
  }
  return text.empty() ? std::string{"none"} : text;
}

}  // namespace ami::storage::vee
