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

// StoreReader::read_feed's query (?1: after this sequence, ?2: limit): the published intervals
// in sequence order through the partial index intervals_by_sequence (schema 6), each with its
// meter. Spelled here so a test can check its query plan.
inline constexpr std::string_view feed_query_sql =
    "SELECT i.sequence, m.meter_id, m.usage_point, i.channel, i.start_unix, i.end_unix, "
    "i.value_wh, i.register_start_wh, i.register_end_wh, i.status, i.quality_codes, "
    "i.estimation_method, i.version, i.collected_at_ms, i.source "
    "FROM intervals i JOIN meters m ON m.meter_key = i.meter_key "
    "WHERE i.sequence > ?1 ORDER BY i.sequence LIMIT ?2";

// Replay by time, step 1 (?1: t in ms): the first outbox mark whose running maximum of
// collected_at_ms reaches t; every sequence before it was collected before t.
inline constexpr std::string_view replay_mark_sql =
    "SELECT first_sequence FROM outbox_marks WHERE collected_through_ms >= ?1 "
    "ORDER BY collected_through_ms, first_sequence LIMIT 1";

// One meter's rows of a time-major table (key: time, meter_key, channel, ...) over a time range.
// A plain `WHERE meter_key = ? AND boundary BETWEEN ...` can seek on time only, so it visits
// every meter's rows in the range (at 100,000 meters and 3 days: 57.6 M rows, seconds per call).
// These walk the distinct times stored in the range instead, one seek each
// (`min(t) WHERE t > previous`), and look the meter's row up by the full key at each: two seeks
// per distinct boundary, whatever the fleet size. Spelled here so a test can check the plans.
//
// StoreReader::reads (?1 meter_id, ?2 channel, ?3 from, ?4 to; boundary in [from, to]):
inline constexpr std::string_view meter_reads_sql =
    "WITH RECURSIVE t(at) AS ("
    " SELECT (SELECT min(boundary) FROM reads WHERE boundary >= ?3)"
    " UNION ALL SELECT (SELECT min(boundary) FROM reads WHERE boundary > t.at) FROM t WHERE t.at < ?4) "
    "SELECT r.boundary, r.register_wh, r.collected_at_ms, r.source, r.meter_time_ms "
    "FROM t JOIN reads r ON r.boundary = t.at "
    " AND r.meter_key = (SELECT meter_key FROM meters WHERE meter_id = ?1) AND r.channel = ?2 "
    "WHERE t.at <= ?4 ORDER BY r.boundary";
// StoreReader::intervals (?1 meter_id, ?2 channel, ?3 from, ?4 to; end in (from, to]), after
// `SELECT ` + interval_columns:
inline constexpr std::string_view meter_intervals_sql_tail =
    " FROM (WITH RECURSIVE t(at) AS ("
    " SELECT (SELECT min(end_unix) FROM intervals WHERE end_unix > ?3)"
    " UNION ALL SELECT (SELECT min(end_unix) FROM intervals WHERE end_unix > t.at) FROM t WHERE t.at < ?4)"
    " SELECT at FROM t WHERE at <= ?4) AS t "
    "JOIN intervals i ON i.end_unix = t.at "
    " AND i.meter_key = (SELECT meter_key FROM meters WHERE meter_id = ?1) AND i.channel = ?2 "
    "ORDER BY i.end_unix, i.version";

// The VEE history pass's chunk (StoreWriter::history_pass): every read / interval of the meters with
// key in [?3, ?4] and time in [?1, ?2] (intervals: end in (?1, ?2]), in key order. The same walk,
// with a key range instead of one meter at each stored time: the rows visited are the chunk's, not
// every meter's in the window once per chunk.
inline constexpr std::string_view chunk_reads_sql =
    "WITH RECURSIVE t(at) AS ("
    " SELECT (SELECT min(boundary) FROM reads WHERE boundary >= ?1)"
    " UNION ALL SELECT (SELECT min(boundary) FROM reads WHERE boundary > t.at) FROM t WHERE t.at < ?2) "
    "SELECT r.meter_key, r.channel, r.boundary, r.register_wh, r.collected_at_ms, r.source, r.meter_time_ms "
    "FROM t JOIN reads r ON r.boundary = t.at AND r.meter_key >= ?3 AND r.meter_key <= ?4 "
    "WHERE t.at <= ?2";
// After `SELECT i.meter_key, i.channel, ` + interval_columns:
inline constexpr std::string_view chunk_intervals_sql_tail =
    " FROM (WITH RECURSIVE t(at) AS ("
    " SELECT (SELECT min(end_unix) FROM intervals WHERE end_unix > ?1)"
    " UNION ALL SELECT (SELECT min(end_unix) FROM intervals WHERE end_unix > t.at) FROM t WHERE t.at < ?2)"
    " SELECT at FROM t WHERE at <= ?2) AS t "
    "JOIN intervals i ON i.end_unix = t.at AND i.meter_key >= ?3 AND i.meter_key <= ?4";

// The registry columns in this order, starting at `first`:
inline constexpr std::string_view meter_columns =
    "meter_id, protocol, channel, address, model, ct_ratio, pt_ratio, utc_offset_minutes, "
    "usage_point, interval_minutes, enabled, tags";
MeterRecord meter_from_columns(const Statement& row, int first);

}  // namespace ami::storage
