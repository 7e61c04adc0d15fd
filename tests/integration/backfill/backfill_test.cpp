// Backfill and meter clock sync end to end (issue 6): meter-sim serves DL/T 645-2007 meters with
// injected faults (offline windows, clock jumps), the headend daemon collects them on an
// accelerated clock, and the daemon's store is then compared with `meter-sim truth`.
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "protocols/common/clock.hpp"
#include "storage/kpi.hpp"
#include "storage/store_reader.hpp"
#include "tests/support/process.hpp"

using namespace std::chrono;
using ami::test::ChildProcess;
using json = nlohmann::json;

namespace {

constexpr std::int64_t kBackfillSpeed = 2400;  // 15 simulated minutes per 0.375 s
const char* const kBackfillStart = "2026-01-05T00:00:00Z";

ami::UtcSeconds sim_time(const char* t) { return *ami::parse_utc(t); }

// One run: a fleet file, the simulator, and daemon starts against one state directory.
class BackfillRun {
 public:
  BackfillRun(const std::string& name, int gateways, const std::string& fleet_extra, const std::string& config_extra)
      : dir_(ami::test::fresh_temp_dir(name)), bin_(ami::test::bin_dir()) {
    std::ofstream fleet(dir_ / "fleet.toml");
    fleet << "seed = 6060\n";
    for (int g = 0; g < gateways; ++g) {
      const auto port = ami::test::free_tcp_port();
      ports_.push_back(port);
      fleet << "[[gateway]]\ncount = 1\nmeters = 1\nprotocol = \"dlt645-2007\"\nbase_port = " << port << "\n";
    }
    fleet << fleet_extra;
    fleet.close();
    std::ofstream(dir_ / "meters.csv") << run_sim({"registry"});
    std::ofstream config(dir_ / "headend.toml");
    config << "[daemon]\nid = \"" << name << "\"\nstate_dir = \"" << (dir_ / "state").string() << "\"\n"
           << "log_level = \"info\"\n"
           << "[registry]\nimport_csv = \"" << (dir_ / "meters.csv").string() << "\"\n"
           << "[collection]\nsettle_seconds = 20\nspread_window_seconds = 30\nresponse_timeout_ms = 150\n"
           << "retries = 1\nretry_backoff_ms = 20\nreconnect_backoff_ms = 50\nreconnect_backoff_max_ms = 200\n"
           << config_extra << "[feed]\nlisten = \"127.0.0.1:" << ami::test::free_tcp_port() << "\"\n"
           << "[status]\nprint_cycle_lines = false\n";
    anchor_ms_ = ami::test::unix_ms_now() + 500;
    clock_ = ami::Clock::accelerated(ami::UtcMillis{sim_time(kBackfillStart)}, kBackfillSpeed,
                                     ami::UtcMillis{milliseconds{anchor_ms_}});
  }

  std::string run_sim(std::vector<std::string> args) const {
    args.insert(args.begin(), (bin_ / "meter-sim").string());
    args.insert(args.end(), {"--fleet", (dir_ / "fleet.toml").string()});
    return ami::test::run_and_capture(args);
  }

  std::vector<std::string> clock_args() const {
    return {"--clock", "accelerated", "--clock-start", kBackfillStart, "--clock-speed", std::to_string(kBackfillSpeed),
            "--clock-anchor", std::to_string(anchor_ms_)};
  }

  void start_simulator() {
    std::vector<std::string> argv = {(bin_ / "meter-sim").string(), "serve", "--fleet", (dir_ / "fleet.toml").string()};
    for (auto& a : clock_args()) argv.push_back(a);
    sim_ = std::make_unique<ChildProcess>(argv, dir_ / "sim.out", dir_ / "sim.err");
    for (const auto port : ports_) REQUIRE(ami::test::wait_for_port(port, seconds{10}));
  }

  void start_daemon() {
    ++starts_;
    std::vector<std::string> argv = {(bin_ / "headend").string(), "--config", (dir_ / "headend.toml").string()};
    for (auto& a : clock_args()) argv.push_back(a);
    daemon_ = std::make_unique<ChildProcess>(argv, dir_ / ("headend" + std::to_string(starts_) + ".out"),
                                             dir_ / ("headend" + std::to_string(starts_) + ".err"));
  }

  int stop_daemon() { return daemon_->stop(); }

