// plan_backfill (headend/collection/backfill.hpp): which load-profile and freeze reads fill a meter's gaps.
#include <catch2/catch.hpp>

#include "headend/collection/backfill.hpp"

#include <algorithm>

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

TEST_CASE("backfill_never_read: a meter without an older read is read back to the window's start", "[backfill]") {
  const auto now = utc_ms("2026-01-05T02:50:00Z");
  BackfillOptions options = depth(2h);
  options.never_read = true;
  // Never read: the window edge 00:45 is re-read, every boundary after it up to 02:30 is read.
  const auto fresh = plan_backfill(kBackfillMeter, stored({}), utc("2026-01-05T02:45:00Z"), options, now);
  REQUIRE(fresh.size() == 1);
  CHECK(spans(fresh).front().first == utc("2026-01-05T00:45:00Z"));
  CHECK(fresh.back().boundary == utc("2026-01-05T02:30:00Z"));
  int boundaries = 0;
  for (const auto& j : fresh) boundaries += j.records - 1;
  CHECK(boundaries == 7);  // 01:00 .. 02:30
  // History starting inside the window: the boundaries before its first read are read too.
  const auto late = plan_backfill(kBackfillMeter, stored({"2026-01-05T02:00:00Z", "2026-01-05T02:15:00Z",
                                                          "2026-01-05T02:30:00Z"}),
                                  utc("2026-01-05T02:45:00Z"), options, now);
  REQUIRE(late.size() == 1);
  CHECK(spans(late).front() == std::pair{utc("2026-01-05T00:45:00Z"), utc("2026-01-05T01:45:00Z")});
  // Off (the default): the same meters have no gap.
  CHECK(plan_backfill(kBackfillMeter, stored({}), utc("2026-01-05T02:45:00Z"), depth(2h), now).empty());
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
  REQUIRE(tracker.on_report(0, backfill_report(scheduled, "2026-01-05T10:00:00Z", Outcome::ok)));  // first good read
  CHECK_FALSE(tracker.on_report(0, backfill_report(scheduled, "2026-01-05T10:15:00Z", Outcome::ok)));  // scan running
  tracker.scan_done(0, 3, false);
  CHECK(tracker.outstanding(0) == 3);
  // One chunk times out while two are still queued: no new scan, so nothing is planned twice.
  CHECK_FALSE(tracker.on_report(0, backfill_report(backfill, "2026-01-04T10:00:00Z", Outcome::timeout, 33)));
  CHECK_FALSE(tracker.on_report(0, backfill_report(scheduled, "2026-01-05T10:30:00Z", Outcome::ok)));
  CHECK_FALSE(tracker.on_report(0, backfill_report(backfill, "2026-01-04T18:00:00Z", Outcome::ok, 33)));
  CHECK_FALSE(tracker.on_report(0, backfill_report(scheduled, "2026-01-05T10:45:00Z", Outcome::ok)));
  CHECK_FALSE(tracker.on_report(0, backfill_report(backfill, "2026-01-05T02:00:00Z", Outcome::ok, 33)));
  CHECK(tracker.outstanding(0) == 0);
  // All back, the last failure was the transport: the next good scheduled read scans again, once.
  CHECK(tracker.on_report(0, backfill_report(scheduled, "2026-01-05T11:00:00Z", Outcome::ok)));
  tracker.scan_done(0, 0, false);
  CHECK_FALSE(tracker.on_report(0, backfill_report(scheduled, "2026-01-05T11:15:00Z", Outcome::ok)));
  // A failed scheduled read leaves a gap: the next good one scans.
  CHECK_FALSE(tracker.on_report(0, backfill_report(scheduled, "2026-01-05T11:30:00Z", Outcome::unreachable)));
  CHECK(tracker.on_report(0, backfill_report(scheduled, "2026-01-05T11:45:00Z", Outcome::ok)));
  tracker.scan_done(0, 0, true);  // the store query failed: scanned again at the next good read
  CHECK(tracker.on_report(0, backfill_report(scheduled, "2026-01-05T12:00:00Z", Outcome::ok)));
}

