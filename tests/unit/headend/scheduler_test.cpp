#include <catch2/catch.hpp>

#include <functional>
#include <map>
#include <set>

#include "headend/collection/backfill.hpp"
#include "headend/collection/register_read.hpp"
#include "headend/collection/scheduler.hpp"
#include "tests/unit/headend/run_coroutine.hpp"
#include "protocols/dlt645/catalogue.hpp"
#include "protocols/dlt645/messages.hpp"

using namespace ami;
using namespace ami::collection;
using namespace std::chrono_literals;

namespace {

// 15 simulated minutes per 10 real milliseconds, starting now at 2026-01-05T00:00:00Z.
Clock fast_clock(std::int64_t speed = 90'000) {
  const auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  return Clock::accelerated(UtcMillis{*parse_utc("2026-01-05T00:00:00Z")}, speed, now);
}

std::vector<MeterRef> meters(int n) {
  std::vector<MeterRef> out;
  for (int i = 0; i < n; ++i) {
    MeterTarget m{"m" + std::to_string(i), "dlt645-2007", "tcp://127.0.0.1:1", {}, 480};
    // A register read standing in for a refused load-profile read must start within this of B:
    // 14 simulated minutes are ~90 real ms at the tests' 9,000x, room for a loaded (sanitizer) run.
    m.register_tolerance = std::chrono::minutes{14};
    out.push_back(make_meter_ref(std::move(m)));
  }
  return out;
}

JobReport ok_report(const ReadJob& job) {
  JobReport r;
  r.job = job;
  r.attempts.push_back({1, Outcome::ok, "", job.not_before, 5});
  r.snapshots.push_back({job.boundary - job.interval, 1000, 10});
  r.snapshots.push_back({job.boundary, 1100, 10});
  r.collected_at = job.not_before;
  return r;
}

// A scheduler whose gateway answers each job at once with answer(job), run until `cycles_wanted`
// cycles completed.
struct AnsweredRun {
  std::vector<CycleReport> cycles;
  std::vector<ReadJob> dispatched;
  std::map<std::string, MeterState> states;  // by meter id, at the end of the run
};

AnsweredRun run_answered_cycles(int meter_count, SchedulerOptions options, std::size_t cycles_wanted,
                                const std::function<JobReport(const ReadJob&)>& answer, Clock clock = fast_clock()) {
  asio::io_context io;
  AnsweredRun out;
  Scheduler* self = nullptr;
  Scheduler scheduler(
      io.get_executor(), clock, options, meters(meter_count),
      [&](ReadJob job) {
        out.dispatched.push_back(job);
        asio::post(io, [&, job] { self->on_job_report(answer(job)); });
      },
      [&](const CycleReport& r) { out.cycles.push_back(r); });
  self = &scheduler;
  asio::co_spawn(io, scheduler.run(), asio::detached);
  REQUIRE(test::run_until(io, [&] { return out.cycles.size() >= cycles_wanted; }, 10s));
  scheduler.stop();
  for (const auto& m : scheduler.meters()) out.states[m->meter_id] = *scheduler.state_of(m->meter_id);
  return out;
}

}  // namespace

TEST_CASE("boundaries are aligned to the interval since the epoch", "[scheduler]") {
  const auto at = [](const char* t) { return UtcMillis{*parse_utc(t)}; };
  CHECK(first_boundary_at_or_after(at("2026-01-05T00:00:00Z"), 15min) == *parse_utc("2026-01-05T00:00:00Z"));
  CHECK(first_boundary_at_or_after(at("2026-01-05T00:00:00Z") + 1ms, 15min) == *parse_utc("2026-01-05T00:15:00Z"));
  CHECK(first_boundary_at_or_after(at("2026-01-05T07:44:59Z"), 15min) == *parse_utc("2026-01-05T07:45:00Z"));
  CHECK(first_boundary_at_or_after(at("2026-01-05T07:44:59Z"), 60min) == *parse_utc("2026-01-05T08:00:00Z"));
  CHECK(first_boundary_at_or_after(at("2026-01-05T23:59:00Z"), 1440min) == *parse_utc("2026-01-06T00:00:00Z"));
}

