// The collection engine against meter-sim on an accelerated clock (300x: 15 simulated minutes per
// 3 real seconds), each case a few simulated cycles (12 to 15 s of wall time):
//  - one gateway of three refuses connections, another injects late and wrong-address replies:
//    the healthy meters are read every interval, the refusing gateway's attempts all say
//    connection_refused, and every stored register equals the simulator's truth (no late or
//    misaddressed reply became another meter's reading); SIGTERM ends it cleanly with the store flushed;
//  - DL/T 645-2007 and -1997 meters over TCP and over ptys (serial channel); a registry change
//    while running (add one meter, disable another) takes effect without a restart; and
//    `headendctl read` returns the simulator's truth.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "protocols/common/clock.hpp"
#include "storage/sqlite.hpp"
#include "storage/store_reader.hpp"
#include "tests/support/process.hpp"

using namespace std::chrono;
using json = nlohmann::json;

namespace {

constexpr std::int64_t kSpeed = 300;
constexpr const char* kStart = "2026-01-05T15:59:00Z";
constexpr const char* kToken = "collection-test-token";

std::vector<std::string> joined(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// meter-sim serving a fleet file and the daemon collecting it, sharing one accelerated clock.
class CollectionRun {
 public:
  CollectionRun(const std::string& name, int tcp_gateways)
      : dir_(ami::test::fresh_temp_dir(name)), bin_(ami::test::bin_dir()) {
    for (int g = 0; g < tcp_gateways; ++g) ports_.push_back(ami::test::free_tcp_port());
    feed_port_ = ami::test::free_tcp_port();
    http_port_ = ami::test::free_tcp_port();
    anchor_ms_ = ami::test::unix_ms_now() + 2000;
  }
  ~CollectionRun() {
    if (daemon_) daemon_->stop();
    if (sim_) sim_->stop();
  }

  [[nodiscard]] unsigned short port(int gateway) const { return ports_.at(static_cast<std::size_t>(gateway - 1)); }
  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }
  [[nodiscard]] std::filesystem::path db() const { return dir_ / "state" / "headend.db"; }
  [[nodiscard]] std::vector<std::string> clock_args() const {
    return {"--clock", "accelerated", "--clock-start", kStart, "--clock-speed", std::to_string(kSpeed),
            "--clock-anchor", std::to_string(anchor_ms_)};
  }

  // Writes the fleet, starts the simulator, writes the registry (minus `left_out` meters) and the
  // config, starts the daemon.
  void start(const std::string& fleet_toml, const std::set<std::string>& left_out = {}) {
    fleet_ = dir_ / "fleet.toml";
    std::ofstream(fleet_) << fleet_toml;
    sim_ = std::make_unique<ami::test::ChildProcess>(
        joined({(bin_ / "meter-sim").string(), "serve", "--fleet", fleet_.string()}, clock_args()), dir_ / "sim.out",
        dir_ / "sim.err");
    for (const auto p : ports_) REQUIRE(ami::test::wait_for_port(p, seconds{10}));
    std::istringstream registry(
        ami::test::run_and_capture({(bin_ / "meter-sim").string(), "registry", "--fleet", fleet_.string()}));
    std::ofstream csv(dir_ / "meters.csv");
    for (std::string line; std::getline(registry, line);) {
      const auto id = line.substr(0, line.find(','));
      if (left_out.contains(id)) continue;
      csv << line << "\n";
    }
    csv.close();
    config_ = dir_ / "headend.toml";
    std::ofstream(config_) << "[daemon]\nid = \"collection-test\"\nstate_dir = \"" << (dir_ / "state").string()
                           << "\"\n[registry]\nimport_csv = \"" << (dir_ / "meters.csv").string() << "\"\n"
                           << "[collection]\ninterval_minutes = 15\nspread_window_seconds = 60\nsettle_seconds = 10\n"
                           << "response_timeout_ms = 300\nretries = 2\nretry_backoff_ms = 20\n"
                           << "reconnect_backoff_ms = 100\nreconnect_backoff_max_ms = 400\n"
                           << "registry_poll_seconds = 1\n"
                           << "[feed]\nlisten = \"127.0.0.1:" << feed_port_ << "\"\n"
                           << "[monitor]\nlisten = \"127.0.0.1:" << http_port_ << "\"\napi_token = \"" << kToken
                           << "\"\nkpi_refresh_ms = 0\n";
    daemon_ = std::make_unique<ami::test::ChildProcess>(
        joined({(bin_ / "headend").string(), "--config", config_.string()}, clock_args()), dir_ / "headend.out",
        dir_ / "headend.err");
    INFO("daemon stderr: " << ami::test::read_file(dir_ / "headend.err"));
    REQUIRE(ami::test::wait_for_port(http_port_, seconds{15}));
  }

  void run_until(const std::string& iso) {
    const auto clock = ami::Clock::accelerated(ami::UtcMillis{*ami::parse_utc(kStart)}, kSpeed,
                                               ami::UtcMillis{milliseconds{anchor_ms_}});
    const auto until = ami::UtcMillis{*ami::parse_utc(iso)};
    while (clock.now() < until) {
      INFO("daemon stderr: " << ami::test::read_file(dir_ / "headend.err"));
      REQUIRE(daemon_->running());
      std::this_thread::sleep_for(milliseconds{100});
    }
  }

  // SIGTERM: the daemon finishes in-flight transactions, flushes the store and exits.
  int stop_daemon() {
    const int code = daemon_->stop();
    daemon_.reset();
    return code;
  }

  // Cycle status lines the daemon printed: boundary -> the line.
  [[nodiscard]] std::map<std::string, std::string> cycle_lines() const {
    std::map<std::string, std::string> out;
    std::istringstream text(ami::test::read_file(dir_ / "headend.out"));
    for (std::string line; std::getline(text, line);) {
      if (line.find(" cycle ") != std::string::npos) out[line.substr(0, line.find(' '))] = line;
    }
    return out;
  }

  std::string headendctl(const std::vector<std::string>& args) const {
    return ami::test::run_and_capture(
        joined(joined({(bin_ / "headendctl").string()}, args), {"--config", config_.string()}));
  }

  // The simulator's registers at every boundary in [from, to]: boundary -> (forward, reverse).
  std::map<ami::UtcSeconds, std::pair<std::int64_t, std::int64_t>> truth(const std::string& meter,
                                                                          const std::string& from,
                                                                          const std::string& to) const {
    const auto j = json::parse(ami::test::run_and_capture({(bin_ / "meter-sim").string(), "truth", "--fleet",
                                                           fleet_.string(), "--meter", meter, "--from", from, "--to",
                                                           to, "--format", "json"}));
    std::map<ami::UtcSeconds, std::pair<std::int64_t, std::int64_t>> out;
    for (const auto& b : j["boundaries"])
      out[*ami::parse_utc(b["t"].get<std::string>())] = {b["forward_wh"].get<std::int64_t>(),
                                                         b["reverse_wh"].get<std::int64_t>()};
    return out;
  }

  std::pair<std::int64_t, std::int64_t> truth_at(const std::string& meter, const std::string& at) const {
    const auto j = json::parse(ami::test::run_and_capture(
        {(bin_ / "meter-sim").string(), "truth", "--fleet", fleet_.string(), "--meter", meter, "--at", at,
         "--format", "json"}));
    return {j.at("forward_wh").get<std::int64_t>(), j.at("reverse_wh").get<std::int64_t>()};
  }

  // Stored reads with boundary in [from, to].
  std::vector<ami::storage::BoundaryRead> reads(const std::string& meter, ami::storage::EnergyChannel channel,
                                                const char* from = "2026-01-05T15:45:00Z",
                                                const char* to = "2026-01-05T17:00:00Z") const {
    ami::storage::StoreReader reader(db());
    return reader.reads(meter, channel, *ami::parse_utc(from), *ami::parse_utc(to));
  }

  std::set<std::string> attempt_outcomes(const std::string& meter_like) const {
    ami::storage::Database database(db(), false, 10000);
    auto q = database.query("SELECT DISTINCT outcome FROM attempts WHERE meter_id LIKE ?");
    q->bind(1, meter_like);
    std::set<std::string> out;
    while (q->step()) out.insert(q->column_text(0));
    return out;
  }

 private:
  std::filesystem::path dir_;
  std::filesystem::path bin_;
  std::filesystem::path fleet_;
  std::filesystem::path config_;
  std::vector<unsigned short> ports_;
  unsigned short feed_port_ = 0;
  unsigned short http_port_ = 0;
  std::int64_t anchor_ms_ = 0;
  std::unique_ptr<ami::test::ChildProcess> sim_;
  std::unique_ptr<ami::test::ChildProcess> daemon_;
};

// One [[gateway]] table: one gateway with `meters` meters, on TCP `port` or on a pty in `pty_dir`.
std::string gateway(const char* protocol, int meters, unsigned short port, const std::string& pty_dir = {}) {
  std::string t = "[[gateway]]\ncount = 1\nmeters = " + std::to_string(meters) + "\nprotocol = \"" + protocol + "\"\n";
  t += pty_dir.empty() ? "base_port = " + std::to_string(port) + "\n" : "pty_dir = \"" + pty_dir + "\"\n";
  return t;
}

// "gw001-m0002(connection_refused)" items of a cycle line's failed list.
std::set<std::string> failed_of(const std::string& line) {
  std::set<std::string> out;
  static const std::regex item(R"(([a-z0-9-]+)\(([a-z_]+)\))");
  for (auto it = std::sregex_iterator(line.begin(), line.end(), item); it != std::sregex_iterator(); ++it)
    out.insert((*it)[0].str());
  return out;
}

}  // namespace

