// Interval derivation from boundary reads, through the real writer and reader.
#include <catch2/catch.hpp>

#include "storage/store_reader.hpp"
#include "storage/store_writer.hpp"
#include "store_test_support.hpp"

using namespace ami;
using namespace ami::storage;
using namespace ami::storage::test;

namespace {

std::vector<IntervalRecord> all_intervals(StoreReader& reader, const std::string& id,
                                          EnergyChannel channel = EnergyChannel::forward_active) {
  return reader.intervals(id, channel, at_minutes(-24 * 60), at_minutes(24 * 60));
}

}  // namespace

TEST_CASE("in-order reads derive consecutive intervals with register deltas") {
  TempDb db("derive-in-order");
  StoreWriter writer(db.options());
  writer.import_meters({dlt_meter("M1")}, "test");
  writer.submit({read_at("M1", 0, 1000), read_at("M1", 15, 1250)}, {});
  writer.submit({read_at("M1", 30, 1600)}, {});
  writer.flush();

  StoreReader reader(db.path());
  const auto intervals = all_intervals(reader, "M1");
  REQUIRE(intervals.size() == 2);
  CHECK(intervals[0].start == at_minutes(0));
  CHECK(intervals[0].end == at_minutes(15));
  CHECK(intervals[0].value_wh == 250);
  CHECK(intervals[0].register_start_wh == 1000);
  CHECK(intervals[0].register_end_wh == 1250);
  CHECK(intervals[0].status == IntervalStatus::actual);
  CHECK(intervals[0].version == 1);
  CHECK(intervals[0].quality_codes.empty());
  CHECK(intervals[0].sequence == 1u);
  CHECK(intervals[1].value_wh == 350);
  CHECK(intervals[1].sequence == 2u);
  CHECK(reader.head_sequence() == 2);
}

TEST_CASE("out-of-order reads (backfill) derive the same intervals in both directions") {
  TempDb db("derive-out-of-order");
  StoreWriter writer(db.options());
  writer.import_meters({dlt_meter("M1")}, "test");
  // 30 first, then 0 (no neighbour yet), then 15 closes both [0,15) and [15,30).
  writer.submit({read_at("M1", 30, 1600)}, {});
  writer.submit({read_at("M1", 0, 1000, EnergyChannel::forward_active, ReadSource::backfill)}, {});
  writer.flush();
  StoreReader reader(db.path());
  CHECK(all_intervals(reader, "M1").empty());

  writer.submit({read_at("M1", 15, 1250, EnergyChannel::forward_active, ReadSource::backfill)}, {});
  writer.flush();
  const auto intervals = all_intervals(reader, "M1");
  REQUIRE(intervals.size() == 2);
  CHECK(intervals[0].end == at_minutes(15));
  CHECK(intervals[0].value_wh == 250);
  CHECK(intervals[0].source == ReadSource::backfill);
  CHECK(intervals[1].end == at_minutes(30));
  CHECK(intervals[1].value_wh == 350);
  CHECK(intervals[1].register_start_wh == 1250);
  CHECK(intervals[1].register_end_wh == 1600);
}

TEST_CASE("a read older than the newest still finds its later neighbour after a restart") {
  TempDb db("derive-restart");
  {
    StoreWriter writer(db.options());
    writer.import_meters({dlt_meter("M1")}, "test");
    writer.submit({read_at("M1", 0, 1000), read_at("M1", 30, 1600)}, {});
  }  // stop() flushes
  StoreWriter writer(db.options());
  writer.submit({read_at("M1", 15, 1250)}, {});
  writer.submit({read_at("M1", 45, 1700)}, {});
  writer.flush();
  StoreReader reader(db.path());
  const auto intervals = all_intervals(reader, "M1");
  REQUIRE(intervals.size() == 3);
  CHECK(intervals[0].value_wh == 250);
  CHECK(intervals[1].value_wh == 350);
  CHECK(intervals[2].value_wh == 100);
}

