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
// A meter never read has no gap (its history starts with its first read), unless
// options.never_read: then a meter without a read older than the window is read back to the
// window's start (a new head-end taking over meters that kept their memory). Nothing older than the
// depth is read (older gaps stay with VEE's estimates). The jobs run at backfill priority, behind
// scheduled and on-demand reads.
//
// Freezes (freeze_read.hpp) stand in where the load profile cannot: boundaries older than the
// configured load-profile depth, every boundary of a meter remembered as having no load profile,
// and the boundaries of a load-profile read the meter refused (ERR) or answered without them.
// Each such boundary that is a freeze instant is one freeze read: its hourly freeze while the
// meter still keeps it (254 hours), else its daily freeze at local midnight (62 days). The
// boundaries between two freezes get no read: the freezes are stored as boundary reads, the store
// derives the intervals where two reads meet, and VEE's estimates stay in between
// (docs/COLLECTION.md "Backfill from freezes": they are not re-anchored at the freezes yet).
//
// Pure functions; any thread; nothing throws.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "headend/collection/read_job.hpp"

namespace ami::collection {

struct BackfillOptions {
  std::chrono::minutes interval{15};
  std::chrono::hours depth{24 * 3};                // [collection] backfill_days
  std::chrono::hours load_profile_depth{24 * 62};  // [collection] load_profile_depth_hours: older -> freezes
  bool freezes = true;                             // [collection] backfill_from_freezes
  bool never_read = false;                         // [collection] backfill_never_read: history from the window
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
// cover (a read at B covers B - interval and B). `profile_reach`: how far back the meter's load
// profile was found to reach (BackfillTracker::load_profile_reach; none found: the configured
// load_profile_depth): boundaries whose chunk would start before now - reach go to freezes.
std::vector<ReadJob> plan_backfill(const MeterRef& meter, const StoredBoundaries& stored, UtcSeconds covered_from,
                                   const BackfillOptions& options, UtcMillis now,
                                   std::optional<std::chrono::seconds> profile_reach = std::nullopt);

// One freeze read per boundary (ascending) that is a freeze instant the meter still keeps at
// `now`: hourly within 254 hours, else daily within 62 days. Other boundaries get none. Nothing
// when options.freezes is off.
std::vector<ReadJob> plan_freeze_reads(const MeterRef& meter, const std::vector<UtcSeconds>& boundaries,
                                       const BackfillOptions& options, UtcMillis now);

// When a meter's gaps are looked for, per meter (the daemon's BackfillCoordinator keeps one).
// A meter is scanned at its first good scheduled read, and again at a good scheduled read after a
// failure that a later read can mend (a failed scheduled read; a backfill read that failed on the
// transport or with a bad frame), but only once none of its backfill reads (nor a scan) is
// outstanding, so chunks still queued are never planned twice. Boundaries of a backfill read the
// meter answered with missing_record or an abnormal reply (meter_error: e.g. it was powered off
// then) are remembered as unfillable and never planned again (bounded: only boundaries inside the
// backfill window are kept).
// A load-profile backfill read answered missing_record or meter_error hands its boundaries to
// freezes instead (take_follow_ups(); plan_freeze_reads), and only those without a freeze, or
// whose freeze read the meter refused too, are unfillable (a freeze less than an hour old that
// the meter has not taken yet, its clock behind, is asked for again at the next scan). How far back a refused (ERR) chunk
// started (its age when refused) is remembered as the meter's load-profile reach, so later scans
// send older boundaries straight to freezes (a meter without any load profile: all of them); a
// load-profile chunk older than that which succeeds forgets it (the meter was reconfigured).
// A scheduled load-profile read the meter refuses (meter_error: no load profile configured) sets
// the reach to zero, so its gaps go to freezes; the scheduler reads its current registers instead
// (scheduler.hpp), and those register reads count as good scheduled reads for scans but say
// nothing about the reach. A good scheduled load-profile read whose first record is older than
// the reach forgets it.
// Threads: one thread (the daemon's io thread). Nothing throws.
class BackfillTracker {
 public:
  explicit BackfillTracker(BackfillOptions options) : options_(options) {}

  // Meters are keyed by their position in the scheduler's fleet (ReadJob::meter_index), the way
  // the scheduler keeps its own state: a vector, no map of id strings. The caller resolves a
  // report's position (Scheduler::position_of) and calls remap() whenever the fleet changes.

  // A finished load-profile job (scheduled or backfill) of a meter backfill serves, `meter` its
  // current position. True: scan the meter now; the scan counts as outstanding until scan_done().
  bool on_report(std::uint32_t meter, const JobReport& report);
  // The scan of the meter at `meter` ended with `jobs_dispatched` backfill reads; `failed`: the store query failed.
  void scan_done(std::uint32_t meter, std::size_t jobs_dispatched, bool failed);
  // The meter's unfillable boundaries inside the window starting at `window_start` (ascending);
  // older ones are forgotten.
  std::vector<UtcSeconds> unfillable(std::uint32_t meter, UtcSeconds window_start);
  [[nodiscard]] std::size_t outstanding(std::uint32_t meter) const;
  // Freeze reads planned by the last on_report() for the boundaries a load-profile read could not
  // supply (meter_index set); already counted as outstanding: dispatch every one (each comes back
  // to on_report()).
  std::vector<ReadJob> take_follow_ups() { return std::exchange(follow_ups_, {}); }
  [[nodiscard]] std::optional<std::chrono::seconds> load_profile_reach(std::uint32_t meter) const;
  // The fleet changed: `previous[i]` is the old position of the meter now at i (kNoMeterIndex: a
  // new meter, fresh state); meters not named go (Scheduler::set_meters returns this).
  void remap(const std::vector<std::uint32_t>& previous);

 private:
  // Every meter's entry is 8 bytes (issue #6: it was 80, ~145 B per meter with the vector's
  // slack): a meter with nothing unfillable and no known load-profile reach, i.e. nearly every
  // meter, holds nothing else.
  struct MeterBackfill {
    std::uint32_t outstanding = 0;  // backfill reads dispatched and not reported, plus a scan running
    bool scanned = false;           // scanned since the daemon started
    bool rescan = false;            // a failure since the last scan that a later read can mend
  };
  // The rare rest, only for meters that have some (side table by fleet position).
  struct MeterBackfillExtra {
    std::set<UtcSeconds> unfillable;
    std::optional<std::chrono::seconds> profile_reach;  // age of the youngest refused load-profile chunk
  };
  MeterBackfill& at(std::uint32_t meter);
  [[nodiscard]] const MeterBackfill* find(std::uint32_t meter) const;
  MeterBackfillExtra& extra_at(std::uint32_t meter) { return extras_[meter]; }
  [[nodiscard]] const MeterBackfillExtra* find_extra(std::uint32_t meter) const;
  void set_profile_reach(std::uint32_t meter, std::optional<std::chrono::seconds> reach);
  void drop_extra_if_empty(std::uint32_t meter);
  void mark_unfillable(std::uint32_t meter, const std::vector<UtcSeconds>& boundaries);
  void on_backfill_report(MeterBackfill& m, std::uint32_t meter, const JobReport& report);

  BackfillOptions options_;
  std::vector<MeterBackfill> meters_;  // by fleet position; grown on first use
  std::unordered_map<std::uint32_t, MeterBackfillExtra> extras_;  // by fleet position; only meters that have one
  std::vector<ReadJob> follow_ups_;
};

// Boundaries the meter cannot supply are planned as if stored: merged into `stored`.
void add_unfillable(StoredBoundaries& stored, const std::vector<UtcSeconds>& unfillable);

}  // namespace ami::collection
