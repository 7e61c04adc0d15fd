// Injected time for the daemon, the simulator and the tests.
//
// A Clock maps the real wall clock onto the UTC instant the process should believe it is.
// Real mode is the identity. Accelerated mode runs `speed` simulated seconds per real second from
// a simulated `start` instant, counted from a real `anchor` instant; two processes given the same
// start, speed and anchor agree on the simulated time to within their wall clocks' agreement, which
// is what lets a daemon and a simulator started a second apart still agree on interval boundaries.
//
// Ownership/threads: a Clock is an immutable value; any thread may call any member.
// Errors: parse_clock_spec() returns std::nullopt and fills `error`; nothing here throws.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ami {

using UtcSeconds = std::chrono::sys_seconds;
using UtcMillis = std::chrono::sys_time<std::chrono::milliseconds>;

class Clock {
 public:
  static Clock real();
  static Clock accelerated(UtcMillis sim_start, std::int64_t speed, UtcMillis real_anchor);

  [[nodiscard]] UtcMillis now() const;
  [[nodiscard]] UtcMillis to_sim(UtcMillis real) const;
  // The real wall instant at which simulated time reaches `sim`.
  [[nodiscard]] UtcMillis to_real(UtcMillis sim) const;
  // How long to wait in real time for `sim` simulated time to pass (never negative).
  [[nodiscard]] std::chrono::microseconds real_wait(std::chrono::milliseconds sim) const;
  [[nodiscard]] bool is_accelerated() const { return speed_ != 1 || sim_start_ != real_anchor_; }
  [[nodiscard]] std::int64_t speed() const { return speed_; }
  [[nodiscard]] UtcMillis sim_start() const { return sim_start_; }
  [[nodiscard]] UtcMillis real_anchor() const { return real_anchor_; }

 private:
  Clock(UtcMillis sim_start, std::int64_t speed, UtcMillis real_anchor)
      : sim_start_(sim_start), speed_(speed), real_anchor_(real_anchor) {}
  UtcMillis sim_start_;
  std::int64_t speed_;
  UtcMillis real_anchor_;
};

// The clock options every executable accepts (see docs/CLOCK.md):
//   --clock real|accelerated   --clock-start 2026-01-05T00:00:00Z   --clock-speed 900
//   --clock-anchor <unix ms>   (default: now; give the same value to every process of one run)
struct ClockSpec {
  std::string mode = "real";
  std::string start;  // ISO-8601 UTC, required for accelerated
  std::int64_t speed = 1;
  std::optional<std::int64_t> anchor_unix_ms;
};

std::optional<Clock> make_clock(const ClockSpec& spec, std::string& error);

// "2026-01-05T00:00:00Z" (also accepts a trailing "+00:00" or no zone, read as UTC; seconds optional).
std::optional<UtcSeconds> parse_utc(std::string_view text);
std::string format_utc(UtcSeconds t);          // 2026-01-05T00:15:00Z
std::string format_utc_ms(UtcMillis t);        // 2026-01-05T00:15:00.123Z

// Floor `t` to a multiple of `interval` since the Unix epoch (UTC-aligned boundaries).
inline UtcSeconds floor_to_interval(UtcSeconds t, std::chrono::seconds interval) {
  const auto s = t.time_since_epoch().count();
  const auto i = interval.count();
  const auto r = ((s % i) + i) % i;
  return UtcSeconds{std::chrono::seconds{s - r}};
}

}  // namespace ami
