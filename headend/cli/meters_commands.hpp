// `headendctl meters ...`: the meter registry in the staging store (CSV format: docs/ARCHITECTURE.md).
//   meters export (--config FILE | --db PATH) [--output FILE] [--enabled-only]
//   meters import (--config FILE | --db PATH) --csv FILE [--dry-run]
// import is all-or-nothing (every row validated first, errors as file:line: column: reason) and
// upserts by meter_id; it opens the store's writer, so run it while the daemon is stopped (a
// running daemon re-imports its own [registry] import_csv at each start instead).
// Errors print to stderr and throw CLI::RuntimeError (1: store or file failure, 2: bad input).
#pragma once

#include <CLI/CLI.hpp>

namespace ami::cli {

void add_meters_commands(CLI::App& app);

}  // namespace ami::cli
