#include <catch2/catch.hpp>

#include <map>

#include "storage/kpi.hpp"
#include "tests/unit/monitor/fleet_fixture.hpp"

using ami::monitor::test::Behaviour;
using ami::monitor::test::Fleet;
using ami::monitor::test::TempStore;
using namespace std::chrono;
namespace st = ami::storage;

namespace {

const st::LocalDay kDay = *st::parse_day("2026-01-05");
const st::KpiOptions kOptions{};  // UTC+8, deadline 06:00 next day

ami::UtcSeconds day_start() { return st::day_start_utc(kDay, kOptions.utc_offset_minutes); }

// One day of 96 intervals: boundaries 0..96 (boundary 0 is the previous day's last end).
Fleet one_day_fleet() {
  Fleet fleet(day_start(), 97);
  fleet.backfill_at = ami::UtcMillis{day_start() + hours{24 + 8}};  // D+1 08:00 local: after the deadline
  fleet.add("M-ok", "tcp://10.0.0.1:8899", "dlt645-generic", "district=north;feeder=F1");
  fleet.add("M-retry", "tcp://10.0.0.1:8899", "dlt645-generic", "district=north;feeder=F1").overrides[10] =
      Behaviour::retry_ok;
  fleet.add("M-down", "tcp://10.0.0.2:8899", "DTSU666", "district=south;feeder=F2", Behaviour::refused);
  auto& err = fleet.add("M-err", "tcp://10.0.0.1:8899", "DTSU666", "district=north;feeder=F1");
  for (int k = 20; k <= 23; ++k) err.overrides[k] = Behaviour::meter_error;
  auto& bf = fleet.add("M-bf", "tcp://10.0.0.1:8899", "dlt645-generic", "district=north;feeder=F3");
  bf.overrides[40] = Behaviour::backfilled;
  bf.overrides[41] = Behaviour::backfilled;
  return fleet;
}

std::map<std::string, st::MeterDay> by_meter(const std::vector<st::MeterDay>& rows) {
  std::map<std::string, st::MeterDay> out;
  for (const auto& r : rows) out.emplace(r.meter_id, r);
  return out;
}

}  // namespace

TEST_CASE("kpi: day arithmetic at the utility's offset", "[monitor][kpi]") {
  CHECK(st::format_day(kDay) == "2026-01-05");
  CHECK(ami::format_utc(day_start()) == "2026-01-04T16:00:00Z");
  CHECK(st::day_of(*ami::parse_utc("2026-01-04T16:00:00Z"), 480) == kDay);
  CHECK(st::day_of(*ami::parse_utc("2026-01-04T15:59:59Z"), 480) == kDay - days{1});
  CHECK_FALSE(st::parse_day("2026-02-30").has_value());
  CHECK_FALSE(st::parse_day("2026-1-05").has_value());
  CHECK_FALSE(st::parse_day("yesterday").has_value());
}

