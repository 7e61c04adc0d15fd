#include "storage/vee/invariant.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "storage/vee/register_delta.hpp"
#include "storage/vee/rules.hpp"
#include "storage/vee/versioning.hpp"

namespace ami::storage::vee {

std::string InvariantViolation::describe() const {
  return fmt::format("({}, {}]: register delta {} Wh, latest intervals sum {} Wh, {} interval(s) missing",
                     format_utc(from), format_utc(to), expected_wh, sum_wh, missing);
}

InvariantReport check_invariant(const ChannelSpec& spec, std::span<const RegisterRead> reads,
                                std::span<const Interval> intervals,
                                std::span<const MeterEvent> events, const VeeConfig& config) {
  InvariantReport report;
  std::vector<RegisterRead> sorted(reads.begin(), reads.end());
  VeeConfig quiet = config;
  quiet.check_duplicates = false;
  remove_duplicate_reads(sorted, quiet);

  std::vector<Interval> all(intervals.begin(), intervals.end());
  std::sort(all.begin(), all.end(), [](const Interval& a, const Interval& b) {
    return a.end != b.end ? a.end < b.end : a.version < b.version;
  });
  const auto latest = latest_versions(all);

  for (std::size_t i = 1; i < sorted.size(); ++i) {
    const auto& a = sorted[i - 1];
    const auto& b = sorted[i];
    const auto count = (b.boundary - a.boundary) / spec.interval;
    const auto delta = register_delta(a.register_wh, b.register_wh, std::max<std::int64_t>(count, 1), spec,
                                      config, replacement_between(events, a.boundary, b.boundary));
    if (!delta.known()) {
      ++report.unverifiable;
      continue;
    }
    ++report.spans_checked;
    InvariantViolation span{a.boundary, b.boundary, delta.register_wh * spec.multiplier, 0, 0};
    auto it = std::upper_bound(latest.begin(), latest.end(), a.boundary,
                               [](UtcSeconds t, const Interval& iv) { return t < iv.end; });
    std::int64_t found = 0;
    for (; it != latest.end() && it->end <= b.boundary; ++it) {
      span.sum_wh += it->value_wh;
      ++found;
    }
    span.missing = count - found;
    if (span.sum_wh != span.expected_wh || span.missing != 0) report.violations.push_back(span);
  }
  return report;
}

}  // namespace ami::storage::vee