TEST_CASE("backfill tracker: boundaries the meter cannot supply are not planned again", "[backfill]") {
  auto load_profile_only = depth(24h);
  load_profile_only.freezes = false;  // freezes: "a refused load-profile chunk hands its hours to freezes"
  BackfillTracker tracker(load_profile_only);
  const auto backfill = storage::ReadSource::backfill;
  REQUIRE(tracker.on_report(0, backfill_report(storage::ReadSource::scheduled, "2026-01-05T10:00:00Z", Outcome::ok)));
  tracker.scan_done(0, 1, false);
  // The meter was powered off 08:45..09:30: it has no records for the chunk 08:45 (re-read) .. 09:30.
  CHECK_FALSE(tracker.on_report(0, backfill_report(backfill, "2026-01-05T09:30:00Z", Outcome::missing_record, 4)));
  CHECK(tracker.outstanding(0) == 0);
  // Not a failure a later read mends: no rescan.
  CHECK_FALSE(tracker.on_report(0, backfill_report(storage::ReadSource::scheduled, "2026-01-05T10:15:00Z", Outcome::ok)));
  const auto unfillable = tracker.unfillable(0, utc("2026-01-04T10:00:00Z"));
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
  CHECK(tracker.unfillable(0, utc("2026-01-05T09:15:00Z")).size() == 2);
  CHECK(tracker.unfillable(0, utc("2026-01-05T09:15:00Z")).front() == utc("2026-01-05T09:15:00Z"));
}

namespace {
BackfillOptions with_profile_depth(std::chrono::hours backfill, std::chrono::hours profile) {
  BackfillOptions o = depth(backfill);
  o.load_profile_depth = profile;
  return o;
}
std::vector<UtcSeconds> freeze_boundaries(const std::vector<ReadJob>& jobs, FreezeKind kind) {
  std::vector<UtcSeconds> out;
  for (const auto& j : jobs)
    if (j.freeze == kind) out.push_back(j.boundary);
  return out;
}
std::size_t load_profile_jobs(const std::vector<ReadJob>& jobs) {
  return static_cast<std::size_t>(
      std::count_if(jobs.begin(), jobs.end(), [](const ReadJob& j) { return j.freeze == FreezeKind::none; }));
}
}  // namespace

TEST_CASE("backfill: boundaries older than the load-profile depth go to hourly freezes, the rest to the load profile",
          "[backfill][freeze]") {
  // Offline 00:15 .. 05:45; the meter's load profile holds 2 hours: back to 04:30 at 06:15.
  const auto now = utc_ms("2026-01-05T06:15:05Z");
  const auto jobs = plan_backfill(kBackfillMeter, stored({"2026-01-05T00:00:00Z"}), utc("2026-01-05T06:00:00Z"),
                                  with_profile_depth(72h, 2h), now);
  CHECK(freeze_boundaries(jobs, FreezeKind::hourly) ==
        std::vector<UtcSeconds>{utc("2026-01-05T01:00:00Z"), utc("2026-01-05T02:00:00Z"), utc("2026-01-05T03:00:00Z"),
                                utc("2026-01-05T04:00:00Z")});
  CHECK(freeze_boundaries(jobs, FreezeKind::daily).empty());
  // 04:30 is the oldest record surely kept: the load profile re-reads it and reads 04:45 .. 05:45.
  REQUIRE(load_profile_jobs(jobs) == 1);
  CHECK(spans(jobs).front() == std::pair{utc("2026-01-05T04:30:00Z"), utc("2026-01-05T05:45:00Z")});
  for (const auto& j : jobs) {
    CHECK(j.source == storage::ReadSource::backfill);
    CHECK(j.priority == Priority::backfill);
    if (j.freeze != FreezeKind::none) CHECK(j.records == 1);
  }
  // Freezes off: only the load profile's part is read.
  auto off = with_profile_depth(72h, 2h);
  off.freezes = false;
  const auto without = plan_backfill(kBackfillMeter, stored({"2026-01-05T00:00:00Z"}), utc("2026-01-05T06:00:00Z"),
                                     off, now);
  CHECK(without.size() == 1);
}