TEST_CASE("each meter gets a stable slot inside the spread window", "[scheduler]") {
  SchedulerOptions options;
  options.settle = 2s;
  options.spread_window = 60s;
  const auto b = *parse_utc("2026-01-05T00:15:00Z");
  std::set<UtcMillis> slots;
  for (int i = 0; i < 20; ++i) {
    const auto id = "meter-" + std::to_string(i);
    const auto slot = spread_slot(b, options, id);
    CHECK(slot >= UtcMillis{b} + 2s);
    CHECK(slot < UtcMillis{b} + 62s);
    CHECK(spread_slot(b + 15min, options, id) - slot == 15min);  // same place next cycle
    slots.insert(slot);
  }
  CHECK(slots.size() > 10);  // spread out, not one instant
  options.spread_window = 0s;
  CHECK(spread_slot(b, options, "x") == UtcMillis{b} + 2s);
}

TEST_CASE("an accelerated scheduler runs every boundary in order, one read per meter each", "[scheduler]") {
  SchedulerOptions options;
  options.spread_window = 10s;
  const auto run = run_answered_cycles(3, options, 12, ok_report);
  const auto& cycles = run.cycles;
  const auto first = cycles.front().boundary;
  CHECK(first >= *parse_utc("2026-01-05T00:00:00Z"));
  for (std::size_t i = 0; i < cycles.size(); ++i) {
    INFO("cycle " << i);
    CHECK(cycles[i].boundary == first + 15min * static_cast<int>(i));
    CHECK(cycles[i].meters == 3);
    CHECK(cycles[i].meters_ok == 3);
    CHECK(cycles[i].intervals == 6);
    CHECK(cycles[i].retries() == 0);
  }
  for (const auto& job : run.dispatched) CHECK(job.not_before >= UtcMillis{job.boundary});
  CHECK(run.states.at("m1").consecutive_failures == 0);
  CHECK(run.states.at("m1").last_success_boundary >= cycles.back().boundary);
}

TEST_CASE("a scheduler that falls behind waits, then catches up without skipping a boundary", "[scheduler]") {
  asio::io_context io;
  const auto clock = fast_clock();
  SchedulerOptions options;
  options.max_outstanding_cycles = 2;
  std::vector<CycleReport> cycles;
  std::vector<ReadJob> held;  // jobs nobody answers yet: a stuck gateway
  Scheduler scheduler(
      io.get_executor(), clock, options, meters(2), [&](ReadJob job) { held.push_back(job); },
      [&](const CycleReport& r) { cycles.push_back(r); });
  asio::co_spawn(io, scheduler.run(), asio::detached);
  REQUIRE(test::run_until(io, [&] { return held.size() == 4; }, 5s));
  // Simulated time races on (many boundaries pass), but no third cycle starts while two are open.
  asio::steady_timer pause(io, 100ms);
  test::run_until(io, [&] { return pause.expiry() <= std::chrono::steady_clock::now(); }, 1s);
  CHECK(held.size() == 4);
  CHECK(scheduler.outstanding_cycles() == 2);
  CHECK(clock.now() > UtcMillis{held.front().boundary + 4 * 15min});

  // The gateway recovers: answer everything (newest first); cycles still complete in boundary order.
  const auto first_boundary = held.front().boundary;
  std::size_t answered = 0;
  REQUIRE(test::run_until(
      io,
      [&] {
        if (answered < held.size()) {
          const std::vector<ReadJob> batch(held.begin() + static_cast<std::ptrdiff_t>(answered), held.end());
          answered = held.size();
          for (auto it = batch.rbegin(); it != batch.rend(); ++it) scheduler.on_job_report(ok_report(*it));
        }
        return cycles.size() >= 8;
      },
      10s));
  CHECK(cycles.front().boundary == first_boundary);
  scheduler.stop();
  for (std::size_t i = 1; i < cycles.size(); ++i) CHECK(cycles[i].boundary == cycles[i - 1].boundary + 15min);
}

