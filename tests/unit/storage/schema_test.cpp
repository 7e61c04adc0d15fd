// Schema migrations: a database made by the first schema upgrades in place and keeps its data.
#include <catch2/catch.hpp>

#include "storage/schema.hpp"
#include "storage/sqlite.hpp"
#include "storage/store_reader.hpp"
#include "storage/store_writer.hpp"
#include "store_test_support.hpp"

using namespace ami;
using namespace ami::storage;
using namespace ami::storage::test;

namespace {

// `raw` (a new file) at schema `version`, as a build of that release left it, with one meter
// (meter_key 1, UTC+8, 15-minute interval).
void old_schema_with_meter(Database& raw, int version, const std::string& meter_id, const std::string& tags) {
  configure_connection(raw);
  migrate(raw, version);
  REQUIRE(schema_version(raw) == version);
  raw.prepare(
         "INSERT INTO meters (meter_key, meter_id, protocol, channel, address, model, ct_ratio, "
         "pt_ratio, utc_offset_minutes, usage_point, interval_minutes, enabled, tags, updated_at_ms) "
         "VALUES (1, ?1, 'dlt645-2007', 'tcp://10.0.0.1:8899', '000000000042', 'dlt645-generic', "
         "1, 1, 480, 'UP-' || ?1, 15, 1, ?2, 0)")
      .bind(1, meter_id)
      .bind(2, tags)
      .run();
}

}  // namespace

TEST_CASE("a database made by the first schema upgrades in place") {
  TempDb db("schema-upgrade");
  const std::int64_t b0 = at_minutes(0).time_since_epoch().count();
  {
    // What the first release left on disk: schema 1 with a meter, two reads, one published interval.
    Database raw(db.path(), true, 1000);
    old_schema_with_meter(raw, 1, "OLD1", "district=north");
    raw.prepare("INSERT INTO reads VALUES (1, 1, ?, 1000, ?, 1, NULL)").bind(1, b0).bind(2, b0 * 1000).run();
    raw.prepare("INSERT INTO reads VALUES (1, 1, ?, 1100, ?, 1, NULL)")
        .bind(1, b0 + 900).bind(2, (b0 + 900) * 1000).run();
    raw.prepare(
           "INSERT INTO intervals (meter_key, channel, start_unix, end_unix, value_wh, "
           "register_start_wh, register_end_wh, status, version, collected_at_ms, source, sequence) "
           "VALUES (1, 1, ?, ?, 100, 1000, 1100, 1, 1, ?, 1, 1)")
        .bind(1, b0).bind(2, b0 + 900).bind(3, (b0 + 900) * 1000).run();
    raw.prepare("INSERT INTO outbox VALUES (1, ?, 1, 1, 1, ?)").bind(1, b0 + 900).bind(2, (b0 + 900) * 1000).run();
    raw.exec("UPDATE meta SET value = 1 WHERE key = 'last_sequence'");
    // Version 2 tables do not exist yet.
    CHECK_THROWS_AS(raw.exec("SELECT count(*) FROM attempts"), SqliteError);
    // Schema 3 kept attempts with TEXT meter ids; one of a meter the registry never had.
    migrate(raw, 3);
    raw.prepare("INSERT INTO attempts (meter_id, channel_key, boundary, started_at_ms, latency_ms, attempt, "
                "outcome, category, detail, source) VALUES (?, 'tcp://10.0.0.1:8899', ?, ?, 80, 1, 'timeout', "
                "'transport', 'no reply', 1)")
        .bind(1, std::string("OLD1")).bind(2, b0).bind(3, b0 * 1000).run();
    raw.prepare("INSERT INTO attempts (meter_id, channel_key, boundary, started_at_ms, latency_ms, attempt, "
                "outcome, category, detail, source) VALUES ('GONE', 'tcp://10.0.0.2:8899', ?, ?, 80, 1, 'ok', "
                "'ok', '', 1)")
        .bind(1, b0).bind(2, b0 * 1000).run();
  }

  StoreWriter writer(db.options());  // migrates 1 -> current
  writer.submit({read_at("OLD1", 30, 1250)}, {attempt_for("OLD1", 30, 1, "ok", "ok")});
  writer.flush();

  Database check(db.path(), false, 1000);
  CHECK(schema_version(check) == current_schema_version());
  CHECK(current_schema_version() >= 2);

  StoreReader reader(db.path());
  const auto meter = reader.meter("OLD1");
  REQUIRE(meter);
  CHECK(meter->tags == "district=north");
  // Derivation continues from the read the first schema stored; the sequence continues too.
  const auto feed = reader.read_feed(0, 10);
  REQUIRE(feed.size() == 2);
  CHECK(feed[0].value_wh() == 100);
  CHECK(feed[1].sequence() == 2);
  CHECK(feed[1].value_wh() == 150);
  CHECK(reader.attempt_summaries(at_minutes(30), at_minutes(30)).size() == 1);
  // Schema 4: the old attempt of a registered meter moved to attempt_log, the other was dropped.
  const auto old_attempts = reader.attempt_summaries(at_minutes(0), at_minutes(0));
  REQUIRE(old_attempts.size() == 1);
  CHECK(old_attempts[0].meters_failed_transport == 1);
  CHECK(check.query_int64("SELECT count(*) FROM attempts WHERE meter_id = 'OLD1'") == 2);
  CHECK(check.query_int64("SELECT count(*) FROM attempt_log") == 2);
  // latest_reads learnt how far the intervals reach (the one at b0 + 15 min, then the new one).
  CHECK(check.query_int64("SELECT intervals_through FROM latest_reads") >= b0 + 900);
  // Schema 5: the meter-major attempt index is gone, the boundary-major one serves every reader.
  CHECK(current_schema_version() >= 5);
  CHECK(check.query_int64("SELECT count(*) FROM sqlite_schema WHERE name = 'attempt_log_by_meter'") == 0);
  CHECK(check.query_int64("SELECT count(*) FROM sqlite_schema WHERE name = 'attempt_log_by_boundary'") == 1);
}

