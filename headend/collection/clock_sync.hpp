// Meter clocks (issue 6): read periodically, skew recorded, data flagged while the skew exceeds a
// tolerance, clocks corrected within configured limits, every write audited.
//
// Policy ([collection.clock], docs/COLLECTION.md): a meter's clock is read (DL/T 645-2007 DI
// 04000101 date + 04000102 time) just before its scheduled read once read_every has passed.
// skew = meter clock - head-end clock. Within tolerance: nothing. Beyond it the meter is flagged
// and, when correction is on, corrected at most once per min_between_corrections (a day) and only
// when |skew| <= max_correction; a larger skew stays flagged for a technician. Corrections use
// 08H broadcast time sync (every meter on the bus is set, so it is sent only when no meter on the
// bus is known to be beyond max_correction and all share one UTC offset) or an individual 14H
// write of the time (password + operator code). After a correction the meter's clock is read again.
//
// ClockSupervisor keeps the per-meter clock state and turns finished clock jobs into follow-up
// jobs and audit rows; the wire helpers build requests and read replies. Nothing here does I/O
// (clock_sync_exchange.hpp drives a channel). Threads: a ClockSupervisor is used from one thread
// (the daemon's io thread); the free functions are pure. Errors: outcomes with reasons; no throws.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "headend/collection/outcome.hpp"
#include "headend/collection/read_job.hpp"
#include "protocols/dlt645/datetime.hpp"
#include "protocols/dlt645/frame.hpp"
#include "protocols/dlt645/messages.hpp"

namespace ami::collection {

enum class ClockMethod { broadcast, individual };

struct ClockPolicy {
  bool enabled = true;
  std::chrono::hours read_every{24};
  std::chrono::seconds tolerance{60};
  bool correct = true;
  std::chrono::seconds max_correction{300};
  ClockMethod method = ClockMethod::broadcast;
  std::chrono::hours min_between_corrections{24};
  std::chrono::minutes retry_failed_read_after{60};  // a clock read that failed is tried again after this
  std::chrono::milliseconds send_delay{0};  // real time a frame waits on the channel before it leaves
                                            // (the inter-frame gap): time sync frames are stamped for then
  dlt645::Password password{0x02, 0x00, 0x00, 0x00};  // individual: PA (level) P0 P1 P2
  dlt645::OperatorCode operator_code{0x00, 0x00, 0x00, 0x00};
};

enum class ClockVerdict {
  in_tolerance,        // nothing to do
  correct,             // flagged, and a correction is due
  flag_no_correction,  // flagged; correction is off
  flag_beyond_max,     // flagged for a technician: beyond max_correction
  flag_corrected_recently,  // flagged; the last correction is less than min_between_corrections ago
};
std::string_view to_string(ClockVerdict verdict);

// What to do about a measured skew. `last_correction`: when this meter's clock was last set.
ClockVerdict decide_clock(std::chrono::milliseconds skew, const ClockPolicy& policy,
                          std::optional<UtcMillis> last_correction, UtcMillis now);

// One meter on a bus, as the broadcast rule sees it.
struct BusMeterClock {
  std::string meter_id;
  int utc_offset_minutes = 480;
  std::optional<std::chrono::milliseconds> skew;  // latest measured, if any
};
// True when an 08H broadcast on this bus corrects nobody beyond max_correction; `why_not` otherwise.
bool broadcast_allowed(const std::vector<BusMeterClock>& bus, const ClockPolicy& policy, std::string& why_not);

// True when the true local time (`now` at `utc_offset_minutes`) or the meter's local time
// (now + skew) is within max_correction + 60 s of local midnight. A 14H time write carries no date,
// so a correction across midnight would move the meter a whole day: it is not sent then.
// (08H broadcast carries the full date and time and does not need this rule.)
bool near_local_midnight(UtcMillis now, std::chrono::milliseconds skew, int utc_offset_minutes,
                         const ClockPolicy& policy);

// --- wire (DL/T 645-2007) ---
inline constexpr std::uint32_t kDiMeterDate = 0x04000101;  // YYMMDDWW
inline constexpr std::uint32_t kDiMeterTime = 0x04000102;  // hhmmss

dlt645::Frame make_clock_read_request(const dlt645::Address& address, std::uint32_t di);
// A read reply for `di`, or an abnormal read reply.
bool is_clock_read_reply(std::uint32_t di, const dlt645::Frame& reply);

struct ClockFieldResult {
  Outcome outcome = Outcome::bad_reply;
  std::string detail;
  dlt645::MeterDateTime value;  // date: year/month/day; time: hour/minute/second
};
ClockFieldResult interpret_clock_reply(std::uint32_t di, const dlt645::Frame& reply);

// The meter-local date and time combined, in UTC (+500 ms: the meter truncates to the second).
std::optional<UtcMillis> meter_clock_utc(const dlt645::MeterDateTime& date, const dlt645::MeterDateTime& time,
                                         int utc_offset_minutes);

// 08H broadcast carrying `utc` in the meter's local time (nullopt outside 2000..2099).
std::optional<dlt645::Frame> make_time_broadcast(UtcSeconds utc, int utc_offset_minutes);
// 14H write of 04000102 (hhmmss) = `utc` in local time, with the policy's password and operator.
// Only the time: the caller keeps clear of local midnight (near_local_midnight).
dlt645::Frame make_time_set_request(const dlt645::Address& address, UtcSeconds utc, int utc_offset_minutes,
                                    const ClockPolicy& policy);
// The 94H / D4H reply to a 14H write from the meter.
bool is_write_reply(const dlt645::Frame& reply);

// --- per-meter state ---
struct MeterClockState {
  std::optional<UtcMillis> last_read_at;          // head-end time of the last good clock read
  std::optional<UtcMillis> last_read_attempt_at;  // last clock read sent (good or not)
  std::optional<std::chrono::milliseconds> skew;  // latest measured; unknown again after a correction
  std::optional<UtcMillis> last_correction_at;
  ClockVerdict verdict = ClockVerdict::in_tolerance;
  bool in_flight = false;  // a clock job of this meter is queued or running
};

// An audit row to write (StoreWriter::audit(actor, action, detail)).
struct ClockAuditEntry {
  std::string actor;
  std::string action;
  std::string detail;
};

// The enabled meters on one channel: each meter's fleet position and its target, by pointer into
// the caller's fleet (no copies); the daemon fills it from the scheduler's per-channel index
// (Scheduler::channel_positions).
struct ClockBusMeter {
  std::uint32_t position = kNoMeterIndex;
  const MeterTarget* target = nullptr;  // never null
};
using ClockBus = std::vector<ClockBusMeter>;

// Per-meter state is kept by the meter's position in the scheduler's fleet (a vector, like the
// scheduler's own state): the caller passes each meter's current position (Scheduler::position_of)
// and calls remap() after a registry change. kNoMeterIndex (a meter no longer in the fleet) reads
// and writes a scratch state that belongs to nobody.
class ClockSupervisor {
 public:
  explicit ClockSupervisor(ClockPolicy policy) : policy_(policy) {}