TEST_CASE("failures are counted per cycle and per meter", "[scheduler]") {
  const auto run = run_answered_cycles(2, SchedulerOptions{}, 3, [](const ReadJob& job) {
    auto report = ok_report(job);
    if (job.meter->meter_id == "m1") {
      report.snapshots.clear();
      report.attempts = {{1, Outcome::timeout, "no reply", job.not_before, 150},
                         {2, Outcome::connection_refused, "refused", job.not_before, 1}};
    }
    return report;
  });
  for (const auto& c : run.cycles) {
    CHECK(c.meters_ok == 1);
    CHECK(c.retries() == 1);
    CHECK(c.intervals == 2);
    REQUIRE(c.failed.size() == 1);
    CHECK(c.failed[0].meter_id == "m1");
    CHECK(c.failed[0].outcome == Outcome::connection_refused);
  }
  CHECK(run.states.at("m1").consecutive_failures >= 3);
  CHECK_FALSE(run.states.at("m1").last_success);
}

TEST_CASE("a single-snapshot read (Modbus) counts its interval when the previous boundary was read", "[scheduler]") {
  const auto run = run_answered_cycles(1, SchedulerOptions{}, 3, [](const ReadJob& job) {
    auto report = ok_report(job);
    report.snapshots = {{job.boundary, 1100, std::nullopt}};  // only B, only forward
    return report;
  });
  CHECK(run.cycles[0].intervals == 0);  // nothing read before the first boundary
  CHECK(run.cycles[1].intervals == 1);
  CHECK(run.cycles[2].intervals == 1);
}

TEST_CASE("set_meters: cycles started afterwards read the new meter set, states follow", "[scheduler]") {
  asio::io_context io;
  std::vector<CycleReport> cycles;
  std::vector<ReadJob> dispatched;
  Scheduler* self = nullptr;
  SchedulerOptions options;
  options.spread_window = 10s;
  Scheduler scheduler(
      io.get_executor(), fast_clock(), options, meters(2),
      [&](ReadJob job) {
        dispatched.push_back(job);
        asio::post(io, [&, job] { self->on_job_report(ok_report(job)); });
      },
      [&](const CycleReport& r) {
        cycles.push_back(r);
        if (cycles.size() == 2) {
          // A registry change: m0 disabled, m7 added.
          auto changed = meters(2);
          changed.erase(changed.begin());
          changed.push_back(make_meter_ref({"m7", "dlt645-2007", "tcp://127.0.0.1:2", {}, 480}));
          self->set_meters(changed);
        }
      });
  self = &scheduler;
  asio::co_spawn(io, scheduler.run(), asio::detached);
  REQUIRE(test::run_until(io, [&] { return cycles.size() >= 6; }, 10s));
  scheduler.stop();
  // Cycles that started after the change (allowing for those already outstanding) read m1 and m7.
  const auto& last = cycles.back();
  CHECK(last.meters == 2);
  CHECK(last.meters_ok == 2);
  std::set<std::string> last_ids;
  for (const auto& job : dispatched)
    if (job.boundary == last.boundary) last_ids.insert(job.meter->meter_id);
  CHECK(last_ids == std::set<std::string>{"m1", "m7"});
  CHECK(scheduler.state_of("m0") == nullptr);
  REQUIRE(scheduler.state_of("m7") != nullptr);
  CHECK(scheduler.state_of("m7")->last_success_boundary == last.boundary);
  REQUIRE(scheduler.state_of("m1") != nullptr);
  CHECK(scheduler.state_of("m1")->consecutive_failures == 0);
}