TEST_CASE("a schema 5 database with an outbox, cursors and held-back intervals upgrades to 6") {
  TempDb db("schema-outbox-6");
  const std::int64_t b0 = at_minutes(0).time_since_epoch().count();
  {
    Database raw(db.path(), true, 1000);
    old_schema_with_meter(raw, 5, "M5", "");
    // Three boundaries read; intervals ending 15, 30 (two versions: an estimate, then the actual)
    // published as sequences 1..3, a suspect one ending 45 held back (no sequence, no outbox row).
    // Collected out of order: sequence 2 (the estimate) was made before sequence 1 was collected.
    const std::int64_t collected[] = {b0 * 1000 + 960'000, b0 * 1000 + 930'000, b0 * 1000 + 1'900'000};
    const std::int64_t registers[] = {1000, 1100, 1250, 1200};
    for (int i = 0; i < 4; ++i) {
      raw.prepare("INSERT INTO reads VALUES (1, 1, ?, ?, ?, 1, NULL)")
          .bind(1, b0 + 900 * i).bind(2, registers[i]).bind(3, (b0 + 900 * i) * 1000 + 2500).run();
    }
    const auto interval = [&](std::int64_t end, std::int64_t value, int status, int version,
                              int superseded, std::int64_t collected_ms, std::optional<std::int64_t> sequence) {
      raw.prepare(
             "INSERT INTO intervals (meter_key, channel, start_unix, end_unix, value_wh, status, version, "
             "collected_at_ms, source, superseded, sequence) VALUES (1, 1, ?, ?, ?, ?, ?, ?, 1, ?, ?)")
          .bind(1, end - 900).bind(2, end).bind(3, value).bind(4, status).bind(5, version)
          .bind(6, collected_ms).bind(7, superseded).bind(8, sequence).run();
      if (sequence) {
        raw.prepare("INSERT INTO outbox VALUES (?, ?, 1, 1, ?, ?)")
            .bind(1, *sequence).bind(2, end).bind(3, version).bind(4, collected_ms).run();
      }
    };
    interval(b0 + 900, 100, 1, 1, 0, collected[0], 1);
    interval(b0 + 1800, 140, 2, 1, 1, collected[1], 2);
    interval(b0 + 1800, 150, 1, 2, 0, collected[2], 3);
    interval(b0 + 2700, -50, 3, 1, 0, collected[2], std::nullopt);
    raw.prepare("INSERT INTO latest_reads VALUES (1, 1, ?, 1200, ?, ?)")
        .bind(1, b0 + 2700).bind(2, (b0 + 2700) * 1000 + 2500).bind(3, b0 + 2700).run();
    raw.exec("UPDATE meta SET value = 3 WHERE key = 'last_sequence'");
    raw.exec("INSERT INTO consumer_cursors VALUES ('billing', 2, 0)");
  }

  {
    StoreWriter writer(db.options());  // migrates 5 -> 6
    writer.submit({read_at("M5", 60, 1300)}, {});
    writer.flush();
  }
  Database check(db.path(), false, 1000);
  CHECK(schema_version(check) == 6);
  CHECK(check.query_int64("SELECT count(*) FROM sqlite_schema WHERE name = 'outbox' AND type = 'view'") == 1);
  CHECK(check.query_int64("SELECT count(*) FROM sqlite_schema WHERE name = 'outbox_by_collected_at'") == 0);
  CHECK(check.query_int64("SELECT count(*) FROM sqlite_schema WHERE name = 'intervals_by_sequence'") == 1);
  // The view shows what the table held, plus the new row.
  CHECK(check.query_int64("SELECT count(*) FROM outbox") == 4);
  CHECK(check.query_int64("SELECT sum(sequence) FROM outbox") == 1 + 2 + 3 + 4);

  StoreReader reader(db.path());
  CHECK(reader.consumer_cursor("billing") == 2u);
  CHECK(reader.head_sequence() == 4);
  CHECK(reader.oldest_sequence() == 1u);
  // Gap-free across the upgrade; the cursor resumes where it was.
  const auto feed = reader.read_feed(0, 10);
  REQUIRE(feed.size() == 4);
  for (std::size_t i = 0; i < feed.size(); ++i) CHECK(feed[i].sequence() == i + 1);
  CHECK(feed[1].version() == 1);
  CHECK(feed[1].status() == headend::feed::v1::INTERVAL_STATUS_ESTIMATED);
  CHECK(feed[2].version() == 2);
  CHECK(feed[2].value_wh() == 150);
  CHECK(feed[3].end_unix() == b0 + 3600);
  CHECK(feed[3].value_wh() == 100);  // 1300 - 1200: derivation went on from the newest stored read
  const auto resumed = reader.read_feed(2, 10);
  REQUIRE(resumed.size() == 2);
  CHECK(resumed[0].sequence() == 3);
  // Replay by time over the migrated marks: sequence 2 was collected before sequence 1.
  CHECK(reader.first_sequence_collected_at_or_after(UtcSeconds{std::chrono::seconds{b0 + 900}}) == 1u);
  CHECK(reader.first_sequence_collected_at_or_after(UtcSeconds{std::chrono::seconds{b0 + 961}}) == 3u);
  CHECK(reader.first_sequence_collected_at_or_after(UtcSeconds{std::chrono::seconds{b0 + 1901}}) == 4u);
  CHECK_FALSE(reader.first_sequence_collected_at_or_after(UtcSeconds{std::chrono::seconds{b0 + 3603}}));
  // A sequence is published once, as outbox.sequence (the primary key) guaranteed.
  Database raw(db.path(), true, 1000);
  CHECK_THROWS_AS(raw.exec("UPDATE intervals SET sequence = 1 WHERE sequence = 2"), SqliteError);
}

