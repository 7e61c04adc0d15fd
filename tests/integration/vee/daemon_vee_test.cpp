// VEE in the running daemon over 30 simulated days: meter-sim serves seven DL/T 645-2007 meters over
// TCP on an accelerated clock; the real `headend` starts with [collection] backfill_days = 31 and
// backfill_never_read, so its first scan of each meter reads the meter's last 31 days from its
// load-profile memory (faults placed inside those days: a rollover, a meter replacement, a spike),
// then collects live (a meter taken offline for 2 h through meter-sim's admin endpoint). What its
// store holds is then checked against `meter-sim truth`: the billing invariant between stored reads over the 30 days,
// every fault flagged with its code (the spike by the periodic history pass over a 31-day window),
// the clean meters untouched, retention run without pruning anything no consumer acknowledged.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "storage/store_reader.hpp"
#include "tests/support/process.hpp"

namespace {

using namespace std::chrono_literals;
using ami::UtcSeconds;
using ami::storage::EnergyChannel;
using ami::storage::IntervalRecord;
using ami::storage::IntervalStatus;

constexpr std::int64_t kDaemonVeeSpeed = 2400;  // 15 simulated minutes per 0.375 s
const char* const kDaemonVeeHistoryFrom = "2026-01-05T00:00:00Z";  // checked from here: 30 days before the start
const char* const kDaemonVeeStart = "2026-02-04T00:00:00Z";        // the daemon's first boundary
const char* const kDaemonVeeEnd = "2026-02-04T20:00:00Z";  // the latest the run may last (30 s)
const char* const kRollover = "gw002-m0001";
const char* const kRolloverNear = "2026-01-12T00:00:00Z";  // 1 kWh below the dial here, wraps soon after
const char* const kReplaced = "gw003-m0001";
const char* const kReplacedAt = "2026-01-25T03:07:00Z";
// Live: offline for 4 h, injected through meter-sim's admin endpoint once the first history pass
// is over AND the 30-day backfill is stored: while the backfill writes, the upkeep thread (which
// writes silent-meter estimates after each cycle's flush) waits on the writer for seconds of real
// time, i.e. hours simulated, and under ASan it missed a whole 2 h window (no silent estimate).
const char* const kOffline = "gw004-m0001";
constexpr auto kOfflineFor = std::chrono::hours{4};
const char* const kSpiked = "gw005-m0001";
const char* const kSpikeFrom = "2026-01-20T04:00:00Z";  // 12:00 local: 9 kWh really consumed in 15 min
const char* const kSpikeUntil = "2026-01-20T04:15:00Z";
const char* const kDaemonVeeClean[] = {"gw001-m0001", "gw006-m0001", "gw007-m0001"};
constexpr int kDaemonVeeMeters = 7;

UtcSeconds daemon_vee_time(const char* t) { return *ami::parse_utc(t); }

// Interval end -> true energy, per channel.
struct DaemonVeeTruth {
  std::map<UtcSeconds, std::int64_t> forward;
  std::map<UtcSeconds, std::int64_t> reverse;
  [[nodiscard]] const std::map<UtcSeconds, std::int64_t>& of(EnergyChannel channel) const {
    return channel == EnergyChannel::forward_active ? forward : reverse;
  }
};

class DaemonVeeRun {
 public:
  DaemonVeeRun() : dir_(ami::test::fresh_temp_dir("vee_daemon")), bin_(ami::test::bin_dir()) {
    for (int g = 0; g < kDaemonVeeMeters; ++g) ports_.push_back(ami::test::free_tcp_port());
    write_fleet(0);
    // The rollover meter counts from 2020: set its initial register so it stands 1 kWh below the
    // 999999.99 kWh dial at kRolloverNear and wraps a little later, inside the backfilled days.
    const auto near = nlohmann::json::parse(
        sim({"truth", "--meter", kRollover, "--at", kRolloverNear, "--format", "json"}));
    const auto since_epoch = near.at("forward_wh").get<std::int64_t>();
    write_fleet((1'000'000'000 - 1'000 - since_epoch) / 10 * 10);
    std::ofstream(dir_ / "meters.csv") << sim({"registry"});
    std::ofstream(dir_ / "headend.toml")
        << "[daemon]\nid = \"vee-daemon\"\nstate_dir = \"" << (dir_ / "state").string() << "\"\n"
        << "[registry]\nimport_csv = \"" << (dir_ / "meters.csv").string() << "\"\n"
        << "[collection]\nsettle_seconds = 20\nspread_window_seconds = 30\nresponse_timeout_ms = 300\n"
        << "retries = 1\nretry_backoff_ms = 20\nreconnect_backoff_ms = 50\nreconnect_backoff_max_ms = 200\n"
        << "inter_frame_gap_ms = 0\n"
        << "backfill_days = 31\nbackfill_never_read = true\n"
        << "[feed]\nlisten = \"127.0.0.1:" << ami::test::free_tcp_port() << "\"\n"
        << "[[feed.consumers]]\nname = \"billing\"\ntoken = \"t\"\n"
        << "[status]\nprint_cycle_lines = false\n"
        << "[vee]\nsilent_after_minutes = 30\nhistory_pass_minutes = 240\nhistory_pass_window_hours = 744\n"
        // Retention runs but keeps the 30 days the checks below read (reads, suspect intervals).
        << "[storage]\nretention_days = 45\nprune_every_minutes = 60\n";
    anchor_ms_ = ami::test::unix_ms_now() + 500;
    clock_ = ami::Clock::accelerated(ami::UtcMillis{daemon_vee_time(kDaemonVeeStart)}, kDaemonVeeSpeed,
                                     ami::UtcMillis{std::chrono::milliseconds{anchor_ms_}});
  }

