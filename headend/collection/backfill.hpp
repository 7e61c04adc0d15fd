// Backfill (补抄) planning: which load-profile reads fill the boundaries a meter is missing in the
// store, whatever made them missing (the daemon was down, the meter or its gateway was offline, an
// earlier backfill read failed).
//
// The caller gives the boundaries the store holds for the meter inside the backfill window
// (now - depth .. covered_from) and whether it holds an older read; every aligned boundary after
// the meter's first known read and before `covered_from` (the boundaries the scheduler reads
// itself) that the store lacks is read from the meter's load-profile memory, in chunks of up to
// kMaxBoundaryRecords records. Each chunk also re-reads the boundary before it (idempotent in the
// store), so every chunk yields its intervals on its own even when the chunk before it failed.
// A meter never read has no gap (its history starts with its first read); nothing older than the
// depth is read (older gaps stay with VEE's estimates). The jobs run at backfill priority, behind
// scheduled and on-demand reads.
//
// Pure functions; any thread; nothing throws.
#pragma once

#include <chrono>
#include <vector>

#include "headend/collection/read_job.hpp"

namespace ami::collection {

struct BackfillOptions {
  std::chrono::minutes interval{15};
  std::chrono::hours depth{24 * 3};  // [collection] backfill_days
};

// What the store holds for one meter (forward active channel; both channels come in one record).
struct StoredBoundaries {
  std::vector<UtcSeconds> boundaries;  // ascending, inside [backfill_window_start(), covered_from)
  bool read_before_window = false;     // a read older than the window exists
};

// The oldest boundary backfill looks at: now - depth, floored to the interval. It is only ever
// re-read as the start of a chunk; boundaries after it are candidates.
UtcSeconds backfill_window_start(UtcMillis now, const BackfillOptions& options);

// The backfill reads for `meter`. `covered_from`: the first boundary the scheduler's own reads
// cover (a read at B covers B - interval and B).
std::vector<ReadJob> plan_backfill(const MeterTarget& meter, const StoredBoundaries& stored, UtcSeconds covered_from,
                                   const BackfillOptions& options, UtcMillis now);

}  // namespace ami::collection
