// Supersede rule: which freshly computed intervals become new stored versions.
//
// The store keeps every version of an interval (meter, channel, end); the latest is what billing
// uses. For each computed interval, given the latest stored one:
//   1. nothing stored                                   -> write (version 1);
//   2. same value, status, method and flags             -> keep (nothing to say);
//   3. computed is an UNANCHORED estimate (linear, like-day) and the stored one is data (actual)
//      or an anchored estimate (register-prorated)      -> keep: a guess never replaces data;
//   4. anything else                                    -> write a new version. So actual data
//      (backfill) supersedes estimates, an anchored estimate supersedes an unanchored one, and a
//      re-derivation that rejected a bad read supersedes the interval that read produced.
//
// Ownership/threads: pure functions; any thread. Errors: none.
#pragma once

#include <span>
#include <vector>

#include "storage/vee/series.hpp"

namespace ami::storage::vee {

enum class WriteDecision { write, keep };

// True for linear_interpolation and like_day estimates (no register anchor behind them).
bool is_unanchored_estimate(const Interval& interval);

WriteDecision decide_write(const Interval* latest_stored, const Interval& computed);

// Computed intervals worth writing, in order. Both inputs sorted by end; `latest_stored` holds
// one (the latest) version per end. Returned intervals get version = stored version + 1 (1 when
// none) so callers and tests see what the store will assign.
std::vector<Interval> plan_writes(std::span<const Interval> latest_stored,
                                  std::span<const Interval> computed);

// One latest version per end from all stored versions (sorted by end, then version).
std::vector<Interval> latest_versions(std::span<const Interval> all_versions);

}  // namespace ami::storage::vee
