#include "storage/vee/timeline.hpp"

#include <algorithm>
#include <cstdint>

namespace ami::storage::vee {

const Interval* Timeline::find(std::span<const Interval> run, UtcSeconds end) {
  if (run.empty() || end < run.front().end || end > run.back().end) return nullptr;
  // Series are nearly always regular: guess the index from the spacing, then fall back.
  const auto span_s = (run.back().end - run.front().end).count();
  if (span_s > 0) {
    const auto offset = (end - run.front().end).count();
    // offset <= span_s (a few 1e9 s at most) times size: far inside int64.
    const auto guess =
        static_cast<std::size_t>(offset * static_cast<std::int64_t>(run.size() - 1) / span_s);
    if (guess < run.size() && run[guess].end == end) return &run[guess];
  }
  const auto it = std::lower_bound(run.begin(), run.end(), end,
                                   [](const Interval& iv, UtcSeconds t) { return iv.end < t; });
  return (it != run.end() && it->end == end) ? &*it : nullptr;
}

const Interval* Timeline::at(UtcSeconds end) const {
  if (const auto* found = find(current_, end)) return found;
  return find(history_, end);
}

const Interval* Timeline::actual_at(UtcSeconds end) const {
  const auto* found = at(end);
  return (found != nullptr && found->is_actual()) ? found : nullptr;
}

const Interval* Timeline::clean_actual_at(UtcSeconds end) const {
  constexpr Flags anomalies = Flag::spike | Flag::power_down | Flag::zero_usage | Flag::usage_high |
                              Flag::usage_low | Flag::reverse_rotation | Flag::meter_replaced;
  const auto* found = actual_at(end);
  return (found != nullptr && (found->flags & anomalies) == 0) ? found : nullptr;
}

}  // namespace ami::storage::vee
