#include "storage/store_reader.hpp"

#include <stdexcept>

#include "storage/schema.hpp"
#include "storage/sqlite.hpp"
#include "storage/store_rows.hpp"

namespace ami::storage {

namespace feed = headend::feed::v1;

struct StoreReader::Impl {
  Impl(const std::filesystem::path& path, int busy_timeout_ms, Clock c)
      : db(path, false, busy_timeout_ms), clock(c) {
    configure_connection(db);  // cursor writes get the same durability as the writer's commits
    const int version = schema_version(db);
    if (version != current_schema_version()) {
      throw std::runtime_error(path.string() + ": schema version " + std::to_string(version) +
                               ", this build reads version " +
                               std::to_string(current_schema_version()) +
                               " (open a StoreWriter first: it migrates)");
    }
  }
  Database db;
  Clock clock;
};

StoreReader::StoreReader(const std::filesystem::path& path, int busy_timeout_ms, Clock clock)
    : impl_(std::make_unique<Impl>(path, busy_timeout_ms, clock)) {}

StoreReader::~StoreReader() = default;

std::vector<MeterRecord> StoreReader::meters(bool enabled_only) {
  std::vector<MeterRecord> result;
  for_each_meter(enabled_only, [&](MeterRecord&& row) { result.push_back(std::move(row)); });
  return result;
}

void StoreReader::for_each_meter(bool enabled_only, const std::function<void(MeterRecord&&)>& visit) {
  auto query = impl_->db.query("SELECT " + std::string(meter_columns) +
                               " FROM meters WHERE enabled = 1 OR ? = 0 ORDER BY meter_id");
  query->bind(1, enabled_only ? 1 : 0);
  while (query->step()) visit(meter_from_columns(*query, 0));
}

std::optional<MeterRecord> StoreReader::meter(std::string_view meter_id) {
  auto query =
      impl_->db.query("SELECT " + std::string(meter_columns) + " FROM meters WHERE meter_id = ?");
  query->bind(1, meter_id);
  if (!query->step()) return std::nullopt;
  return meter_from_columns(*query, 0);
}

std::uint64_t StoreReader::head_sequence() {
  // meta.last_sequence is written in the same transaction as the published intervals.
  const auto head = impl_->db.query_int64("SELECT value FROM meta WHERE key = 'last_sequence'");
  return static_cast<std::uint64_t>(head.value_or(0));
}

std::optional<std::uint64_t> StoreReader::oldest_sequence() {
  const auto oldest = impl_->db.query_int64("SELECT min(sequence) FROM intervals WHERE sequence IS NOT NULL");
  if (!oldest) return std::nullopt;
  return static_cast<std::uint64_t>(*oldest);
}

std::vector<feed::IntervalReading> StoreReader::read_feed(std::uint64_t after_sequence,
                                                          std::size_t limit) {
  auto query = impl_->db.query(
      std::string(feed_query_sql));
  query->bind(1, static_cast<std::int64_t>(after_sequence))
      .bind(2, static_cast<std::int64_t>(limit));
  std::vector<feed::IntervalReading> result;
  result.reserve(limit < 4096 ? limit : 4096);
  while (query->step()) {
    const Statement& row = *query;
    feed::IntervalReading reading;
    const auto channel = static_cast<EnergyChannel>(row.column_int64(3));
    const std::int64_t start = row.column_int64(4);
    const std::int64_t end = row.column_int64(5);
    const auto version = static_cast<std::uint32_t>(row.column_int64(12));
    const std::string cim = reading_type_cim(channel, static_cast<int>((end - start) / 60));
    reading.set_sequence(static_cast<std::uint64_t>(row.column_int64(0)));
    reading.set_meter_id(row.column_text(1));
    reading.set_usage_point(row.column_text(2));
    reading.set_kind(channel == EnergyChannel::reverse_active
                         ? feed::READING_KIND_REVERSE_ACTIVE_ENERGY
                         : feed::READING_KIND_FORWARD_ACTIVE_ENERGY);
    reading.set_idempotency_key(idempotency_key(reading.meter_id(), cim, end, version));
    reading.set_reading_type_cim(cim);
    reading.set_start_unix(start);
    reading.set_end_unix(end);
    reading.set_value_wh(row.column_int64(6));
    if (const auto reg = row.column_optional_int64(7)) reading.set_register_start_wh(*reg);
    if (const auto reg = row.column_optional_int64(8)) reading.set_register_end_wh(*reg);
    reading.set_status(static_cast<IntervalStatus>(row.column_int64(9)) == IntervalStatus::estimated
                           ? feed::INTERVAL_STATUS_ESTIMATED
                           : feed::INTERVAL_STATUS_ACTUAL);
    for (auto& code : split_quality_codes(row.column_text(10))) {
      reading.add_quality_codes(std::move(code));
    }
    reading.set_estimation_method(static_cast<feed::EstimationMethod>(row.column_int64(11)));
    reading.set_version(version);
    reading.set_collected_unix_ms(row.column_int64(13));
    reading.set_source(static_cast<feed::ReadSource>(row.column_int64(14)));
    result.push_back(std::move(reading));
  }
  return result;
}

std::optional<std::uint64_t> StoreReader::first_sequence_collected_at_or_after(UtcSeconds t) {
  const std::int64_t t_ms = t.time_since_epoch().count() * 1000;
  // Every sequence before the first mark whose running maximum reaches t was collected before t,
  // so the answer is the first one from that mark on (within its transaction, unless pruned).
  auto mark = impl_->db.query(std::string(replay_mark_sql));
  mark->bind(1, t_ms);
  if (!mark->step()) return std::nullopt;
  const std::int64_t from = mark->column_int64(0);
  auto query = impl_->db.query(
      "SELECT sequence FROM intervals WHERE sequence >= ? AND collected_at_ms >= ? "
      "ORDER BY sequence LIMIT 1");
  query->bind(1, from).bind(2, t_ms);
  if (!query->step()) return std::nullopt;
  return static_cast<std::uint64_t>(query->column_int64(0));
}

std::optional<std::uint64_t> StoreReader::consumer_cursor(std::string_view name) {
  auto query = impl_->db.query("SELECT sequence FROM consumer_cursors WHERE name = ?");
  query->bind(1, name);
  if (!query->step()) return std::nullopt;
  return static_cast<std::uint64_t>(query->column_int64(0));
}

void StoreReader::set_consumer_cursor(std::string_view name, std::uint64_t sequence) {
  if (name.empty()) throw std::invalid_argument("set_consumer_cursor: empty consumer name");
  // BEGIN IMMEDIATE: the head check and the write see one state, and a busy writer is waited for.
  Transaction transaction(impl_->db);
  const std::uint64_t head = head_sequence();
  if (sequence > head) {
    throw std::invalid_argument("set_consumer_cursor: consumer '" + std::string(name) +
                                "' acknowledged sequence " + std::to_string(sequence) +
                                " beyond the head " + std::to_string(head));
  }
  impl_->db
      .prepare(
          "INSERT INTO consumer_cursors (name, sequence, updated_at_ms) VALUES (?, ?, ?) "
          "ON CONFLICT (name) DO UPDATE SET sequence = excluded.sequence, "
          "updated_at_ms = excluded.updated_at_ms")
      .bind(1, name)
      .bind(2, static_cast<std::int64_t>(sequence))
      .bind(3, impl_->clock.now().time_since_epoch().count())
      .run();
  transaction.commit();
}

std::vector<std::pair<std::string, std::uint64_t>> StoreReader::consumer_cursors() {
  auto query = impl_->db.query("SELECT name, sequence FROM consumer_cursors ORDER BY name");
  std::vector<std::pair<std::string, std::uint64_t>> result;
  while (query->step()) {
    result.emplace_back(query->column_text(0), static_cast<std::uint64_t>(query->column_int64(1)));
  }
  return result;
}

std::vector<IntervalRecord> StoreReader::intervals(std::string_view meter_id,
                                                   EnergyChannel channel, UtcSeconds from,
                                                   UtcSeconds to) {
  auto query = impl_->db.query("SELECT " + std::string(interval_columns) + std::string(meter_intervals_sql_tail));
  query->bind(1, meter_id)
      .bind(2, static_cast<int>(channel))
      .bind(3, from.time_since_epoch().count())
      .bind(4, to.time_since_epoch().count());
  std::vector<IntervalRecord> result;
  while (query->step()) {
    result.push_back(interval_from_columns(*query, 0, std::string(meter_id), channel));
  }
  return result;
}

std::vector<BoundaryRead> StoreReader::reads(std::string_view meter_id, EnergyChannel channel,
                                             UtcSeconds from, UtcSeconds to) {
  auto query = impl_->db.query(std::string(meter_reads_sql));
  query->bind(1, meter_id)
      .bind(2, static_cast<int>(channel))
      .bind(3, from.time_since_epoch().count())
      .bind(4, to.time_since_epoch().count());
  std::vector<BoundaryRead> result;
  while (query->step()) {
    const Statement& row = *query;
    BoundaryRead read;
    read.meter_id = std::string(meter_id);
    read.channel = channel;
    read.boundary = UtcSeconds{std::chrono::seconds{row.column_int64(0)}};
    read.register_wh = row.column_int64(1);
    read.collected_at = UtcMillis{std::chrono::milliseconds{row.column_int64(2)}};
    read.source = static_cast<ReadSource>(row.column_int64(3));
    if (const auto meter_ms = row.column_optional_int64(4)) {
      read.meter_time = UtcMillis{std::chrono::milliseconds{*meter_ms}};
    }
    result.push_back(std::move(read));
  }
  return result;
}

void StoreReader::in_snapshot(const std::function<void()>& work) {
  impl_->db.exec("BEGIN");
  try {
    work();
  } catch (...) {
    try {
      impl_->db.exec("ROLLBACK");
    } catch (const SqliteError&) {
      // Nothing was written; the transaction ends with the connection at the latest.
    }
    throw;
  }
  impl_->db.exec("COMMIT");
}

bool StoreReader::has_read_before(std::string_view meter_id, EnergyChannel channel, UtcSeconds before) {
  auto key = impl_->db.query("SELECT meter_key FROM meters WHERE meter_id = ?");
  key->bind(1, meter_id);
  if (!key->step()) return false;
  const std::int64_t meter_key = key->column_int64(0);
  auto previous = impl_->db.query("SELECT max(boundary) FROM reads WHERE boundary < ?");
  auto read_at = impl_->db.query("SELECT 1 FROM reads WHERE boundary = ? AND meter_key = ? AND channel = ?");
  std::int64_t below = before.time_since_epoch().count();
  for (;;) {
    previous->reset();
    previous->bind(1, below);
    if (!previous->step() || previous->column_is_null(0)) return false;
    below = previous->column_int64(0);
    read_at->reset();
    read_at->bind(1, below).bind(2, meter_key).bind(3, static_cast<int>(channel));
    if (read_at->step()) return true;
  }
}

std::vector<BoundaryAttemptSummary> StoreReader::attempt_summaries(UtcSeconds from,
                                                                   UtcSeconds to) {
  // Per meter: any ok attempt; else the category of its last attempt decides the failure kind.
  auto query = impl_->db.query(
      "WITH per_meter AS ("
      "  SELECT a.boundary, a.meter_key, count(*) AS attempts, max(a.category = 'ok') AS any_ok,"
      "    (SELECT b.category FROM attempt_log b WHERE b.boundary = a.boundary "
      "       AND b.meter_key = a.meter_key ORDER BY b.attempt DESC, b.started_at_ms DESC LIMIT 1)"
      "      AS last_category"
      "  FROM attempt_log a WHERE a.boundary >= ? AND a.boundary <= ? GROUP BY a.boundary, a.meter_key)"
      " SELECT boundary, count(*), sum(any_ok),"
      "   sum(NOT any_ok AND last_category = 'transport'),"
      "   sum(NOT any_ok AND last_category = 'meter'), sum(attempts)"
      " FROM per_meter GROUP BY boundary ORDER BY boundary");
  query->bind(1, from.time_since_epoch().count()).bind(2, to.time_since_epoch().count());
  std::vector<BoundaryAttemptSummary> result;
  while (query->step()) {
    const Statement& row = *query;
    BoundaryAttemptSummary summary;
    summary.boundary = UtcSeconds{std::chrono::seconds{row.column_int64(0)}};
    summary.meters_attempted = row.column_int64(1);
    summary.meters_ok = row.column_int64(2);
    summary.meters_failed_transport = row.column_int64(3);
    summary.meters_failed_meter = row.column_int64(4);
    summary.attempts = row.column_int64(5);
    result.push_back(summary);
  }
  return result;
}

std::vector<StoreReader::AuditEntry> StoreReader::audit_log(std::size_t limit) {
  auto query = impl_->db.query(
      "SELECT at_ms, actor, action, detail FROM audit_log ORDER BY audit_id DESC LIMIT ?");
  query->bind(1, static_cast<std::int64_t>(limit));
  std::vector<AuditEntry> result;
  while (query->step()) {
    result.push_back(AuditEntry{UtcMillis{std::chrono::milliseconds{query->column_int64(0)}},
                                query->column_text(1), query->column_text(2),
                                query->column_text(3)});
  }
  return result;
}

}  // namespace ami::storage
