// vee::run(): derive, validate and estimate one meter channel's intervals over a window.
//
// Given the channel's register reads (any order, duplicates allowed), its events and its stored
// history, run() returns every interval ending in the window, each actual, estimated or suspect,
// with its flags (quality.hpp) and estimation method. The steps, in order (docs/VEE.md):
//   1. read rules: duplicates, time tolerance, meter clock, outlier reads, clock jumps;
//   2. derivation between consecutive anchors (register_delta.hpp): one interval apart -> the
//      interval; further apart -> the gap gets the exact register delta prorated (estimation.hpp);
//      delta unknown (replacement without registers) or no anchor after the gap (trailing) ->
//      linear / like-day estimate, at most max_unanchored_intervals in a row;
//   3. flags from read rules and events; interval rules (spike, high/low, zeros);
//   4. sum check of every anchored span (a guard: derivation makes it hold by construction).
// What to write back is versioning.hpp's job; the billing invariant is checked by invariant.hpp.
//
// Window: intervals ending in (from, to]. Pass the reads from the last read at or before `from`
// on: the output then starts at that read, so a gap that began before `from` is re-estimated
// whole with its new anchor. With no read at or before `from` the output starts at `from` when
// the channel has history, else at its first read (nothing is expected before a meter's first
// read). Reads after `to` are ignored.
//
// Ownership/threads: pure; run() owns its input copy and returns values; any thread.
// Errors: bad input (a boundary off the interval grid, an interval length <= 0) is reported
// as a Finding and skipped, never thrown.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "storage/vee/config.hpp"
#include "storage/vee/series.hpp"

namespace ami::storage::vee {

struct RunInput {
  ChannelSpec spec;
  std::vector<RegisterRead> reads;
  std::vector<MeterEvent> events;
  // Latest stored versions before and inside the window, sorted by end: context for like-day,
  // high/low, spikes and zero runs. Borrowed: must outlive run().
  std::span<const Interval> history;
  // Optional: latest intervals of the meter's other channel (import <-> export), sorted by end;
  // lets the zero-run rule tell a prosumer's quiet import from a dead meter. Borrowed.
  std::span<const Interval> opposite_channel;
  UtcSeconds from{};
  UtcSeconds to{};
};

// Something a read rule noticed (for the audit log and tests).
struct Finding {
  UtcSeconds at{};  // the boundary concerned
  Flag flag = Flag::time_tolerance;
  std::string detail;
};

struct RunResult {
  std::vector<Interval> intervals;  // sorted by end, contiguous where produced
  std::vector<Finding> findings;
  std::size_t duplicate_reads = 0;  // identical repeats dropped
};

RunResult run(RunInput input, const VeeConfig& config);

}  // namespace ami::storage::vee