TEST_CASE("kpi: per meter per day completeness by stage, on-time and failure reasons", "[monitor][kpi]") {
  TempStore db("kpi-day");
  {
    st::StoreWriter writer(ami::monitor::test::store_options(db.path()));
    one_day_fleet().write(writer);
  }
  st::KpiQueries kpi(db.path());
  const auto rows = by_meter(kpi.meter_days(kDay, 1, day_start() + hours{48}, kOptions));
  REQUIRE(rows.size() == 5);

  const auto& ok = rows.at("M-ok");
  CHECK(ok.expected == 96);
  CHECK(ok.first_attempt == 96);
  CHECK(ok.after_retries == 96);
  CHECK(ok.after_backfill == 96);
  CHECK(ok.on_time == 96);
  CHECK(ok.boundaries_attempted == 96);
  CHECK(ok.boundaries_ok == 96);
  CHECK(ok.attempts == 96);
  CHECK(ok.complete());
  CHECK_FALSE(ok.failing());
  CHECK(ok.gateway == "tcp://10.0.0.1:8899");
  CHECK(ok.tags == "district=north;feeder=F1");

  const auto& retry = rows.at("M-retry");
  CHECK(retry.first_attempt == 94);  // the intervals ending at boundary 10 and 11
  CHECK(retry.after_retries == 96);
  CHECK(retry.attempts == 97);
  CHECK(retry.complete());
  CHECK_FALSE(retry.failing());

  const auto& down = rows.at("M-down");
  CHECK(down.expected == 96);
  CHECK(down.after_backfill == 0);
  CHECK(down.boundaries_failed_transport == 96);
  CHECK(down.boundaries_failed_meter == 0);
  CHECK(down.attempts == 288);
  REQUIRE(down.reasons.size() == 1);
  CHECK(down.reasons[0].outcome == "connection_refused");
  CHECK(down.reasons[0].category == "transport");
  CHECK(down.reasons[0].boundaries == 96);
  REQUIRE(down.last_failure.has_value());
  CHECK(down.last_failure->outcome == "connection_refused");
  CHECK(down.last_failure->detail == "scripted connection_refused");
  CHECK(down.last_failure->boundary == day_start() + hours{24});
  CHECK(down.failing());

  const auto& err = rows.at("M-err");
  CHECK(err.after_backfill == 91);  // boundaries 20..23 missing -> intervals ending 20..24
  CHECK(err.first_attempt == 91);
  CHECK(err.boundaries_failed_meter == 4);
  CHECK(err.boundaries_failed_transport == 0);
  REQUIRE(err.reasons.size() == 1);
  CHECK(err.reasons[0].outcome == "meter_error");
  CHECK(err.reasons[0].category == "meter");
  CHECK_FALSE(err.complete());

  const auto& bf = rows.at("M-bf");
  CHECK(bf.after_backfill == 96);
  CHECK(bf.after_retries == 93);   // intervals ending 40, 41, 42 needed the backfill reads
  CHECK(bf.first_attempt == 93);
  CHECK(bf.on_time == 93);         // the backfill came after D+1 06:00
  CHECK(bf.boundaries_failed_transport == 2);
  CHECK(bf.complete());
  CHECK(bf.failing());             // complete, but only thanks to backfill: still shown
}

TEST_CASE("kpi: nothing after as_of is expected or counted", "[monitor][kpi]") {
  TempStore db("kpi-asof");
  {
    st::StoreWriter writer(ami::monitor::test::store_options(db.path()));
    one_day_fleet().write(writer);
  }
  st::KpiQueries kpi(db.path());
  const auto rows = by_meter(kpi.meter_days(kDay, 1, day_start() + hours{4}, kOptions));
  CHECK(rows.at("M-ok").expected == 16);
  CHECK(rows.at("M-ok").after_backfill == 16);
  CHECK(rows.at("M-ok").boundaries_attempted == 16);
  CHECK(rows.at("M-err").complete());  // its failures come later in the day

  const auto before = kpi.meter_days(kDay, 1, day_start() - hours{1}, kOptions);
  REQUIRE(before.size() == 5);
  for (const auto& r : before) {
    CHECK(r.expected == 0);
    CHECK_FALSE(r.failing());
  }
}

TEST_CASE("kpi: chronic failures count consecutive incomplete days", "[monitor][kpi]") {
  TempStore db("kpi-chronic");
  const auto first_day = kDay - days{2};
  {
    // From the first boundary inside first_day, so no attempt falls on the day before.
    Fleet fleet(st::day_start_utc(first_day, 480) + minutes{15}, 3 * 96);
    fleet.add("A-ok", "tcp://10.0.0.1:8899", "m", "");
    fleet.add("B-dead", "tcp://10.0.0.2:8899", "m", "", Behaviour::refused);
    fleet.add("C-today", "tcp://10.0.0.1:8899", "m", "").overrides[2 * 96 + 49] = Behaviour::meter_error;
    fleet.add("D-first", "tcp://10.0.0.1:8899", "m", "").overrides[30] = Behaviour::meter_error;
    st::StoreWriter writer(ami::monitor::test::store_options(db.path()));
    fleet.write(writer);
  }
  st::KpiQueries kpi(db.path());
  const auto chronic = kpi.consecutive_failed_days(kDay, 7, day_start() + hours{30}, kOptions);
  const std::map<std::string, int> got(chronic.begin(), chronic.end());
  for (const auto& [meter, n] : got) UNSCOPED_INFO(meter << " failed " << n << " days");
  CHECK(got == std::map<std::string, int>{{"B-dead", 3}, {"C-today", 1}});
}

