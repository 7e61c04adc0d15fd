// StoreReader's per-meter queries over the time-major tables: what they return, and that they
// seek by the full key at each stored boundary instead of visiting every meter's rows in the range.
#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <vector>

#include "storage/sqlite.hpp"
#include "storage/store_reader.hpp"
#include "storage/store_rows.hpp"
#include "storage/store_writer.hpp"
#include "store_test_support.hpp"

using namespace ami;
using namespace ami::storage;
using namespace ami::storage::test;

namespace {

std::vector<int> boundary_minutes(const std::vector<BoundaryRead>& reads) {
  std::vector<int> minutes;
  for (const auto& r : reads)
    minutes.push_back(static_cast<int>(std::chrono::duration_cast<std::chrono::minutes>(r.boundary - t0()).count()));
  return minutes;
}

std::vector<int> end_minutes(const std::vector<IntervalRecord>& intervals) {
  std::vector<int> minutes;
  for (const auto& i : intervals)
    minutes.push_back(static_cast<int>(std::chrono::duration_cast<std::chrono::minutes>(i.end - t0()).count()));
  return minutes;
}

}  // namespace

TEST_CASE("per-meter reads and intervals: only that meter and channel, range ends as documented") {
  TempDb db("reader-per-meter");
  {
    StoreWriter writer(db.options());
    writer.import_meters({dlt_meter("A"), dlt_meter("B"), dlt_meter("C")}, "test");
    // A at 0, 15, 30, 60 (45 missing), B at 15, 45, 60, 75, 90 (boundaries A lacks), C only reverse.
    writer.submit({read_at("A", 0, 100), read_at("A", 15, 110), read_at("A", 30, 120), read_at("A", 60, 140),
                   read_at("B", 15, 7), read_at("B", 45, 9), read_at("B", 60, 10), read_at("B", 75, 11),
                   read_at("B", 90, 12),
                   read_at("C", 30, 5, EnergyChannel::reverse_active), read_at("C", 45, 6, EnergyChannel::reverse_active),
                   read_at("A", 30, 50, EnergyChannel::reverse_active)},
                  {});
    writer.flush();
  }
  StoreReader reader(db.path());
  const auto fwd = EnergyChannel::forward_active;
  const auto rev = EnergyChannel::reverse_active;
  CHECK(boundary_minutes(reader.reads("A", fwd, at_minutes(0), at_minutes(90))) == std::vector<int>{0, 15, 30, 60});
  CHECK(boundary_minutes(reader.reads("A", fwd, at_minutes(15), at_minutes(60))) == std::vector<int>{15, 30, 60});  // both ends in
  CHECK(boundary_minutes(reader.reads("A", fwd, at_minutes(16), at_minutes(59))) == std::vector<int>{30});
  CHECK(boundary_minutes(reader.reads("A", fwd, at_minutes(-60), at_minutes(-1))).empty());
  CHECK(boundary_minutes(reader.reads("A", fwd, at_minutes(61), at_minutes(600))).empty());  // B's 90 is not A's
  CHECK(boundary_minutes(reader.reads("A", rev, at_minutes(0), at_minutes(90))) == std::vector<int>{30});
  CHECK(boundary_minutes(reader.reads("B", fwd, at_minutes(0), at_minutes(90))) == std::vector<int>{15, 45, 60, 75, 90});
  CHECK(reader.reads("C", fwd, at_minutes(0), at_minutes(90)).empty());
  CHECK(reader.reads("nobody", fwd, at_minutes(0), at_minutes(90)).empty());
  const auto a_reads = reader.reads("A", fwd, at_minutes(0), at_minutes(90));
  REQUIRE(a_reads.size() == 4);
  CHECK(a_reads[3].register_wh == 140);
  CHECK(a_reads[3].meter_id == "A");

  // Intervals: end in (from, to]. Derivation writes what two adjacent reads give (gaps are VEE's,
  // off here): A's ends 15, 30; B's 60, 75, 90.
  const auto a_all = reader.intervals("A", fwd, at_minutes(0), at_minutes(90));
  for (const auto& interval : a_all) CHECK(interval.meter_id == "A");
  CHECK(end_minutes(a_all) == std::vector<int>{15, 30});
  CHECK(end_minutes(reader.intervals("A", fwd, at_minutes(15), at_minutes(30))) == std::vector<int>{30});  // 15 out, 30 in
  CHECK(reader.intervals("A", fwd, at_minutes(60), at_minutes(600)).empty());
  CHECK(end_minutes(reader.intervals("B", fwd, at_minutes(0), at_minutes(90))) == std::vector<int>{60, 75, 90});
  CHECK(end_minutes(reader.intervals("B", fwd, at_minutes(60), at_minutes(89))) == std::vector<int>{75});
}

