// The VEE rules, each a pure function, each switched and tuned by VeeConfig (docs/VEE.md "Rules").
//
// Read rules look at register reads before intervals are derived; interval rules add flags to
// intervals, using a Timeline for the meter's own history. Interval rules only ever flag actual
// intervals (an estimate is already marked as such) and never change a value.
//
// Ownership/threads: pure functions over caller-owned data; any thread.
// Errors: none; what a rule finds is the flags it sets or the values it returns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "storage/vee/config.hpp"
#include "storage/vee/series.hpp"
#include "storage/vee/timeline.hpp"

namespace ami::storage::vee {

// ---- read rules ----

struct DuplicateOutcome {
  std::size_t identical = 0;                // repeats with the same value, dropped silently
  std::vector<UtcSeconds> conflicting;      // boundaries whose repeats disagreed
};

// Duplicates: sorts `reads` by boundary and keeps the first read of each boundary (arrival
// order among equal boundaries is kept). A repeat with another value is a conflict: the first
// value is kept and, with check_duplicates, the boundary is reported.
DuplicateOutcome remove_duplicate_reads(std::vector<RegisterRead>& reads, const VeeConfig& config);

// Time tolerance: a plain (non-snapshot) read taken further than read_time_tolerance from its
// boundary does not tell the register AT the boundary.
bool outside_read_tolerance(const RegisterRead& read, const VeeConfig& config);

// Meter clock vs head-end clock further apart than meter_clock_tolerance (needs meter_time).
bool meter_clock_off(const RegisterRead& read, const VeeConfig& config);

// Clock set between two reads: the meter clock's offset from the head-end clock moved by more
// than clock_jump_threshold. Returns clock_set_forward / clock_set_backward, or nullopt.
std::optional<Flag> clock_jump(const RegisterRead& earlier, const RegisterRead& later,
                               const VeeConfig& config);

// Outlier reads: indices i (in `reads`, sorted and unique by boundary) whose register is out of
// line with both neighbours: the neighbours agree with each other (a trusted delta) while a
// delta to read i falls by more than max_register_wh_per_interval per interval, which no
// reverse energy can do. Such a read is a misread, not an anchor; the span around it is
// estimated from the neighbours. A smaller dip stays (reverse rotation: the reads cannot tell
// a dip from a misread, and a dip is physically possible). `events` are searched for
// replacements (no read next to one is judged).
std::vector<std::size_t> outlier_reads(std::span<const RegisterRead> reads, const ChannelSpec& spec,
                                       std::span<const MeterEvent> events, const VeeConfig& config);

// The meter_replaced event with at in (after, until], or nullptr.
const MeterEvent* replacement_between(std::span<const MeterEvent> events, UtcSeconds after,
                                      UtcSeconds until);

// ---- interval rules (flag actual intervals of `target`; `timeline` sees target and history) ----

// Spike: value > spike_factor x the third-highest actual interval of the trailing 24 hours
// (itself included) and at least spike_min_excess_wh above it; needs half a day of intervals.
void flag_spikes(std::span<Interval> target, const Timeline& timeline, const ChannelSpec& spec,
                 const VeeConfig& config);

// High/low: against the mean of the same slot on the previous history_days days (clean actual
// intervals; at least min_history_days of them). Import channels only unless
// high_low_on_reverse_channel.
void flag_high_low(std::span<Interval> target, const Timeline& timeline, const ChannelSpec& spec,
                   const VeeConfig& config);

// Consecutive zeros: runs of >= zero_run_intervals zero actual intervals (history included)
// that no power-down explains. Import channels only unless zeros_on_reverse_channel. With the
// meter's other channel given (`opposite`), an interval where that channel moved does not count:
// a prosumer imports nothing while exporting, which is not a dead meter.
void flag_zero_runs(std::span<Interval> target, const Timeline& timeline, const ChannelSpec& spec,
                    const VeeConfig& config, const Timeline* opposite = nullptr);

// Events: power-down overlaps, clock sets and replacements inside an interval.
void flag_events(std::span<Interval> target, std::span<const MeterEvent> events,
                 const ChannelSpec& spec, const VeeConfig& config);

// Sum check: the intervals add up to `expected_wh` (a register delta times the multiplier).
bool sum_matches(std::span<const Interval> intervals, std::int64_t expected_wh);

}  // namespace ami::storage::vee