  std::string sim(std::vector<std::string> args) const {
    args.insert(args.begin(), (bin_ / "meter-sim").string());
    args.insert(args.end(), {"--fleet", (dir_ / "fleet.toml").string()});
    return ami::test::run_and_capture(args);
  }

  void run() {
    const std::vector<std::string> clock = {"--clock",       "accelerated", "--clock-start",
                                            kDaemonVeeStart, "--clock-speed", std::to_string(kDaemonVeeSpeed),
                                            "--clock-anchor", std::to_string(anchor_ms_)};
    std::vector<std::string> sim_argv = {(bin_ / "meter-sim").string(), "serve", "--fleet",
                                         (dir_ / "fleet.toml").string()};
    sim_argv.insert(sim_argv.end(), clock.begin(), clock.end());
    const auto admin_port = ami::test::free_tcp_port();
    sim_argv.insert(sim_argv.end(), {"--admin-port", std::to_string(admin_port)});
    ami::test::ChildProcess simulator(sim_argv, dir_ / "sim.out", dir_ / "sim.err");
    for (const auto port : ports_) REQUIRE(ami::test::wait_for_port(port, 10s));
    REQUIRE(ami::test::wait_for_port(admin_port, 10s));
    std::vector<std::string> daemon_argv = {(bin_ / "headend").string(), "--config", (dir_ / "headend.toml").string()};
    daemon_argv.insert(daemon_argv.end(), clock.begin(), clock.end());
    ami::test::ChildProcess daemon(daemon_argv, dir_ / "headend.out", dir_ / "headend.err");
    // Until the backfill stored the 30 days, a history pass ran after that, and the offline meter
    // has been back for 90 minutes.
    std::optional<UtcSeconds> back;
    std::optional<int> passes_when_backfilled;
    for (;;) {
      INFO("daemon log:\n" << log());
      REQUIRE(daemon.running());
      const auto now = std::chrono::floor<std::chrono::seconds>(clock_.now());
      REQUIRE(now < daemon_vee_time(kDaemonVeeEnd));
      const auto passes = history_passes();
      if (!back && passes >= 1 && backfilled()) {
        const auto from = ami::floor_to_interval(now, 15min) + 30min;
        const auto reply = nlohmann::json::parse(ami::test::run_and_capture(
            {(bin_ / "meter-sim").string(), "admin", "--connect", "127.0.0.1:" + std::to_string(admin_port),
             fmt::format(R"({{"cmd":"inject","fault":{{"kind":"offline","target":"{}","from":"{}","until":"{}"}}}})",
                         kOffline, ami::format_utc(from), ami::format_utc(from + kOfflineFor))}));
        REQUIRE(reply.at("ok").get<bool>());
        back = from + kOfflineFor;
      }
      if (!passes_when_backfilled && backfilled()) passes_when_backfilled = passes;
      if (back && now >= *back + 90min && passes_when_backfilled && passes > *passes_when_backfilled) break;
      std::this_thread::sleep_for(50ms);
    }
    end_ = std::chrono::floor<std::chrono::seconds>(clock_.now());
    INFO("daemon log:\n" << log());
    CHECK(daemon.stop() == 0);
    CHECK(simulator.stop() == 0);
  }