  std::string daemon_log() const {
    std::string log;
    for (int i = 1; i <= starts_; ++i) log += ami::test::read_file(dir_ / ("headend" + std::to_string(i) + ".err"));
    return log;
  }

  void wait_until(const char* t, bool require_daemon = true) {
    while (clock_.now() < ami::UtcMillis{sim_time(t)}) {
      if (require_daemon) {
        INFO("daemon log:\n" << daemon_log());
        REQUIRE(daemon_->running());
      }
      std::this_thread::sleep_for(milliseconds{50});
    }
  }

  // Interval end -> (forward, reverse) Wh from the simulator's truth.
  std::map<ami::UtcSeconds, std::pair<std::int64_t, std::int64_t>> truth(const std::string& meter, const char* from,
                                                                          const char* to) const {
    return truth_series(meter, from, to, "intervals", "end");
  }
  // Boundary -> (forward, reverse) register Wh from the simulator's truth.
  std::map<ami::UtcSeconds, std::pair<std::int64_t, std::int64_t>> true_registers(const std::string& meter,
                                                                                   const char* from,
                                                                                   const char* to) const {
    return truth_series(meter, from, to, "boundaries", "t");
  }

  [[nodiscard]] std::filesystem::path database() const { return dir_ / "state" / "headend.db"; }
  ChildProcess& simulator() { return *sim_; }

 private:
  std::map<ami::UtcSeconds, std::pair<std::int64_t, std::int64_t>> truth_series(const std::string& meter,
                                                                                const char* from, const char* to,
                                                                                const char* list,
                                                                                const char* time_key) const {
    const auto j = json::parse(run_sim({"truth", "--meter", meter, "--from", from, "--to", to, "--format", "json"}));
    std::map<ami::UtcSeconds, std::pair<std::int64_t, std::int64_t>> out;
    for (const auto& e : j.at(list))
      out[*ami::parse_utc(e.at(time_key).get<std::string>())] = {e.at("forward_wh").get<std::int64_t>(),
                                                                 e.at("reverse_wh").get<std::int64_t>()};
    return out;
  }

  std::filesystem::path dir_;
  std::filesystem::path bin_;
  std::vector<unsigned short> ports_;
  std::int64_t anchor_ms_ = 0;
  ami::Clock clock_ = ami::Clock::real();
  std::unique_ptr<ChildProcess> sim_;
  std::unique_ptr<ChildProcess> daemon_;
  int starts_ = 0;
};

// The newest version of each interval of one meter/channel with end in (from, to].
std::map<ami::UtcSeconds, ami::storage::IntervalRecord> latest_intervals(ami::storage::StoreReader& store,
                                                                        const std::string& meter,
                                                                        ami::storage::EnergyChannel channel,
                                                                        const char* from, const char* to) {
  std::map<ami::UtcSeconds, ami::storage::IntervalRecord> latest;
  for (auto& iv : store.intervals(meter, channel, sim_time(from), sim_time(to))) {
    auto& slot = latest[iv.end];
    if (iv.version >= slot.version) slot = iv;
  }
  return latest;
}

// Every interval ending in (from, to] is stored, its newest version actual and equal to the truth.
void check_actual_equals_truth(BackfillRun& run, ami::storage::StoreReader& store, const std::string& meter,
                               const char* from, const char* to) {
  const auto truth = run.truth(meter, from, to);
  REQUIRE_FALSE(truth.empty());
  for (const auto channel : {ami::storage::EnergyChannel::forward_active, ami::storage::EnergyChannel::reverse_active}) {
    const auto latest = latest_intervals(store, meter, channel, from, to);
    for (const auto& [end, values] : truth) {
      INFO("meter " << meter << " " << ami::storage::to_string(channel) << " interval ending " << ami::format_utc(end));
      const auto it = latest.find(end);
      REQUIRE(it != latest.end());
      CHECK(it->second.status == ami::storage::IntervalStatus::actual);
      CHECK(it->second.value_wh ==
            (channel == ami::storage::EnergyChannel::forward_active ? values.first : values.second));
    }
  }
}

}  // namespace

