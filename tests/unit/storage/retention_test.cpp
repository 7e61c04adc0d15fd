// Retention: acknowledged, old rows go; unacknowledged rows and the newest read stay.
#include <catch2/catch.hpp>

#include "storage/kpi.hpp"
#include "storage/sqlite.hpp"
#include "storage/store_reader.hpp"
#include "storage/store_writer.hpp"
#include "store_test_support.hpp"

using namespace ami;
using namespace ami::storage;
using namespace ami::storage::test;
using namespace std::chrono_literals;

namespace {

RetentionPolicy one_day_policy() {
  RetentionPolicy policy;
  policy.keep_intervals = 24h;
  policy.keep_reads = 24h;
  policy.keep_attempts = 24h;
  policy.keep_audit = 24h;
  policy.rows_per_transaction = 7;  // small chunks: exercises the chunk loop
  return policy;
}

// Two days of 15-minute reads for `id` (193 reads, 192 intervals), with one attempt each.
void two_days_of_reads(StoreWriter& writer, const std::string& id) {
  for (int minutes = 0; minutes <= 48 * 60; minutes += 15) {
    writer.submit({read_at(id, minutes, 10 * minutes)}, {attempt_for(id, minutes, 1, "ok", "ok")});
  }
  writer.flush();
}

}  // namespace

TEST_CASE("prune removes acknowledged old rows and keeps the rest") {
  TempDb db("retention-prune");
  StoreWriter writer(db.options());
  writer.import_meters({dlt_meter("A")}, "test");
  two_days_of_reads(writer, "A");
  StoreReader reader(db.path());
  REQUIRE(reader.head_sequence() == 192);

  // billing acknowledged the first 150 intervals, audit everything: min is 150.
  reader.set_consumer_cursor("billing", 150);
  reader.set_consumer_cursor("audit", 192);
  const auto now = at_minutes(48 * 60);
  const auto stats = writer.prune(one_day_policy(), now);

  // Intervals collected before now - 24h: the first 96 (ending up to 24:00, collected 24:00:02.5
  // for the 96th, which is after the cutoff) -> the first 95 go.
  CHECK(stats.outbox_rows == 95);
  CHECK(stats.intervals == 95);
  CHECK(reader.oldest_sequence() == 96u);
  CHECK(reader.head_sequence() == 192);
  const auto feed = reader.read_feed(0, 1000);
  REQUIRE(feed.size() == 97);
  CHECK(feed.front().sequence() == 96);

  // Reads before now - 24h go: boundaries 0..23:45 (96 reads).
  CHECK(stats.reads == 96);
  CHECK(reader.reads("A", EnergyChannel::forward_active, at_minutes(0), now).size() == 97);
  CHECK(stats.attempts == 96);
  CHECK(reader.attempt_summaries(at_minutes(0), now).size() == 97);

  // Derivation continues after pruning.
  writer.submit({read_at("A", 48 * 60 + 15, 10 * (48 * 60 + 15))}, {});
  writer.flush();
  CHECK(reader.head_sequence() == 193);
  const auto audit = reader.audit_log(1);
  REQUIRE(audit.size() == 1);
  CHECK(audit[0].action == "retention_prune");
}

