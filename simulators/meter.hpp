// One simulated meter: identity, load model, its own clock (drift, jumps, time sync), replacement,
// and the values it exposes at its protocol's resolution. The protocol responders read meters
// through this class only, and `meter-sim truth` uses the same functions, so the ground truth is
// by construction what the wire shows.
//
// Ownership/threads: a SimMeter belongs to one bus (one thread) or to a truth computation. const
// members are pure functions of (meter, instant); the mutating ones (time sync, counters) are
// called only by the bus that owns the meter. Errors: none.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "simulators/fleet.hpp"
#include "simulators/load_model.hpp"

namespace ami::sim {

// DL/T 645 energy fields are XXXXXX.XX kWh: 10 Wh resolution.
inline constexpr std::int64_t kDlt645ResolutionWh = 10;

// Instantaneous values consistent with the energy flow (canonical units of quantity.hpp).
struct Instantaneous {
  std::array<std::int64_t, 3> voltage_mv{};
  std::array<std::int64_t, 3> current_ma{};
  std::int64_t active_power_mw = 0;  // signed: > 0 import
  std::int64_t power_factor_permille = 1000;  // signed like the active power
  std::int64_t frequency_mhz = 50'000;
};

// Written by the bus thread that owns the meter, read by the admin endpoint: relaxed atomics.
struct MeterCounters {
  std::atomic<std::uint64_t> requests{0};  // requests addressed to this meter
  std::atomic<std::uint64_t> replies{0};   // replies sent (including faulty ones)
  std::atomic<std::uint64_t> faults{0};    // faults injected on its requests
  MeterCounters() = default;
  MeterCounters(const MeterCounters& o)
      : requests(o.requests.load(std::memory_order_relaxed)),
        replies(o.replies.load(std::memory_order_relaxed)),
        faults(o.faults.load(std::memory_order_relaxed)) {}
  MeterCounters& operator=(const MeterCounters&) = delete;
};

// Where a load-profile read that did not fit one frame continues (12H read follow-up).
struct LoadProfileCursor {
  std::uint32_t di = 0;
  UtcSeconds next;             // time of the next record to send
  std::uint16_t remaining = 0; // records still asked for; 0 = nothing pending
};

inline void bump(std::atomic<std::uint64_t>& counter) { counter.fetch_add(1, std::memory_order_relaxed); }

class SimMeter {
 public:
  explicit SimMeter(const MeterSpec& spec) : spec_(&spec), load_(spec.load, spec.utc_offset_minutes) {}

  [[nodiscard]] const MeterSpec& spec() const { return *spec_; }
  [[nodiscard]] const LoadModel& load() const { return load_; }

  // The address / unit id the meter answers to at simulated time `now` (changes at replacement).
  [[nodiscard]] const dlt645::Address& address_at(UtcMillis now) const;
  [[nodiscard]] int unit_id_at(UtcMillis now) const;

  // The instant the meter's own clock shows at simulated time `sim_now`: drift, jumps and syncs.
  [[nodiscard]] UtcMillis meter_clock(UtcMillis sim_now) const;
  // The true instant at which the meter's clock showed `meter_time` (inverse of meter_clock).
  [[nodiscard]] UtcMillis true_instant_of(UtcMillis meter_time) const;
  // 08H broadcast time sync received at `sim_now`: the clock reads `meter_time` then, and drift
  // accumulates again from that moment.
  void set_clock(UtcMillis sim_now, UtcMillis meter_time);
  // The moment the meter's clock was last right (drift accumulates from here); the simulator sets
  // it to its start so that a drifting meter begins each run on time.
  void set_drift_reference(UtcMillis t) { drift_reference_ = t; }
  // A clock jump by `delta` (fault injection).
  void jump_clock(std::chrono::milliseconds delta) { clock_offset_ms_ += delta.count(); }

  // Registers of the meter installed at t (restarting from 0 after a replacement), Wh; spike
  // faults included (the energy was really consumed).
  [[nodiscard]] Registers registers_at(UtcMillis t) const;
  // The registers as DL/T 645 shows them: 0.01 kWh floors, wrapped at the dial modulus.
  [[nodiscard]] Registers dlt645_registers_at(UtcMillis t) const;
  [[nodiscard]] Instantaneous instantaneous_at(UtcMillis t) const;

  [[nodiscard]] MeterCounters& counters() const { return counters_; }
  // Session state of the last long load-profile read (owned by the bus thread).
  [[nodiscard]] LoadProfileCursor& load_profile_cursor() { return load_profile_cursor_; }

 private:
  // What the meter has counted since the model epoch: the load model plus the spikes so far.
  [[nodiscard]] Registers consumed_at(UtcMillis t) const;
  const MeterSpec* spec_;
  LoadModel load_;
  std::int64_t clock_offset_ms_ = 0;
  UtcMillis drift_reference_{LoadModel::epoch()};
  mutable MeterCounters counters_;
  LoadProfileCursor load_profile_cursor_;  // statistics, not state: counting does not change the meter
};

// Wrap a register at a dial modulus (0 = no wrap).
inline std::int64_t wrap_dial(std::int64_t wh, std::int64_t modulus) { return modulus > 0 ? wh % modulus : wh; }

}  // namespace ami::sim
