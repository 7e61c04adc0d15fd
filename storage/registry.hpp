// Meter registry rules: what a valid MeterRecord is (docs/ARCHITECTURE.md "Meter registry CSV").
//
// Ownership/threads: pure functions over values (except read_registry_version); any thread.
// Errors: validation returns a list of FieldError (column + reason), empty when the record is
// valid; nothing throws.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "storage/types.hpp"

namespace ami::storage {

struct FieldError {
  std::string column;  // CSV column name, e.g. "ct_ratio"
  std::string reason;  // e.g. "must be an integer >= 1, got '0'"
};

// The protocols the registry accepts.
bool is_known_protocol(std::string_view protocol);
bool is_dlt645(std::string_view protocol);
bool is_modbus(std::string_view protocol);

// Checks every field: meter_id non-empty without ',', '|' or control characters; protocol known;
// channel "tcp://HOST:PORT" (port 1..65535) or "serial:///dev/...?..." with known keys (baud,
// parity N|E|O, stop 1|2, data 7|8); address 12 decimal digits for DL/T 645, unit id 1..247 for
// Modbus; ct/pt >= 1; utc_offset within -720..840 minutes; interval_minutes > 0 dividing 1440;
// tags empty or key=value pairs separated by ';'.
std::vector<FieldError> validate_meter(const MeterRecord& meter);

// The registry's change counter (meta key registry_version): every registry write through
// StoreWriter::import_meters bumps it, from any process. A running daemon polls it to pick up
// changes without a restart. Opens its own short-lived read connection; any thread.
// Throws SqliteError when the database cannot be read.
std::int64_t read_registry_version(const std::filesystem::path& database);

}  // namespace ami::storage
