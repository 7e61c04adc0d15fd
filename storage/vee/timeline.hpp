// Timeline: looks up a channel's interval by its end across two sorted runs, the stored history
// and the intervals VEE is producing right now (the newer run wins where both have one).
//
// Ownership/threads: borrows both runs (does not copy); they must outlive it and stay sorted by
// end. `current` may grow (push_back) between lookups. One thread at a time.
// Errors: lookups return nullptr when nothing is there.
#pragma once

#include <span>
#include <vector>

#include "storage/vee/series.hpp"

namespace ami::storage::vee {

class Timeline {
 public:
  Timeline(std::span<const Interval> history, const std::vector<Interval>& current)
      : history_(history), current_(current) {}

  [[nodiscard]] const Interval* at(UtcSeconds end) const;
  // Actual value at `end`, or nullptr when missing or not actual.
  [[nodiscard]] const Interval* actual_at(UtcSeconds end) const;
  // Actual and not flagged as anomalous (spike, power-down, zeros, high/low, reverse, swap):
  // what history-based rules and estimates may learn from.
  [[nodiscard]] const Interval* clean_actual_at(UtcSeconds end) const;

 private:
  static const Interval* find(std::span<const Interval> run, UtcSeconds end);
  std::span<const Interval> history_;
  const std::vector<Interval>& current_;
};

}  // namespace ami::storage::vee
