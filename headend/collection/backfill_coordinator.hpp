// Backfill (补抄) in the running daemon: decides WHEN to look for a meter's gaps and turns what the
// store holds into backfill reads (plan_backfill, backfill.hpp).
//
// A meter's gaps are looked for when BackfillTracker (backfill.hpp) says so: at its first
// successful scheduled read after the daemon started (gaps from daemon downtime) and at a
// successful scheduled read after a failure a later read can mend, once none of its backfill reads
// is still outstanding; boundaries the meter answered missing_record / meter_error for are not
// planned again. The store's reads of the last `depth` are fetched on this object's own thread
// (SQLite off the io thread), pending scans in batches of up to 512 per read snapshot, planned,
// and the jobs handed to `dispatch` on the io thread, one post per batch (freeze
// reads for a load-profile read the meter refused at once, from on_report(): backfill.hpp). Every
// dispatched job must come back through on_report() (cancelled included), or the meter is never
// scanned again.
//
// Per-meter state (BackfillTracker) is kept by the meter's position in the scheduler's fleet; a
// report or a finished scan whose meter left the fleet meanwhile changes nothing.
//
// Threads: construct, on_report(), on_fleet_change() and stop() on the io_context's thread; `dispatch` is called
// there too. stop() waits for the batch in progress and drops scans not begun. Errors: a failed store query is logged and the
// meter is scanned again at its next successful read; nothing throws out of on_report().
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>
#include <string>

#include "headend/collection/backfill.hpp"
#include "headend/collection/read_job.hpp"
#include "headend/runtime/asio.hpp"

namespace ami::storage {
class StoreReader;
}

namespace ami::collection {

class BackfillCoordinator {
 public:
  // `position_of(meter, hint)`: the meter's current position in the scheduler's fleet
  // (Scheduler::position_of), std::nullopt once it left the fleet; per-meter state is kept by it.
  using PositionOf = std::function<std::optional<std::uint32_t>(const MeterRef&, std::uint32_t hint)>;
  BackfillCoordinator(asio::any_io_executor io, std::filesystem::path database, BackfillOptions options,
                      std::function<void(ReadJob)> dispatch, PositionOf position_of);
  ~BackfillCoordinator();
  BackfillCoordinator(const BackfillCoordinator&) = delete;
  BackfillCoordinator& operator=(const BackfillCoordinator&) = delete;

  // Every finished load-profile job (not clock jobs, not on-demand reads).
  void on_report(const JobReport& report);
  // The scheduler's fleet changed: what Scheduler::set_meters returned.
  void on_fleet_change(const std::vector<std::uint32_t>& previous) { tracker_.remap(previous); }
  void stop();

  [[nodiscard]] std::size_t scans_started() const { return scans_; }

 private:
  struct ScanRequest {
    MeterRef meter;
    std::uint32_t position = 0;
    UtcSeconds boundary{};
    UtcMillis now{};
    std::vector<UtcSeconds> unfillable;
    std::optional<std::chrono::seconds> profile_reach;
  };
  struct ScanResult {
    MeterRef meter;
    std::uint32_t position = 0;
    std::vector<ReadJob> jobs;
    bool failed = false;  // the store query failed: scan again at the next read
  };
  // Pool thread: scans what is pending, up to scans_per_snapshot in one read snapshot, and hands
  // each batch's results to the io thread in one post, until nothing is pending.
  void drain_scans();
  ScanResult scan(const ScanRequest& request);
  void finish_scans(std::vector<ScanResult> results);  // io thread

  // A restart scans every meter at its first read: one pool wake-up, one snapshot (the reader's
  // page cache kept between queries) and one io post per batch instead of per meter.
  static constexpr std::size_t scans_per_snapshot = 512;

  asio::any_io_executor io_;
  std::filesystem::path database_;
  BackfillOptions options_;
  std::function<void(ReadJob)> dispatch_;
  PositionOf position_of_;
  BackfillTracker tracker_;  // io thread only
  asio::thread_pool pool_{1};
  std::mutex pending_mutex_;
  std::vector<ScanRequest> pending_;  // guarded by pending_mutex_
  bool drain_posted_ = false;         // guarded by pending_mutex_: a drain_scans() is queued or running
  std::atomic<bool> stopping_{false};  // stop(): scans not begun are dropped
  std::unique_ptr<storage::StoreReader> reader_;  // pool thread only
  std::size_t scans_ = 0;
  bool stopped_ = false;
};

}  // namespace ami::collection
