// Reading one Modbus meter: execute the model's read plan on a Link, split blocks that answer
// exception 0x02, decode, and normalise into canonical readings with the registry's CT x PT.
//
// Threads: read_meter() blocks and runs on an executor worker (executor.hpp), never on the
// io_context thread. PlanCache is shared by all workers (internally locked); plans are immutable
// snapshots, replaced whole when a split is learned.
// Errors: never throws; the outcome says what happened to the meter, `detail` says why.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "headend/modbus/link.hpp"
#include "protocols/common/quantity.hpp"
#include "protocols/modbus/read_plan.hpp"
#include "protocols/modbus/register_map.hpp"

namespace ami::modbus {

// One plan per model (map), computed on first use; splits learned from 0x02 replies are kept.
// Keyed by the map's address: maps must stay where they are (built-in maps do; keep user maps in a
// container that is not resized after start-up).
class PlanCache {
 public:
  std::shared_ptr<const ReadPlan> plan_for(const RegisterMap& map);
  // Replaces `block` (as found in `seen`, the snapshot the caller used) by its two halves.
  // Returns the new snapshot, or nullptr when the block holds one point and cannot be split.
  std::shared_ptr<const ReadPlan> split(const RegisterMap& map, const std::shared_ptr<const ReadPlan>& seen,
                                        std::size_t block);
  [[nodiscard]] std::uint64_t splits() const;

 private:
  mutable std::mutex mutex_;
  std::map<const RegisterMap*, std::shared_ptr<const ReadPlan>> plans_;
  std::uint64_t splits_ = 0;
};

struct MeterRequest {
  std::string meter_id;
  std::uint8_t unit = 1;
  const RegisterMap* map = nullptr;  // built-in or user map; must outlive the read
  std::int64_t ct_ratio = 1;
  std::int64_t pt_ratio = 1;
};

enum class MeterOutcome : std::uint8_t {
  ok,               // every block answered (points the meter does not support are listed)
  timeout,          // transport: no answer in time (link reconnects on the next read)
  unreachable,      // gateway exception 0x06/0x0A/0x0B: this meter is not reachable now
  link_error,       // transport: cannot connect / connection broke
  meter_error,      // the meter answered with another exception
  bad_reply,        // garbled or mismatched reply
  bad_request,      // no map, or a CT/PT the normaliser cannot apply
  cancelled,        // the executor stopped before the read ran
};
std::string_view to_string(MeterOutcome o);

struct CanonicalReading {
  Quantity quantity = Quantity::forward_active_energy;
  std::int64_t value = 0;  // canonical unit (quantity.hpp), CT x PT applied
};

struct MeterReadResult {
  MeterOutcome outcome = MeterOutcome::bad_request;
  std::string detail;
  std::vector<CanonicalReading> readings;  // only on ok
  std::vector<std::string> unavailable;    // point names: NaN, out of range, refused (0x02 alone)
  int transactions = 0;
  // Set by the Executor: when a worker began this read (after its wait in the channel's queue), and
  // how long the read took. Unset (epoch, 0) for a job that never ran (cancelled, queue full).
  std::chrono::system_clock::time_point started{};
  std::chrono::microseconds elapsed{0};
};

MeterReadResult read_meter(Link& link, const MeterRequest& request, PlanCache& plans);

}  // namespace ami::modbus