TEST_CASE("backfill: a meter offline for 6 simulated hours gets its gap filled with actual values equal to truth",
          "[integration][backfill]") {
  // gw002-m0001 is offline 00:40 .. 06:40; once it answers again, backfill reads its load-profile
  // memory for the missing boundaries. (With [vee] on, VEE's estimates of the gap are superseded by
  // these actual versions: the store's versioning, docs/STORAGE.md.)
  BackfillRun run("backfill-offline", 2,
                  "[[fault]]\nkind = \"offline\"\ntarget = \"gw002-m0001\"\n"
                  "from = \"2026-01-05T00:40:00Z\"\nuntil = \"2026-01-05T06:40:00Z\"\n",
                  "");
  run.start_simulator();
  run.start_daemon();
  run.wait_until("2026-01-05T07:30:00Z");
  INFO("daemon log:\n" << run.daemon_log());
  CHECK(run.stop_daemon() == 0);
  CHECK(run.simulator().stop() == 0);

  ami::storage::StoreReader store(run.database());
  check_actual_equals_truth(run, store, "gw002-m0001", "2026-01-05T00:15:00Z", "2026-01-05T07:00:00Z");
  check_actual_equals_truth(run, store, "gw001-m0001", "2026-01-05T00:15:00Z", "2026-01-05T07:00:00Z");
  // The offline hours came from backfill, not from scheduled reads.
  int backfilled = 0;
  for (const auto& r : store.reads("gw002-m0001", ami::storage::EnergyChannel::forward_active,
                                   sim_time("2026-01-05T01:00:00Z"), sim_time("2026-01-05T06:00:00Z")))
    backfilled += r.source == ami::storage::ReadSource::backfill ? 1 : 0;
  CHECK(backfilled == 21);  // 01:00 .. 06:00
}

TEST_CASE("backfill: daemon stopped for 2 simulated hours and restarted leaves no gap", "[integration][backfill]") {
  BackfillRun run("backfill-restart", 1, "", "");
  run.start_simulator();
  run.start_daemon();
  run.wait_until("2026-01-05T01:00:00Z");
  CHECK(run.stop_daemon() == 0);
  run.wait_until("2026-01-05T03:00:00Z", false);
  run.start_daemon();
  run.wait_until("2026-01-05T03:45:00Z");
  INFO("daemon log:\n" << run.daemon_log());
  CHECK(run.stop_daemon() == 0);
  CHECK(run.simulator().stop() == 0);

  ami::storage::StoreReader store(run.database());
  check_actual_equals_truth(run, store, "gw001-m0001", "2026-01-05T00:15:00Z", "2026-01-05T03:30:00Z");
  int backfilled = 0;
  for (const auto& r : store.reads("gw001-m0001", ami::storage::EnergyChannel::forward_active,
                                   sim_time("2026-01-05T01:15:00Z"), sim_time("2026-01-05T02:45:00Z")))
    backfilled += r.source == ami::storage::ReadSource::backfill ? 1 : 0;
  CHECK(backfilled >= 6);
}

