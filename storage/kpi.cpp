#include "storage/kpi.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <stdexcept>

#include <fmt/format.h>

#include "storage/schema.hpp"
#include "storage/sqlite.hpp"
#include "storage/store_rows.hpp"

namespace ami::storage {

namespace {

constexpr std::int64_t seconds_per_day = 86400;

std::int64_t unix_s(UtcSeconds t) { return t.time_since_epoch().count(); }

}  // namespace

std::optional<LocalDay> parse_day(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  int y = 0;
  unsigned m = 0;
  unsigned d = 0;
  const auto num = [&](std::size_t pos, std::size_t len, auto& out) {
    const auto* first = text.data() + pos;
    const auto [ptr, ec] = std::from_chars(first, first + len, out);
    return ec == std::errc{} && ptr == first + len;
  };
  if (!num(0, 4, y) || !num(5, 2, m) || !num(8, 2, d)) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{d}};
  if (!ymd.ok()) return std::nullopt;
  return LocalDay{ymd};
}

std::string format_day(LocalDay day) {
  const std::chrono::year_month_day ymd{day};
  return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                     static_cast<unsigned>(ymd.day()));
}

LocalDay day_of(UtcSeconds t, int utc_offset_minutes) {
  return std::chrono::floor<std::chrono::days>(t + std::chrono::minutes{utc_offset_minutes});
}

UtcSeconds day_start_utc(LocalDay day, int utc_offset_minutes) {
  return UtcSeconds{day} - std::chrono::minutes{utc_offset_minutes};
}

ReadCounts& ReadCounts::operator+=(const ReadCounts& other) {
  expected += other.expected;
  first_attempt += other.first_attempt;
  after_retries += other.after_retries;
  after_backfill += other.after_backfill;
  on_time += other.on_time;
  boundaries_attempted += other.boundaries_attempted;
  boundaries_ok += other.boundaries_ok;
  boundaries_failed_transport += other.boundaries_failed_transport;
  boundaries_failed_meter += other.boundaries_failed_meter;
  attempts += other.attempts;
  return *this;
}

struct KpiQueries::Impl {
  explicit Impl(const std::filesystem::path& path, int busy_timeout_ms) : db(checked(path), false, busy_timeout_ms) {
    const int found = schema_version(db);
    if (found != current_schema_version()) {
      throw std::runtime_error(fmt::format("{}: schema version {} but this build reads version {}", path.string(),
                                           found, current_schema_version()));
    }
  }
  static const std::filesystem::path& checked(const std::filesystem::path& path) {
    if (!std::filesystem::exists(path)) throw std::runtime_error(path.string() + ": no staging store here");
    return path;
  }
  Database db;
};

KpiQueries::KpiQueries(const std::filesystem::path& database, int busy_timeout_ms)
    : impl_(std::make_unique<Impl>(database, busy_timeout_ms)) {}
KpiQueries::~KpiQueries() = default;

