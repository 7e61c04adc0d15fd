// `headendctl feed ...`: billing feed consumer tools (docs/FEED.md).
//   feed tail --connect HOST:PORT --consumer NAME --token T [--from-sequence N | --from-time ISO]
//             [--max-intervals N] [--idle-exit-ms MS]
// prints each received interval as one JSON line on stdout and acknowledges it after printing.
// Errors print a message to stderr and throw CLI::RuntimeError (1: connection or protocol failure).
#pragma once

#include <CLI/CLI.hpp>

#include "feed/v1/feed.pb.h"
#include <nlohmann/json.hpp>

namespace ami::cli {

void add_feed_commands(CLI::App& app);

// One interval as the JSON object `feed tail` prints: every IntervalReading field, enums by name,
// times both as ISO-8601 UTC ("start") and as unix numbers ("start_unix").
nlohmann::json interval_to_json(const headend::feed::v1::IntervalReading& interval);

}  // namespace ami::cli
