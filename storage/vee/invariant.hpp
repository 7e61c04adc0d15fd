// The billing promise as a checkable invariant (docs/VEE.md "Invariant"):
// for every meter channel, over any span between two actual register reads, the sum of the
// latest versions of its intervals equals the register delta (times CT x PT), exactly.
//
// Checking consecutive reads suffices: any longer span is a sum of consecutive ones. Register
// deltas follow register_delta.hpp (rollover wraps; a replacement with known registers adds both
// meters' parts). A span across a replacement whose registers are unknown has no defined delta
// and is skipped (reported in `unverifiable`). Used by tests and by tools that audit a store.
//
// Ownership/threads: pure; any thread. Errors: violations are returned, never thrown.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "storage/vee/config.hpp"
#include "storage/vee/series.hpp"

namespace ami::storage::vee {

struct InvariantViolation {
  UtcSeconds from{};
  UtcSeconds to{};
  std::int64_t expected_wh = 0;  // register delta x multiplier
  std::int64_t sum_wh = 0;       // sum of latest versions found
  std::int64_t missing = 0;      // intervals with no stored version at all
  [[nodiscard]] std::string describe() const;
};

struct InvariantReport {
  std::vector<InvariantViolation> violations;
  std::int64_t spans_checked = 0;
  std::int64_t unverifiable = 0;
  [[nodiscard]] bool holds() const { return violations.empty(); }
};

// `reads`: actual register reads (any order; the same boundary twice keeps the first).
// `intervals`: stored intervals, all versions, any order.
InvariantReport check_invariant(const ChannelSpec& spec, std::span<const RegisterRead> reads,
                                std::span<const Interval> intervals,
                                std::span<const MeterEvent> events, const VeeConfig& config);

}  // namespace ami::storage::vee
