#include "storage/schema.hpp"

#include <array>
#include <stdexcept>
#include <string>

namespace ami::storage {

namespace {

// Migration N turns a version N-1 database into version N. Append only: a released migration is
// never edited, because databases in the field were made by it.
constexpr std::array<const char*, 6> migrations{
    // 1: first schema (registry, raw reads, intervals, outbox, consumer cursors).
    R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('last_sequence', 0);

CREATE TABLE meters (
  meter_key          INTEGER PRIMARY KEY,
  meter_id           TEXT    NOT NULL UNIQUE,
  protocol           TEXT    NOT NULL,
  channel            TEXT    NOT NULL,
  address            TEXT    NOT NULL,
  model              TEXT    NOT NULL,
  ct_ratio           INTEGER NOT NULL CHECK (ct_ratio >= 1),
  pt_ratio           INTEGER NOT NULL CHECK (pt_ratio >= 1),
  utc_offset_minutes INTEGER NOT NULL,
  usage_point        TEXT    NOT NULL,
  interval_minutes   INTEGER NOT NULL CHECK (interval_minutes > 0),
  enabled            INTEGER NOT NULL,
  tags               TEXT    NOT NULL,
  updated_at_ms      INTEGER NOT NULL
);

-- Raw register snapshots at aligned boundaries. Time-major key: each boundary's reads append at
-- the right edge of the B-tree instead of dirtying one page per meter (docs/STORAGE.md "Layout").
CREATE TABLE reads (
  meter_key       INTEGER NOT NULL,
  channel         INTEGER NOT NULL,
  boundary        INTEGER NOT NULL,
  register_wh     INTEGER NOT NULL,
  collected_at_ms INTEGER NOT NULL,
  source          INTEGER NOT NULL,
  meter_time_ms   INTEGER,
  PRIMARY KEY (boundary, meter_key, channel)
) WITHOUT ROWID;

-- Intervals, every version. Time-major key like reads; WITHOUT ROWID so the row lives in the
-- key's B-tree (one insert per interval, not a table row plus a unique index).
CREATE TABLE intervals (
  end_unix          INTEGER NOT NULL,
  meter_key         INTEGER NOT NULL,
  channel           INTEGER NOT NULL,
  version           INTEGER NOT NULL,
  start_unix        INTEGER NOT NULL,
  value_wh          INTEGER NOT NULL,
  register_start_wh INTEGER,
  register_end_wh   INTEGER,
  status            INTEGER NOT NULL,
  quality_codes     TEXT    NOT NULL DEFAULT '',
  estimation_method INTEGER NOT NULL DEFAULT 0,
  collected_at_ms   INTEGER NOT NULL,
  source            INTEGER NOT NULL,
  superseded        INTEGER NOT NULL DEFAULT 0,
  sequence          INTEGER,  -- outbox sequence when published, NULL when held back
  PRIMARY KEY (end_unix, meter_key, channel, version)
) WITHOUT ROWID;

-- Transactional outbox: one row per published interval version, sequence = feed sequence.
CREATE TABLE outbox (
  sequence        INTEGER PRIMARY KEY,
  end_unix        INTEGER NOT NULL,
  meter_key       INTEGER NOT NULL,
  channel         INTEGER NOT NULL,
  version         INTEGER NOT NULL,
  collected_at_ms INTEGER NOT NULL
);

CREATE TABLE consumer_cursors (
  name          TEXT PRIMARY KEY,
  sequence      INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
    // 2: read attempts, the audit log, the newest read per meter/channel (built from the reads
    // already stored); indexes for replay by time and for retention.
    R"sql(
CREATE TABLE latest_reads (
  meter_key       INTEGER NOT NULL,
  channel         INTEGER NOT NULL,
  boundary        INTEGER NOT NULL,
  register_wh     INTEGER NOT NULL,
  collected_at_ms INTEGER NOT NULL,
  PRIMARY KEY (meter_key, channel)
) WITHOUT ROWID;
-- SQLite takes the bare columns from the row holding max(boundary).
INSERT INTO latest_reads (meter_key, channel, boundary, register_wh, collected_at_ms)
  SELECT meter_key, channel, max(boundary), register_wh, collected_at_ms FROM reads
  GROUP BY meter_key, channel;

CREATE TABLE attempts (
  attempt_id    INTEGER PRIMARY KEY,
  meter_id      TEXT    NOT NULL,
  channel_key   TEXT    NOT NULL,
  boundary      INTEGER NOT NULL,
  started_at_ms INTEGER NOT NULL,
  latency_ms    INTEGER NOT NULL,
  attempt       INTEGER NOT NULL,
  outcome       TEXT    NOT NULL,
  category      TEXT    NOT NULL,
  detail        TEXT    NOT NULL,
  source        INTEGER NOT NULL
);
CREATE INDEX attempts_by_boundary ON attempts (boundary, meter_id);

CREATE TABLE audit_log (
  audit_id INTEGER PRIMARY KEY,
  at_ms    INTEGER NOT NULL,
  actor    TEXT    NOT NULL,
  action   TEXT    NOT NULL,
  detail   TEXT    NOT NULL
);

CREATE INDEX outbox_by_collected_at ON outbox (collected_at_ms);
-- Suspect intervals are never published, so retention finds them by end time instead.
CREATE INDEX intervals_suspect_by_end ON intervals (end_unix) WHERE status = 3;
)sql",
    // 3: monitoring lookups instead of scans: one meter's attempts by boundary (its recent
    // attempts, its newest failure) and the few intervals carrying a quality code (VEE flag
    // gauges), so neither walks every meter's rows of the day.
    R"sql(
CREATE INDEX attempts_by_meter ON attempts (meter_id, boundary);
CREATE INDEX intervals_flagged_by_end ON intervals (end_unix) WHERE quality_codes <> '';
)sql",
    // 4: leaner attempts and the in-order interval fast path. attempts kept the meter id and the
    // channel key as TEXT in every row and in two text indexes (~115 bytes per attempt);
    // attempt_log keys them by integer (meter_key, channel_id into attempt_channels). attempt_id
    // stays the rowid, so it remains monitoring's incremental cursor and retention's handle. A
    // view named attempts keeps the old columns for ad-hoc SQL and tools. Attempts of meters
    // not in the registry cannot be keyed: dropped here, refused by the writer from now on
    // (audit attempt_unknown_meter). latest_reads.intervals_through: the newest interval end
    // stored for the channel (an estimate may lie beyond the newest read); the writer inserts
    // an in-order read's interval in groups, without a conflict check, when its end is beyond
    // it (docs/STORAGE.md "Newest reads").
    R"sql(
CREATE TABLE attempt_channels (
  channel_id  INTEGER PRIMARY KEY,
  channel_key TEXT    NOT NULL UNIQUE
);
INSERT INTO attempt_channels (channel_key) SELECT DISTINCT channel_key FROM attempts ORDER BY channel_key;

CREATE TABLE attempt_log (
  attempt_id    INTEGER PRIMARY KEY,
  boundary      INTEGER NOT NULL,
  meter_key     INTEGER NOT NULL,
  channel_id    INTEGER NOT NULL,
  started_at_ms INTEGER NOT NULL,
  latency_ms    INTEGER NOT NULL,
  attempt       INTEGER NOT NULL,
  outcome       TEXT    NOT NULL,
  category      TEXT    NOT NULL,
  detail        TEXT    NOT NULL,
  source        INTEGER NOT NULL
);
INSERT INTO attempt_log (attempt_id, boundary, meter_key, channel_id, started_at_ms, latency_ms,
                         attempt, outcome, category, detail, source)
  SELECT a.attempt_id, a.boundary, m.meter_key, c.channel_id, a.started_at_ms, a.latency_ms,
         a.attempt, a.outcome, a.category, a.detail, a.source
  FROM attempts a JOIN meters m ON m.meter_id = a.meter_id
                  JOIN attempt_channels c ON c.channel_key = a.channel_key;
DROP TABLE attempts;
CREATE INDEX attempt_log_by_boundary ON attempt_log (boundary, meter_key);
CREATE INDEX attempt_log_by_meter ON attempt_log (meter_key, boundary);
CREATE VIEW attempts AS
  SELECT a.attempt_id, m.meter_id, c.channel_key, a.boundary, a.started_at_ms, a.latency_ms,
         a.attempt, a.outcome, a.category, a.detail, a.source
  FROM attempt_log a JOIN meters m ON m.meter_key = a.meter_key
                     JOIN attempt_channels c ON c.channel_id = a.channel_id;

ALTER TABLE latest_reads ADD COLUMN intervals_through INTEGER NOT NULL DEFAULT 0;
-- One pass over the intervals no older than the stalest newest read.
UPDATE latest_reads SET intervals_through = t.through
  FROM (SELECT meter_key, channel, max(end_unix) AS through FROM intervals
        WHERE end_unix >= (SELECT min(boundary) FROM latest_reads) GROUP BY meter_key, channel) AS t
  WHERE t.meter_key = latest_reads.meter_key AND t.channel = latest_reads.channel;
-- Channels with intervals but no read have no latest_reads row to say how far they reach; while
-- this is 1 the writer checks every new channel's first intervals for conflicts (the daemon
-- writes intervals only for channels with reads, so a database it made keeps 0).
INSERT INTO meta (key, value) VALUES ('intervals_without_reads', EXISTS (SELECT 1 FROM intervals));
)sql",
    // 5: one B-tree less per attempt. attempt_log_by_meter (meter_key, boundary) is meter-major:
    // every attempt landed on a different leaf page (at 100,000 meters a boundary dirtied a page
    // per meter, all rewritten to the WAL at each commit). Its one reader,
    // KpiQueries::recent_attempts, walks the boundaries newest first through
    // attempt_log_by_boundary instead (two seeks per boundary).
    R"sql(
