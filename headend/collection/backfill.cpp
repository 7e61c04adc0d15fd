#include "headend/collection/backfill.hpp"

#include <algorithm>
#include <optional>

#include "headend/collection/boundary_read.hpp"

namespace ami::collection {
namespace {

ReadJob backfill_job(const MeterRef& meter, UtcSeconds start, UtcSeconds end, std::chrono::minutes interval,
                     UtcMillis now) {
  ReadJob job;
  job.meter = meter;
  job.boundary = end;
  job.interval = interval;
  job.records = static_cast<int>((end - start) / interval) + 1;
  job.source = storage::ReadSource::backfill;
  job.priority = Priority::backfill;
  job.not_before = now;
  job.retry_deadline = now + interval;
  return job;
}

// One run of consecutive missing boundaries first..last, in chunks that each start at the
// boundary before their first new one.
void plan_run(const MeterRef& meter, UtcSeconds first, UtcSeconds last, std::chrono::minutes interval,
              UtcMillis now, std::vector<ReadJob>& jobs) {
  const auto per_job = kMaxBoundaryRecords - 1;  // new boundaries per request; one record re-reads the start
  auto start = first - interval;
  while (start < last) {
    const auto end = std::min(start + interval * per_job, last);
    jobs.push_back(backfill_job(meter, start, end, interval, now));
    start = end;
  }
}

}  // namespace

UtcSeconds backfill_window_start(UtcMillis now, const BackfillOptions& options) {
  return floor_to_interval(std::chrono::floor<std::chrono::seconds>(now - options.depth), options.interval);
}

std::vector<ReadJob> plan_backfill(const MeterRef& meter, const StoredBoundaries& stored, UtcSeconds covered_from,
                                   const BackfillOptions& options, UtcMillis now) {
  std::vector<ReadJob> jobs;
  const auto interval = options.interval;
  const auto window_start = backfill_window_start(now, options);
  std::optional<UtcSeconds> known;  // the newest boundary known stored (or the window edge)
  if (stored.read_before_window) known = window_start;
  auto it = stored.boundaries.begin();
  std::optional<UtcSeconds> run_first;
  const auto close_run = [&](UtcSeconds last) {
    if (run_first) plan_run(meter, *run_first, last, interval, now, jobs);
    run_first.reset();
  };
  if (!known) {
    if (it == stored.boundaries.end()) return jobs;  // never read: no gap to fill
    known = *it;
  }
  for (auto b = *known + interval; b < covered_from; b += interval) {
    while (it != stored.boundaries.end() && *it < b) ++it;
    if (it != stored.boundaries.end() && *it == b) {
      close_run(b - interval);
      continue;
    }
    if (!run_first) run_first = b;
  }
  close_run(covered_from - interval);
  return jobs;
}

bool BackfillTracker::on_report(const JobReport& report) {
  auto& m = meters_[report.job.meter->meter_id];
  const auto outcome = report.final_outcome();
  if (report.job.source == storage::ReadSource::backfill) {
    if (m.outstanding > 0) --m.outstanding;
    if (outcome == Outcome::missing_record || outcome == Outcome::meter_error) {
      const auto& job = report.job;
      // The chunk's first record re-reads the boundary before it, which belongs to the chunk before.
      for (int i = 0; i < std::max(1, job.records - 1); ++i) m.unfillable.insert(job.boundary - job.interval * i);
      // Bounded: the window holds at most depth / interval boundaries; the oldest go first.
      const auto cap = static_cast<std::size_t>(options_.depth / options_.interval) + 1;
      while (m.unfillable.size() > cap) m.unfillable.erase(m.unfillable.begin());
    } else if (outcome != Outcome::ok && outcome != Outcome::cancelled) {
      m.rescan = true;
    }
    return false;
  }
  if (!report.ok()) {
    if (outcome != Outcome::cancelled) m.rescan = true;
    return false;
  }
  if ((m.scanned && !m.rescan) || m.outstanding > 0) return false;
  m.scanned = true;
  m.rescan = false;
  m.outstanding = 1;  // the scan itself
  return true;
}

void BackfillTracker::scan_done(const std::string& meter_id, std::size_t jobs_dispatched, bool failed) {
  auto& m = meters_[meter_id];
  if (m.outstanding > 0) --m.outstanding;
  m.outstanding += jobs_dispatched;
  if (failed) m.rescan = true;
}

std::vector<UtcSeconds> BackfillTracker::unfillable(const std::string& meter_id, UtcSeconds window_start) {
  const auto it = meters_.find(meter_id);
  if (it == meters_.end()) return {};
  auto& set = it->second.unfillable;
  set.erase(set.begin(), set.lower_bound(window_start));
  return {set.begin(), set.end()};
}

std::size_t BackfillTracker::outstanding(const std::string& meter_id) const {
  const auto it = meters_.find(meter_id);
  return it == meters_.end() ? 0 : it->second.outstanding;
}

void add_unfillable(StoredBoundaries& stored, const std::vector<UtcSeconds>& unfillable) {
  auto& b = stored.boundaries;
  b.insert(b.end(), unfillable.begin(), unfillable.end());
  std::sort(b.begin(), b.end());
  b.erase(std::unique(b.begin(), b.end()), b.end());
}

}  // namespace ami::collection