TEST_CASE("per-meter state by position: a job's index finds its meter, a stale index after a change falls back to the id",
          "[scheduler]") {
  asio::io_context io;
  std::vector<ReadJob> dispatched;
  auto fleet = meters(3);
  Scheduler scheduler(
      io.get_executor(), fast_clock(), SchedulerOptions{}, fleet, [&](ReadJob job) { dispatched.push_back(job); },
      [](const CycleReport&) {});
  REQUIRE(scheduler.find("m1") != nullptr);
  CHECK(*scheduler.find("m1") == fleet[1]);
  CHECK(scheduler.find("m9") == nullptr);
  ReadJob job;
  job.meter = fleet[1];
  job.meter_index = 1;
  job.boundary = *parse_utc("2026-01-05T00:15:00Z");
  job.not_before = UtcMillis{job.boundary};
  scheduler.on_job_report(ok_report(job));
  REQUIRE(scheduler.state_of("m1") != nullptr);
  CHECK(scheduler.state_of("m1")->last_success_boundary == job.boundary);
  CHECK_FALSE(scheduler.state_of("m0")->last_success_boundary);
  CHECK_FALSE(scheduler.state_of("m2")->last_success_boundary);

  // Registry changes: the fleet reordered, then m0 removed (positions now: m2, m1).
  scheduler.set_meters({fleet[2], fleet[0], fleet[1]});
  scheduler.set_meters({fleet[2], fleet[1]});
  CHECK(scheduler.state_of("m0") == nullptr);
  CHECK(scheduler.state_of("m1")->last_success_boundary == job.boundary);  // kept across the change
  job.meter = fleet[2];  // a job made before the change: its index (2) is now out of range
  job.meter_index = 2;
  scheduler.on_job_report(ok_report(job));
  CHECK(scheduler.state_of("m2")->last_success_boundary == job.boundary);
  auto failed = ok_report(job);
  failed.job.meter = fleet[2];
  failed.job.meter_index = 1;  // stale: position 1 is m1 now
  failed.attempts.back().outcome = Outcome::timeout;
  scheduler.on_job_report(failed);
  CHECK(scheduler.state_of("m2")->consecutive_failures == 1);
  CHECK(scheduler.state_of("m1")->consecutive_failures == 0);
  // A report for a meter no longer in the fleet changes nobody's state.
  job.meter = fleet[0];
  job.meter_index = 0;
  failed.job = job;
  scheduler.on_job_report(failed);
  CHECK(scheduler.state_of("m2")->consecutive_failures == 1);
  CHECK(scheduler.state_of("m1")->consecutive_failures == 0);
}

TEST_CASE("a cycle's jobs carry their meter's position in the fleet", "[scheduler]") {
  const auto run = run_answered_cycles(4, SchedulerOptions{}, 1, ok_report);
  REQUIRE(run.dispatched.size() >= 4);
  for (std::size_t i = 0; i < 4; ++i) CHECK(run.dispatched[i].meter_index == i);
  CHECK(run.dispatched[3].meter->meter_id == "m3");
}