TEST_CASE("has_read_before walks back to the meter's newest older read, across other meters' boundaries") {
  TempDb db("reader-read-before");
  {
    StoreWriter writer(db.options());
    writer.import_meters({dlt_meter("A"), dlt_meter("B")}, "test");
    writer.submit({read_at("A", 0, 100), read_at("B", 15, 1), read_at("B", 30, 2), read_at("B", 45, 3),
                   read_at("A", 60, 140)},
                  {});
    writer.flush();
  }
  StoreReader reader(db.path());
  const auto fwd = EnergyChannel::forward_active;
  CHECK(reader.has_read_before("A", fwd, at_minutes(60)));   // 0, three boundaries of B's back
  CHECK(reader.has_read_before("A", fwd, at_minutes(1)));
  CHECK_FALSE(reader.has_read_before("A", fwd, at_minutes(0)));  // strictly before
  CHECK_FALSE(reader.has_read_before("B", fwd, at_minutes(15)));
  CHECK(reader.has_read_before("B", fwd, at_minutes(16)));
  CHECK_FALSE(reader.has_read_before("A", EnergyChannel::reverse_active, at_minutes(600)));
  CHECK_FALSE(reader.has_read_before("nobody", fwd, at_minutes(600)));
}

TEST_CASE("per-meter and per-chunk queries seek by meter at each stored boundary, never scan the range") {
  // A range scan of the time-major key visits every meter's rows in the range: seconds per call at
  // 100,000 meters, and the backfill scan makes one per meter after a restart.
  TempDb db("reader-plans");
  PlanChecker check(db);
  const auto plan_of = [&check](const std::string& sql) { return check.plan_of(sql); };
  const auto reads_plan = plan_of(std::string(meter_reads_sql));
  INFO(reads_plan);
  CHECK_THAT(reads_plan, Catch::Contains("SEARCH r USING PRIMARY KEY (boundary=? AND meter_key=? AND channel=?)"));
  CHECK_THAT(reads_plan, !Catch::Contains("SCAN r"));
  const auto intervals_plan = plan_of("SELECT " + std::string(interval_columns) + std::string(meter_intervals_sql_tail));
  INFO(intervals_plan);
  CHECK_THAT(intervals_plan, Catch::Contains("SEARCH i USING PRIMARY KEY (end_unix=? AND meter_key=? AND channel=?)"));
  CHECK_THAT(intervals_plan, !Catch::Contains("SCAN i"));
  // The VEE history pass's chunk of meters: a key range at each stored time.
  const auto chunk_reads_plan = plan_of(std::string(chunk_reads_sql));
  INFO(chunk_reads_plan);
  CHECK_THAT(chunk_reads_plan, Catch::Contains("SEARCH r USING PRIMARY KEY (boundary=? AND meter_key>? AND meter_key<?)"));
  const auto chunk_intervals_plan =
      plan_of("SELECT i.meter_key, i.channel, " + std::string(interval_columns) + std::string(chunk_intervals_sql_tail));
  INFO(chunk_intervals_plan);
  CHECK_THAT(chunk_intervals_plan,
             Catch::Contains("SEARCH i USING PRIMARY KEY (end_unix=? AND meter_key>? AND meter_key<?)"));
}

TEST_CASE("in_snapshot: every query inside sees one snapshot, a throw ends it and propagates") {
  TempDb db("reader-snapshot");
  StoreWriter writer(db.options());
  writer.import_meters({dlt_meter("A")}, "test");
  writer.submit({read_at("A", 0, 100)}, {});
  writer.flush();
  StoreReader reader(db.path());
  const auto fwd = EnergyChannel::forward_active;
  std::size_t inside_before = 0;
  std::size_t inside_after = 0;
  reader.in_snapshot([&] {
    inside_before = reader.reads("A", fwd, at_minutes(0), at_minutes(60)).size();
    writer.submit({read_at("A", 15, 110)}, {});
    writer.flush();  // committed while the snapshot is open (WAL: the writer is not blocked)
    inside_after = reader.reads("A", fwd, at_minutes(0), at_minutes(60)).size();
  });
  CHECK(inside_before == 1);
  CHECK(inside_after == 1);  // the same snapshot
  CHECK(reader.reads("A", fwd, at_minutes(0), at_minutes(60)).size() == 2);  // ended: the latest

  CHECK_THROWS_WITH(reader.in_snapshot([&] {
    (void)reader.reads("A", fwd, at_minutes(0), at_minutes(60));
    throw std::runtime_error("work failed");
  }),
                    "work failed");
  writer.submit({read_at("A", 30, 120)}, {});
  writer.flush();
  CHECK(reader.reads("A", fwd, at_minutes(0), at_minutes(60)).size() == 3);  // no snapshot left open
  std::size_t again = 0;
  reader.in_snapshot([&] { again = reader.reads("A", fwd, at_minutes(0), at_minutes(60)).size(); });
  CHECK(again == 3);
}