  [[nodiscard]] DaemonVeeTruth truth(const std::string& meter) const {
    const auto j = nlohmann::json::parse(sim({"truth", "--meter", meter, "--from", kDaemonVeeHistoryFrom, "--to",
                                              ami::format_utc(end_), "--format", "json"}));
    DaemonVeeTruth out;
    for (const auto& iv : j.at("intervals")) {
      const auto end = *ami::parse_utc(iv.at("end").get<std::string>());
      out.forward[end] = iv.at("forward_wh").get<std::int64_t>();
      out.reverse[end] = iv.at("reverse_wh").get<std::int64_t>();
    }
    return out;
  }

  [[nodiscard]] std::string log() const { return ami::test::read_file(dir_ / "headend.err"); }
  // Every meter has its 30 x 96 + 1 reads up to the daemon's start (a reader beside the daemon's writer).
  [[nodiscard]] bool backfilled() const {
    if (!std::filesystem::exists(database())) return false;
    try {
      ami::storage::StoreReader store(database());
      for (int g = 1; g <= kDaemonVeeMeters; ++g) {
        const auto reads = store.reads(fmt::format("gw{:03}-m0001", g), EnergyChannel::forward_active,
                                       daemon_vee_time(kDaemonVeeHistoryFrom), daemon_vee_time(kDaemonVeeStart));
        if (reads.size() < 30 * 96 + 1) return false;
      }
      return true;
    } catch (const std::exception&) {
      return false;  // the daemon is still creating or migrating its store
    }
  }
  [[nodiscard]] int history_passes() const {
    const auto text = log();
    int n = 0;
    for (auto at = text.find("vee: history pass over"); at != std::string::npos;
         at = text.find("vee: history pass over", at + 1))
      ++n;
    return n;
  }
  [[nodiscard]] UtcSeconds end() const { return end_; }
  [[nodiscard]] std::filesystem::path database() const { return dir_ / "state" / "headend.db"; }

 private:
  void write_fleet(std::int64_t rollover_initial_wh) {
    std::ofstream fleet(dir_ / "fleet.toml");
    fleet << "seed = 21\n";
    // baud 0: 31 days are ~420 load-profile reads per meter; at 2400 baud they would take minutes.
    for (const auto port : ports_)
      fleet << "[[gateway]]\ncount = 1\nmeters = 1\nbaud = 0\nbase_port = " << port << "\n";
    fleet << fmt::format("[[meter]]\nid = \"{}\"\ninitial_wh = {}\n", kRollover, rollover_initial_wh)
          // Same address: the daemon's registry keeps reaching the new meter (no registry event).
          << fmt::format("[[meter]]\nid = \"{}\"\nreplaced_at = \"{}\"\nnew_address = \"000000030001\"\n", kReplaced,
                         kReplacedAt)
          // The offline window comes at run time, through the admin endpoint (run()).
          << fmt::format("[[fault]]\nkind = \"spike\"\ntarget = \"{}\"\nwh = 9000\nfrom = \"{}\"\nuntil = \"{}\"\n",
                         kSpiked, kSpikeFrom, kSpikeUntil);
  }

