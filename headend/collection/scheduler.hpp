// Interval-aligned read scheduling on the injected clock.
//
// At every aligned boundary B (multiples of the interval since the Unix epoch, UTC) the scheduler
// queues one read per enabled meter, each placed at B + settle + a stable per-meter offset inside
// the spread window (so a fleet does not hit its gateways at the same instant, and a meter keeps its
// slot from cycle to cycle). Boundaries are computed, never accumulated from timer expiries, so the
// schedule does not drift; when the daemon falls behind (an accelerated clock, slow gateways) it
// still runs every boundary, in order, back to back. At most max_outstanding_cycles cycles may be
// unfinished: beyond that the scheduler waits, so a slow gateway cannot grow the queues forever.
// Cycles are reported complete in boundary order, with what happened to each meter.
//
// Fleet and per-meter state: the scheduler holds the fleet as shared targets (the daemon's one copy
// of the registry) with each meter's state in a vector parallel to it; a job carries its meter's
// position (ReadJob::meter_index), so a report finds its state without a lookup by meter id.
//
// A meter without a load profile: a DL/T 645-2007 meter that refuses its scheduled load-profile
// read with ERR no_requested_data is marked (MeterState::no_load_profile) and read at once, in the
// same window, by a register read of its current energy (00010000 / 00020000, register_read.hpp,
// attributed to B within register_tolerance): that read decides the meter's result in the cycle
// (the refused attempt stays recorded and counted in `attempts`). Its later cycles read the
// registers directly, except at every UTC midnight boundary, where the load profile is tried again
// (a meter whose load profile was switched on goes back to it); a registry change of the meter
// (a new target) forgets the mark too. Not persisted: after a restart each such meter costs one
// refused read before it is marked again.
//
// Threads: everything on the io_context's thread (run() is the scheduler's coroutine; call
// on_job_report() for every job dispatch() received). dispatch and on_cycle must not block long.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "headend/collection/read_job.hpp"
#include "headend/runtime/asio.hpp"
#include "protocols/common/clock.hpp"

namespace ami::collection {

struct SchedulerOptions {
  std::chrono::minutes interval{15};
  std::chrono::seconds settle{2};
  std::chrono::seconds spread_window{60};
  int max_outstanding_cycles = 4;
};

// The first aligned boundary at or after `now`.
UtcSeconds first_boundary_at_or_after(UtcMillis now, std::chrono::minutes interval);
// Where a meter's read for boundary B goes: B + settle + a stable offset in [0, spread_window).
UtcMillis spread_slot(UtcSeconds boundary, const SchedulerOptions& options, std::string_view meter_id);

struct MeterState {
  std::optional<UtcMillis> last_success;           // simulated time of the last ok read
  std::optional<UtcSeconds> last_success_boundary;
  int consecutive_failures = 0;
  Outcome last_outcome = Outcome::ok;
  bool no_load_profile = false;  // 2007 meter that refused its load profile: read its registers
};

// A scheduled load-profile read (2007) the meter refused with ERR no_requested_data (bit 1 of the
// last attempt's AttemptReport::meter_err; its detail text is not consulted): it has no load
// profile configured.
bool is_load_profile_refusal(const JobReport& report);
// Where the scheduler re-probes the load profile of meters marked no_load_profile: UTC midnight.
bool is_load_profile_probe(UtcSeconds boundary);

struct FailedMeter {
  std::string meter_id;
  std::string channel_key;
  Outcome outcome = Outcome::timeout;
  std::string detail;
};

struct CycleReport {
  UtcSeconds boundary{};
  int meters = 0;
  int meters_ok = 0;
  int attempts = 0;
  int intervals = 0;  // (meter, channel) pairs whose [B - interval, B) has both ends read (the start
                      // in this read, or in the meter's successful read of the previous boundary)
  std::vector<FailedMeter> failed;
  [[nodiscard]] int retries() const { return attempts - meters; }
};

class Scheduler {
 public:
  Scheduler(asio::any_io_executor executor, Clock clock, SchedulerOptions options, std::vector<MeterRef> meters,
            std::function<void(ReadJob)> dispatch, std::function<void(const CycleReport&)> on_cycle);

  // Runs cycles from `first` (default: the first boundary at or after now) until stop().
  asio::awaitable<void> run(std::optional<UtcSeconds> first = std::nullopt);
  void on_job_report(const JobReport& report);
  // Registry change while running: cycles started from now on read exactly `meters` (cycles
  // already started finish with the jobs they dispatched). New meters get a fresh state; removed
  // meters' states go; a meter id present before keeps its state (even if its target changed).
  // Returns each meter's previous position (kNoMeterIndex: new), for state kept by position
  // elsewhere (BackfillTracker::remap).
  std::vector<std::uint32_t> set_meters(std::vector<MeterRef> meters);
  void stop();

  // The meter with this id in the current fleet (nullptr: none). O(log N).
  [[nodiscard]] const MeterRef* find(std::string_view meter_id) const;
  [[nodiscard]] const MeterState* state_of(std::string_view meter_id) const;
  // The current position of a job's meter: `hint` (the job's meter_index) while it still holds
  // that target, else by id (the fleet changed since). std::nullopt: no longer in the fleet.
  [[nodiscard]] std::optional<std::uint32_t> position_of(const MeterRef& meter, std::uint32_t hint) const;
  // The meters on one channel, as positions into meters(), O(log N) (a clock broadcast sets the
  // whole bus); valid until the next set_meters().
  [[nodiscard]] std::span<const std::uint32_t> channel_positions(std::string_view channel_key) const;
  [[nodiscard]] std::optional<UtcSeconds> next_boundary() const { return next_; }
  [[nodiscard]] std::size_t outstanding_cycles() const { return outstanding_.size(); }
  [[nodiscard]] const std::vector<MeterRef>& meters() const { return meters_; }

 private:
  struct Cycle {
    CycleReport report;
    int pending = 0;
  };
  void start_cycle(UtcSeconds boundary);
  void emit_completed_cycles();
  void index_meters();
  [[nodiscard]] std::optional<std::size_t> index_of(std::string_view meter_id) const;
  MeterState* state_for(const ReadJob& job);
  // The register read standing in for a refused load-profile read in the same window; false when
  // it is too late for one (the cycle counts the refusal as the meter's result).
  bool read_registers_instead(const JobReport& refused);

  Clock clock_;
  SchedulerOptions options_;
  std::vector<MeterRef> meters_;
  std::function<void(ReadJob)> dispatch_;
  std::function<void(const CycleReport&)> on_cycle_;
  std::vector<MeterState> states_;     // parallel to meters_
  std::vector<std::uint32_t> by_id_;  // positions in meters_, ordered by meter id
  std::vector<std::uint32_t> by_channel_;  // positions in meters_, ordered by channel key (then position)
  std::map<UtcSeconds, Cycle> outstanding_;
  std::optional<UtcSeconds> next_;
  asio::steady_timer timer_;
  bool stopping_ = false;
};

}  // namespace ami::collection
