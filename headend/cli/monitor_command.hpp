// `headendctl status` and `headendctl report`: read-success figures straight from the staging
// store (docs/MONITORING.md "CLI"), the same numbers the JSON API and /metrics show.
//   status (--config FILE | --db PATH) [--day D] [--json] [--utc-offset-minutes M] [--deadline-minutes M] [clock]
//   report --day D (--config FILE | --db PATH) [--csv] [--output FILE] [...same options]
// With --config the daemon's [monitor] table supplies the defaults of the KPI options. The store
// is opened read-only alongside a running daemon (WAL). Errors (no store, bad day) print
// a message naming what was wrong to stderr and throw CLI::RuntimeError(2 usage, 1 runtime).
#pragma once

#include <CLI/CLI.hpp>

namespace ami::cli {

void add_monitor_commands(CLI::App& app);

}  // namespace ami::cli
