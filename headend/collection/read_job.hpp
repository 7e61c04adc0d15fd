// What the scheduler hands to a gateway worker, and what comes back: one meter, one boundary.
// Plain values; any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ratio>
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

// A meter as the collection engine needs it (resolved from the registry once). 64 bytes (one per
// meter, issue #6): the durations are 32-bit and the offset 16-bit; all read and assign like the
// std::chrono / int values they stand for.
struct MeterTarget {
  std::string meter_id;
  // The same few values for the whole fleet: held once each (interned_string.hpp), a pointer here.
  InternedString protocol;     // registry protocol, e.g. "dlt645-2007"
  InternedString channel_key;  // registry channel, e.g. "tcp://127.0.0.1:16450"
  dlt645::Address address;
  std::int16_t utc_offset_minutes = 480;  // the registry keeps it in -720..840
  // per-protocol ([collection.timeouts]); 0: the channel's
  std::chrono::duration<std::int32_t, std::milli> response_timeout{0};
  // register reads (1997): attributed to B when done by B + this
  std::chrono::duration<std::int32_t> register_tolerance{120};
};
static_assert(sizeof(MeterTarget) <= 64, "one MeterTarget per meter: keep it at 64 bytes");

// Jobs and reports refer to their meter: one immutable target per registry version, shared by every
// queued job, in-flight read and report (a job copied no strings). Never null in a dispatched job.
using MeterRef = std::shared_ptr<const MeterTarget>;
inline MeterRef make_meter_ref(MeterTarget target) { return std::make_shared<const MeterTarget>(std::move(target)); }

// Lower runs first: an operator's on-demand read, then scheduled reads, then backfill.
enum class Priority : std::uint8_t { on_demand = 0, scheduled = 1, backfill = 2 };

// Meter clock work (headend/collection/clock_sync.hpp) instead of the load-profile read:
// read the clock (04000101 + 04000102), broadcast time sync (08H), or set the time (14H 04000102).
enum class ClockCommand : std::uint8_t { none = 0, read, broadcast, set_time };

inline constexpr std::uint32_t kNoMeterIndex = UINT32_MAX;

// 64 bytes (fields ordered and enums one byte each so): a gateway's queue holds one per meter of
// the cycle (issue #6, docs/PERFORMANCE.md "Per-meter memory (session 5)").
struct ReadJob {
  MeterRef meter;
  // The meter's position in the scheduler's fleet when the scheduler made the job (its per-meter
  // state is kept by position); kNoMeterIndex for jobs made elsewhere (backfill, clock, on demand).
  std::uint32_t meter_index = kNoMeterIndex;
  // Interval length; 32-bit minutes (reads and assigns like std::chrono::minutes).
  std::chrono::duration<std::int32_t, std::ratio<60>> interval{15};
  UtcSeconds boundary{};
  UtcMillis not_before{};      // simulated time; the spread window places each meter here
  UtcMillis retry_deadline{};  // simulated time; no retry starts after it (first attempts always run)
  int records = 2;             // load-profile records read, ending at `boundary` (backfill reads more)
  storage::ReadSource source = storage::ReadSource::scheduled;
  Priority priority = Priority::scheduled;
  ClockCommand clock = ClockCommand::none;
  FreezeKind freeze = FreezeKind::none;  // backfill: read the hourly/daily freeze at `boundary` (freeze_read.hpp)
  // A 2007 meter without a load profile (scheduler.hpp): read its current energy registers instead,
  // attributed to `boundary` like a 1997 meter's (register_read.hpp).
  bool current_registers = false;
};
static_assert(sizeof(ReadJob) <= 64, "ReadJob is held per meter in every gateway queue: keep it at 64 bytes");

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
