// Outbox sequences, read_feed content, replay by time, consumer cursors, attempt summaries.
#include <catch2/catch.hpp>

#include <atomic>

#include "storage/sqlite.hpp"
#include "storage/store_reader.hpp"
#include "storage/store_rows.hpp"
#include "storage/store_writer.hpp"
#include "store_test_support.hpp"

using namespace ami;
using namespace ami::storage;
using namespace ami::storage::test;
namespace feed = headend::feed::v1;

TEST_CASE("outbox sequences are strictly increasing in commit order") {
  TempDb db("feed-order");
  StoreWriter writer(db.options());
  writer.import_meters({dlt_meter("A"), dlt_meter("B")}, "test");
  for (int minutes = 0; minutes <= 60; minutes += 15) {
    writer.submit({read_at("A", minutes, 100 * minutes), read_at("B", minutes, 10 * minutes)}, {});
    writer.flush();
  }
  StoreReader reader(db.path());
  const auto all = reader.read_feed(0, 100);
  REQUIRE(all.size() == 8);
  for (std::size_t i = 0; i < all.size(); ++i) CHECK(all[i].sequence() == i + 1);
  // Boundary by boundary: each flush's intervals come after the previous flush's.
  for (std::size_t i = 2; i < all.size(); ++i) CHECK(all[i].end_unix() >= all[i - 2].end_unix());
  CHECK(reader.head_sequence() == 8);
  CHECK(reader.oldest_sequence() == 1u);

  const auto page = reader.read_feed(3, 2);
  REQUIRE(page.size() == 2);
  CHECK(page[0].sequence() == 4);
  CHECK(page[1].sequence() == 5);
  CHECK(reader.read_feed(8, 10).empty());
}

TEST_CASE("read_feed returns fully populated interval readings") {
  TempDb db("feed-content");
  StoreWriter writer(db.options());
  writer.import_meters({dlt_meter("MTR-7", 2, 3)}, "test");
  auto first = read_at("MTR-7", 0, 700, EnergyChannel::reverse_active);
  auto second = read_at("MTR-7", 15, 750, EnergyChannel::reverse_active, ReadSource::on_demand);
  second.collected_at = UtcMillis{at_minutes(15)} + std::chrono::milliseconds{4321};
  writer.submit({first, second}, {});
  writer.flush();

  StoreReader reader(db.path());
  const auto readings = reader.read_feed(0, 10);
  REQUIRE(readings.size() == 1);
  const auto& r = readings[0];
  const std::int64_t end = at_minutes(15).time_since_epoch().count();
  CHECK(r.sequence() == 1);
  CHECK(r.meter_id() == "MTR-7");
  CHECK(r.usage_point() == "UP-MTR-7");
  CHECK(r.kind() == feed::READING_KIND_REVERSE_ACTIVE_ENERGY);
  CHECK(r.reading_type_cim() == "0.0.2.4.19.1.12.0.0.0.0.0.0.0.0.0.72.0");
  CHECK(r.start_unix() == end - 900);
  CHECK(r.end_unix() == end);
  CHECK(r.value_wh() == 50 * 6);
  REQUIRE(r.has_register_start_wh());
  CHECK(r.register_start_wh() == 700);
  REQUIRE(r.has_register_end_wh());
  CHECK(r.register_end_wh() == 750);
  CHECK(r.status() == feed::INTERVAL_STATUS_ACTUAL);
  CHECK(r.quality_codes_size() == 0);
  CHECK(r.estimation_method() == feed::ESTIMATION_METHOD_UNSPECIFIED);
  CHECK(r.version() == 1);
  CHECK(r.idempotency_key() ==
        "MTR-7|0.0.2.4.19.1.12.0.0.0.0.0.0.0.0.0.72.0|" + std::to_string(end) + "|1");
  CHECK(r.collected_unix_ms() == end * 1000 + 4321);
  CHECK(r.source() == feed::READ_SOURCE_ON_DEMAND);
}

TEST_CASE("reading type codes follow the interval length and direction") {
  CHECK(reading_type_cim(EnergyChannel::forward_active, 15) ==
        "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0");
  CHECK(reading_type_cim(EnergyChannel::forward_active, 60) ==
        "0.0.7.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0");
  CHECK(reading_type_cim(EnergyChannel::reverse_active, 30) ==
        "0.0.5.4.19.1.12.0.0.0.0.0.0.0.0.0.72.0");
  CHECK(reading_type_cim(EnergyChannel::forward_active, 45) ==
        "0.0.0.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0");
}

