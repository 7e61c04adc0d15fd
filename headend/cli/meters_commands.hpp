// `headendctl meters ...`: the meter registry in the staging store (CSV format: docs/ARCHITECTURE.md).
//   meters export  (--config FILE | --db PATH) [--output FILE] [--enabled-only]
//   meters import  (--config FILE | --db PATH) --csv FILE [--dry-run]
//   meters add     ID --protocol P --channel C --address A [--model ..] [--ct-ratio ..] [--pt-ratio ..]
//                  [--utc-offset-minutes ..] [--usage-point ..] [--interval-minutes ..] [--tags ..] [--disabled]
//   meters update  ID [any field option of add]
//   meters disable|enable|remove ID
//   meters replace OLD_ID --new-meter-id NEW_ID --new-address A [--new-model M]
// Every command that writes is all-or-nothing (import: every row validated first, errors as
// file:line: column: reason), upserts by meter_id and writes an audit row (actor
// "headendctl:meters <command>"). They may run while the daemon runs: the store takes one writer
// at a time (SQLite busy timeout), and the daemon picks registry changes up within [collection]
// registry_poll_seconds. remove never deletes a row (readings and intervals refer to it): the
// meter is disabled and tagged removed=true. replace disables the old meter (tag replaced_by=NEW),
// adds the new one on the same usage point and channel (tag replaces=OLD), audit action
// "meter_replaced".
// Errors print to stderr and throw CLI::RuntimeError (1: store or file failure, 2: bad input).
#pragma once

#include <CLI/CLI.hpp>

namespace ami::cli {

void add_meters_commands(CLI::App& app);

}  // namespace ami::cli
