#include "headend/collection/catch_up.hpp"

#include <algorithm>

#include "headend/collection/boundary_read.hpp"

namespace ami::collection {

std::vector<ReadJob> plan_catch_up(const MeterTarget& meter, std::optional<UtcSeconds> last_read,
                                   UtcSeconds first_scheduled, std::chrono::minutes interval,
                                   std::chrono::hours max_lookback, UtcMillis now) {
  std::vector<ReadJob> jobs;
  if (!last_read) return jobs;  // a meter never read starts with the scheduler's first cycle
  const auto oldest_allowed = floor_to_interval(std::chrono::floor<std::chrono::seconds>(now - max_lookback), interval);
  auto from = std::max(*last_read, oldest_allowed);  // a boundary already stored (or the lookback edge)
  const auto last_missing = first_scheduled - 2 * interval;
  const auto per_job = kMaxBoundaryRecords - 1;  // new boundaries per request; one record re-reads `from`
  while (from < last_missing) {
    const auto end = std::min(from + interval * per_job, last_missing);
    ReadJob job;
    job.meter = meter;
    job.boundary = end;
    job.interval = interval;
    job.records = static_cast<int>((end - from) / interval) + 1;
    job.source = storage::ReadSource::backfill;
    job.priority = Priority::backfill;
    job.not_before = now;
    job.retry_deadline = now + interval;
    jobs.push_back(std::move(job));
    from = end;
  }
  return jobs;
}

}  // namespace ami::collection