  // When `meter` (at `position`) is about to be read for `boundary`: its clock read, when one is due
  // (none while one is in flight; a failed read is tried again after retry_failed_read_after). The
  // job carries the position (meter_index), as do all follow-up jobs.
  std::optional<ReadJob> read_if_due(const MeterRef& meter, std::uint32_t position, UtcSeconds boundary, UtcMillis now);

  struct FollowUp {
    std::vector<ReadJob> jobs;
    std::vector<ClockAuditEntry> audit;
  };
  // A finished clock job (report.job.clock != none) of the meter now at `position`. `bus`: the
  // enabled meters on the same channel.
  FollowUp on_report(const JobReport& report, std::uint32_t position, const ClockBus& bus, UtcMillis now);

  // The latest measured skew of a meter, if known (reads taken now carry meter_time = now + skew).
  [[nodiscard]] std::optional<std::chrono::milliseconds> skew_of(std::uint32_t position) const;
  [[nodiscard]] const MeterClockState* state(std::uint32_t position) const;
  [[nodiscard]] const ClockPolicy& policy() const { return policy_; }
  // The fleet changed: `previous[i]` is the old position of the meter now at i (kNoMeterIndex: new).
  void remap(const std::vector<std::uint32_t>& previous);

 private:
  ReadJob clock_job(const MeterRef& meter, std::uint32_t position, ClockCommand command, UtcSeconds boundary,
                    UtcMillis now) const;
  MeterClockState& at(std::uint32_t position);
  void on_reading(const JobReport& report, std::uint32_t position, const ClockBus& bus, UtcMillis now, FollowUp& out);
  void on_correction(const JobReport& report, std::uint32_t position, const ClockBus& bus, UtcMillis now,
                     FollowUp& out);

  ClockPolicy policy_;
  std::vector<MeterClockState> states_;  // by fleet position; grown on first use
  MeterClockState removed_;              // kNoMeterIndex: a meter that left the fleet
};

}  // namespace ami::collection
