// Read-success KPI queries over the staging store (docs/MONITORING.md "KPI definitions").
// Owned by the monitoring engineer; the tables are the storage schema's (storage/schema.cpp).
//
// A meter's "day" is a calendar day at that meter's own registry utc_offset_minutes (its local
// time), so a mixed fleet's days follow each meter's midnight. KpiOptions::utc_offset_minutes is
// the fleet's (the utility's) offset: callers use it to decide which day is "today". Intervals are
// period-ending: a meter's day holds the intervals whose end is in (day 00:00, next day 00:00]
// local. KPIs count the forward active energy channel, which every meter has. For each enabled
// meter and day:
//   expected        = interval ends in (day start, min(day end, as_of)] at the meter's interval
//   after_backfill  = those with a measured interval (status actual or suspect, any source)
//   after_retries   = those with a measured interval that did not need a backfill read
//   first_attempt   = those whose two boundary reads both succeeded at the first scheduled attempt
//   on_time         = those first stored before the meter's day end + KpiOptions::deadline_minutes
//   complete        = after_backfill == expected (and expected > 0)
// Attempts are grouped per boundary (a boundary B belongs to the day holding the interval ending
// at B): a boundary is ok when any attempt was ok, otherwise it failed with the outcome and
// category (transport | meter) of its last attempt: that is the failure reason.
//
// Incremental: a KpiQueries keeps a per-meter per-day rollup (bitsets of measured / first-attempt /
// on-time slots and the few failed boundaries) for the days it was asked about (at most
// max_cached_days, least recently asked evicted). Each call first folds in only what was committed
// since the previous call (attempts past the last attempt_id seen, outbox rows past the last
// sequence seen, and the cached days' suspect intervals, which are never published), so a request
// at 100,000 meters costs a catch-up plus a walk over memory, not a scan of the day. A day asked
// for the first time is loaded once from the tables. A registry change (meta registry_version) or
// another deadline drops the cache. Memory: ~90 bytes per meter-day at 15-minute intervals.
//
// Ownership/threads: a KpiQueries owns its own SQLite connection and rollup; one thread at a time
// (make one per thread or guard it). Reads see the last commit (WAL) and never block the writer.
// Errors: the constructor throws std::runtime_error when the database is missing or its schema is
// not the one this build knows; queries throw SqliteError on SQLite failures (the rollup is then
// dropped and rebuilt at the next call).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/types.hpp"

namespace ami::storage {

struct KpiOptions {
  int utc_offset_minutes = 480;   // the fleet's day ("today"); each meter's day uses its registry offset
  int deadline_minutes = 360;     // on time = stored before the meter's D+1 00:00 + this (06:00 local)
  int grace_seconds = 0;          // a boundary is expected only once as_of - grace has passed it
                                  // (room for settle, spread and retries)
};

// A local calendar day, e.g. 2026-01-05.
using LocalDay = std::chrono::sys_days;
std::optional<LocalDay> parse_day(std::string_view text);  // "YYYY-MM-DD"
std::string format_day(LocalDay day);
// The day holding instant `t` at the offset.
LocalDay day_of(UtcSeconds t, int utc_offset_minutes);
// UTC instant of the day's local midnight.
UtcSeconds day_start_utc(LocalDay day, int utc_offset_minutes);

struct FailureReason {
  std::string outcome;   // e.g. timeout, refused, meter_error
  std::string category;  // transport | meter
  std::int64_t boundaries = 0;
};

struct LastFailure {
  UtcSeconds boundary{};
  UtcMillis started_at{};
  std::string outcome;
  std::string category;
  std::string detail;
};

// The counts behind every KPI, for one meter-day or summed over many.
struct ReadCounts {
  std::int64_t expected = 0;
  std::int64_t first_attempt = 0;
  std::int64_t after_retries = 0;
  std::int64_t after_backfill = 0;
  std::int64_t on_time = 0;
  std::int64_t boundaries_attempted = 0;
  std::int64_t boundaries_ok = 0;
  std::int64_t boundaries_failed_transport = 0;
  std::int64_t boundaries_failed_meter = 0;
  std::int64_t attempts = 0;  // all attempts, retries included

  ReadCounts& operator+=(const ReadCounts& other);
};

struct MeterDay : ReadCounts {
  LocalDay day{};
  std::string meter_id;
  std::string gateway;  // the registry channel, e.g. tcp://10.0.0.5:8899
  std::string model;
  std::string protocol;
  std::string tags;     // key=value;key=value
  int utc_offset_minutes = 480;  // the meter's registry offset: its day runs midnight to midnight there
  std::vector<FailureReason> reasons;     // failed boundaries by reason, most frequent first
  std::optional<LastFailure> last_failure;

  [[nodiscard]] bool complete() const { return expected > 0 && after_backfill >= expected; }
  // A meter the field crew should look at: incomplete day or any failed boundary.
  [[nodiscard]] bool failing() const {
    return (expected > 0 && !complete()) || boundaries_failed_transport + boundaries_failed_meter > 0;
  }
};

struct QualityCodeCount {
  std::string code;  // IEC 61968-9 "system.category.index"
  std::int64_t intervals = 0;
};

class KpiQueries {
 public:
  static constexpr int default_max_cached_days = 10;

  explicit KpiQueries(const std::filesystem::path& database, int busy_timeout_ms = 10000,
                      int max_cached_days = default_max_cached_days);
  ~KpiQueries();
  KpiQueries(const KpiQueries&) = delete;
  KpiQueries& operator=(const KpiQueries&) = delete;

  // One MeterDay per enabled meter and day for `day_count` days from `first_day`, ordered by day
  // then meter_id. Intervals ending after `as_of - grace_seconds` are neither expected nor counted.
  std::vector<MeterDay> meter_days(LocalDay first_day, int day_count, UtcSeconds as_of, const KpiOptions& options);

  // Days currently held in the rollup (tests: the cache stays bounded).
  [[nodiscard]] std::size_t cached_days() const;

  // Consecutive failed days ending at `last_day`, looking back at most `max_days`: a failed day is
  // incomplete although the head-end attempted the meter that day. Only meters with at least one
  // such day are returned.
  std::vector<std::pair<std::string, int>> consecutive_failed_days(LocalDay last_day, int max_days,
                                                                   UtcSeconds as_of, const KpiOptions& options);

  // The newest attempts of one meter with boundary > since, newest first.
  std::vector<AttemptRecord> recent_attempts(std::string_view meter_id, UtcSeconds since, std::size_t limit);

  // Quality codes on current (not superseded) intervals ending in (from, to], for VEE flag gauges.
  std::vector<QualityCodeCount> quality_code_counts(UtcSeconds from, UtcSeconds to);

  // Newest collected_at of any published interval (storage lag = now - this), from the newest
  // outbox mark, which pruning keeps; nullopt when nothing was ever published.
  std::optional<UtcMillis> newest_interval_collected_at();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ami::storage