TEST_CASE("duplicate reads are ignored, a conflicting value keeps the first and is audited") {
  TempDb db("derive-duplicates");
  StoreWriter writer(db.options());
  writer.import_meters({dlt_meter("M1")}, "test");
  writer.submit({read_at("M1", 0, 1000), read_at("M1", 15, 1250)}, {});
  writer.submit({read_at("M1", 15, 1250), read_at("M1", 0, 1000)}, {});
  writer.submit({read_at("M1", 15, 9999)}, {});
  writer.flush();

  const auto stats = writer.stats();
  CHECK(stats.reads_stored == 2);
  CHECK(stats.reads_duplicate == 2);
  CHECK(stats.reads_conflicting == 1);
  StoreReader reader(db.path());
  const auto intervals = all_intervals(reader, "M1");
  REQUIRE(intervals.size() == 1);
  CHECK(intervals[0].value_wh == 250);
  CHECK(reader.head_sequence() == 1);
  const auto reads = reader.reads("M1", EnergyChannel::forward_active, at_minutes(0), at_minutes(15));
  REQUIRE(reads.size() == 2);
  CHECK(reads[1].register_wh == 1250);
  const auto audit = reader.audit_log(10);
  REQUIRE_FALSE(audit.empty());
  CHECK(audit.front().action == "read_conflict");
  CHECK(audit.front().detail.find("9999") != std::string::npos);
}

TEST_CASE("a negative delta is stored suspect with quality 2.3.4 and not published") {
  TempDb db("derive-negative");
  StoreWriter writer(db.options());
  writer.import_meters({dlt_meter("M1")}, "test");
  writer.submit({read_at("M1", 0, 5000), read_at("M1", 15, 4900), read_at("M1", 30, 5000)}, {});
  writer.flush();

  StoreReader reader(db.path());
  const auto intervals = all_intervals(reader, "M1");
  REQUIRE(intervals.size() == 2);
  CHECK(intervals[0].status == IntervalStatus::suspect);
  CHECK(intervals[0].value_wh == -100);
  CHECK(intervals[0].quality_codes == std::vector<std::string>{"2.3.4"});
  CHECK_FALSE(intervals[0].sequence);
  CHECK(intervals[1].status == IntervalStatus::actual);
  CHECK(intervals[1].value_wh == 100);
  const auto feed = reader.read_feed(0, 10);
  REQUIRE(feed.size() == 1);
  CHECK(feed[0].end_unix() == at_minutes(30).time_since_epoch().count());
  CHECK(writer.stats().intervals_suspect == 1);
}

TEST_CASE("CT x PT multiplies the register delta, registers stay as read") {
  TempDb db("derive-ct-pt");
  StoreWriter writer(db.options());
  writer.import_meters({dlt_meter("M1", 40, 100)}, "test");
  writer.submit({read_at("M1", 0, 1000), read_at("M1", 15, 1003)}, {});
  writer.flush();
  StoreReader reader(db.path());
  const auto intervals = all_intervals(reader, "M1");
  REQUIRE(intervals.size() == 1);
  CHECK(intervals[0].value_wh == 3 * 40 * 100);
  CHECK(intervals[0].register_start_wh == 1000);
  CHECK(intervals[0].register_end_wh == 1003);
}

TEST_CASE("channels are derived independently and the meter's interval length is used") {
  TempDb db("derive-channels");
  StoreWriter writer(db.options());
  auto hourly = dlt_meter("H1");
  hourly.interval_minutes = 60;
  writer.import_meters({dlt_meter("M1"), hourly}, "test");
  writer.submit({read_at("M1", 0, 100, EnergyChannel::reverse_active),
                 read_at("M1", 15, 100), read_at("M1", 15, 130, EnergyChannel::reverse_active),
                 read_at("H1", 0, 0), read_at("H1", 15, 10), read_at("H1", 60, 40)},
                {});
  writer.flush();
  StoreReader reader(db.path());
  CHECK(all_intervals(reader, "M1").empty());
  const auto reverse = all_intervals(reader, "M1", EnergyChannel::reverse_active);
  REQUIRE(reverse.size() == 1);
  CHECK(reverse[0].value_wh == 30);
  const auto hourly_intervals = all_intervals(reader, "H1");
  REQUIRE(hourly_intervals.size() == 1);
  CHECK(hourly_intervals[0].start == at_minutes(0));
  CHECK(hourly_intervals[0].end == at_minutes(60));
  CHECK(hourly_intervals[0].value_wh == 40);
}

TEST_CASE("reads for meters missing from the registry are dropped and audited") {
  TempDb db("derive-unknown");
  StoreWriter writer(db.options());
  writer.submit({read_at("NOPE", 0, 1), read_at("NOPE", 15, 2)}, {});
  writer.flush();
  CHECK(writer.stats().reads_unknown_meter == 2);
  StoreReader reader(db.path());
  const auto audit = reader.audit_log(5);
  REQUIRE(audit.size() == 2);
  CHECK(audit[0].action == "read_unknown_meter");
  CHECK(audit[0].detail.find("NOPE") != std::string::npos);
  CHECK(reader.head_sequence() == 0);
}

