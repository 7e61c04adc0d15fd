// plan_backfill (headend/collection/backfill.hpp): which load-profile reads fill a meter's gaps.
#include <catch2/catch.hpp>

#include "headend/collection/backfill.hpp"

using namespace ami;
using namespace ami::collection;
using namespace std::chrono_literals;

namespace {
MeterTarget backfill_meter() {
  MeterTarget m;
  m.meter_id = "m1";
  m.protocol = "dlt645-2007";
  m.channel_key = "tcp://127.0.0.1:1";
  return m;
}
const MeterRef kBackfillMeter = make_meter_ref(backfill_meter());
UtcSeconds utc(const char* t) { return *parse_utc(t); }
UtcMillis utc_ms(const char* t) { return UtcMillis{utc(t)}; }
BackfillOptions depth(std::chrono::hours h) { return {15min, h}; }
StoredBoundaries stored(std::vector<const char*> times, bool before = false) {
  StoredBoundaries s;
  for (const auto* t : times) s.boundaries.push_back(utc(t));
  s.read_before_window = before;
  return s;
}
// (first record, last record) of each job.
std::vector<std::pair<UtcSeconds, UtcSeconds>> spans(const std::vector<ReadJob>& jobs) {
  std::vector<std::pair<UtcSeconds, UtcSeconds>> out;
  for (const auto& j : jobs) out.emplace_back(j.boundary - j.interval * (j.records - 1), j.boundary);
  return out;
}
}  // namespace

TEST_CASE("backfill after daemon downtime reads the gap in chunks that each re-read the boundary before them",
          "[backfill]") {
  // Stored up to 00:00; the first scheduled read at 03:00 covers 02:45 and 03:00.
  const auto jobs = plan_backfill(kBackfillMeter, stored({"2026-01-05T00:00:00Z"}), utc("2026-01-05T02:45:00Z"),
                                  depth(72h), utc_ms("2026-01-05T03:00:05Z"));
  // Missing 00:15 .. 02:30 = 10 boundaries, 7 new per request: 00:00->01:45, 01:45->02:30.
  REQUIRE(jobs.size() == 2);
  CHECK(jobs[0].boundary == utc("2026-01-05T01:45:00Z"));
  CHECK(jobs[0].records == 8);
  CHECK(jobs[1].boundary == utc("2026-01-05T02:30:00Z"));
  CHECK(jobs[1].records == 4);
  for (const auto& j : jobs) {
    CHECK(j.source == storage::ReadSource::backfill);
    CHECK(j.priority == Priority::backfill);
    CHECK(j.clock == ClockCommand::none);
    CHECK(j.meter->meter_id == "m1");
    CHECK(j.not_before == utc_ms("2026-01-05T03:00:05Z"));
  }
}

TEST_CASE("backfill fills every hole between stored reads, not only the newest gap", "[backfill]") {
  // A meter offline twice: 01:00..01:30 missing, then 04:15..05:45 missing; read at 06:15 again.
  const auto s = stored({"2026-01-05T00:00:00Z", "2026-01-05T00:15:00Z", "2026-01-05T00:30:00Z", "2026-01-05T00:45:00Z",
                         "2026-01-05T01:45:00Z", "2026-01-05T02:00:00Z", "2026-01-05T04:00:00Z"});
  // 02:15 .. 03:45 are missing too (stored jumps from 02:00 to 04:00).
  const auto jobs = plan_backfill(kBackfillMeter, s, utc("2026-01-05T06:00:00Z"), depth(72h),
                                  utc_ms("2026-01-05T06:15:03Z"));
  const std::vector<std::pair<UtcSeconds, UtcSeconds>> expected = {
      {utc("2026-01-05T00:45:00Z"), utc("2026-01-05T01:30:00Z")},  // 3 new
      {utc("2026-01-05T02:00:00Z"), utc("2026-01-05T03:45:00Z")},  // 7 new
      {utc("2026-01-05T04:00:00Z"), utc("2026-01-05T05:45:00Z")},  // 7 new
  };
  CHECK(spans(jobs) == expected);
}

