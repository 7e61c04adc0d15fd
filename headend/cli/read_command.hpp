// `headendctl read METER_ID --config FILE [--json] [--timeout-seconds N]`: on-demand read (召测).
// Asks the RUNNING daemon through its HTTP API (POST /api/v1/meters/{id}/read with the [monitor]
// api_token, docs/MONITORING.md), so the read jumps the daemon's queue, goes through the same
// channel as scheduled reads (one transaction at a time per bus) and is audited there
// ("on_demand_read"). There is no second IPC path.
// Output: one line "METER outcome forward_wh=.. reverse_wh=.. at=.." (or the API's JSON with --json).
// Exit codes: 0 read ok; 1 the read failed or the daemon could not be reached; 2 bad config
// ([monitor] off or without api_token) or bad arguments. Errors print to stderr and throw
// CLI::RuntimeError(code). Single-threaded; blocking, at most --timeout-seconds (+1 s) in all.
#pragma once

#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

namespace ami::cli {

void add_read_command(CLI::App& app);

// A URL path segment: every byte but A-Z a-z 0-9 - . _ ~ as %XX (the meter id in the API path).
std::string percent_encode_segment(std::string_view text);

}  // namespace ami::cli
