#include <catch2/catch.hpp>

#include <functional>
#include <map>
#include <set>

#include "headend/collection/scheduler.hpp"
#include "tests/unit/headend/run_coroutine.hpp"

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
  for (int i = 0; i < n; ++i) out.push_back(make_meter_ref({"m" + std::to_string(i), "dlt645-2007", "tcp://127.0.0.1:1", {}, 480}));
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
                                const std::function<JobReport(const ReadJob&)>& answer) {
  asio::io_context io;
  AnsweredRun out;
  Scheduler* self = nullptr;
  Scheduler scheduler(
      io.get_executor(), fast_clock(), options, meters(meter_count),
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