std::vector<MeterDay> KpiQueries::meter_days(LocalDay first_day, int day_count, UtcSeconds as_of,
                                             const KpiOptions& options) {
  auto& db = impl_->db;
  day_count = std::max(day_count, 0);
  as_of -= std::chrono::seconds{options.grace_seconds};
  const std::int64_t from = unix_s(day_start_utc(first_day, options.utc_offset_minutes));
  const std::int64_t to = std::min(from + day_count * seconds_per_day, unix_s(as_of));
  const std::int64_t deadline_s = std::int64_t{options.deadline_minutes} * 60;

  struct MeterInfo {
    std::int64_t key;
    std::int64_t interval_s;
    std::size_t first_row;  // index of this meter's day 0 in `out` (rows are meter-major here)
  };
  std::vector<MeterDay> out;
  std::map<std::string, MeterInfo, std::less<>> by_id;
  std::map<std::int64_t, std::string> id_by_key;
  {
    auto& q = db.prepare(
        "SELECT meter_key, meter_id, channel, model, protocol, tags, interval_minutes FROM meters "
        "WHERE enabled = 1 ORDER BY meter_id");
    while (q.step()) {
      MeterInfo info{q.column_int64(0), q.column_int64(6) * 60, out.size()};
      for (int k = 0; k < day_count; ++k) {
        MeterDay row;
        row.day = first_day + std::chrono::days{k};
        row.meter_id = q.column_text(1);
        row.gateway = q.column_text(2);
        row.model = q.column_text(3);
        row.protocol = q.column_text(4);
        row.tags = q.column_text(5);
        const std::int64_t start = from + k * seconds_per_day;
        const std::int64_t end = std::min(start + seconds_per_day, unix_s(as_of));
        row.expected = end > start && info.interval_s > 0 ? (end - start) / info.interval_s : 0;
        out.push_back(std::move(row));
      }
      id_by_key[info.key] = q.column_text(1);
      by_id.emplace(q.column_text(1), info);
    }
    q.reset();
  }
  const auto row_of = [&](std::string_view meter_id, std::int64_t day_index) -> MeterDay* {
    const auto it = by_id.find(meter_id);
    if (it == by_id.end() || day_index < 0 || day_index >= day_count) return nullptr;
    return &out[it->second.first_row + static_cast<std::size_t>(day_index)];
  };

  if (to > from) {
    // Intervals: one row per (meter, day) with the stage counts.
    // Day index k: end in (from + k days, from + (k + 1) days].
    auto& q = db.prepare(
        "WITH iv AS ("
        "  SELECT i.meter_key, i.end_unix, min(i.collected_at_ms) AS first_ms, max(i.source <> 3) AS no_backfill"
        "  FROM meters m JOIN intervals i ON i.meter_key = m.meter_key AND i.channel = 1"
        "    AND i.end_unix > ?1 AND i.end_unix <= ?2 AND i.status IN (1, 3)"
        "  WHERE m.enabled = 1 GROUP BY i.meter_key, i.end_unix) "
        "SELECT iv.meter_key, (iv.end_unix - ?3 - 1) / 86400, count(*), sum(iv.no_backfill),"
        "  sum(iv.first_ms <= (?3 + ((iv.end_unix - ?3 - 1) / 86400 + 1) * 86400 + ?4) * 1000),"
        "  sum(EXISTS (SELECT 1 FROM attempts a WHERE a.boundary = iv.end_unix AND a.meter_id = m.meter_id"
        "               AND a.attempt = 1 AND a.outcome = 'ok' AND a.source = 1)"
        "      AND EXISTS (SELECT 1 FROM attempts a WHERE a.boundary = iv.end_unix - m.interval_minutes * 60"
        "               AND a.meter_id = m.meter_id AND a.attempt = 1 AND a.outcome = 'ok' AND a.source = 1))"
        " FROM iv JOIN meters m ON m.meter_key = iv.meter_key GROUP BY iv.meter_key, 2");
    q.bind(1, from).bind(2, to).bind(3, from).bind(4, deadline_s);
    while (q.step()) {
      const auto key = id_by_key.find(q.column_int64(0));
      if (key == id_by_key.end()) continue;
      if (auto* row = row_of(key->second, q.column_int64(1))) {
        row->after_backfill = q.column_int64(2);
        row->after_retries = q.column_int64(3);
        row->on_time = q.column_int64(4);
        row->first_attempt = q.column_int64(5);
      }
    }
    q.reset();
  }

  if (to > from) {
    // Attempts per boundary; a failed boundary's reason is its last attempt's outcome.
    auto& q = db.prepare(
        "WITH b AS ("
        "  SELECT meter_id, boundary, max(outcome = 'ok') AS ok, count(*) AS attempts, max(attempt_id) AS last_id"
        "  FROM attempts WHERE boundary > ?1 AND boundary <= ?2 GROUP BY meter_id, boundary) "
        "SELECT b.meter_id, (b.boundary - ?1 - 1) / 86400, b.ok, a.outcome, a.category, count(*), sum(b.attempts)"
        " FROM b JOIN attempts a ON a.attempt_id = b.last_id GROUP BY 1, 2, 3, 4, 5");
    q.bind(1, from).bind(2, to);
    while (q.step()) {
      auto* row = row_of(q.column_text(0), q.column_int64(1));
      if (row == nullptr) continue;
      const auto boundaries = q.column_int64(5);
      row->boundaries_attempted += boundaries;
      row->attempts += q.column_int64(6);
      if (q.column_int64(2) != 0) {
        row->boundaries_ok += boundaries;
        continue;
      }
      const auto category = q.column_text(4);
      (category == "transport" ? row->boundaries_failed_transport : row->boundaries_failed_meter) += boundaries;
      row->reasons.push_back(FailureReason{q.column_text(3), category, boundaries});
    }
    q.reset();
    for (auto& row : out) {
      std::stable_sort(row.reasons.begin(), row.reasons.end(),
                       [](const FailureReason& a, const FailureReason& b) { return a.boundaries > b.boundaries; });
    }

    auto& last = db.prepare(
        "SELECT meter_id, (boundary - ?1 - 1) / 86400, boundary, started_at_ms, outcome, category, detail "
        "FROM attempts WHERE attempt_id IN (SELECT max(attempt_id) FROM attempts "
        "  WHERE boundary > ?1 AND boundary <= ?2 AND outcome <> 'ok' GROUP BY meter_id, (boundary - ?1 - 1) / 86400)");
    last.bind(1, from).bind(2, to);
    while (last.step()) {
      if (auto* row = row_of(last.column_text(0), last.column_int64(1))) {
        row->last_failure = LastFailure{UtcSeconds{std::chrono::seconds{last.column_int64(2)}},
                                        UtcMillis{std::chrono::milliseconds{last.column_int64(3)}},
                                        last.column_text(4), last.column_text(5), last.column_text(6)};
      }
    }
    last.reset();
  }

  // Callers want day-major order (one day's fleet together), then meter_id.
  std::stable_sort(out.begin(), out.end(), [](const MeterDay& a, const MeterDay& b) { return a.day < b.day; });
  return out;
}