TEST_CASE("backfill reads nothing when nothing is missing or the meter was never read", "[backfill]") {
  const auto now = utc_ms("2026-01-05T03:00:05Z");
  CHECK(plan_backfill(kBackfillMeter, stored({"2026-01-05T02:30:00Z"}), utc("2026-01-05T02:45:00Z"), depth(72h), now)
            .empty());
  CHECK(plan_backfill(kBackfillMeter, stored({}), utc("2026-01-05T02:45:00Z"), depth(72h), now).empty());
  // Reads stored only after the first one: nothing before the meter's history starts.
  CHECK(plan_backfill(kBackfillMeter, stored({"2026-01-05T02:00:00Z", "2026-01-05T02:15:00Z", "2026-01-05T02:30:00Z"}),
                      utc("2026-01-05T02:45:00Z"), depth(72h), now)
            .empty());
  // One boundary missing: one job of two records.
  const auto one =
      plan_backfill(kBackfillMeter, stored({"2026-01-05T02:15:00Z"}), utc("2026-01-05T02:45:00Z"), depth(72h), now);
  REQUIRE(one.size() == 1);
  CHECK(one[0].boundary == utc("2026-01-05T02:30:00Z"));
  CHECK(one[0].records == 2);
}

TEST_CASE("backfill does not reach further back than the depth", "[backfill]") {
  const auto now = utc_ms("2026-01-05T02:50:00Z");
  CHECK(backfill_window_start(now, depth(2h)) == utc("2026-01-05T00:45:00Z"));
  // Last read long before the window: the window edge is re-read, everything after it is read.
  const auto jobs = plan_backfill(kBackfillMeter, stored({}, true), utc("2026-01-05T02:45:00Z"), depth(2h), now);
  REQUIRE_FALSE(jobs.empty());
  CHECK(spans(jobs).front().first == utc("2026-01-05T00:45:00Z"));
  CHECK(jobs.back().boundary == utc("2026-01-05T02:30:00Z"));
  // Three days deep (the default) after a day offline: 95 boundaries in 14 requests.
  const auto day = plan_backfill(kBackfillMeter, stored({"2026-01-04T02:30:00Z"}), utc("2026-01-05T02:30:00Z"),
                                 depth(72h), utc_ms("2026-01-05T02:45:05Z"));
  int boundaries = 0;
  for (const auto& j : day) boundaries += j.records - 1;
  CHECK(boundaries == 95);
  CHECK(day.size() == 14);
}

namespace {
JobReport backfill_report(storage::ReadSource source, const char* boundary, Outcome outcome, int records = 2) {
  JobReport r;
  r.job.meter = kBackfillMeter;
  r.job.boundary = utc(boundary);
  r.job.source = source;
  r.job.records = records;
  r.attempts.push_back({1, outcome, "", utc_ms(boundary), 5});
  r.collected_at = utc_ms(boundary);
  return r;
}
}  // namespace