TEST_CASE("collection: a refusing gateway costs only its own meters, late and misaddressed replies are dropped",
          "[integration][collection]") {
  CollectionRun run("collection_refused", 3);
  run.start("seed = 7\n" + gateway("dlt645-2007", 2, run.port(1)) + gateway("dlt645-2007", 2, run.port(2)) +
            gateway("dlt645-2007", 2, run.port(3)) +
            "[[fault]]\nkind = \"refuse_connections\"\ntarget = \"gw002\"\n"
            // gw003-m0001's replies carry gw003-m0002's address; gw003-m0002 answers late (after the
            // 300 ms timeout, while the channel may already wait for gw003-m0001) half the time.
            "[[fault]]\nkind = \"wrong_address\"\ntarget = \"gw003-m0001\"\nrate = 0.5\n"
            "[[fault]]\nkind = \"late_answer\"\ntarget = \"gw003-m0002\"\ndelay_ms = 450\nrate = 0.5\n");
  run.run_until("2026-01-05T16:56:00Z");
  // Graceful shutdown: exit 0, and what follows reads the store only after it (flushed).
  REQUIRE(run.stop_daemon() == 0);
  CHECK_THAT(ami::test::read_file(run.dir() / "headend.err"), Catch::Contains("daemon collection-test: stopped"));

  const auto lines = run.cycle_lines();
  for (const char* boundary : {"2026-01-05T16:00:00Z", "2026-01-05T16:15:00Z", "2026-01-05T16:30:00Z",
                               "2026-01-05T16:45:00Z"}) {
    INFO(boundary);
    REQUIRE(lines.contains(boundary));
    const auto failed = failed_of(lines.at(boundary));
    INFO(lines.at(boundary));
    CHECK(failed.contains("gw002-m0001(connection_refused)"));
    CHECK(failed.contains("gw002-m0002(connection_refused)"));
    for (const auto& f : failed) CHECK(f.rfind("gw001-", 0) == std::string::npos);
  }
  CHECK(run.attempt_outcomes("gw002-%") == std::set<std::string>{"connection_refused"});
  CHECK(run.attempt_outcomes("gw001-%") == std::set<std::string>{"ok"});

  // Every register stored for the healthy and the faulty gateway is the meter's own truth.
  for (const char* meter : {"gw001-m0001", "gw001-m0002", "gw003-m0001", "gw003-m0002"}) {
    INFO(meter);
    const auto truth = run.truth(meter, "2026-01-05T15:45:00Z", "2026-01-05T16:45:00Z");
    const auto forward = run.reads(meter, ami::storage::EnergyChannel::forward_active, "2026-01-05T15:45:00Z",
                                   "2026-01-05T16:45:00Z");
    const auto reverse = run.reads(meter, ami::storage::EnergyChannel::reverse_active, "2026-01-05T15:45:00Z",
                                   "2026-01-05T16:45:00Z");
    for (const auto& r : forward) CHECK(r.register_wh == truth.at(r.boundary).first);
    for (const auto& r : reverse) CHECK(r.register_wh == truth.at(r.boundary).second);
    if (std::string(meter).rfind("gw001-", 0) == 0) CHECK(forward.size() == truth.size());  // every boundary
  }
  CHECK(run.reads("gw002-m0001", ami::storage::EnergyChannel::forward_active).empty());
}