  std::filesystem::path dir_;
  std::filesystem::path bin_;
  std::vector<unsigned short> ports_;
  std::int64_t anchor_ms_ = 0;
  ami::Clock clock_ = ami::Clock::real();
  UtcSeconds end_;
};

bool has_code(const IntervalRecord& iv, const std::string& code) {
  return std::find(iv.quality_codes.begin(), iv.quality_codes.end(), code) != iv.quality_codes.end();
}

struct ChannelState {
  std::map<UtcSeconds, IntervalRecord> latest;        // newest version per end
  std::map<UtcSeconds, std::vector<IntervalRecord>> all;  // every version per end
  std::vector<UtcSeconds> reads;                         // stored read boundaries, ascending
};

ChannelState load_channel(ami::storage::StoreReader& store, const std::string& meter, EnergyChannel channel,
                          UtcSeconds to) {
  ChannelState s;
  const auto from = daemon_vee_time(kDaemonVeeHistoryFrom);
  for (auto& iv : store.intervals(meter, channel, from, to)) {
    auto& slot = s.latest[iv.end];
    if (iv.version >= slot.version) slot = iv;
    s.all[iv.end].push_back(iv);
  }
  for (const auto& r : store.reads(meter, channel, from, to)) s.reads.push_back(r.boundary);
  return s;
}

// The backfill read the whole 30 days: the first stored read is the history's start, and the
// interval after it is stored. Between consecutive stored reads the newest versions add up to the
// true energy, except across `skip` (an interval no register pair can verify).
void check_sums_against_truth(const ChannelState& s, const std::map<UtcSeconds, std::int64_t>& truth,
                              std::optional<UtcSeconds> skip = std::nullopt) {
  REQUIRE(s.reads.size() > 30 * 96);
  CHECK(s.reads.front() == daemon_vee_time(kDaemonVeeHistoryFrom));
  for (std::size_t i = 1; i < s.reads.size(); ++i) {
    std::int64_t stored = 0;
    std::int64_t expected = 0;
    bool skipped = false;
    for (auto end = s.reads[i - 1] + 15min; end <= s.reads[i]; end += 15min) {
      skipped = skipped || end == skip;
      const auto it = s.latest.find(end);
      REQUIRE(it != s.latest.end());
      stored += it->second.value_wh;
      expected += truth.at(end);
    }
    if (skipped) continue;
    CAPTURE(ami::format_utc(s.reads[i - 1]), ami::format_utc(s.reads[i]));
    CHECK(stored == expected);
  }
}

}  // namespace