TEST_CASE("first_sequence_collected_at_or_after finds the replay start by collection time") {
  TempDb db("feed-by-time");
  StoreWriter writer(db.options());
  writer.import_meters({dlt_meter("A")}, "test");
  writer.submit({read_at("A", 0, 0), read_at("A", 15, 1), read_at("A", 30, 2), read_at("A", 45, 3)},
                {});
  writer.flush();
  StoreReader reader(db.path());
  // read_at() collects 2.5 s after the boundary; interval ending 30 was collected at 30:02.5.
  CHECK(reader.first_sequence_collected_at_or_after(at_minutes(0)) == 1u);
  CHECK(reader.first_sequence_collected_at_or_after(at_minutes(16)) == 2u);
  CHECK(reader.first_sequence_collected_at_or_after(at_minutes(30) + std::chrono::seconds{2}) == 2u);
  CHECK(reader.first_sequence_collected_at_or_after(at_minutes(30) + std::chrono::seconds{3}) == 3u);
  CHECK_FALSE(reader.first_sequence_collected_at_or_after(at_minutes(46)));
}

TEST_CASE("replay by time finds the first sequence collected at or after t when collection times go back") {
  TempDb db("feed-by-time-marks");
  StoreWriter writer(db.options());
  writer.import_meters({dlt_meter("A"), dlt_meter("B"), dlt_meter("C")}, "test");
  // Three transactions (three outbox marks) whose collection times are 10:00, 45:00, 20:00 (a late
  // submission of older reads), and inside the first one C's interval collected after A's and B's.
  const auto collected_at = [](BoundaryRead read, int minutes) {
    read.collected_at = UtcMillis{at_minutes(minutes)};
    return read;
  };
  writer.submit({collected_at(read_at("A", 0, 0), 10), collected_at(read_at("A", 15, 1), 10),
                 collected_at(read_at("B", 0, 0), 10), collected_at(read_at("B", 15, 1), 10),
                 collected_at(read_at("C", 0, 0), 12), collected_at(read_at("C", 15, 1), 12)},
                {});
  writer.flush();  // sequences 1..3
  writer.submit({collected_at(read_at("A", 30, 2), 45)}, {});
  writer.flush();  // 4
  writer.submit({collected_at(read_at("B", 30, 2), 20)}, {});
  writer.flush();  // 5
  StoreReader reader(db.path());
  REQUIRE(reader.head_sequence() == 5);
  CHECK(reader.first_sequence_collected_at_or_after(at_minutes(0)) == 1u);
  CHECK(reader.first_sequence_collected_at_or_after(at_minutes(11)) == 3u);
  CHECK(reader.first_sequence_collected_at_or_after(at_minutes(13)) == 4u);
  CHECK(reader.first_sequence_collected_at_or_after(at_minutes(15)) == 4u);  // not 5 (collected 20:00)
  CHECK(reader.first_sequence_collected_at_or_after(at_minutes(20)) == 4u);
  CHECK(reader.first_sequence_collected_at_or_after(at_minutes(45)) == 4u);
  CHECK_FALSE(reader.first_sequence_collected_at_or_after(at_minutes(46)));
}

TEST_CASE("the feed query walks intervals_by_sequence and the replay query the outbox marks") {
  TempDb db("feed-query-plan");
  PlanChecker check(db);
  const auto plan_of = [&check](const std::string& sql) { return check.plan_of(sql); };
  // A SEARCH through the partial index, no full scan of intervals and no sort.
  const auto feed_plan = plan_of(std::string(feed_query_sql));
  CHECK_THAT(feed_plan, Catch::Contains("SEARCH i USING INDEX intervals_by_sequence (sequence>?)"));
  CHECK_THAT(feed_plan, !Catch::Contains("TEMP B-TREE"));
  CHECK_THAT(plan_of(std::string(replay_mark_sql)),
             Catch::Contains("outbox_marks_by_collected (collected_through_ms>?)"));
}

