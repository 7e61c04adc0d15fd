// Internal to ami_storage: row <-> value conversions shared by StoreWriter and StoreReader, so
// the column lists are spelled once. Not for use outside storage/.
//
// Threads: pure functions over a Statement the caller owns. Errors: none of their own.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "storage/sqlite.hpp"
#include "storage/types.hpp"

namespace ami::storage {

// An intervals row as the writer inserts it (integer seconds/ms, meter by key).
struct IntervalRow {
  std::int64_t meter_key = 0;
  EnergyChannel channel = EnergyChannel::forward_active;
  std::int64_t start = 0;
  std::int64_t end = 0;
  std::int64_t value_wh = 0;
  std::optional<std::int64_t> register_start_wh;
  std::optional<std::int64_t> register_end_wh;
  IntervalStatus status = IntervalStatus::actual;
  std::string quality_codes;  // ';'-separated
  EstimationMethod estimation_method = EstimationMethod::none;
  std::int64_t version = 1;
  std::int64_t collected_at_ms = 0;
  ReadSource source = ReadSource::scheduled;
};

IntervalRow interval_row_from_record(const IntervalRecord& record, std::int64_t meter_key);

// Quality codes travel as one ';'-separated column.
std::string join_quality_codes(const std::vector<std::string>& codes);
std::vector<std::string> split_quality_codes(std::string_view joined);

// The intervals columns interval_from_columns() reads, in this order, starting at `first`:
inline constexpr std::string_view interval_columns =
    "start_unix, end_unix, value_wh, register_start_wh, register_end_wh, status, quality_codes, "
    "estimation_method, version, collected_at_ms, source, sequence, superseded";
IntervalRecord interval_from_columns(const Statement& row, int first, std::string meter_id,
                                     EnergyChannel channel);

// The registry columns in this order, starting at `first`:
inline constexpr std::string_view meter_columns =
    "meter_id, protocol, channel, address, model, ct_ratio, pt_ratio, utc_offset_minutes, "
    "usage_point, interval_minutes, enabled, tags";
MeterRecord meter_from_columns(const Statement& row, int first);

}  // namespace ami::storage
