// Estimation methods (docs/VEE.md "Estimation"), each a pure function over plain numbers.
//
// In order of preference:
// 1. Registers known on both sides of a gap: the gap's energy is exact (the register delta);
//    prorate() spreads it over the gap by a like-day shape, prorate_even() evenly. The parts
//    always add up to the total exactly (largest-remainder rounding, ties to the earliest).
// 2. No anchor, short gap: interpolate_linear() between the intervals either side.
// 3. No anchor, longer gap: like_day_value() per interval (same weekday in previous weeks,
//    else previous days; actual intervals only, so outage days do not feed estimates).
//
// Ownership/threads: pure functions; any thread. Errors: none; empty input gives empty output.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "storage/vee/timeline.hpp"

namespace ami::storage::vee {

// `total` split over `count` parts as evenly as integers allow; parts sum to `total`.
std::vector<std::int64_t> prorate_even(std::int64_t total, std::size_t count);

// `total` split in proportion to `weights`; parts sum to `total` exactly. Falls back to
// prorate_even() when a weight is negative or all are zero.
std::vector<std::int64_t> prorate(std::int64_t total, std::span<const std::int64_t> weights);

// `count` values on the straight line from `before` to `after` (the intervals just outside the
// gap), rounded to the nearest Wh. With one side only the values carry that side; with none
// they are zero.
std::vector<std::int64_t> interpolate_linear(std::optional<std::int64_t> before,
                                             std::optional<std::int64_t> after, std::size_t count);

// Mean (rounded) of the clean actual intervals (Timeline::clean_actual_at) ending at end - k weeks, k = 1..like_days; when none
// exists, of end - k days, k = 1..like_days; nullopt when neither finds any.
std::optional<std::int64_t> like_day_value(const Timeline& timeline, UtcSeconds end, int like_days);

}  // namespace ami::storage::vee