TEST_CASE("consumer cursors persist, move, and refuse sequences beyond the head") {
  TempDb db("feed-cursors");
  {
    StoreWriter writer(db.options());
    writer.import_meters({dlt_meter("A")}, "test");
    writer.submit({read_at("A", 0, 0), read_at("A", 15, 1), read_at("A", 30, 2)}, {});
  }
  {
    StoreReader reader(db.path());
    CHECK_FALSE(reader.consumer_cursor("billing"));
    reader.set_consumer_cursor("billing", 1);
    reader.set_consumer_cursor("audit", 2);
    reader.set_consumer_cursor("billing", 2);
    CHECK_THROWS_AS(reader.set_consumer_cursor("billing", 3), std::invalid_argument);
    CHECK_THROWS_AS(reader.set_consumer_cursor("", 1), std::invalid_argument);
  }
  StoreReader reopened(db.path());
  CHECK(reopened.consumer_cursor("billing") == 2u);
  const auto cursors = reopened.consumer_cursors();
  REQUIRE(cursors.size() == 2);
  CHECK(cursors[0] == std::pair<std::string, std::uint64_t>{"audit", 2});
  CHECK(cursors[1] == std::pair<std::string, std::uint64_t>{"billing", 2});
}

TEST_CASE("a cursor can be set while the writer is committing") {
  TempDb db("feed-cursor-concurrent");
  StoreWriter writer(db.options());
  writer.import_meters({dlt_meter("A")}, "test");
  writer.submit({read_at("A", 0, 0), read_at("A", 15, 1)}, {});
  writer.flush();
  StoreReader reader(db.path());
  for (int i = 2; i < 200; ++i) {
    writer.submit({read_at("A", 15 * i, i)}, {});
    reader.set_consumer_cursor("billing", reader.head_sequence());
  }
  writer.flush();
  CHECK(reader.consumer_cursor("billing") <= reader.head_sequence());
  CHECK(reader.head_sequence() == 199);
}

TEST_CASE("on_committed reports the new head after commits that publish") {
  TempDb db("feed-callback");
  StoreWriter writer(db.options());
  std::atomic<std::uint64_t> last_head{0};
  std::atomic<int> calls{0};
  writer.on_committed([&](std::uint64_t head) {
    last_head = head;
    ++calls;
  });
  writer.import_meters({dlt_meter("A")}, "test");
  writer.submit({read_at("A", 0, 0)}, {});  // no interval yet: no call
  writer.flush();
  CHECK(calls == 0);
  writer.submit({read_at("A", 15, 5)}, {});
  writer.flush();
  CHECK(calls == 1);
  CHECK(last_head == 1);
  writer.submit({}, {attempt_for("A", 30, 1, "timeout", "transport")});
  writer.flush();
  CHECK(calls == 1);
}

TEST_CASE("attempt summaries count meters per boundary by final outcome") {
  TempDb db("feed-attempts");
  StoreWriter writer(db.options());
  writer.import_meters({dlt_meter("A"), dlt_meter("B"), dlt_meter("C"), dlt_meter("D")}, "test");
  writer.submit({}, {attempt_for("A", 0, 1, "ok", "ok"),
                     attempt_for("B", 0, 1, "timeout", "transport"),
                     attempt_for("B", 0, 2, "ok", "ok"),
                     attempt_for("C", 0, 1, "timeout", "transport"),
                     attempt_for("C", 0, 2, "meter_error", "meter"),
                     attempt_for("D", 0, 1, "refused", "transport"),
                     attempt_for("A", 15, 1, "bad_frame", "meter")});
  writer.flush();
  StoreReader reader(db.path());
  const auto summaries = reader.attempt_summaries(at_minutes(0), at_minutes(15));
  REQUIRE(summaries.size() == 2);
  CHECK(summaries[0].boundary == at_minutes(0));
  CHECK(summaries[0].meters_attempted == 4);
  CHECK(summaries[0].meters_ok == 2);
  CHECK(summaries[0].meters_failed_meter == 1);
  CHECK(summaries[0].meters_failed_transport == 1);
  CHECK(summaries[0].attempts == 6);
  CHECK(summaries[1].meters_attempted == 1);
  CHECK(summaries[1].meters_ok == 0);
  CHECK(summaries[1].meters_failed_meter == 1);
  CHECK(reader.attempt_summaries(at_minutes(30), at_minutes(60)).empty());
}