TEST_CASE("backfill: a meter found without a load profile goes straight to freezes, daily beyond the hourly depth",
          "[backfill][freeze]") {
  // 12 days deep; last read 11 days ago at local midnight (16:00Z), read again now.
  const auto now = utc_ms("2026-01-16T16:20:00Z");
  const auto jobs = plan_backfill(kBackfillMeter, stored({"2026-01-05T16:00:00Z"}), utc("2026-01-16T16:15:00Z"),
                                  depth(12 * 24h), now, 15min);
  CHECK(load_profile_jobs(jobs) == 0);
  const auto hourly = freeze_boundaries(jobs, FreezeKind::hourly);
  const auto daily = freeze_boundaries(jobs, FreezeKind::daily);
  REQUIRE(hourly.size() == 254);  // the meter keeps 254 hourly freezes: 16:00 back to 06T03:00
  CHECK(hourly.front() == utc("2026-01-06T03:00:00Z"));
  CHECK(hourly.back() == utc("2026-01-16T16:00:00Z"));
  // Before that only local midnights: 2026-01-05T16:00Z is stored, so none is missing there.
  CHECK(daily.empty());
  const auto deeper = plan_backfill(kBackfillMeter, stored({"2026-01-04T16:00:00Z"}),
                                    utc("2026-01-16T16:15:00Z"), depth(13 * 24h), now, 15min);
  CHECK(freeze_boundaries(deeper, FreezeKind::daily) == std::vector<UtcSeconds>{utc("2026-01-05T16:00:00Z")});
  // No duplicate plans: one read per boundary.
  auto all = freeze_boundaries(deeper, FreezeKind::hourly);
  all.push_back(utc("2026-01-05T16:00:00Z"));
  std::sort(all.begin(), all.end());
  CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());
}

