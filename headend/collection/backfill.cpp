#include "headend/collection/backfill.hpp"

#include <algorithm>
#include <optional>

#include "headend/collection/boundary_read.hpp"

namespace ami::collection {
namespace {

ReadJob backfill_job(const MeterTarget& meter, UtcSeconds start, UtcSeconds end, std::chrono::minutes interval,
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
void plan_run(const MeterTarget& meter, UtcSeconds first, UtcSeconds last, std::chrono::minutes interval,
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

std::vector<ReadJob> plan_backfill(const MeterTarget& meter, const StoredBoundaries& stored, UtcSeconds covered_from,
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

}  // namespace ami::collection
