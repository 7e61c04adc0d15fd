// VeeConfig: every VEE rule's switch and parameters, with the documented defaults
// (docs/VEE.md "Rules"). A config is a plain value; validate() before use.
//
// Ownership/threads: plain value; any thread.
// Errors: validate() returns a message naming the first bad field; nothing throws.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace ami::storage::vee {

struct VeeConfig {
  // Time tolerance: a plain register read counts as the register at its boundary only when it
  // was taken within this distance of the boundary; otherwise it is not used as an anchor.
  bool check_time_tolerance = true;
  std::chrono::seconds read_time_tolerance{60};
  // Meter clock vs head-end clock: beyond this the read's intervals get time_tolerance.
  std::chrono::seconds meter_clock_tolerance{300};
  // A change of the meter's clock offset between two reads larger than this is a clock set.
  std::chrono::seconds clock_jump_threshold{120};

  // Duplicates: two reads for one boundary with different values flag the boundary.
  bool check_duplicates = true;

  // Negative deltas on a non-bidirectional register are reverse rotation (suspect).
  bool check_reverse = true;
  // Isolated register reads out of line with both neighbours by more than the meter could
  // physically move (max_register_wh_per_interval) are rejected as anchors (misreads).
  bool reject_outlier_reads = true;

  // The most energy the register can physically advance (or, reversed, fall) per interval, in
  // register Wh (before CT x PT). 50,000 Wh per 15 min = 200 kW on the register side, well above
  // a direct-connected 100 A three-phase meter (~70 kW). Rollover: a decrease is a wrap past the
  // dial maximum only if the wrapped delta is at most this per interval spanned.
  std::int64_t max_register_wh_per_interval = 50'000;

  // Spike: an interval above spike_factor x the third-highest interval of its (local) day and
  // at least spike_min_excess_wh above it.
  bool check_spike = true;
  double spike_factor = 3.0;
  std::int64_t spike_min_excess_wh = 2'000;

  // High/low against the meter's own history: the mean of the same time-of-day slot over the
  // previous history_days days (actual intervals only; at least min_history_days found).
  bool check_high_low = true;
  int history_days = 14;
  int min_history_days = 7;
  double high_factor = 5.0;
  std::int64_t high_min_excess_wh = 2'000;
  double low_factor = 0.0;            // 0 disables "low" (a quiet interval is normal)
  std::int64_t low_min_mean_wh = 500;
  // Export follows the weather, not habits: a sunny day after a grey fortnight is no anomaly.
  bool high_low_on_reverse_channel = false;

  // Consecutive zeros: at least this many zero actual intervals in a row (not explained by a
  // power-down) flag the run. Export channels are quiet at night, so by default only import.
  bool check_consecutive_zeros = true;
  int zero_run_intervals = 16;
  bool zeros_on_reverse_channel = false;

  // Sum check: intervals between two anchors must add up to the register delta.
  bool check_sum = true;

  // Events: flag intervals holding a clock set / power-down.
  bool flag_clock_set = true;
  bool flag_power_down = true;

  // Estimation. A gap with registers on both sides gets the exact register delta, shaped by
  // like days when prorate_by_shape and a shape exists, else evenly. Without that anchor:
  // linear interpolation up to linear_max_gap, like-day beyond. At most
  // max_unanchored_intervals intervals in a row are estimated without an anchor (0 = none).
  bool estimate_gaps = true;
  bool prorate_by_shape = true;
  std::chrono::seconds linear_max_gap{std::chrono::hours{2}};
  int like_days = 4;  // same weekday in the previous weeks, else the previous days
  int max_unanchored_intervals = 96;
};

// Returns the first problem ("spike_factor must be >= 1, got 0.5"), or nullopt when valid.
std::optional<std::string> validate(const VeeConfig& config);

}  // namespace ami::storage::vee