TEST_CASE("clock sync: skew beyond tolerance is flagged and corrected within limits, audited, beyond the limit only "
          "flagged",
          "[integration][clock_sync]") {
  // gw001-m0001 jumps 3 minutes ahead (correctable), gw002-m0001 20 minutes ahead (a technician's job).
  BackfillRun run("clock-sync", 2,
                  "[[fault]]\nkind = \"clock_jump\"\ntarget = \"gw001-m0001\"\nseconds = 180\n"
                  "from = \"2026-01-04T23:00:00Z\"\nuntil = \"2026-01-05T01:00:00Z\"\n"
                  "[[fault]]\nkind = \"clock_jump\"\ntarget = \"gw002-m0001\"\nseconds = 1200\n"
                  "from = \"2026-01-04T23:00:00Z\"\nuntil = \"2026-01-05T01:00:00Z\"\n",
                  "[collection.clock]\nread_every_hours = 1\ntolerance_seconds = 60\nmax_correction_seconds = 300\n");
  run.start_simulator();
  // Started before the simulated start, the daemon would read (and correct) the clocks at the
  // 23:45 boundary already, before the reads this test looks at.
  run.wait_until("2026-01-05T00:00:00Z", false);
  run.start_daemon();
  run.wait_until("2026-01-05T02:30:00Z");
  INFO("daemon log:\n" << run.daemon_log());
  CHECK(run.stop_daemon() == 0);
  CHECK(run.simulator().stop() == 0);

  ami::storage::StoreReader store(run.database());
  std::vector<ami::storage::StoreReader::AuditEntry> broadcasts;
  std::map<std::string, int> flagged;
  for (const auto& e : store.audit_log(1000)) {
    if (e.action == "meter_time_broadcast" || e.action == "meter_time_set") broadcasts.push_back(e);
    if (e.action == "meter_clock_flagged")
      for (const auto* m : {"gw001-m0001", "gw002-m0001"})
        if (e.detail.find(std::string("meter=") + m) != std::string::npos) ++flagged[m];
  }
  CHECK(flagged["gw001-m0001"] >= 1);
  CHECK(flagged["gw002-m0001"] >= 1);
  // Exactly one correction (once a day), of the correctable meter, with who/what/old/new/outcome.
  REQUIRE(broadcasts.size() == 1);
  const auto& audit = broadcasts.front();
  CHECK(audit.actor == "clock_sync");
  CHECK(audit.action == "meter_time_broadcast");
  CHECK(audit.detail.find("meter=gw001-m0001") != std::string::npos);
  CHECK(audit.detail.find("old_meter_time=") != std::string::npos);
  CHECK(audit.detail.find("new_time=2026-01-05T") != std::string::npos);
  CHECK(audit.detail.find("outcome=ok") != std::string::npos);

  // Reads carry the meter clock (what VEE's meter-clock rule flags): 3 min ahead before the
  // correction, right after it; 20 min ahead on the uncorrected meter throughout.
  const auto skew_of = [](const ami::storage::BoundaryRead& r) {
    return duration_cast<seconds>(*r.meter_time - r.collected_at).count();
  };
  const auto corrected = store.reads("gw001-m0001", ami::storage::EnergyChannel::forward_active,
                                     sim_time("2026-01-05T00:00:00Z"), sim_time("2026-01-05T02:30:00Z"));
  std::optional<std::int64_t> first_skew;
  std::optional<std::int64_t> last_skew;
  for (const auto& r : corrected) {
    if (!r.meter_time) continue;
    if (!first_skew) first_skew = skew_of(r);
    last_skew = skew_of(r);
  }
  REQUIRE(first_skew);
  CHECK(*first_skew > 150);
  CHECK(*first_skew < 210);
  REQUIRE(last_skew);
  CHECK(std::abs(*last_skew) < 30);
  const auto far_off = store.reads("gw002-m0001", ami::storage::EnergyChannel::forward_active,
                                   sim_time("2026-01-05T01:00:00Z"), sim_time("2026-01-05T02:30:00Z"));
  REQUIRE_FALSE(far_off.empty());
  for (const auto& r : far_off) {
    REQUIRE(r.meter_time);
    CHECK(skew_of(r) > 1150);
  }
}