std::vector<std::pair<std::string, int>> KpiQueries::consecutive_failed_days(LocalDay last_day, int max_days,
                                                                             UtcSeconds as_of,
                                                                             const KpiOptions& options) {
  max_days = std::max(max_days, 1);
  const auto days = meter_days(last_day - std::chrono::days{max_days - 1}, max_days, as_of, options);
  std::map<std::string, std::pair<int, bool>> streak;  // meter -> (count, still counting)
  for (auto it = days.rbegin(); it != days.rend(); ++it) {  // newest day first
    auto& [count, counting] = streak.try_emplace(it->meter_id, 0, true).first->second;
    if (!counting) continue;
    // A day the head-end made no attempt for this meter (daemon down, meter not yet installed)
    // says nothing about the meter: it ends the streak.
    if (it->expected > 0 && !it->complete() && it->boundaries_attempted > 0) {
      ++count;
    } else {
      counting = false;
    }
  }
  std::vector<std::pair<std::string, int>> result;
  for (const auto& [meter, state] : streak) {
    if (state.first > 0) result.emplace_back(meter, state.first);
  }
  return result;
}

std::vector<AttemptRecord> KpiQueries::recent_attempts(std::string_view meter_id, UtcSeconds since, std::size_t limit) {
  auto& q = impl_->db.prepare(
      "SELECT meter_id, channel_key, boundary, started_at_ms, latency_ms, attempt, outcome, category, detail, source "
      "FROM attempts WHERE boundary > ?1 AND meter_id = ?2 ORDER BY boundary DESC, attempt_id DESC LIMIT ?3");
  q.bind(1, unix_s(since)).bind(2, meter_id).bind(3, static_cast<std::int64_t>(limit));
  std::vector<AttemptRecord> out;
  while (q.step()) {
    AttemptRecord a;
    a.meter_id = q.column_text(0);
    a.channel = q.column_text(1);
    a.boundary = UtcSeconds{std::chrono::seconds{q.column_int64(2)}};
    a.started_at = UtcMillis{std::chrono::milliseconds{q.column_int64(3)}};
    a.latency_ms = static_cast<std::int32_t>(q.column_int64(4));
    a.attempt = static_cast<int>(q.column_int64(5));
    a.outcome = q.column_text(6);
    a.category = q.column_text(7);
    a.detail = q.column_text(8);
    a.source = static_cast<ReadSource>(q.column_int64(9));
    out.push_back(std::move(a));
  }
  q.reset();
  return out;
}

std::vector<QualityCodeCount> KpiQueries::quality_code_counts(UtcSeconds from, UtcSeconds to) {
  auto& q = impl_->db.prepare(
      "SELECT i.quality_codes, count(*) FROM meters m JOIN intervals i ON i.meter_key = m.meter_key "
      "AND i.end_unix > ?1 AND i.end_unix <= ?2 AND i.superseded = 0 AND i.quality_codes <> '' "
      "GROUP BY i.quality_codes");
  q.bind(1, unix_s(from)).bind(2, unix_s(to));
  std::map<std::string, std::int64_t> counts;
  while (q.step()) {
    for (auto& code : split_quality_codes(q.column_text(0))) counts[std::move(code)] += q.column_int64(1);
  }
  q.reset();
  std::vector<QualityCodeCount> out;
  for (auto& [code, n] : counts) out.push_back(QualityCodeCount{code, n});
  return out;
}

std::optional<UtcMillis> KpiQueries::newest_interval_collected_at() {
  const auto ms = impl_->db.query_int64("SELECT max(collected_at_ms) FROM outbox");
  if (!ms) return std::nullopt;
  return UtcMillis{std::chrono::milliseconds{*ms}};
}

}  // namespace ami::storage
