// Conversions between the collection engine's values and the store's: registry rows -> read
// targets, a finished job -> boundary reads + attempt rows, a finished cycle -> its status line.
// Pure functions; any thread; nothing throws.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "headend/collection/read_job.hpp"
#include "headend/collection/scheduler.hpp"
#include "storage/types.hpp"

namespace ami::daemon {

// One registry row at a time -> its target. An enabled row becomes a target; a disabled row gives
// nullopt; a row whose address does not parse gives nullopt and a reason in `skipped` (the registry
// validates addresses, so this is a safety net, not a normal path). Keeps the last interned protocol
// and channel: rows of one gateway usually follow each other, so most rows take no pool lock. One
// builder per thread.
class TargetBuilder {
 public:
  std::optional<collection::MeterTarget> build(const storage::MeterRecord& meter,
                                               std::vector<std::string>& skipped);

 private:
  collection::InternedString protocol_;
  collection::InternedString channel_;
};

// Every row through one TargetBuilder.
std::vector<collection::MeterTarget> to_targets(const std::vector<storage::MeterRecord>& meters,
                                                std::vector<std::string>& skipped);

// Every snapshot channel present becomes a BoundaryRead; every attempt becomes an AttemptRecord.
void to_store_records(const collection::JobReport& report, std::vector<storage::BoundaryRead>& reads,
                      std::vector<storage::AttemptRecord>& attempts);

// "2026-01-05T00:15:00Z cycle  4/4 read (100.0%)  retries 0  failed: -  intervals 8  feed head 24"
// failed lists up to five meters as meter_id(outcome), then "+N more".
std::string format_cycle_line(const collection::CycleReport& report, std::uint64_t feed_head);

}  // namespace ami::daemon