TEST_CASE("backfill tracker: a refused load-profile chunk hands its hours to freezes and remembers the meter",
          "[backfill][freeze]") {
  BackfillTracker tracker(depth(24h));
  const auto backfill = storage::ReadSource::backfill;
  REQUIRE(tracker.on_report(0, backfill_report(storage::ReadSource::scheduled, "2026-01-05T10:00:00Z", Outcome::ok)));
  tracker.scan_done(0, 1, false);
  CHECK_FALSE(tracker.load_profile_reach(0));
  // ERR no_requested_data to the chunk 07:45 (re-read) .. 09:30: 08:00 and 09:00 have hourly freezes.
  CHECK_FALSE(tracker.on_report(0, backfill_report(backfill, "2026-01-05T09:30:00Z", Outcome::meter_error, 8)));
  CHECK(tracker.load_profile_reach(0) == std::chrono::seconds{105min});  // asked at 09:30 for 07:45
  const auto follow_ups = tracker.take_follow_ups();
  CHECK(freeze_boundaries(follow_ups, FreezeKind::hourly) ==
        std::vector<UtcSeconds>{utc("2026-01-05T08:00:00Z"), utc("2026-01-05T09:00:00Z")});
  CHECK(tracker.take_follow_ups().empty());  // taken once
  CHECK(tracker.outstanding(0) == 2);
  // The other boundaries are unfillable (VEE estimates them between the freezes).
  CHECK(tracker.unfillable(0, utc("2026-01-04T10:00:00Z")).size() == 5);
  // No scan while the freeze reads are outstanding.
  CHECK_FALSE(tracker.on_report(0, backfill_report(storage::ReadSource::scheduled, "2026-01-05T10:15:00Z", Outcome::unreachable)));
  CHECK_FALSE(tracker.on_report(0, backfill_report(storage::ReadSource::scheduled, "2026-01-05T10:30:00Z", Outcome::ok)));
  auto done = backfill_report(backfill, "2026-01-05T08:00:00Z", Outcome::ok, 1);
  done.job.freeze = FreezeKind::hourly;
  CHECK_FALSE(tracker.on_report(0, done));
  // The meter has no 09:00 freeze either: unfillable, and no further follow-up.
  auto refused = backfill_report(backfill, "2026-01-05T09:00:00Z", Outcome::meter_error, 1);
  refused.job.freeze = FreezeKind::hourly;
  CHECK_FALSE(tracker.on_report(0, refused));
  CHECK(tracker.take_follow_ups().empty());
  CHECK(tracker.outstanding(0) == 0);
  CHECK(tracker.unfillable(0, utc("2026-01-04T10:00:00Z")).size() == 6);
  // The rescan (the scheduled read at 10:15 failed) plans what is older than the reach as freezes.
  CHECK(tracker.on_report(0, backfill_report(storage::ReadSource::scheduled, "2026-01-05T10:45:00Z", Outcome::ok)));
  const auto rescan = plan_backfill(kBackfillMeter, stored({"2026-01-05T06:45:00Z", "2026-01-05T10:00:00Z"}),
                                    utc("2026-01-05T10:30:00Z"), depth(24h), utc_ms("2026-01-05T10:45:00Z"),
                                    tracker.load_profile_reach(0));
  CHECK(freeze_boundaries(rescan, FreezeKind::hourly) == std::vector<UtcSeconds>{utc("2026-01-05T07:00:00Z"),
                                                                                  utc("2026-01-05T08:00:00Z"),
                                                                                  utc("2026-01-05T09:00:00Z")});
  // 09:15 (10:45 - 105 min, re-read) .. 09:45, and 10:15: the load profile.
  REQUIRE(load_profile_jobs(rescan) == 2);
  CHECK(spans(rescan).front() == std::pair{utc("2026-01-05T09:15:00Z"), utc("2026-01-05T09:45:00Z")});
  // A load-profile chunk older than the reach that succeeds: the meter's memory is deeper after all.
  tracker.scan_done(0, 1, false);
  auto deeper_ok = backfill_report(backfill, "2026-01-05T09:00:00Z", Outcome::ok, 8);
  deeper_ok.attempts.back().started_at = utc_ms("2026-01-05T11:00:00Z");  // 07:15 is 225 minutes old then
  CHECK_FALSE(tracker.on_report(0, deeper_ok));
  CHECK_FALSE(tracker.load_profile_reach(0));
}

TEST_CASE("backfill tracker: a refused scheduled read sends the meter's gaps to freezes; the register reads standing in "
          "count for scans and keep the reach",
          "[backfill][freeze]") {
  BackfillTracker tracker(depth(24h));
  const auto scheduled = storage::ReadSource::scheduled;
  // No load profile: ERR to the scheduled read at 11:00. The scheduler reads the registers instead
  // (scheduler.hpp); the tracker plans nothing in its place.
  CHECK_FALSE(tracker.on_report(0, backfill_report(scheduled, "2026-01-05T11:00:00Z", Outcome::meter_error)));
  CHECK(tracker.load_profile_reach(0) == std::chrono::seconds{0});
  CHECK(tracker.take_follow_ups().empty());
  CHECK(tracker.outstanding(0) == 0);
  // The register read of the same boundary comes back good: the meter's first good read, scanned;
  // its one snapshot at B says nothing about how far the load profile reaches.
  auto registers = backfill_report(scheduled, "2026-01-05T11:00:00Z", Outcome::ok, 1);
  registers.job.current_registers = true;
  registers.attempts.back().started_at = utc_ms("2026-01-05T11:01:00Z");
  CHECK(tracker.on_report(0, registers));
  tracker.scan_done(0, 0, false);
  CHECK(tracker.load_profile_reach(0) == std::chrono::seconds{0});
  auto next = backfill_report(scheduled, "2026-01-05T11:15:00Z", Outcome::ok, 1);
  next.job.current_registers = true;
  next.attempts.back().started_at = utc_ms("2026-01-05T11:16:00Z");
  CHECK_FALSE(tracker.on_report(0, next));  // scanned already, nothing failed since
  CHECK(tracker.load_profile_reach(0) == std::chrono::seconds{0});
  // A good scheduled load-profile read (the midnight probe): the meter has a load profile after all.
  CHECK_FALSE(tracker.on_report(0, backfill_report(scheduled, "2026-01-05T11:30:00Z", Outcome::ok)));
  CHECK_FALSE(tracker.load_profile_reach(0));
  // A backfill freeze the meter has not taken yet (its clock behind): not unfillable, asked again later.
  auto freeze = backfill_report(storage::ReadSource::backfill, "2026-01-05T12:00:00Z", Outcome::missing_record, 1);
  freeze.job.freeze = FreezeKind::hourly;
  freeze.attempts.back().started_at = utc_ms("2026-01-05T12:00:40Z");
  CHECK_FALSE(tracker.on_report(0, freeze));
  CHECK(tracker.unfillable(0, utc("2026-01-05T00:00:00Z")).empty());
  // Refused again two hours later: a freeze that old is unfillable.
  freeze.attempts.back().started_at = utc_ms("2026-01-05T14:00:00Z");
  CHECK_FALSE(tracker.on_report(0, freeze));
  CHECK(tracker.unfillable(0, utc("2026-01-05T00:00:00Z")) == std::vector<UtcSeconds>{utc("2026-01-05T12:00:00Z")});
}

