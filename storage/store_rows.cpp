#include "storage/store_rows.hpp"

namespace ami::storage {

IntervalRow interval_row_from_record(const IntervalRecord& record, std::int64_t meter_key) {
  IntervalRow row;
  row.meter_key = meter_key;
  row.channel = record.channel;
  row.start = record.start.time_since_epoch().count();
  row.end = record.end.time_since_epoch().count();
  row.value_wh = record.value_wh;
  row.register_start_wh = record.register_start_wh;
  row.register_end_wh = record.register_end_wh;
  row.status = record.status;
  row.quality_codes = join_quality_codes(record.quality_codes);
  row.estimation_method = record.estimation_method;
  row.version = record.version;
  row.collected_at_ms = record.collected_at.time_since_epoch().count();
  row.source = record.source;
  return row;
}

std::string join_quality_codes(const std::vector<std::string>& codes) {
  std::string joined;
  for (const auto& code : codes) {
    if (!joined.empty()) joined += ';';
    joined += code;
  }
  return joined;
}

std::vector<std::string> split_quality_codes(std::string_view joined) {
  std::vector<std::string> codes;
  while (!joined.empty()) {
    const auto semicolon = joined.find(';');
    codes.emplace_back(joined.substr(0, semicolon));
    joined = semicolon == std::string_view::npos ? std::string_view{} : joined.substr(semicolon + 1);
  }
  return codes;
}

IntervalRecord interval_from_columns(const Statement& row, int first, std::string meter_id,
                                     EnergyChannel channel) {
  IntervalRecord record;
  record.meter_id = std::move(meter_id);
  record.channel = channel;
  record.start = UtcSeconds{std::chrono::seconds{row.column_int64(first)}};
  record.end = UtcSeconds{std::chrono::seconds{row.column_int64(first + 1)}};
  record.value_wh = row.column_int64(first + 2);
  record.register_start_wh = row.column_optional_int64(first + 3);
  record.register_end_wh = row.column_optional_int64(first + 4);
  record.status = static_cast<IntervalStatus>(row.column_int64(first + 5));
  record.quality_codes = split_quality_codes(row.column_text(first + 6));
  record.estimation_method = static_cast<EstimationMethod>(row.column_int64(first + 7));
  record.version = static_cast<std::uint32_t>(row.column_int64(first + 8));
  record.collected_at = UtcMillis{std::chrono::milliseconds{row.column_int64(first + 9)}};
  record.source = static_cast<ReadSource>(row.column_int64(first + 10));
  if (const auto sequence = row.column_optional_int64(first + 11)) {
    record.sequence = static_cast<std::uint64_t>(*sequence);
  }
  record.superseded = row.column_int64(first + 12) != 0;
  return record;
}

MeterRecord meter_from_columns(const Statement& row, int first) {
  MeterRecord m;
  m.meter_id = row.column_text(first);
  m.protocol = row.column_text(first + 1);
  m.channel = row.column_text(first + 2);
  m.address = row.column_text(first + 3);
  m.model = row.column_text(first + 4);
  m.ct_ratio = row.column_int64(first + 5);
  m.pt_ratio = row.column_int64(first + 6);
  m.utc_offset_minutes = static_cast<int>(row.column_int64(first + 7));
  m.usage_point = row.column_text(first + 8);
  m.interval_minutes = static_cast<int>(row.column_int64(first + 9));
  m.enabled = row.column_int64(first + 10) != 0;
  m.tags = row.column_text(first + 11);
  return m;
}

}  // namespace ami::storage
