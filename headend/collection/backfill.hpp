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
#include <map>
#include <set>
#include <string>
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
std::vector<ReadJob> plan_backfill(const MeterRef& meter, const StoredBoundaries& stored, UtcSeconds covered_from,
                                   const BackfillOptions& options, UtcMillis now);

// When a meter's gaps are looked for, per meter (the daemon's BackfillCoordinator keeps one).
// A meter is scanned at its first good scheduled read, and again at a good scheduled read after a
// failure that a later read can mend (a failed scheduled read; a backfill read that failed on the
// transport or with a bad frame), but only once none of its backfill reads (nor a scan) is
// outstanding, so chunks still queued are never planned twice. Boundaries of a backfill read the
// meter answered with missing_record or an abnormal reply (meter_error: e.g. it was powered off
// then) are remembered as unfillable and never planned again (bounded: only boundaries inside the
// backfill window are kept).
// Threads: one thread (the daemon's io thread). Nothing throws.
class BackfillTracker {
 public:
  explicit BackfillTracker(BackfillOptions options) : options_(options) {}

  // A finished load-profile job (scheduled or backfill) of a meter backfill serves. True: scan the
  // meter now; the scan counts as outstanding until scan_done().
  bool on_report(const JobReport& report);
  // The scan of `meter_id` ended with `jobs_dispatched` backfill reads; `failed`: the store query failed.
  void scan_done(const std::string& meter_id, std::size_t jobs_dispatched, bool failed);
  // The meter's unfillable boundaries inside the window starting at `window_start` (ascending);
  // older ones are forgotten.
  std::vector<UtcSeconds> unfillable(const std::string& meter_id, UtcSeconds window_start);
  [[nodiscard]] std::size_t outstanding(const std::string& meter_id) const;

 private:
  struct MeterBackfill {
    bool scanned = false;        // scanned since the daemon started
    bool rescan = false;         // a failure since the last scan that a later read can mend
    std::size_t outstanding = 0;  // backfill reads dispatched and not reported, plus a scan running
    std::set<UtcSeconds> unfillable;
  };
  BackfillOptions options_;
  std::map<std::string, MeterBackfill, std::less<>> meters_;
};

// Boundaries the meter cannot supply are planned as if stored: merged into `stored`.
void add_unfillable(StoredBoundaries& stored, const std::vector<UtcSeconds>& unfillable);

}  // namespace ami::collection