TEST_CASE("a new interval version supersedes the old one and is published again") {
  TempDb db("derive-versions");
  StoreWriter writer(db.options());
  writer.import_meters({dlt_meter("M1")}, "test");

  // VEE estimates [0,15) before the reads exist ...
  IntervalRecord estimate;
  estimate.meter_id = "M1";
  estimate.start = at_minutes(0);
  estimate.end = at_minutes(15);
  estimate.value_wh = 200;
  estimate.status = IntervalStatus::estimated;
  estimate.quality_codes = {"2.8.0"};
  estimate.estimation_method = EstimationMethod::linear_interpolation;
  estimate.collected_at = UtcMillis{at_minutes(20)};
  writer.submit_intervals({estimate});
  writer.flush();
  // ... then backfill brings the actual reads: version 2 supersedes the estimate.
  writer.submit({read_at("M1", 0, 1000, EnergyChannel::forward_active, ReadSource::backfill),
                 read_at("M1", 15, 1250, EnergyChannel::forward_active, ReadSource::backfill)},
                {});
  writer.flush();

  StoreReader reader(db.path());
  const auto intervals = all_intervals(reader, "M1");
  REQUIRE(intervals.size() == 2);
  CHECK(intervals[0].version == 1);
  CHECK(intervals[0].status == IntervalStatus::estimated);
  CHECK(intervals[0].superseded);
  CHECK(intervals[1].version == 2);
  CHECK(intervals[1].status == IntervalStatus::actual);
  CHECK(intervals[1].value_wh == 250);
  CHECK_FALSE(intervals[1].superseded);

  IntervalRecord backwards = estimate;
  backwards.end = backwards.start;
  writer.submit_intervals({backwards});
  writer.flush();
  CHECK(reader.audit_log(1).at(0).action == "interval_invalid");

  const auto feed = reader.read_feed(0, 10);
  REQUIRE(feed.size() == 2);
  CHECK(feed[0].version() == 1);
  CHECK(feed[0].status() == headend::feed::v1::INTERVAL_STATUS_ESTIMATED);
  CHECK(feed[0].estimation_method() == headend::feed::v1::ESTIMATION_METHOD_LINEAR_INTERPOLATION);
  CHECK(feed[0].quality_codes_size() == 1);
  CHECK(feed[1].version() == 2);
  CHECK(feed[1].idempotency_key() == "M1|0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0|" +
                                         std::to_string(at_minutes(15).time_since_epoch().count()) +
                                         "|2");
}

TEST_CASE("unaligned or negative reads are dropped and audited with the reason") {
  TempDb db("derive-invalid");
  StoreWriter writer(db.options());
  writer.import_meters({dlt_meter("M1")}, "test");
  auto unaligned = read_at("M1", 15, 200);
  unaligned.boundary += std::chrono::minutes{1};
  writer.submit({read_at("M1", 0, 100), unaligned}, {});
  writer.submit({read_at("M1", 15, -5)}, {});
  writer.flush();
  CHECK(writer.stats().reads_invalid == 2);
  CHECK(writer.stats().reads_stored == 1);
  StoreReader reader(db.path());
  const auto audit = reader.audit_log(2);
  REQUIRE(audit.size() == 2);
  CHECK(audit[0].detail.find("negative register -5 Wh") != std::string::npos);
  CHECK(audit[1].detail.find("not aligned to its 15-minute interval") != std::string::npos);
  CHECK(audit[1].detail.find("2026-01-05T00:16:00Z") != std::string::npos);
}

TEST_CASE("daily intervals may be aligned to the meter's local midnight") {
  TempDb db("derive-daily-local");
  StoreWriter writer(db.options());
  auto daily = dlt_meter("D1");
  daily.interval_minutes = 1440;  // utc_offset_minutes 480: local midnight is 16:00Z
  writer.import_meters({daily}, "test");
  writer.submit({read_at("D1", 16 * 60, 1000), read_at("D1", 40 * 60, 9000)}, {});
  writer.flush();
  CHECK(writer.stats().reads_invalid == 0);
  StoreReader reader(db.path());
  const auto intervals =
      reader.intervals("D1", EnergyChannel::forward_active, at_minutes(0), at_minutes(48 * 60));
  REQUIRE(intervals.size() == 1);
  CHECK(intervals[0].start == at_minutes(16 * 60));
  CHECK(intervals[0].value_wh == 8000);
}
