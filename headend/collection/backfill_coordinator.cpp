#include "headend/collection/backfill_coordinator.hpp"

#include <spdlog/spdlog.h>

#include "storage/store_reader.hpp"

namespace ami::collection {

BackfillCoordinator::BackfillCoordinator(asio::any_io_executor io, std::filesystem::path database,
                                         BackfillOptions options, std::function<void(ReadJob)> dispatch,
                                         PositionOf position_of)
    : io_(std::move(io)),
      database_(std::move(database)),
      options_(options),
      dispatch_(std::move(dispatch)),
      position_of_(std::move(position_of)),
      tracker_(options) {}

BackfillCoordinator::~BackfillCoordinator() { stop(); }

void BackfillCoordinator::stop() {
  if (stopped_) return;
  stopped_ = true;
  stopping_ = true;  // a restart's scans still pending would otherwise hold up the stop
  pool_.join();
  reader_.reset();
}

void BackfillCoordinator::on_report(const JobReport& report) {
  const auto& job = report.job;
  if (stopped_ || options_.depth.count() <= 0 || job.clock != ClockCommand::none ||
      job.source == storage::ReadSource::on_demand || job.meter->protocol != "dlt645-2007")
    return;
  const auto position = position_of_(job.meter, job.meter_index);
  if (!position) return;  // the meter left the fleet
  const bool scan_now = tracker_.on_report(*position, report);
  for (auto& follow_up : tracker_.take_follow_ups()) dispatch_(std::move(follow_up));  // freezes for refused chunks
  if (!scan_now) return;
  ++scans_;
  const auto window_start = backfill_window_start(report.collected_at, options_);
  ScanRequest request{job.meter,
                      *position,
                      job.boundary,
                      report.collected_at,
                      tracker_.unfillable(*position, window_start),
                      tracker_.load_profile_reach(*position)};
  std::lock_guard lock(pending_mutex_);
  pending_.push_back(std::move(request));
  if (drain_posted_) return;  // the running drain takes it
  drain_posted_ = true;
  asio::post(pool_, [this] { drain_scans(); });
}

// Pool thread.
void BackfillCoordinator::drain_scans() {
  for (;;) {
    std::vector<ScanRequest> taken;
    {
      std::lock_guard lock(pending_mutex_);
      if (stopping_) pending_.clear();
      if (pending_.empty()) {
        drain_posted_ = false;
        return;
      }
      taken.swap(pending_);
    }
    for (std::size_t first = 0; first < taken.size() && !stopping_; first += scans_per_snapshot) {
      const std::size_t last = std::min(taken.size(), first + scans_per_snapshot);
      std::vector<ScanResult> results;
      results.reserve(last - first);
      try {
        if (!reader_) reader_ = std::make_unique<storage::StoreReader>(database_);
        reader_->in_snapshot([&] {
          for (std::size_t i = first; i < last; ++i) results.push_back(scan(taken[i]));
        });
      } catch (const std::exception& e) {
        // Opening the reader or the snapshot failed (a scan's own failure is caught in scan()):
        // the meters of the batch not scanned yet are scanned again at their next read.
        spdlog::warn("backfill: store snapshot failed, {} meter(s) scanned again at their next read: {}",
                     last - first - results.size(), e.what());
        for (std::size_t i = first + results.size(); i < last; ++i)
          results.push_back(ScanResult{taken[i].meter, taken[i].position, {}, true});
      }
      asio::post(io_, [this, results = std::move(results)]() mutable { finish_scans(std::move(results)); });
    }
  }
}

// Pool thread, inside drain_scans()'s snapshot.
BackfillCoordinator::ScanResult BackfillCoordinator::scan(const ScanRequest& request) {
  const auto& meter = request.meter;
  ScanResult result{meter, request.position, {}, false};
  try {
    const auto window_start = backfill_window_start(request.now, options_);
    StoredBoundaries stored;
    for (const auto& r : reader_->reads(meter->meter_id, storage::EnergyChannel::forward_active, window_start,
                                        request.boundary - options_.interval - std::chrono::seconds{1}))
      stored.boundaries.push_back(r.boundary);
    stored.read_before_window =
        stored.boundaries.empty() || stored.boundaries.front() > window_start
            ? reader_->has_read_before(meter->meter_id, storage::EnergyChannel::forward_active, window_start)
            : true;
    add_unfillable(stored, request.unfillable);
    result.jobs =
        plan_backfill(meter, stored, request.boundary - options_.interval, options_, request.now, request.profile_reach);
  } catch (const std::exception& e) {
    spdlog::warn("backfill: meter {}: store query failed, scanning again at its next read: {}", meter->meter_id,
                 e.what());
    result.failed = true;
    return result;
  }
  if (!result.jobs.empty())
    spdlog::info("backfill: meter {}: {} read(s) for boundaries missing before {}", meter->meter_id,
                 result.jobs.size(), format_utc(request.boundary - options_.interval));
  return result;
}

// io thread.
void BackfillCoordinator::finish_scans(std::vector<ScanResult> results) {
  if (stopped_) return;
  for (auto& result : results) {
    const auto now_at = position_of_(result.meter, result.position);
    if (!now_at) continue;  // the meter left the fleet while its scan ran
    if (result.failed) {
      tracker_.scan_done(*now_at, 0, true);
      continue;
    }
    tracker_.scan_done(*now_at, result.jobs.size(), false);
    for (auto& job : result.jobs) {
      job.meter_index = *now_at;  // its reports find the meter's state without a lookup by id
      dispatch_(std::move(job));
    }
  }
}

}  // namespace ami::collection