TEST_CASE("VEE in the daemon over 30 backfilled days: faults flagged, silent meter estimated then superseded, "
          "clean meters untouched",
          "[integration][vee][daemon]") {
  DaemonVeeRun run;
  run.run();
  INFO("daemon log:\n" << run.log());
  ami::storage::StoreReader store(run.database());
  const auto fwd = EnergyChannel::forward_active;

  for (const char* clean : kDaemonVeeClean) {
    const auto truth = run.truth(clean);
    for (const auto channel : {fwd, EnergyChannel::reverse_active}) {
      CAPTURE(clean, ami::storage::to_string(channel));
      const auto s = load_channel(store, clean, channel, run.end());
      check_sums_against_truth(s, truth.of(channel));
      for (const auto& [end, iv] : s.latest) {
        CAPTURE(ami::format_utc(end));
        CHECK(iv.status == IntervalStatus::actual);
        CHECK(iv.quality_codes.empty());
      }
      // Older versions can only be silent-meter estimates of days the backfill had not reached
      // yet when an upkeep ran (a race on a loaded machine), each superseded by the actual one.
      for (const auto& [end, versions] : s.all) {
        for (const auto& iv : versions) {
          if (iv.version == s.latest.at(end).version) continue;
          CAPTURE(ami::format_utc(end), iv.version);
          CHECK(iv.status == IntervalStatus::estimated);
          CHECK(iv.superseded);
        }
      }
    }
  }
  {
    INFO("rollover: one exact actual interval flagged 2.6.1005");
    const auto s = load_channel(store, kRollover, fwd, run.end());
    const auto truth = run.truth(kRollover);
    check_sums_against_truth(s, truth.forward);
    int wrapped = 0;
    for (const auto& [end, iv] : s.latest) {
      if (!has_code(iv, "2.6.1005")) continue;
      ++wrapped;
      CHECK(iv.status == IntervalStatus::actual);
      CHECK(iv.value_wh == truth.forward.at(end));
      CHECK(*iv.register_end_wh < *iv.register_start_wh);
    }
    CHECK(wrapped == 1);
  }
  {
    INFO("replacement without a registry event: held suspect with 2.3.4, never published");
    const auto s = load_channel(store, kReplaced, fwd, run.end());
    const auto swap_end = daemon_vee_time("2026-01-25T03:15:00Z");
    check_sums_against_truth(s, run.truth(kReplaced).forward, swap_end);
    REQUIRE(s.latest.count(swap_end) == 1);
    const auto& iv = s.latest.at(swap_end);
    CHECK(iv.status == IntervalStatus::suspect);
    CHECK(has_code(iv, "2.3.4"));
    CHECK_FALSE(iv.sequence.has_value());
    CHECK(iv.value_wh < 0);  // the registers restarted: a decrease, never a huge positive interval
  }
  {
    INFO("spike: flagged 2.6.1003 by the history pass, value kept (the meter really consumed it)");
    const auto s = load_channel(store, kSpiked, fwd, run.end());
    const auto truth = run.truth(kSpiked);
    check_sums_against_truth(s, truth.forward);
    std::vector<UtcSeconds> spiked;
    for (const auto& [end, iv] : s.latest) {
      if (has_code(iv, "2.6.1003")) spiked.push_back(end);
    }
    REQUIRE(spiked.size() == 1);
    const auto& iv = s.latest.at(spiked.front());
    CHECK(spiked.front() == daemon_vee_time(kSpikeUntil));
    CHECK(iv.value_wh == truth.forward.at(spiked.front()));
    CHECK(iv.value_wh > 9'000);
  }
  {
    INFO("offline 4 h live: estimated while silent (2.4.4 + 2.8.0), superseded when it answers");
    const auto s = load_channel(store, kOffline, fwd, run.end());
    check_sums_against_truth(s, run.truth(kOffline).forward);
    int silent_estimates = 0;
    for (const auto& [end, versions] : s.all) {
      for (const auto& iv : versions) {
        if (iv.status != IntervalStatus::estimated) continue;
        CHECK(has_code(iv, "2.4.4"));
        CHECK(has_code(iv, "2.8.0"));
        if (iv.estimation_method == ami::storage::EstimationMethod::linear_interpolation ||
            iv.estimation_method == ami::storage::EstimationMethod::like_day) {
          ++silent_estimates;
          CHECK(iv.superseded);  // the meter came back: its registers replaced every guess
        }
      }
    }
    CHECK(silent_estimates > 0);
    CHECK_THAT(run.log(), Catch::Matchers::Contains("silent meter channel"));
  }
  CHECK_THAT(run.log(), Catch::Matchers::Contains(fmt::format("vee: history pass over {} meter(s)", kDaemonVeeMeters)));
  {
    INFO("retention ran; nothing published was pruned (no consumer acknowledged anything)");
    bool pruned = false;
    for (const auto& a : store.audit_log(100'000)) pruned = pruned || a.action == "retention_prune";
    CHECK(pruned);
    CHECK(store.oldest_sequence() == 1u);
  }
}