TEST_CASE("backfill tracker: a fleet change carries each meter's counts, unfillable boundaries and reach to its new "
          "position",
          "[backfill]") {
  auto load_profile_only = depth(24h);
  load_profile_only.freezes = false;
  BackfillTracker tracker(load_profile_only);
  const auto scheduled = storage::ReadSource::scheduled;
  const auto backfill = storage::ReadSource::backfill;
  // Meter at 1: a scan with two reads out, one refused (reach known, boundaries unfillable).
  REQUIRE(tracker.on_report(1, backfill_report(scheduled, "2026-01-05T10:00:00Z", Outcome::ok)));
  tracker.scan_done(1, 2, false);
  CHECK_FALSE(tracker.on_report(1, backfill_report(backfill, "2026-01-05T09:30:00Z", Outcome::meter_error, 4)));
  REQUIRE(tracker.load_profile_reach(1) == std::chrono::seconds{45min});
  // Meter at 2: read once, nothing to remember beyond its scan.
  REQUIRE(tracker.on_report(2, backfill_report(scheduled, "2026-01-05T10:00:00Z", Outcome::ok)));
  tracker.scan_done(2, 0, false);
  // New fleet: the meter from 2 now at 0, a new meter at 1, the meter from 1 now at 2; 0 left.
  tracker.remap({2, kNoMeterIndex, 1});
  CHECK(tracker.outstanding(2) == 1);
  CHECK(tracker.load_profile_reach(2) == std::chrono::seconds{45min});
  CHECK(tracker.unfillable(2, utc("2026-01-04T10:00:00Z")).size() == 3);
  CHECK_FALSE(tracker.load_profile_reach(1));
  CHECK(tracker.unfillable(1, utc("2026-01-04T10:00:00Z")).empty());
  CHECK(tracker.outstanding(1) == 0);
  CHECK(tracker.on_report(1, backfill_report(scheduled, "2026-01-05T10:15:00Z", Outcome::ok)));  // fresh: scans
  CHECK_FALSE(tracker.load_profile_reach(0));
  CHECK_FALSE(tracker.on_report(0, backfill_report(scheduled, "2026-01-05T10:15:00Z", Outcome::ok)));  // scanned
  // A good load-profile read older than the reach forgets it at the new position.
  auto deeper_ok = backfill_report(backfill, "2026-01-05T09:00:00Z", Outcome::ok, 8);
  deeper_ok.attempts.back().started_at = utc_ms("2026-01-05T11:00:00Z");
  CHECK_FALSE(tracker.on_report(2, deeper_ok));
  CHECK_FALSE(tracker.load_profile_reach(2));
  CHECK(tracker.outstanding(2) == 0);
}