TEST_CASE("pruning drops the outbox marks before the oldest published row left, replay by time still works") {
  TempDb db("retention-marks");
  StoreWriter writer(db.options());
  writer.import_meters({dlt_meter("A")}, "test");
  for (int minutes = 0; minutes <= 48 * 60; minutes += 15) {
    writer.submit({read_at("A", minutes, 10 * minutes)}, {});
    if (minutes % 120 == 0) writer.flush();  // one transaction, one outbox mark, per 8 intervals
  }
  StoreReader reader(db.path());
  Database check(db.path(), false, 1000);
  REQUIRE(check.query_int64("SELECT count(*) FROM outbox_marks") == 24);  // first sequences 1, 9, ..., 185
  reader.set_consumer_cursor("billing", 192);
  const auto now = at_minutes(48 * 60);
  CHECK(writer.prune(one_day_policy(), now).outbox_rows == 95);
  // Sequence 96 (the oldest left) is in the mark starting at 89: the 11 marks before it go.
  CHECK(check.query_int64("SELECT count(*) FROM outbox_marks") == 13);
  CHECK(check.query_int64("SELECT min(first_sequence) FROM outbox_marks") == 89);
  CHECK(reader.first_sequence_collected_at_or_after(at_minutes(0)) == 96u);
  CHECK(reader.first_sequence_collected_at_or_after(at_minutes(30 * 60)) == 120u);

  // Everything acknowledged and old: only the newest mark stays (it carries the running maximum,
  // which monitoring's storage lag still reads).
  writer.prune(one_day_policy(), at_minutes(10 * 24 * 60));
  REQUIRE_FALSE(reader.oldest_sequence());
  CHECK(check.query_int64("SELECT count(*) FROM outbox_marks") == 1);
  CHECK_FALSE(reader.first_sequence_collected_at_or_after(at_minutes(0)));
  KpiQueries kpi(db.path());
  CHECK(kpi.newest_interval_collected_at() == UtcMillis{at_minutes(48 * 60)} + std::chrono::milliseconds{2500});
  writer.submit({read_at("A", 48 * 60 + 15, 10 * (48 * 60 + 15))}, {});
  writer.flush();
  CHECK(reader.first_sequence_collected_at_or_after(at_minutes(0)) == 193u);
}

TEST_CASE("nothing published is pruned while no consumer has acknowledged it") {
  TempDb db("retention-no-consumer");
  StoreWriter writer(db.options());
  writer.import_meters({dlt_meter("A")}, "test");
  two_days_of_reads(writer, "A");
  const auto stats = writer.prune(one_day_policy(), at_minutes(10 * 24 * 60));
  CHECK(stats.outbox_rows == 0);
  CHECK(stats.intervals == 0);
  StoreReader reader(db.path());
  CHECK(reader.read_feed(0, 1000).size() == 192);
  CHECK(reader.oldest_sequence() == 1u);
}

TEST_CASE("the newest read of a silent meter survives pruning so derivation can resume") {
  TempDb db("retention-silent");
  StoreWriter writer(db.options());
  writer.import_meters({dlt_meter("A")}, "test");
  writer.submit({read_at("A", 0, 100), read_at("A", 15, 150)}, {});
  writer.flush();
  StoreReader reader(db.path());
  reader.set_consumer_cursor("billing", 1);
  const auto stats = writer.prune(one_day_policy(), at_minutes(10 * 24 * 60));
  CHECK(stats.reads == 1);
  CHECK(stats.outbox_rows == 1);
  CHECK_FALSE(reader.oldest_sequence());
  // Backfill of the next boundary still derives from the kept read; the sequence is not reused.
  writer.submit({read_at("A", 30, 180, EnergyChannel::forward_active, ReadSource::backfill)}, {});
  writer.flush();
  const auto feed = reader.read_feed(0, 10);
  REQUIRE(feed.size() == 1);
  CHECK(feed[0].sequence() == 2);
  CHECK(feed[0].value_wh() == 30);
}

TEST_CASE("sequences are not reused after the outbox is emptied and the writer restarts") {
  TempDb db("retention-restart");
  {
    StoreWriter writer(db.options());
    writer.import_meters({dlt_meter("A")}, "test");
    writer.submit({read_at("A", 0, 100), read_at("A", 15, 150), read_at("A", 30, 170)}, {});
    writer.flush();
    StoreReader reader(db.path());
    reader.set_consumer_cursor("billing", 2);
    writer.prune(one_day_policy(), at_minutes(10 * 24 * 60));
    REQUIRE_FALSE(reader.oldest_sequence());
  }
  StoreWriter writer(db.options());
  writer.submit({read_at("A", 45, 200)}, {});
  writer.flush();
  StoreReader reader(db.path());
  const auto feed = reader.read_feed(0, 10);
  REQUIRE(feed.size() == 1);
  CHECK(feed[0].sequence() == 3);
}