DROP INDEX attempt_log_by_meter;
)sql",
    // 6: the outbox becomes an index. Every outbox row repeated the key of an interval whose
    // `sequence` column already held the same sequence (the writer sets both in one transaction),
    // and outbox_by_collected_at indexed it again: two B-tree inserts per published interval
    // instead of one. intervals_by_sequence is that order; replay by collection time uses
    // outbox_marks, one row per publishing transaction (its first sequence, the largest
    // collected_at_ms of every sequence up to its last, i.e. a running maximum), so it costs
    // nothing per interval. Marks for the old outbox: one per 1,024 sequences. A view named
    // outbox keeps the old columns for ad-hoc SQL and tools. UNIQUE as outbox.sequence was: a
    // sequence published twice (a second writer on the file) fails its transaction loudly.
    R"sql(
CREATE UNIQUE INDEX intervals_by_sequence ON intervals (sequence) WHERE sequence IS NOT NULL;
CREATE TABLE outbox_marks (
  first_sequence       INTEGER PRIMARY KEY,
  collected_through_ms INTEGER NOT NULL
);
CREATE INDEX outbox_marks_by_collected ON outbox_marks (collected_through_ms);
INSERT INTO outbox_marks (first_sequence, collected_through_ms)
  SELECT first, max(through) OVER (ORDER BY first)
  FROM (SELECT min(sequence) AS first, max(collected_at_ms) AS through FROM outbox
        GROUP BY sequence / 1024);