TEST_CASE("backfill tracker: no rescan while backfill reads are outstanding, a transport failure rescans after",
          "[backfill]") {
  BackfillTracker tracker(depth(72h));
  const auto scheduled = storage::ReadSource::scheduled;
  const auto backfill = storage::ReadSource::backfill;
  REQUIRE(tracker.on_report(backfill_report(scheduled, "2026-01-05T10:00:00Z", Outcome::ok)));  // first good read
  CHECK_FALSE(tracker.on_report(backfill_report(scheduled, "2026-01-05T10:15:00Z", Outcome::ok)));  // scan running
  tracker.scan_done("m1", 3, false);
  CHECK(tracker.outstanding("m1") == 3);
  // One chunk times out while two are still queued: no new scan, so nothing is planned twice.
  CHECK_FALSE(tracker.on_report(backfill_report(backfill, "2026-01-04T10:00:00Z", Outcome::timeout, 33)));
  CHECK_FALSE(tracker.on_report(backfill_report(scheduled, "2026-01-05T10:30:00Z", Outcome::ok)));
  CHECK_FALSE(tracker.on_report(backfill_report(backfill, "2026-01-04T18:00:00Z", Outcome::ok, 33)));
  CHECK_FALSE(tracker.on_report(backfill_report(scheduled, "2026-01-05T10:45:00Z", Outcome::ok)));
  CHECK_FALSE(tracker.on_report(backfill_report(backfill, "2026-01-05T02:00:00Z", Outcome::ok, 33)));
  CHECK(tracker.outstanding("m1") == 0);
  // All back, the last failure was the transport: the next good scheduled read scans again, once.
  CHECK(tracker.on_report(backfill_report(scheduled, "2026-01-05T11:00:00Z", Outcome::ok)));
  tracker.scan_done("m1", 0, false);
  CHECK_FALSE(tracker.on_report(backfill_report(scheduled, "2026-01-05T11:15:00Z", Outcome::ok)));
  // A failed scheduled read leaves a gap: the next good one scans.
  CHECK_FALSE(tracker.on_report(backfill_report(scheduled, "2026-01-05T11:30:00Z", Outcome::unreachable)));
  CHECK(tracker.on_report(backfill_report(scheduled, "2026-01-05T11:45:00Z", Outcome::ok)));
  tracker.scan_done("m1", 0, true);  // the store query failed: scanned again at the next good read
  CHECK(tracker.on_report(backfill_report(scheduled, "2026-01-05T12:00:00Z", Outcome::ok)));
}

TEST_CASE("backfill tracker: boundaries the meter cannot supply are not planned again", "[backfill]") {
  BackfillTracker tracker(depth(24h));
  const auto backfill = storage::ReadSource::backfill;
  REQUIRE(tracker.on_report(backfill_report(storage::ReadSource::scheduled, "2026-01-05T10:00:00Z", Outcome::ok)));
  tracker.scan_done("m1", 1, false);
  // The meter was powered off 08:45..09:30: it has no records for the chunk 08:45 (re-read) .. 09:30.
  CHECK_FALSE(tracker.on_report(backfill_report(backfill, "2026-01-05T09:30:00Z", Outcome::missing_record, 4)));
  CHECK(tracker.outstanding("m1") == 0);
  // Not a failure a later read mends: no rescan.
  CHECK_FALSE(tracker.on_report(backfill_report(storage::ReadSource::scheduled, "2026-01-05T10:15:00Z", Outcome::ok)));
  const auto unfillable = tracker.unfillable("m1", utc("2026-01-04T10:00:00Z"));
  CHECK(unfillable == std::vector<UtcSeconds>{utc("2026-01-05T09:00:00Z"), utc("2026-01-05T09:15:00Z"),
                                              utc("2026-01-05T09:30:00Z")});
  // A later scan (after a failed scheduled read) plans around them.
  auto s = stored({"2026-01-05T08:45:00Z"});
  add_unfillable(s, unfillable);
  CHECK(plan_backfill(kBackfillMeter, s, utc("2026-01-05T09:45:00Z"), depth(24h), utc_ms("2026-01-05T10:00:00Z"))
            .empty());
  const auto without = plan_backfill(kBackfillMeter, stored({"2026-01-05T08:45:00Z"}),
                                     utc("2026-01-05T09:45:00Z"), depth(24h), utc_ms("2026-01-05T10:00:00Z"));
  CHECK_FALSE(without.empty());
  // Bounded: boundaries older than the window are forgotten.
  CHECK(tracker.unfillable("m1", utc("2026-01-05T09:15:00Z")).size() == 2);
  CHECK(tracker.unfillable("m1", utc("2026-01-05T09:15:00Z")).front() == utc("2026-01-05T09:15:00Z"));
}