TEST_CASE("migrating twice is a no-op and a newer database is refused") {
  TempDb db("schema-newer");
  {
    Database raw(db.path(), true, 1000);
    migrate(raw);
    migrate(raw);
    CHECK(schema_version(raw) == current_schema_version());
    raw.exec("PRAGMA user_version = 999");
  }
  CHECK_THROWS_WITH(StoreWriter(db.options()), Catch::Contains("newer than this build"));
}

TEST_CASE("the reader refuses a database the writer has not migrated") {
  TempDb db("schema-reader");
  {
    Database raw(db.path(), true, 1000);
    migrate(raw, 1);
  }
  CHECK_THROWS_WITH(StoreReader(db.path()), Catch::Contains("schema version 1"));
  CHECK_THROWS(StoreReader(db.path().string() + ".missing"));
}

TEST_CASE("the writer leaves the database in WAL mode, connections use synchronous FULL") {
  TempDb db("schema-pragmas");
  StoreWriter writer(db.options());
  Database check(db.path(), false, 1000);
  auto mode = check.query("PRAGMA journal_mode");
  REQUIRE(mode->step());
  CHECK(mode->column_text(0) == "wal");
  check.exec("PRAGMA synchronous = OFF");  // per connection; configure_connection must raise it
  REQUIRE(check.query_int64("PRAGMA synchronous") == 0);
  configure_connection(check);
  CHECK(check.query_int64("PRAGMA synchronous") == 2);  // FULL
}

TEST_CASE("SQLite errors name the statement") {
  TempDb db("schema-errors");
  Database raw(db.path(), true, 1000);
  try {
    raw.exec("SELECT * FROM no_such_table");
    FAIL("expected an exception");
  } catch (const SqliteError& e) {
    CHECK(std::string(e.what()).find("no_such_table") != std::string::npos);
    CHECK(e.sql() == "SELECT * FROM no_such_table");
  }
}
