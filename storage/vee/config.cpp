#include "storage/vee/config.hpp"

#include <fmt/format.h>

namespace ami::storage::vee {

std::optional<std::string> validate(const VeeConfig& c) {
  const auto bad = [](std::string_view field, std::string_view rule, auto value) {
    return std::optional<std::string>{fmt::format("vee.{} must be {}, got {}", field, rule, value)};
  };
  if (c.read_time_tolerance.count() < 0) return bad("read_time_tolerance", ">= 0 s", c.read_time_tolerance.count());
  if (c.meter_clock_tolerance.count() < 0) return bad("meter_clock_tolerance", ">= 0 s", c.meter_clock_tolerance.count());
  if (c.clock_jump_threshold.count() <= 0) return bad("clock_jump_threshold", "> 0 s", c.clock_jump_threshold.count());
  if (c.max_register_wh_per_interval <= 0) return bad("max_register_wh_per_interval", "> 0", c.max_register_wh_per_interval);
  if (!(c.spike_factor >= 1.0)) return bad("spike_factor", ">= 1", c.spike_factor);
  if (c.spike_min_excess_wh < 0) return bad("spike_min_excess_wh", ">= 0", c.spike_min_excess_wh);
  if (c.history_days < 1) return bad("history_days", ">= 1", c.history_days);
  if (c.min_history_days < 1 || c.min_history_days > c.history_days) {
    return bad("min_history_days", "between 1 and history_days", c.min_history_days);
  }
  if (!(c.high_factor > 1.0)) return bad("high_factor", "> 1", c.high_factor);
  if (c.high_min_excess_wh < 0) return bad("high_min_excess_wh", ">= 0", c.high_min_excess_wh);
  if (!(c.low_factor >= 0.0 && c.low_factor < 1.0)) return bad("low_factor", "in [0, 1)", c.low_factor);
  if (c.low_min_mean_wh < 0) return bad("low_min_mean_wh", ">= 0", c.low_min_mean_wh);
  if (c.zero_run_intervals < 1) return bad("zero_run_intervals", ">= 1", c.zero_run_intervals);
  if (c.linear_max_gap.count() < 0) return bad("linear_max_gap", ">= 0 s", c.linear_max_gap.count());
  if (c.like_days < 1) return bad("like_days", ">= 1", c.like_days);
  if (c.max_unanchored_intervals < 0) return bad("max_unanchored_intervals", ">= 0", c.max_unanchored_intervals);
  return std::nullopt;
}

}  // namespace ami::storage::vee
