// What the scheduler hands to a gateway worker, and what comes back: one meter, one boundary.
// Plain values; any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "headend/collection/boundary_read.hpp"
#include "headend/collection/freeze_read.hpp"
#include "headend/collection/interned_string.hpp"
#include "headend/collection/outcome.hpp"
#include "protocols/common/clock.hpp"
#include "protocols/dlt645/address.hpp"
#include "storage/types.hpp"

namespace ami::collection {

// A meter as the collection engine needs it (resolved from the registry once).
struct MeterTarget {
  std::string meter_id;
  // The same few values for the whole fleet: held once each (interned_string.hpp), a pointer here.
  InternedString protocol;     // registry protocol, e.g. "dlt645-2007"
  InternedString channel_key;  // registry channel, e.g. "tcp://127.0.0.1:16450"
  dlt645::Address address;
  int utc_offset_minutes = 480;
  std::chrono::milliseconds response_timeout{0};  // per-protocol ([collection.timeouts]); 0: the channel's
  std::chrono::seconds register_tolerance{120};   // register reads (1997): attributed to B when done by B + this
};

// Jobs and reports refer to their meter: one immutable target per registry version, shared by every
// queued job, in-flight read and report (a job copied no strings). Never null in a dispatched job.
using MeterRef = std::shared_ptr<const MeterTarget>;
inline MeterRef make_meter_ref(MeterTarget target) { return std::make_shared<const MeterTarget>(std::move(target)); }

// Lower runs first: an operator's on-demand read, then scheduled reads, then backfill.
enum class Priority : int { on_demand = 0, scheduled = 1, backfill = 2 };

// Meter clock work (headend/collection/clock_sync.hpp) instead of the load-profile read:
// read the clock (04000101 + 04000102), broadcast time sync (08H), or set the time (14H 04000102).
enum class ClockCommand : int { none = 0, read, broadcast, set_time };

inline constexpr std::uint32_t kNoMeterIndex = UINT32_MAX;

struct ReadJob {
  MeterRef meter;
  // The meter's position in the scheduler's fleet when the scheduler made the job (its per-meter
  // state is kept by position); kNoMeterIndex for jobs made elsewhere (backfill, clock, on demand).
  std::uint32_t meter_index = kNoMeterIndex;
  UtcSeconds boundary{};
  std::chrono::minutes interval{15};
  storage::ReadSource source = storage::ReadSource::scheduled;
  Priority priority = Priority::scheduled;
  UtcMillis not_before{};      // simulated time; the spread window places each meter here
  UtcMillis retry_deadline{};  // simulated time; no retry starts after it (first attempts always run)
  int records = 2;             // load-profile records read, ending at `boundary` (backfill reads more)
  ClockCommand clock = ClockCommand::none;
  FreezeKind freeze = FreezeKind::none;  // backfill: read the hourly/daily freeze at `boundary` (freeze_read.hpp)
  // A 2007 meter without a load profile (scheduler.hpp): read its current energy registers instead,
  // attributed to `boundary` like a 1997 meter's (register_read.hpp).
  bool current_registers = false;
};

struct AttemptReport {
  int attempt = 1;  // 1-based
  Outcome outcome = Outcome::timeout;
  std::string detail;
  UtcMillis started_at{};  // simulated time
  std::int32_t latency_ms = 0;
  // The ERR byte of the meter's abnormal reply (DL/T 645 C|C0H) that ended this attempt, for
  // decisions on its bits (dlt645::decode_error_reasons); `detail` words it for people only.
  std::optional<std::uint8_t> meter_err = std::nullopt;  // (initialised: brace-inits may omit it)
};

struct JobReport {
  ReadJob job;
  std::vector<AttemptReport> attempts;
  std::vector<RegisterSnapshot> snapshots;  // what the meter returned (also on missing_record)
  UtcMillis collected_at{};                 // simulated time the usable reply arrived
  std::optional<UtcMillis> meter_clock;     // ClockCommand::read: the meter's clock (UTC) at collected_at
  std::optional<UtcSeconds> clock_sent;     // broadcast / set_time: the time sent (UTC)
  std::optional<RegisterSnapshot> current;  // register reads (1997): the registers as read, stamped with
                                            // the read time; what an on-demand read shows, never stored
  [[nodiscard]] Outcome final_outcome() const { return attempts.empty() ? Outcome::cancelled : attempts.back().outcome; }
  [[nodiscard]] bool ok() const { return final_outcome() == Outcome::ok; }
};

}  // namespace ami::collection
