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
  asio::post(pool_, [this, meter = job.meter, position = *position, boundary = job.boundary, now = report.collected_at,
                     unfillable = tracker_.unfillable(*position, window_start),
                     reach = tracker_.load_profile_reach(*position)] {
    scan(meter, position, boundary, now, unfillable, reach);
  });
}

// Pool thread.
void BackfillCoordinator::scan(const MeterRef& meter, std::uint32_t position, UtcSeconds boundary, UtcMillis now,
                               const std::vector<UtcSeconds>& unfillable,
                               std::optional<std::chrono::seconds> profile_reach) {
  std::vector<ReadJob> jobs;
  try {
    if (!reader_) reader_ = std::make_unique<storage::StoreReader>(database_);
    const auto window_start = backfill_window_start(now, options_);
    StoredBoundaries stored;
    for (const auto& r : reader_->reads(meter->meter_id, storage::EnergyChannel::forward_active, window_start,
                                        boundary - options_.interval - std::chrono::seconds{1}))
      stored.boundaries.push_back(r.boundary);
    stored.read_before_window =
        stored.boundaries.empty() || stored.boundaries.front() > window_start
            ? reader_->has_read_before(meter->meter_id, storage::EnergyChannel::forward_active, window_start)
            : true;
    add_unfillable(stored, unfillable);
    jobs = plan_backfill(meter, stored, boundary - options_.interval, options_, now, profile_reach);
  } catch (const std::exception& e) {
    spdlog::warn("backfill: meter {}: store query failed, scanning again at its next read: {}", meter->meter_id,
                 e.what());
    asio::post(io_, [this, meter, position] {
      if (const auto now_at = position_of_(meter, position)) tracker_.scan_done(*now_at, 0, true);
    });
    return;
  }
  if (!jobs.empty())
    spdlog::info("backfill: meter {}: {} read(s) for boundaries missing before {}", meter->meter_id, jobs.size(),
                 format_utc(boundary - options_.interval));
  asio::post(io_, [this, meter, position, jobs = std::move(jobs)]() mutable {
    if (stopped_) return;
    const auto now_at = position_of_(meter, position);
    if (!now_at) return;  // the meter left the fleet while its scan ran
    tracker_.scan_done(*now_at, jobs.size(), false);
    for (auto& job : jobs) {
      job.meter_index = *now_at;  // its reports find the meter's state without a lookup by id
      dispatch_(std::move(job));
    }
  });
}

}  // namespace ami::collection