TEST_CASE("collection: 1997 and serial meters are read, registry changes apply while running, headendctl read",
          "[integration][collection]") {
  CollectionRun run("collection_mixed", 2);
  const auto pty_dir = (run.dir() / "pty").string();
  std::filesystem::create_directories(pty_dir);
  // gw001 2007 over TCP, gw002 1997 over TCP, gw003 2007 on a pty, gw004 1997 on a pty.
  run.start("seed = 11\n" + gateway("dlt645-2007", 2, run.port(1)) + gateway("dlt645-1997", 2, run.port(2)) +
                gateway("dlt645-2007", 2, 0, pty_dir) + gateway("dlt645-1997", 2, 0, pty_dir),
            {"gw001-m0002"});
  run.run_until("2026-01-05T16:05:00Z");
  // While running: add the meter left out of the import, disable a 1997 meter.
  run.headendctl({"meters", "add", "gw001-m0002", "--protocol", "dlt645-2007", "--channel",
                  "tcp://127.0.0.1:" + std::to_string(run.port(1)), "--address", "000000010002"});
  run.headendctl({"meters", "disable", "gw002-m0002"});
  run.run_until("2026-01-05T17:03:00Z");

  using ami::storage::EnergyChannel;
  const auto boundaries_of = [&](const std::string& meter) {
    std::set<std::string> out;
    for (const auto& r : run.reads(meter, EnergyChannel::forward_active)) out.insert(ami::format_utc(r.boundary));
    return out;
  };
  // 2007 meters, TCP and pty: every boundary from the first cycle on, equal to the truth.
  for (const char* meter : {"gw001-m0001", "gw003-m0001", "gw003-m0002"}) {
    INFO(meter);
    const auto truth = run.truth(meter, "2026-01-05T15:45:00Z", "2026-01-05T17:00:00Z");
    const auto forward = run.reads(meter, EnergyChannel::forward_active);
    CHECK(forward.size() == truth.size());
    for (const auto& r : forward) CHECK(r.register_wh == truth.at(r.boundary).first);
  }
  // 1997 meters (TCP and pty): register reads attributed to each boundary, taken between B and
  // B + tolerance, so the value lies between the truth at B and the truth 2 minutes later.
  for (const char* meter : {"gw002-m0001", "gw004-m0001", "gw004-m0002"}) {
    INFO(meter);
    const auto forward = run.reads(meter, EnergyChannel::forward_active);
    CHECK(forward.size() >= 4);  // 16:00 .. 17:00
    for (const auto& r : forward) {
      const auto low = run.truth_at(meter, ami::format_utc(r.boundary)).first;
      const auto high = run.truth_at(meter, ami::format_utc(r.boundary + minutes{2})).first;
      CHECK(r.register_wh >= low);
      CHECK(r.register_wh <= high);
    }
  }
  // The registry change: the added meter is read from a boundary after the change (backfill may
  // fill its earlier boundaries from the meter's memory), the disabled one no longer after it
  // (the change lands soon after 16:05; allow for a slow machine).
  const auto added = boundaries_of("gw001-m0002");
  CHECK(added.contains("2026-01-05T16:45:00Z"));
  CHECK(added.contains("2026-01-05T17:00:00Z"));
  const auto disabled = boundaries_of("gw002-m0002");
  CHECK(disabled.contains("2026-01-05T16:00:00Z"));
  CHECK_FALSE(disabled.contains("2026-01-05T16:45:00Z"));
  CHECK_FALSE(disabled.contains("2026-01-05T17:00:00Z"));
  {
    ami::storage::StoreReader reader(run.db());
    std::set<std::string> actions;
    for (const auto& e : reader.audit_log(200)) actions.insert(e.action);
    CHECK(actions.contains("meter_added"));
    CHECK(actions.contains("meter_disabled"));
    CHECK(actions.contains("registry_reloaded"));
  }

  // On-demand read through the daemon: a 2007 meter returns its newest boundary record.
  const auto line = run.headendctl({"read", "gw003-m0001"});
  INFO(line);
  static const std::regex fields(R"(gw003-m0001 ok forward_wh=(\d+) reverse_wh=(\d+) at=(\S+))");
  std::smatch m;
  REQUIRE(std::regex_search(line, m, fields));
  const auto truth = run.truth_at("gw003-m0001", m[3].str());
  CHECK(std::stoll(m[1].str()) == truth.first);
  CHECK(std::stoll(m[2].str()) == truth.second);
  // A 1997 meter returns its registers now (at = when they were read).
  const auto line_1997 = run.headendctl({"read", "gw002-m0001"});
  INFO(line_1997);
  static const std::regex fields_1997(R"(gw002-m0001 ok forward_wh=(\d+) reverse_wh=(\d+) at=(\S+))");
  REQUIRE(std::regex_search(line_1997, m, fields_1997));
  const auto at = *ami::parse_utc(m[3].str());
  // 10 simulated seconds are 33 real ms at 300x: the two register reads happen within that.
  CHECK(std::stoll(m[1].str()) >= run.truth_at("gw002-m0001", ami::format_utc(at - seconds{10})).first);
  CHECK(std::stoll(m[1].str()) <= run.truth_at("gw002-m0001", ami::format_utc(at + seconds{10})).first);
  {
    ami::storage::StoreReader reader(run.db());
    int on_demand = 0;
    for (const auto& e : reader.audit_log(200)) on_demand += e.action == "on_demand_read" ? 1 : 0;
    CHECK(on_demand == 2);
  }
}