TEST_CASE("kpi: recent attempts of one meter, newest first", "[monitor][kpi]") {
  TempStore db("kpi-attempts");
  {
    st::StoreWriter writer(ami::monitor::test::store_options(db.path()));
    one_day_fleet().write(writer);
  }
  st::KpiQueries kpi(db.path());
  const auto attempts = kpi.recent_attempts("M-retry", day_start(), 3);
  REQUIRE(attempts.size() == 3);
  CHECK(attempts[0].boundary == day_start() + minutes{15 * 96});
  CHECK(attempts[0].outcome == "ok");
  CHECK(attempts[1].boundary == day_start() + minutes{15 * 95});
  const auto around_retry = kpi.recent_attempts("M-retry", day_start() + minutes{15 * 9}, 1000);
  REQUIRE(around_retry.size() == 96 - 9 + 1);
  const auto& retry = around_retry.back();  // boundary 10, attempt 1 (the older row)
  CHECK(retry.boundary == day_start() + minutes{150});
  CHECK(retry.attempt == 1);
  CHECK(retry.outcome == "timeout");
  CHECK(retry.category == "transport");
  CHECK(kpi.recent_attempts("nobody", day_start(), 10).empty());
}

TEST_CASE("kpi: opening a missing store names the path", "[monitor][kpi]") {
  CHECK_THROWS_WITH(st::KpiQueries("/nonexistent/dir/headend.db"), Catch::Contains("/nonexistent/dir/headend.db"));
}

TEST_CASE("kpi: each meter's day follows its registry utc_offset_minutes in a mixed fleet", "[monitor][kpi]") {
  TempStore db("kpi-offsets");
  // 2026-01-04T16:00Z (UTC+8 midnight of kDay) to 2026-01-06T16:00Z: every meter's kDay and kDay+1.
  Fleet fleet(day_start(), 2 * 96 + 1);
  // 2026-01-05T20:00Z fails for everyone: 04:00 on Jan 6 for A, 20:00 / 15:00 on Jan 5 for B / C.
  const int failed_boundary = 28 * 4;  // 28 h after 2026-01-04T16:00Z
  for (const auto& [id, offset] : {std::pair{"A-utc8", 480}, std::pair{"B-utc", 0}, std::pair{"C-utc-5", -300}}) {
    auto& m = fleet.add(id, "tcp://10.0.0.1:8899", "m", "");
    m.record.utc_offset_minutes = offset;
    m.overrides[failed_boundary] = Behaviour::meter_error;
  }
  REQUIRE(ami::format_utc(fleet.boundary(failed_boundary)) == "2026-01-05T20:00:00Z");
  {
    st::StoreWriter writer(ami::monitor::test::store_options(db.path()));
    fleet.write(writer);
  }
  st::KpiQueries kpi(db.path());
  const auto as_of = *ami::parse_utc("2026-01-07T00:00:00Z");
  std::map<std::pair<std::string, std::string>, st::MeterDay> rows;
  for (auto& r : kpi.meter_days(kDay, 2, as_of, kOptions)) rows.emplace(std::make_pair(r.meter_id, st::format_day(r.day)), r);
  REQUIRE(rows.size() == 6);

  const auto& a = rows.at({"A-utc8", "2026-01-05"});
  CHECK(a.utc_offset_minutes == 480);
  CHECK(a.expected == 96);
  CHECK(a.complete());
  CHECK(a.boundaries_failed_meter == 0);
  const auto& a_next = rows.at({"A-utc8", "2026-01-06"});
  CHECK(a_next.after_backfill == 94);  // intervals ending 20:00Z and 20:15Z
  CHECK(a_next.boundaries_failed_meter == 1);

  for (const auto* id : {"B-utc", "C-utc-5"}) {
    INFO(id);
    const auto& r = rows.at({id, "2026-01-05"});
    CHECK(r.expected == 96);
    CHECK(r.after_backfill == 94);
    CHECK(r.first_attempt == 94);
    CHECK(r.boundaries_failed_meter == 1);
    REQUIRE(r.last_failure.has_value());
    CHECK(ami::format_utc(r.last_failure->boundary) == "2026-01-05T20:00:00Z");
    const auto& next = rows.at({id, "2026-01-06"});
    CHECK(next.boundaries_failed_meter == 0);
  }
  // C's Jan 6 ends at 2026-01-07T05:00Z: as of 00:00Z only 19 h of it are expected, and the fleet
  // data stops at 2026-01-06T16:00Z (11 h into C's day).
  const auto& c_next = rows.at({"C-utc-5", "2026-01-06"});
  CHECK(c_next.expected == 19 * 4);
  CHECK(c_next.after_backfill == 11 * 4);
  // B's Jan 6 starts at its own midnight, 2026-01-06T00:00Z (a boundary of its Jan 5): its first
  // interval counts as read at the first attempt like every other one up to the data's end.
  const auto& b_next = rows.at({"B-utc", "2026-01-06"});
  CHECK(b_next.after_backfill == 16 * 4);
  CHECK(b_next.first_attempt == 16 * 4);
}

