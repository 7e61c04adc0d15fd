// The clock options shared by headend, meter-sim and headendctl (docs/CLOCK.md), on a CLI11 app.
// Call add_clock_options() while building the app and resolve_clock() after parsing; errors come
// back as CLI::ValidationError so CLI11 prints them like any other bad flag.
#pragma once

#include <CLI/CLI.hpp>

#include "protocols/common/clock.hpp"

namespace ami {

inline void add_clock_options(CLI::App& app, ClockSpec& spec) {
  app.add_option("--clock", spec.mode, "real | accelerated")->check(CLI::IsMember({"real", "accelerated"}));
  app.add_option("--clock-start", spec.start, "accelerated: simulated UTC start, e.g. 2026-01-05T00:00:00Z");
  app.add_option("--clock-speed", spec.speed, "accelerated: simulated seconds per real second")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1'000'000}));
  app.add_option("--clock-anchor", spec.anchor_unix_ms,
                 "accelerated: real wall time (unix ms) at which the simulated clock reads --clock-start; "
                 "give every process of one run the same value (default: now)");
}

inline Clock resolve_clock(const ClockSpec& spec) {
  std::string error;
  auto clock = make_clock(spec, error);
  if (!clock) throw CLI::ValidationError("--clock", error);
  return *clock;
}

}  // namespace ami
