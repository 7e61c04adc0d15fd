// The plain data VEE works on: one meter channel's register reads, events, and intervals.
//
// VEE is a pure library (no SQLite, no threads, no I/O): the store writer, tools and tests fill
// these structs, call vee::run() (engine.hpp) and write what comes back. See docs/VEE.md.
//
// Units: registers are the meter's own Wh (before CT x PT); interval values are Wh with the
// multiplier applied. Times are UTC. Intervals are period-ending: an Interval is [end - length, end).
// Ownership/threads: plain values; copy freely; any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "protocols/common/clock.hpp"
#include "storage/types.hpp"
#include "storage/vee/quality.hpp"

namespace ami::storage::vee {

// The register's dial: how many digits it shows. DL/T 645 energy registers are XXXXXX.XX kWh
// (6 integer + 2 decimal digits): maximum 999999.99 kWh = 999,999,990 Wh, resolution 10 Wh, and
// the next count after the maximum shows 0, so the register counts modulo 1,000,000,000 Wh.
struct RegisterDial {
  int integer_digits = 6;  // kWh digits before the decimal point; 0 = unknown (no rollover)
  int decimal_digits = 2;  // 0..3

  // Wh of one count of the last digit (10 Wh for 2 decimals). Valid for decimal_digits 0..3.
  [[nodiscard]] std::int64_t resolution_wh() const;
  // Largest value the dial shows, in Wh (999,999,990 for 6+2); 0 when integer_digits is 0.
  [[nodiscard]] std::int64_t max_wh() const;
  // max_wh() + resolution_wh(): the register counts modulo this; 0 when unknown.
  [[nodiscard]] std::int64_t modulus_wh() const;
};

// What VEE must know about the channel it validates.
struct ChannelSpec {
  std::string meter_id;
  EnergyChannel channel = EnergyChannel::forward_active;
  std::chrono::seconds interval{900};
  std::int64_t multiplier = 1;  // CT x PT
  RegisterDial dial;
  // A bidirectional (net-metering) register may legitimately go down; negative deltas are then
  // actual energy, not reverse-rotation suspects.
  bool bidirectional = false;
  // Meter local time = UTC + this; decides which intervals form a "day" for the spike rule.
  int utc_offset_minutes = 480;
};

// One register value at an aligned boundary.
struct RegisterRead {
  UtcSeconds boundary{};
  std::int64_t register_wh = 0;
  // Head-end time the value was taken. For a plain register read (`snapshot` false) the time
  // tolerance rule compares it with `boundary`.
  UtcMillis taken_at{};
  // True when the meter itself captured the value at `boundary` (load-profile record, freeze):
  // the read's latency then does not matter.
  bool snapshot = true;
  // Meter clock at the time of the read, converted to UTC; drives the clock checks when present.
  std::optional<UtcMillis> meter_time;
  ReadSource source = ReadSource::scheduled;
};

enum class EventKind {
  power_down,      // [at, until): the meter had no supply
  clock_set,       // at `at` the meter clock was moved by `clock_shift`
  meter_replaced,  // at `at` the old meter stopped and the new one started (registry event)
};

struct MeterEvent {
  EventKind kind = EventKind::power_down;
  UtcSeconds at{};
  UtcSeconds until{};                 // power_down only
  std::chrono::seconds clock_shift{}; // clock_set only; > 0 forward
  // meter_replaced only: the old meter's final register and the new meter's first register
  // (both in register Wh). Without them the interval holding the swap cannot be derived and
  // is estimated; with them the energy on both sides of the swap is exact.
  std::optional<std::int64_t> old_final_wh;
  std::optional<std::int64_t> new_initial_wh;
};

// One interval as VEE produces or receives it.
struct Interval {
  UtcSeconds end{};
  std::int64_t value_wh = 0;  // multiplier applied
  std::optional<std::int64_t> register_start_wh;
  std::optional<std::int64_t> register_end_wh;
  IntervalStatus status = IntervalStatus::actual;
  EstimationMethod method = EstimationMethod::none;
  Flags flags = 0;
  ReadSource source = ReadSource::scheduled;
  UtcMillis collected_at{};
  std::uint32_t version = 0;  // 0 until the store assigns one

  [[nodiscard]] bool is_actual() const { return status == IntervalStatus::actual; }
};

}  // namespace ami::storage::vee