TEST_CASE("backfill from freezes: a meter whose load profile does not reach back gets its hourly freezes equal to "
          "truth, the gap actual where two reads meet and estimated in between",
          "[integration][backfill][freeze]") {
  // gw001-m0001 keeps one hour of load profile (meter-sim load_profile_hours) and is offline
  // 00:40 .. 04:30. Its read at 04:30 closes the gap; the load-profile chunks for 00:30 .. 04:00
  // start before its memory and are refused (ERR no_requested_data), so backfill reads the hourly
  // freezes 01:00 .. 04:00 instead. VEE ([vee] on) estimated the gap between the registers at 00:30
  // and 04:15 when the 04:30 read arrived; the store derives (04:00, 04:15] from the freeze.
  BackfillRun run("backfill-freezes", 1,
                  "[[meter]]\nid = \"gw001-m0001\"\nload_profile_hours = 1\n"
                  "[[fault]]\nkind = \"offline\"\ntarget = \"gw001-m0001\"\n"
                  "from = \"2026-01-05T00:40:00Z\"\nuntil = \"2026-01-05T04:30:00Z\"\n",
                  "[vee]\n");
  run.start_simulator();
  run.start_daemon();
  run.wait_until("2026-01-05T05:00:00Z");
  INFO("daemon log:\n" << run.daemon_log());
  CHECK(run.stop_daemon() == 0);
  CHECK(run.simulator().stop() == 0);

  const auto registers = run.true_registers("gw001-m0001", "2026-01-05T00:30:00Z", "2026-01-05T04:15:00Z");
  ami::storage::StoreReader store(run.database());
  for (const auto channel : {ami::storage::EnergyChannel::forward_active, ami::storage::EnergyChannel::reverse_active}) {
    const bool forward = channel == ami::storage::EnergyChannel::forward_active;
    const auto truth_of = [&](ami::UtcSeconds t) { return forward ? registers.at(t).first : registers.at(t).second; };
    INFO(ami::storage::to_string(channel));
    // The freezes, stored as backfill boundary reads, hold the true registers.
    std::map<ami::UtcSeconds, std::int64_t> backfilled;
    for (const auto& r : store.reads("gw001-m0001", channel, sim_time("2026-01-05T00:45:00Z"),
                                     sim_time("2026-01-05T04:00:00Z")))
      if (r.source == ami::storage::ReadSource::backfill) backfilled[r.boundary] = r.register_wh;
    for (const char* hour : {"2026-01-05T01:00:00Z", "2026-01-05T02:00:00Z", "2026-01-05T03:00:00Z",
                             "2026-01-05T04:00:00Z"}) {
      INFO("freeze at " << hour);
      REQUIRE(backfilled.count(sim_time(hour)) == 1);
      CHECK(backfilled[sim_time(hour)] == truth_of(sim_time(hour)));
    }
    CHECK(backfilled.size() == 4);  // only the freezes: the refused load profile gave nothing
    // Every interval of the gap is there: actual (and true) where two stored reads meet, else an
    // estimate, quality-coded. The freezes arrive after the 04:30 read closed the gap, out of
    // order; each re-anchors the estimates around it, so every span between two stored reads
    // (00:30, the freezes, 04:15) adds up to its register delta exactly.
    const auto latest = latest_intervals(store, "gw001-m0001", channel, "2026-01-05T00:30:00Z", "2026-01-05T04:15:00Z");
    REQUIRE(latest.size() == 15);  // 00:45 .. 04:15
    std::set<ami::UtcSeconds> anchors{sim_time("2026-01-05T00:30:00Z"), sim_time("2026-01-05T04:15:00Z")};
    for (const auto& [t, wh] : backfilled) anchors.insert(t);
    std::int64_t span_sum = 0;
    for (const auto& [end, iv] : latest) {
      INFO("interval ending " << ami::format_utc(end));
      const bool read_at_end = anchors.count(end) == 1;
      if (backfilled.count(end - minutes{15}) == 1 && read_at_end) {
        CHECK(iv.status == ami::storage::IntervalStatus::actual);
        CHECK(iv.value_wh == truth_of(end) - truth_of(end - minutes{15}));
      } else {
        CHECK(iv.status == ami::storage::IntervalStatus::estimated);
        CHECK_FALSE(iv.quality_codes.empty());
      }
      span_sum += iv.value_wh;
      if (read_at_end) {
        const auto from = *std::prev(anchors.find(end));
        INFO("span " << ami::format_utc(from) << " .. " << ami::format_utc(end));
        CHECK(span_sum == truth_of(end) - truth_of(from));
        span_sum = 0;
      }
    }
    CHECK(latest.at(sim_time("2026-01-05T04:15:00Z")).status == ami::storage::IntervalStatus::actual);
  }
}

