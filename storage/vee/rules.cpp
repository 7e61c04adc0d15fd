#include "storage/vee/rules.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdlib>

#include "storage/vee/register_delta.hpp"

namespace ami::storage::vee {
namespace {

using std::chrono::milliseconds;

milliseconds clock_offset(const RegisterRead& read) { return *read.meter_time - read.taken_at; }

bool covers(const Interval& iv, const ChannelSpec& spec, UtcSeconds t) {
  return iv.end - spec.interval <= t && t < iv.end;
}

}  // namespace

DuplicateOutcome remove_duplicate_reads(std::vector<RegisterRead>& reads, const VeeConfig& config) {
  DuplicateOutcome outcome;
  std::stable_sort(reads.begin(), reads.end(),
                   [](const RegisterRead& a, const RegisterRead& b) { return a.boundary < b.boundary; });
  std::size_t kept = 0;
  for (std::size_t i = 0; i < reads.size(); ++i) {
    if (kept > 0 && reads[kept - 1].boundary == reads[i].boundary) {
      if (reads[kept - 1].register_wh == reads[i].register_wh) {
        ++outcome.identical;
      } else if (config.check_duplicates &&
                 (outcome.conflicting.empty() || outcome.conflicting.back() != reads[i].boundary)) {
        outcome.conflicting.push_back(reads[i].boundary);
      }
      continue;
    }
    if (kept != i) reads[kept] = reads[i];
    ++kept;
  }
  reads.resize(kept);
  return outcome;
}

bool outside_read_tolerance(const RegisterRead& read, const VeeConfig& config) {
  if (!config.check_time_tolerance || read.snapshot) return false;
  const auto distance = read.taken_at - std::chrono::time_point_cast<milliseconds>(read.boundary);
  return std::chrono::abs(distance) > config.read_time_tolerance;
}

bool meter_clock_off(const RegisterRead& read, const VeeConfig& config) {
  if (!config.check_time_tolerance || !read.meter_time) return false;
  return std::chrono::abs(clock_offset(read)) > config.meter_clock_tolerance;
}

std::optional<Flag> clock_jump(const RegisterRead& earlier, const RegisterRead& later,
                               const VeeConfig& config) {
  if (!config.flag_clock_set || !earlier.meter_time || !later.meter_time) return std::nullopt;
  const auto moved = clock_offset(later) - clock_offset(earlier);
  if (moved > config.clock_jump_threshold) return Flag::clock_set_forward;
  if (moved < -config.clock_jump_threshold) return Flag::clock_set_backward;
  return std::nullopt;
}

const MeterEvent* replacement_between(std::span<const MeterEvent> events, UtcSeconds after,
                                      UtcSeconds until) {
  for (const auto& event : events) {
    if (event.kind == EventKind::meter_replaced && event.at > after && event.at <= until) return &event;
  }
  return nullptr;
}

std::vector<std::size_t> outlier_reads(std::span<const RegisterRead> reads, const ChannelSpec& spec,
                                       std::span<const MeterEvent> events, const VeeConfig& config) {
  std::vector<std::size_t> outliers;
  if (!config.reject_outlier_reads || spec.bidirectional || reads.size() < 3) return outliers;
  const auto intervals_between = [&](const RegisterRead& a, const RegisterRead& b) {
    return std::max<std::int64_t>(1, (b.boundary - a.boundary) / spec.interval);
  };
  const auto delta = [&](const RegisterRead& a, const RegisterRead& b) {
    return register_delta(a.register_wh, b.register_wh, intervals_between(a, b), spec, config, nullptr);
  };
  for (std::size_t i = 1; i + 1 < reads.size(); ++i) {
    const auto& before = reads[i - 1];
    const auto& read = reads[i];
    const auto& after = reads[i + 1];
    // A rejected neighbour cannot vouch for this read's neighbours.
    if (!outliers.empty() && outliers.back() == i - 1) continue;
    if (replacement_between(events, before.boundary, after.boundary) != nullptr) continue;
    if (!delta(before, after).trusted()) continue;
    const auto impossible_fall = [&](const RegisterRead& a, const RegisterRead& b) {
      const auto d = delta(a, b);
      return d.kind == DeltaKind::reverse &&
             -d.register_wh > config.max_register_wh_per_interval * intervals_between(a, b);
    };
    if (impossible_fall(before, read) || impossible_fall(read, after)) outliers.push_back(i);
  }
  return outliers;
}

void flag_spikes(std::span<Interval> target, const Timeline& timeline, const ChannelSpec& spec,
                 const VeeConfig& config) {
  if (!config.check_spike) return;
  const auto per_day = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::days{1}) / spec.interval;
  for (auto& iv : target) {
    if (!iv.is_actual() || iv.value_wh < config.spike_min_excess_wh) continue;
    std::array<std::int64_t, 3> top{};  // highest first
    std::int64_t found = 0;
    for (std::int64_t k = 0; k < per_day; ++k) {
      const auto* other = timeline.actual_at(iv.end - spec.interval * k);
      if (other == nullptr) continue;
      ++found;
      auto v = other->value_wh;
      for (auto& slot : top) {
        if (v > slot) std::swap(v, slot);
      }
    }
    if (found * 2 < per_day || found < 3) continue;
    const auto third = top[2];
    if (static_cast<double>(iv.value_wh) > config.spike_factor * static_cast<double>(third) &&
        iv.value_wh - third >= config.spike_min_excess_wh) {
      set(iv.flags, Flag::spike);
    }
  }
}

