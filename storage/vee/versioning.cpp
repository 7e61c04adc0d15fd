#include "storage/vee/versioning.hpp"

#include <algorithm>

namespace ami::storage::vee {

bool is_unanchored_estimate(const Interval& interval) {
  return interval.status == IntervalStatus::estimated &&
         (interval.method == EstimationMethod::linear_interpolation ||
          interval.method == EstimationMethod::like_day);
}

WriteDecision decide_write(const Interval* latest_stored, const Interval& computed) {
  if (latest_stored == nullptr) return WriteDecision::write;
  const auto& stored = *latest_stored;
  if (stored.value_wh == computed.value_wh && stored.status == computed.status &&
      stored.method == computed.method && stored.flags == computed.flags) {
    return WriteDecision::keep;
  }
  const bool stored_is_data = stored.status == IntervalStatus::actual ||
                              (stored.status == IntervalStatus::estimated && !is_unanchored_estimate(stored));
  if (is_unanchored_estimate(computed) && stored_is_data) return WriteDecision::keep;
  return WriteDecision::write;
}

std::vector<Interval> plan_writes(std::span<const Interval> latest_stored,
                                  std::span<const Interval> computed) {
  std::vector<Interval> writes;
  auto stored = latest_stored.begin();
  for (const auto& iv : computed) {
    stored = std::lower_bound(stored, latest_stored.end(), iv.end,
                              [](const Interval& s, UtcSeconds t) { return s.end < t; });
    const Interval* match = (stored != latest_stored.end() && stored->end == iv.end) ? &*stored : nullptr;
    if (decide_write(match, iv) == WriteDecision::keep) continue;
    writes.push_back(iv);
    writes.back().version = match != nullptr ? match->version + 1 : 1;
  }
  return writes;
}

std::vector<Interval> latest_versions(std::span<const Interval> all_versions) {
  std::vector<Interval> latest;
  latest.reserve(all_versions.size());
  for (const auto& iv : all_versions) {
    if (!latest.empty() && latest.back().end == iv.end) {
      if (iv.version >= latest.back().version) latest.back() = iv;
    } else {
      latest.push_back(iv);
    }
  }
  return latest;
}

}  // namespace ami::storage::vee
