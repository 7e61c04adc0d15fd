// Schema of the staging store and its versioned migrations (docs/STORAGE.md "Schema").
//
// The version lives in PRAGMA user_version. Migration N upgrades a version N-1 database in place
// inside one transaction; migrations are append-only (never edit a released one).
//
// Ownership/threads: functions over a Database the caller owns, on the caller's thread.
// Errors: SqliteError from the wrapper; std::runtime_error for a database newer than this build.
#pragma once

#include "storage/sqlite.hpp"

namespace ami::storage {

// The schema version this build writes and reads.
int current_schema_version();

// The version stored in the file (0 for a new, empty database).
int schema_version(Database& db);

// Applies migrations up to `target_version` (default: current). Used with an older target only
// by tests that build a database as an earlier release made it.
void migrate(Database& db, int target_version);
inline void migrate(Database& db) { migrate(db, current_schema_version()); }

// Sets WAL and the synchronous level (FULL) on a connection; see docs/STORAGE.md "Durability".
void configure_connection(Database& db);

}  // namespace ami::storage