namespace {

// A DL/T 645-2007 meter without a load profile as meter-sim answers it: 06000001 refused with
// ERR 02, its current registers (00010000 / 00020000) read fine.
JobReport no_load_profile_answer(const ReadJob& job) {
  auto report = ok_report(job);
  if (job.current_registers) {
    report.snapshots = {{job.boundary, 1100, 10}};
    return report;
  }
  report.snapshots.clear();
  report.attempts = {{1, Outcome::meter_error, "ERR 02: no_requested_data", job.not_before, 5, std::uint8_t{0x02}},
                     {2, Outcome::meter_error, "ERR 02: no_requested_data", job.not_before, 5, std::uint8_t{0x02}}};
  return report;
}

// 15 simulated minutes per 100 real ms from `start`: slow enough that a register read stands in
// for a refused read well inside the meters' register tolerance (14 minutes, meters()).
Clock clock_from(const char* start) {
  const auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  return Clock::accelerated(UtcMillis{*parse_utc(start)}, 9'000, now);
}

}  // namespace

TEST_CASE("no load profile: a refused load-profile read is replaced by a register read in the same window, later "
          "cycles read the registers directly, every cycle succeeds",
          "[scheduler]") {
  const auto run = run_answered_cycles(1, SchedulerOptions{}, 4, no_load_profile_answer, clock_from("2026-01-05T10:00:00Z"));
  REQUIRE(run.cycles.size() >= 4);
  for (const auto& c : run.cycles) {
    INFO(format_utc(c.boundary));
    CHECK(c.meters_ok == 1);
    CHECK(c.failed.empty());
  }
  // The first cycle: the refused read (2 attempts) and the register read (1) that stood in.
  CHECK(run.cycles[0].attempts == 3);
  CHECK(run.cycles[1].attempts == 1);
  CHECK(run.cycles[0].intervals == 0);  // one snapshot, nothing read before
  CHECK(run.cycles[1].intervals == 2);  // both ends: the previous cycle's register read and this one
  REQUIRE(run.dispatched.size() >= 5);
  CHECK_FALSE(run.dispatched[0].current_registers);
  CHECK(run.dispatched[1].current_registers);
  CHECK(run.dispatched[1].boundary == run.dispatched[0].boundary);
  CHECK(run.dispatched[1].meter_index == 0);
  for (std::size_t i = 2; i < run.dispatched.size(); ++i) {
    CHECK(run.dispatched[i].current_registers);
    CHECK(run.dispatched[i].records == 1);
  }
  CHECK(run.states.at("m0").no_load_profile);
  CHECK(run.states.at("m0").consecutive_failures == 0);
}

TEST_CASE("no load profile: the load profile is probed again at UTC midnight; a meter that has one by then goes back "
          "to load-profile reads, one still without stays on registers",
          "[scheduler]") {
  // m0 gets its load profile switched on from 23:30; m1 never has one.
  const auto run = run_answered_cycles(
      2, SchedulerOptions{}, 6,
      [](const ReadJob& job) {
        if (job.meter->meter_id == "m0" && job.boundary >= *parse_utc("2026-01-05T23:30:00Z")) return ok_report(job);
        return no_load_profile_answer(job);
      },
      clock_from("2026-01-05T22:59:00Z"));
  std::map<std::string, std::vector<std::pair<std::string, bool>>> reads;  // meter -> (boundary, registers)
  for (const auto& j : run.dispatched)
    reads[j.meter->meter_id].emplace_back(format_utc(j.boundary).substr(11, 5), j.current_registers);
  using Reads = std::vector<std::pair<std::string, bool>>;
  // 23:00 refused then registers; registers (23:30 and 23:45 too: not probed before midnight);
  // 00:00 the probe succeeds; 00:15 load profile.
  CHECK(Reads(reads["m0"].begin(), reads["m0"].begin() + 7) ==
        Reads{{"23:00", false}, {"23:00", true}, {"23:15", true}, {"23:30", true}, {"23:45", true}, {"00:00", false},
              {"00:15", false}});
  // m1: the probe at 00:00 is refused again and read from its registers in the same window.
  CHECK(Reads(reads["m1"].begin(), reads["m1"].begin() + 8) ==
        Reads{{"23:00", false}, {"23:00", true}, {"23:15", true}, {"23:30", true}, {"23:45", true}, {"00:00", false},
              {"00:00", true}, {"00:15", true}});
  for (const auto& c : run.cycles) CHECK(c.meters_ok == 2);
  CHECK_FALSE(run.states.at("m0").no_load_profile);
  CHECK(run.states.at("m1").no_load_profile);
}

TEST_CASE("no load profile: a refusal too late for a register read fails the cycle; a registry change of the meter "
          "forgets the mark",
          "[scheduler]") {
  asio::io_context io;
  std::vector<ReadJob> dispatched;
  auto fleet = meters(2);
  Scheduler scheduler(
      io.get_executor(), fast_clock(), SchedulerOptions{}, fleet, [&](ReadJob job) { dispatched.push_back(job); },
      [](const CycleReport&) {});
  ReadJob job;
  job.meter = fleet[1];
  job.meter_index = 1;
  job.boundary = *parse_utc("2026-01-05T00:15:00Z");
  job.not_before = UtcMillis{job.boundary};
  // No cycle outstanding for this boundary: no stand-in, a failure like any other.
  scheduler.on_job_report(no_load_profile_answer(job));
  CHECK(dispatched.empty());
  REQUIRE(scheduler.state_of("m1") != nullptr);
  CHECK(scheduler.state_of("m1")->no_load_profile);
  CHECK(scheduler.state_of("m1")->consecutive_failures == 1);
  // Another ERR (unauthorized) is no sign of a missing load profile.
  auto other = no_load_profile_answer(job);
  other.job.meter = fleet[0];
  other.job.meter_index = 0;
  other.attempts.back().detail = "ERR 04: unauthorized";
  other.attempts.back().meter_err = 0x04;
  CHECK_FALSE(is_load_profile_refusal(other));
  // The ERR byte decides, not the words: bit 1 set among others is a refusal; a detail naming
  // no_requested_data without the byte (or with bit 1 clear) is not.
  auto mixed = other;
  mixed.attempts.back().meter_err = 0x03;  // other + no_requested_data
  CHECK(is_load_profile_refusal(mixed));
  auto worded_only = no_load_profile_answer(job);
  worded_only.attempts.back().meter_err.reset();
  CHECK_FALSE(is_load_profile_refusal(worded_only));
  worded_only.attempts.back().meter_err = 0x01;
  CHECK_FALSE(is_load_profile_refusal(worded_only));
  CHECK(is_load_profile_refusal(no_load_profile_answer(job)));
  scheduler.on_job_report(other);
  CHECK_FALSE(scheduler.state_of("m0")->no_load_profile);
  // An unchanged registry keeps the mark; a changed row (new target) forgets it.
  scheduler.set_meters(fleet);
  CHECK(scheduler.state_of("m1")->no_load_profile);
  auto changed = *fleet[1];
  changed.utc_offset_minutes = 420;
  scheduler.set_meters({fleet[0], make_meter_ref(changed)});
  CHECK_FALSE(scheduler.state_of("m1")->no_load_profile);
  CHECK(scheduler.state_of("m1")->consecutive_failures == 1);
  CHECK(is_load_profile_probe(*parse_utc("2026-01-06T00:00:00Z")));
  CHECK_FALSE(is_load_profile_probe(*parse_utc("2026-01-06T00:15:00Z")));
}

TEST_CASE("backfill tracker keyed by fleet position: a registry change remaps it the way the scheduler re-indexes",
          "[scheduler][backfill]") {
  asio::io_context io;
  auto fleet = meters(3);  // m0, m1, m2 at 0, 1, 2
  Scheduler scheduler(io.get_executor(), fast_clock(), SchedulerOptions{}, fleet, [](ReadJob) {},
                      [](const CycleReport&) {});
  BackfillTracker tracker(BackfillOptions{15min, 24h});
  const auto job_of = [&](std::uint32_t position, storage::ReadSource source, Outcome outcome, const char* at) {
    JobReport r;
    r.job.meter = fleet[position];
    r.job.meter_index = position;
    r.job.boundary = *parse_utc(at);
    r.job.source = source;
    r.job.records = 8;
    r.attempts.push_back({1, outcome, "", UtcMillis{r.job.boundary}, 5});
    r.collected_at = UtcMillis{r.job.boundary};
    return r;
  };
  // m1: a refused backfill chunk (reach learnt) whose boundaries without a freeze become unfillable.
  CHECK_FALSE(tracker.on_report(1, job_of(1, storage::ReadSource::backfill, Outcome::meter_error, "2026-01-05T10:45:00Z")));
  const auto m1_unfillable = tracker.unfillable(1, *parse_utc("2026-01-05T00:00:00Z"));
  REQUIRE_FALSE(m1_unfillable.empty());
  const auto m1_reach = tracker.load_profile_reach(1);
  REQUIRE(m1_reach);
  const auto m1_outstanding = tracker.outstanding(1);  // its freeze follow-ups
  REQUIRE(m1_outstanding > 0);
  for (const auto& f : tracker.take_follow_ups()) CHECK(f.meter_index == 1);
  // m2: its first good scheduled read starts a scan (outstanding until scan_done).
  CHECK(tracker.on_report(2, job_of(2, storage::ReadSource::scheduled, Outcome::ok, "2026-01-05T11:00:00Z")));
  CHECK(tracker.outstanding(2) == 1);
  CHECK(tracker.outstanding(0) == 0);

  // Registry change: m0 removed, m1's row changed, m3 added; the fleet is now m2, m1', m3.
  auto changed = *fleet[1];
  changed.utc_offset_minutes = 420;
  const auto m1_changed = make_meter_ref(changed);
  const auto m3 = make_meter_ref({"m3", "dlt645-2007", "tcp://127.0.0.1:1", {}, 480});
  const auto previous = scheduler.set_meters({fleet[2], m1_changed, m3});
  CHECK(previous == std::vector<std::uint32_t>{2, 1, kNoMeterIndex});
  tracker.remap(previous);
  CHECK(tracker.outstanding(0) == 1);  // m2's scan, now at 0
  CHECK(tracker.outstanding(1) == m1_outstanding);
  CHECK(tracker.unfillable(1, *parse_utc("2026-01-05T00:00:00Z")) == m1_unfillable);
  CHECK(tracker.load_profile_reach(1) == m1_reach);
  CHECK(tracker.outstanding(2) == 0);  // m3: fresh
  CHECK_FALSE(tracker.load_profile_reach(2));
  CHECK(tracker.unfillable(2, *parse_utc("2026-01-05T00:00:00Z")).empty());

  // A report made before the change finds its meter's new position; a removed meter's finds none.
  CHECK(scheduler.position_of(fleet[2], 2) == std::optional<std::uint32_t>{0});
  CHECK(scheduler.position_of(fleet[1], 1) == std::optional<std::uint32_t>{1});  // by id: same meter, new row
  CHECK(scheduler.position_of(m3, kNoMeterIndex) == std::optional<std::uint32_t>{2});
  CHECK_FALSE(scheduler.position_of(fleet[0], 0));
  // m2's scan finishes under its new position.
  tracker.scan_done(*scheduler.position_of(fleet[2], 2), 0, false);
  CHECK(tracker.outstanding(0) == 0);
  // A fleet that shrinks to nothing forgets every meter.
  tracker.remap(scheduler.set_meters({}));
  CHECK(tracker.outstanding(0) == 0);
  CHECK_FALSE(tracker.load_profile_reach(1));
}

TEST_CASE("register reads of a 2007 meter without a load profile: 00010000 / 00020000 decode to Wh, refusals and "
          "unavailable values say why",
          "[scheduler][register]") {
  std::string error;
  const auto address = *dlt645::Address::parse("000000010001", error);
  const auto* spec = register_read_spec("dlt645-2007");
  REQUIRE(spec != nullptr);
  CHECK(spec->forward_di == 0x00010000U);
  CHECK(spec->reverse_di == 0x00020000U);
  REQUIRE(register_read_spec("dlt645-1997") != nullptr);
  CHECK(register_read_spec("dlt645-1997")->forward_di == 0x9010U);
  CHECK(register_read_spec("modbus-sdm630") == nullptr);
  const auto* item = dlt645::find_data_item(dlt645::Edition::v2007, spec->forward_di);
  REQUIRE(item != nullptr);
  std::vector<std::uint8_t> value(item->fields[0].bytes);
  REQUIRE(dlt645::encode_number(item->fields[0], 1234567, value));  // 12345.67 kWh
  const auto reply = dlt645::make_read_reply(dlt645::Edition::v2007, address, spec->forward_di, value);
  CHECK(spec->answers(spec->forward_di, reply));
  CHECK_FALSE(spec->answers(spec->reverse_di, reply));  // a late forward reply is no answer to the reverse read
  const auto read = spec->interpret(spec->forward_di, reply);
  CHECK(read.outcome == Outcome::ok);
  CHECK(read.wh == std::optional<std::int64_t>{12'345'670});
  const auto request = spec->request(address, spec->reverse_di);
  CHECK(request.address == address);
  CHECK(request.control.function() == 0x11);
  // Refused: the meter's ERR, as for every 2007 read.
  const auto refused = dlt645::make_abnormal_reply(address, 0x11, 0x02);
  CHECK(spec->answers(spec->reverse_di, refused));
  const auto no_data = spec->interpret(spec->reverse_di, refused);
  CHECK(no_data.outcome == Outcome::meter_error);
  CHECK(no_data.detail.find("no_requested_data") != std::string::npos);
  // All FF: not available, not a value of zero.
  std::fill(value.begin(), value.end(), std::uint8_t{0xFF});
  const auto unavailable =
      spec->interpret(spec->forward_di, dlt645::make_read_reply(dlt645::Edition::v2007, address, spec->forward_di, value));
  CHECK(unavailable.outcome == Outcome::bad_reply);
  CHECK_FALSE(unavailable.wh);
}

TEST_CASE("channel index: the meters of one channel by position, rebuilt on a registry change", "[scheduler][clock_sync]") {
  asio::io_context io;
  const auto on = [](const char* id, const char* channel) {
    return make_meter_ref({id, "dlt645-2007", channel, {}, 480});
  };
  std::vector<MeterRef> fleet{on("a1", "tcp://10.0.0.1:1"), on("b1", "tcp://10.0.0.2:1"), on("a2", "tcp://10.0.0.1:1"),
                              on("c1", "serial:///dev/ttyS0?baud=2400"), on("a3", "tcp://10.0.0.1:1")};
  Scheduler scheduler(io.get_executor(), fast_clock(), SchedulerOptions{}, fleet, [](ReadJob) {},
                      [](const CycleReport&) {});
  const auto ids = [&](std::string_view channel) {
    std::vector<std::string> out;
    for (const auto i : scheduler.channel_positions(channel)) out.push_back(scheduler.meters()[i]->meter_id);
    return out;
  };
  CHECK(ids("tcp://10.0.0.1:1") == std::vector<std::string>{"a1", "a2", "a3"});
  CHECK(ids("tcp://10.0.0.2:1") == std::vector<std::string>{"b1"});
  CHECK(ids("serial:///dev/ttyS0?baud=2400") == std::vector<std::string>{"c1"});
  CHECK(ids("tcp://10.0.0.9:1").empty());
  CHECK(ids("tcp://10.0.0.1").empty());  // a prefix is another channel
  // a2 moves to the second gateway, a1 goes.
  scheduler.set_meters({fleet[1], on("a2", "tcp://10.0.0.2:1"), fleet[3], fleet[4]});
  CHECK(ids("tcp://10.0.0.1:1") == std::vector<std::string>{"a3"});
  CHECK(ids("tcp://10.0.0.2:1") == std::vector<std::string>{"b1", "a2"});
  scheduler.set_meters({});
  CHECK(ids("tcp://10.0.0.2:1").empty());
}