void flag_high_low(std::span<Interval> target, const Timeline& timeline, const ChannelSpec& spec,
                   const VeeConfig& config) {
  if (!config.check_high_low) return;
  if (spec.channel == EnergyChannel::reverse_active && !config.high_low_on_reverse_channel) return;
  for (auto& iv : target) {
    if (!iv.is_actual()) continue;
    std::int64_t sum = 0;
    int found = 0;
    for (int k = 1; k <= config.history_days; ++k) {
      if (const auto* past = timeline.clean_actual_at(iv.end - std::chrono::days{k})) {
        sum += past->value_wh;
        ++found;
      }
    }
    if (found < config.min_history_days || found == 0) continue;
    const double mean = static_cast<double>(sum) / found;
    const auto value = static_cast<double>(iv.value_wh);
    if (value > config.high_factor * mean && value - mean >= static_cast<double>(config.high_min_excess_wh)) {
      set(iv.flags, Flag::usage_high);
    } else if (config.low_factor > 0 && mean >= static_cast<double>(config.low_min_mean_wh) &&
               value < config.low_factor * mean) {
      set(iv.flags, Flag::usage_low);
    }
  }
}

void flag_zero_runs(std::span<Interval> target, const Timeline& timeline, const ChannelSpec& spec,
                    const VeeConfig& config, const Timeline* opposite) {
  if (!config.check_consecutive_zeros || target.empty()) return;
  if (spec.channel == EnergyChannel::reverse_active && !config.zeros_on_reverse_channel) return;
  const auto counts = [opposite](const Interval* iv) {
    if (iv == nullptr || !iv->is_actual() || iv->value_wh != 0 || has(iv->flags, Flag::power_down)) return false;
    const Interval* other = opposite != nullptr ? opposite->at(iv->end) : nullptr;
    return other == nullptr || other->value_wh == 0;
  };
  const auto needed = static_cast<std::size_t>(config.zero_run_intervals);
  // Zeros just before the target (history) count towards the first run.
  std::size_t run = 0;
  while (run < needed && counts(timeline.at(target.front().end - spec.interval * static_cast<std::int64_t>(run + 1)))) {
    ++run;
  }
  std::size_t run_start = 0;     // first target index of the current run
  std::size_t flagged_until = 0; // target[0, flagged_until) already flagged
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (!counts(&target[i])) {
      run = 0;
      continue;
    }
    if (i > 0 && target[i].end - target[i - 1].end != spec.interval) run = 0;
    if (run == 0) run_start = i;
    ++run;
    if (run >= needed) {
      for (std::size_t j = std::max(run_start, flagged_until); j <= i; ++j) {
        set(target[j].flags, Flag::zero_usage);
      }
      flagged_until = i + 1;
    }
  }
}

void flag_events(std::span<Interval> target, std::span<const MeterEvent> events,
                 const ChannelSpec& spec, const VeeConfig& config) {
  for (const auto& event : events) {
    for (auto& iv : target) {
      switch (event.kind) {
        case EventKind::power_down:
          if (config.flag_power_down && iv.end - spec.interval < event.until && iv.end > event.at) {
            set(iv.flags, Flag::power_down);
          }
          break;
        case EventKind::clock_set:
          if (config.flag_clock_set && covers(iv, spec, event.at) && event.clock_shift.count() != 0) {
            set(iv.flags, event.clock_shift.count() > 0 ? Flag::clock_set_forward : Flag::clock_set_backward);
          }
          break;
        case EventKind::meter_replaced:
          if (covers(iv, spec, event.at)) set(iv.flags, Flag::meter_replaced);
          break;
      }
    }
  }
}

bool sum_matches(std::span<const Interval> intervals, std::int64_t expected_wh) {
  std::int64_t sum = 0;
  for (const auto& iv : intervals) sum += iv.value_wh;
  return sum == expected_wh;
}

}  // namespace ami::storage::vee
