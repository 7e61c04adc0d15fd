// Registry CSV import/export (format: docs/ARCHITECTURE.md "Meter registry CSV").
//
// Ownership/threads: pure functions over values (the file variant reads one file); any thread.
// Errors: parsing never throws; it returns every problem as a RegistryError naming the file, the
// 1-based line, the column and the reason. Callers import only when errors is empty
// (all-or-nothing: StoreWriter::import_meters()).
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "storage/types.hpp"

namespace ami::storage {

struct RegistryError {
  std::string file;
  std::size_t line = 0;  // 1-based physical line where the row starts
  std::string column;    // empty when the problem is the whole row
  std::string reason;
  // "meters.csv:7: column ct_ratio: must be an integer >= 1, got '0'"
  [[nodiscard]] std::string to_string() const;
};

struct RegistryParseResult {
  std::vector<MeterRecord> meters;  // valid rows only, in file order
  std::vector<RegistryError> errors;
  [[nodiscard]] bool ok() const { return errors.empty(); }
};

// Parses CSV text (RFC 4180 quoting: "..." with "" for a quote; CRLF or LF). A header row is
// required; columns may come in any order; unknown or repeated columns are errors; absent
// optional columns take their defaults (meter_id, protocol, channel and address are required).
// Blank lines are skipped. Duplicate meter_ids are errors on the later line.
RegistryParseResult parse_registry_csv(std::string_view text, std::string_view file_name);

// Reads and parses a file; a file that cannot be read is one RegistryError with line 0.
RegistryParseResult read_registry_csv_file(const std::filesystem::path& path);

// Writes all columns in the canonical order, header first, quoting fields when needed.
// parse_registry_csv(format_registry_csv(m)) gives m back.
std::string format_registry_csv(const std::vector<MeterRecord>& meters);

}  // namespace ami::storage