TEST_CASE("kpi: a long-lived KpiQueries folds in new commits and agrees with a fresh one", "[monitor][kpi]") {
  TempStore db("kpi-incremental");
  auto fleet = one_day_fleet();
  fleet.meter("M-ok").overrides[70] = Behaviour::retry_ok;  // a retry in the second half of the day
  st::StoreWriter writer(ami::monitor::test::store_options(db.path()));
  fleet.import(writer);
  fleet.write_boundaries(writer, 0, 50);

  st::KpiQueries live(db.path(), 10000, 2);
  const auto as_of = day_start() + hours{48};
  const auto half = by_meter(live.meter_days(kDay, 1, as_of, kOptions));
  CHECK(half.at("M-ok").after_backfill == 49);
  CHECK(half.at("M-down").boundaries_failed_transport == 49);
  CHECK(half.at("M-bf").after_backfill == 49);  // boundaries 40, 41 backfilled
  CHECK(half.at("M-bf").after_retries == 46);

  fleet.write_boundaries(writer, 50, 97);  // the rest of the day, then M-bf's backfill reads
  const auto expect_same = [&](const std::vector<st::MeterDay>& got, const std::vector<st::MeterDay>& want) {
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      INFO(got[i].meter_id << " " << st::format_day(got[i].day));
      CHECK(got[i].meter_id == want[i].meter_id);
      CHECK(got[i].expected == want[i].expected);
      CHECK(got[i].first_attempt == want[i].first_attempt);
      CHECK(got[i].after_retries == want[i].after_retries);
      CHECK(got[i].after_backfill == want[i].after_backfill);
      CHECK(got[i].on_time == want[i].on_time);
      CHECK(got[i].boundaries_attempted == want[i].boundaries_attempted);
      CHECK(got[i].boundaries_ok == want[i].boundaries_ok);
      CHECK(got[i].boundaries_failed_transport == want[i].boundaries_failed_transport);
      CHECK(got[i].boundaries_failed_meter == want[i].boundaries_failed_meter);
      CHECK(got[i].attempts == want[i].attempts);
      CHECK(got[i].reasons.size() == want[i].reasons.size());
      CHECK(got[i].last_failure.has_value() == want[i].last_failure.has_value());
      if (got[i].last_failure && want[i].last_failure) {
        CHECK(got[i].last_failure->boundary == want[i].last_failure->boundary);
      }
    }
  };
  const auto updated = live.meter_days(kDay, 1, as_of, kOptions);
  st::KpiQueries fresh(db.path());
  expect_same(updated, fresh.meter_days(kDay, 1, as_of, kOptions));
  const auto rows = by_meter(updated);
  CHECK(rows.at("M-ok").first_attempt == 94);
  CHECK(rows.at("M-ok").attempts == 97);
  CHECK(rows.at("M-bf").after_backfill == 96);
  CHECK(rows.at("M-bf").after_retries == 93);
  CHECK(rows.at("M-down").boundaries_failed_transport == 96);

  // Other days come and go (at most 2 held here); the day comes back with the same figures.
  live.meter_days(kDay - days{3}, 1, as_of, kOptions);
  live.meter_days(kDay - days{2}, 1, as_of, kOptions);
  CHECK(live.cached_days() == 2);
  expect_same(live.meter_days(kDay, 1, as_of, kOptions), updated);
  CHECK(live.cached_days() == 2);
}