TEST_CASE("no load profile: a 2007 meter without one is read from its registers every interval, every cycle after the "
          "first succeeds, and after 2 hours offline its missing hours come from its freezes",
          "[integration][backfill][freeze]") {
  // gw001-m0001 has no load profile (meter-sim load_profile_hours = 0): its first scheduled read
  // (06000001) is refused with ERR no_requested_data; the scheduler marks it and reads its current
  // registers (00010000 / 00020000) in the same window, and from then on every interval. Offline
  // 01:40 .. 03:30: the 03:30 read closes the gap, backfill reads the freezes 02:00 and 03:00.
  BackfillRun run("backfill-no-profile", 1,
                  "[[meter]]\nid = \"gw001-m0001\"\nload_profile_hours = 0\n"
                  "[[fault]]\nkind = \"offline\"\ntarget = \"gw001-m0001\"\n"
                  "from = \"2026-01-05T01:40:00Z\"\nuntil = \"2026-01-05T03:30:00Z\"\n",
                  "register_tolerance_seconds = 840\n[vee]\n");
  run.start_simulator();
  run.start_daemon();
  run.wait_until("2026-01-05T05:20:00Z");
  INFO("daemon log:\n" << run.daemon_log());
  CHECK(run.stop_daemon() == 0);
  CHECK(run.simulator().stop() == 0);

  const auto in_gap = [](ami::UtcSeconds b) {
    return b > sim_time("2026-01-05T01:30:00Z") && b < sim_time("2026-01-05T03:30:00Z");
  };
  ami::storage::StoreReader store(run.database());
  // Every boundary after the first cycle, outside the offline window, was read (ok) in its cycle.
  const auto summaries = store.attempt_summaries(sim_time("2026-01-05T00:00:00Z"), sim_time("2026-01-05T05:15:00Z"));
  REQUIRE(summaries.size() >= 18);
  const auto first_cycle = summaries.front().boundary;
  CHECK(first_cycle <= sim_time("2026-01-05T01:00:00Z"));
  for (const auto& s : summaries) {
    if (s.boundary == first_cycle || in_gap(s.boundary)) continue;
    INFO("boundary " << ami::format_utc(s.boundary));
    CHECK(s.meters_ok == 1);
  }
  // The KPI agrees: no meter failure but (at most) the first cycle's refusal, if its register read
  // came too late; the offline window's 7 boundaries 01:45 .. 03:15 failed on the transport, but
  // for 02:00 and 03:00, whose freezes backfill read.
  {
    ami::storage::KpiQueries kpi(run.database());
    ami::storage::KpiOptions options;
    const auto days = kpi.meter_days(ami::storage::day_of(sim_time("2026-01-05T05:00:00Z"), 480), 1,
                                     sim_time("2026-01-05T05:15:00Z"), options);
    REQUIRE(days.size() == 1);
    CHECK(days[0].boundaries_failed_meter <= 1);
    CHECK(days[0].boundaries_failed_transport == 5);
  }
  const auto registers = run.true_registers("gw001-m0001", "2026-01-05T00:00:00Z", "2026-01-05T05:30:00Z");
  for (const auto channel : {ami::storage::EnergyChannel::forward_active, ami::storage::EnergyChannel::reverse_active}) {
    const bool forward = channel == ami::storage::EnergyChannel::forward_active;
    const auto truth_of = [&](ami::UtcSeconds t) {
      const auto it = registers.lower_bound(t);  // the register at t or the boundary after (never less)
      REQUIRE(it != registers.end());
      return forward ? it->second.first : it->second.second;
    };
    INFO(ami::storage::to_string(channel));
    std::map<ami::UtcSeconds, std::int64_t> scheduled;
    std::map<ami::UtcSeconds, std::int64_t> freezes;
    for (const auto& r : store.reads("gw001-m0001", channel, first_cycle, sim_time("2026-01-05T05:15:00Z"))) {
      INFO("read at " << ami::format_utc(r.boundary));
      if (r.source == ami::storage::ReadSource::backfill) {
        freezes[r.boundary] = r.register_wh;
        CHECK(r.register_wh == truth_of(r.boundary));  // a freeze is the register at the hour, exactly
        continue;
      }
      CHECK(r.source == ami::storage::ReadSource::scheduled);
      // A register read taken between B and B + tolerance (840 s, room for a loaded sanitizer run
      // at 2,400x): between the truth at B and the truth at the next boundary.
      CHECK(r.register_wh >= truth_of(r.boundary));
      CHECK(r.register_wh <= truth_of(r.boundary + minutes{15}));
      scheduled[r.boundary] = r.register_wh;
    }
    CHECK(freezes.count(sim_time("2026-01-05T02:00:00Z")) == 1);
    CHECK(freezes.count(sim_time("2026-01-05T03:00:00Z")) == 1);
    for (auto b = first_cycle; b <= sim_time("2026-01-05T05:15:00Z"); b += minutes{15}) {
      INFO("boundary " << ami::format_utc(b));
      CHECK(scheduled.count(b) == (in_gap(b) ? 0U : 1U));
    }
    // Outside the gap every interval is actual: the meter's register delta between two reads.
    const auto latest = latest_intervals(store, "gw001-m0001", channel, "2026-01-05T00:00:00Z", "2026-01-05T05:15:00Z");
    for (const auto& [end, iv] : latest) {
      if (scheduled.count(end) == 0 || scheduled.count(end - minutes{15}) == 0) continue;
      INFO("interval ending " << ami::format_utc(end));
      CHECK(iv.status == ami::storage::IntervalStatus::actual);
      CHECK(iv.value_wh == scheduled[end] - scheduled[end - minutes{15}]);
    }
    CHECK(latest.count(sim_time("2026-01-05T05:15:00Z")) == 1);
  }
}