TEST_CASE("old suspect intervals are pruned even though they were never published") {
  TempDb db("retention-suspect");
  StoreWriter writer(db.options());
  writer.import_meters({dlt_meter("A")}, "test");
  writer.submit({read_at("A", 0, 500), read_at("A", 15, 400)}, {});
  writer.flush();
  StoreReader reader(db.path());
  REQUIRE(reader.intervals("A", EnergyChannel::forward_active, at_minutes(0), at_minutes(15)).size() == 1);
  const auto stats = writer.prune(one_day_policy(), at_minutes(3 * 24 * 60));
  CHECK(stats.intervals == 1);
  CHECK(reader.intervals("A", EnergyChannel::forward_active, at_minutes(0), at_minutes(15)).empty());
}

TEST_CASE("a published row beyond any consumer's cursor is never pruned, however old") {
  TempDb db("retention-unacked");
  StoreWriter writer(db.options());
  writer.import_meters({dlt_meter("A")}, "test");
  two_days_of_reads(writer, "A");
  StoreReader reader(db.path());
  reader.set_consumer_cursor("billing", 192);
  reader.set_consumer_cursor("slow", 50);  // one consumer is behind
  // A year later every row is far past the retention window; only what both acknowledged goes.
  const auto stats = writer.prune(one_day_policy(), at_minutes(365 * 24 * 60));
  CHECK(stats.outbox_rows == 50);
  CHECK(reader.oldest_sequence() == 51u);
  const auto feed = reader.read_feed(50, 1000);
  REQUIRE(feed.size() == 142);
  CHECK(feed.front().sequence() == 51);
  CHECK(feed.back().sequence() == 192);
  // The intervals behind the unacknowledged rows are still there for the slow consumer.
  CHECK(reader.intervals("A", EnergyChannel::forward_active, at_minutes(0), at_minutes(48 * 60)).size() == 142);
}

TEST_CASE("a configured consumer without a cursor row keeps every published row") {
  TempDb db("retention-configured");
  StoreWriter writer(db.options());
  writer.import_meters({dlt_meter("A")}, "test");
  two_days_of_reads(writer, "A");
  StoreReader reader(db.path());
  reader.set_consumer_cursor("billing", 192);  // the only consumer that ever connected
  auto policy = one_day_policy();
  policy.consumers = {"billing", "never-connected"};
  // Without a row "never-connected" counts as cursor 0: a year later nothing published goes.
  const auto stats = writer.prune(policy, at_minutes(365 * 24 * 60));
  CHECK(stats.outbox_rows == 0);
  CHECK(reader.oldest_sequence() == 1u);
  CHECK(reader.read_feed(0, 1000).size() == 192);
  CHECK(reader.intervals("A", EnergyChannel::forward_active, at_minutes(0), at_minutes(48 * 60)).size() == 192);
}

TEST_CASE("ensure_consumers seeds cursor 0 for new names and leaves existing cursors alone") {
  TempDb db("retention-ensure");
  StoreWriter writer(db.options());
  writer.import_meters({dlt_meter("A")}, "test");
  two_days_of_reads(writer, "A");
  StoreReader reader(db.path());
  reader.set_consumer_cursor("billing", 192);
  writer.ensure_consumers({"billing", "audit"});
  CHECK(reader.consumer_cursor("billing") == std::optional<std::uint64_t>{192});
  CHECK(reader.consumer_cursor("audit") == std::optional<std::uint64_t>{0});
  CHECK_THROWS_AS(writer.ensure_consumers({""}), std::invalid_argument);
  // The seeded row holds pruning back even with a policy that names no consumer.
  const auto stats = writer.prune(one_day_policy(), at_minutes(365 * 24 * 60));
  CHECK(stats.outbox_rows == 0);
  CHECK(reader.oldest_sequence() == 1u);
}
