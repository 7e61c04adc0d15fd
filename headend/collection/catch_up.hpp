// Catch-up after the daemon was down (补抄): which backfill reads fill the gap between a meter's
// newest stored boundary read and the first boundary the scheduler will read itself.
//
// The scheduler's first cycle at F reads the records at F - interval and F, so the gap is the
// boundaries last + interval .. F - 2 x interval. They are read from the meter's load-profile
// memory in chunks of up to kMaxBoundaryRecords records; each chunk also re-reads the boundary
// before it (idempotent in the store), so every chunk yields its intervals on its own even when
// the chunk before it failed. Gaps older than `max_lookback` are not read (the meter's memory is
// finite; VEE estimates what is left). Pure; any thread.
#pragma once

#include <chrono>
#include <optional>
#include <vector>

#include "headend/collection/read_job.hpp"

namespace ami::collection {

std::vector<ReadJob> plan_catch_up(const MeterTarget& meter, std::optional<UtcSeconds> last_read,
                                   UtcSeconds first_scheduled, std::chrono::minutes interval,
                                   std::chrono::hours max_lookback, UtcMillis now);

}  // namespace ami::collection