DROP INDEX outbox_by_collected_at;
DROP TABLE outbox;
CREATE VIEW outbox AS
  SELECT sequence, end_unix, meter_key, channel, version, collected_at_ms
  FROM intervals WHERE sequence IS NOT NULL;
)sql",
};

}  // namespace

int current_schema_version() { return static_cast<int>(migrations.size()); }

int schema_version(Database& db) {
  return static_cast<int>(db.query_int64("PRAGMA user_version").value_or(0));
}

void migrate(Database& db, int target_version) {
  if (target_version < 0 || target_version > current_schema_version()) {
    throw std::invalid_argument("migrate: unknown schema version " + std::to_string(target_version));
  }
  const int found = schema_version(db);
  if (found > current_schema_version()) {
    throw std::runtime_error(db.path().string() + ": schema version " + std::to_string(found) +
                             " is newer than this build knows (" +
                             std::to_string(current_schema_version()) + ")");
  }
  for (int version = found + 1; version <= target_version; ++version) {
    Transaction transaction(db);
    db.exec(migrations[static_cast<std::size_t>(version - 1)]);
    db.exec("PRAGMA user_version = " + std::to_string(version));
    transaction.commit();
  }
}

void configure_connection(Database& db) {
  // WAL: readers never block the writer and see the last commit. synchronous=FULL in WAL mode
  // fsyncs the WAL at every commit, so a commit that returned survives power loss.
  auto& mode = db.prepare("PRAGMA journal_mode = WAL");
  const bool has_row = mode.step();
  const std::string journal = has_row ? mode.column_text(0) : std::string{};
  mode.reset();
  if (journal != "wal") {
    throw std::runtime_error(db.path().string() + ": cannot switch to WAL (journal_mode " +
                             journal + ")");
  }
  // journal_size_limit: truncate the WAL after checkpoints so one big batch does not leave a
  // large file behind.
  db.exec(
      "PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY; "
      "PRAGMA journal_size_limit = 67108864;");
}

}  // namespace ami::storage
