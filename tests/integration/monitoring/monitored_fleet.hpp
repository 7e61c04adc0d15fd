// Integration fixture: meter-sim serves a fleet file with injected faults, the headend daemon
// collects it on an accelerated clock with [monitor] on, and the test waits until the simulated
// clock passes a given instant. Tests only; one thread; failures to start REQUIRE-fail.
#pragma once

#include <catch2/catch.hpp>

#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "protocols/common/clock.hpp"
#include "tests/support/process.hpp"
#include "tests/unit/monitor/http_client.hpp"

namespace ami::monitor::test {

// Local day 2026-01-05 (UTC+8) starts at 2026-01-04T16:00:00Z; the run starts a minute before so
// the daemon reads the day's first boundary.
inline constexpr const char* kSimStart = "2026-01-04T15:59:00Z";
inline constexpr const char* kDay = "2026-01-05";
inline constexpr std::int64_t kSpeed = 180;  // 15 simulated minutes per 5 real seconds
inline constexpr const char* kToken = "field-ops-token";
inline constexpr int kGraceSeconds = 120;

class MonitoredFleet {
 public:
  // `fleet_toml` without base_port (added here); `gateways` is its gateway count.
  MonitoredFleet(const std::string& name, const std::string& fleet_toml, int gateways)
      : dir_(ami::test::fresh_temp_dir(name)), bin_(ami::test::bin_dir()) {
    // Ports for every gateway, the feed and the monitor; the gateways need a contiguous band.
    base_port_ = ami::test::free_tcp_ports(gateways);
    const auto feed_port = ami::test::free_tcp_port();
    http_port_ = ami::test::free_tcp_port();
    fleet_file_ = dir_ / "fleet.toml";
    std::ofstream(fleet_file_) << fleet_toml_with_port(fleet_toml);
    registry_csv_ = dir_ / "meters.csv";
    std::ofstream(registry_csv_) << ami::test::run_and_capture(
        {(bin_ / "meter-sim").string(), "registry", "--fleet", fleet_file_.string()});
    config_ = dir_ / "headend.toml";
    std::ofstream(config_) << "[daemon]\nid = \"monitoring-test\"\nstate_dir = \"" << (dir_ / "state").string()
                           << "\"\n[registry]\nimport_csv = \"" << registry_csv_.string() << "\"\n"
                           << "[collection]\ninterval_minutes = 15\nspread_window_seconds = 60\n"
                           << "response_timeout_ms = 400\nretries = 1\nretry_backoff_ms = 50\n"
                           << "reconnect_backoff_ms = 200\nreconnect_backoff_max_ms = 1000\n"
                           << "[feed]\nlisten = \"127.0.0.1:" << feed_port << "\"\n"
                           << "[monitor]\nlisten = \"127.0.0.1:" << http_port_ << "\"\napi_token = \"" << kToken
                           << "\"\ngrace_seconds = " << kGraceSeconds << "\nkpi_refresh_ms = 0\n";
    anchor_ms_ = ami::test::unix_ms_now() + 1500;
    sim_ = std::make_unique<ami::test::ChildProcess>(
        with({(bin_ / "meter-sim").string(), "serve", "--fleet", fleet_file_.string()}, clock_args()),
        dir_ / "sim.out", dir_ / "sim.err");
    REQUIRE(ami::test::wait_for_port(base_port_, std::chrono::seconds{10}));
    daemon_ = std::make_unique<ami::test::ChildProcess>(
        with({(bin_ / "headend").string(), "--config", config_.string()}, clock_args()), dir_ / "headend.out",
        dir_ / "headend.err");
    INFO("daemon stderr: " << ami::test::read_file(dir_ / "headend.err"));
    REQUIRE(ami::test::wait_for_port(http_port_, std::chrono::seconds{15}));
  }

  ~MonitoredFleet() {
    if (daemon_) daemon_->stop();
    if (sim_) sim_->stop();
  }

  // Blocks until the simulated clock reads `iso` (the daemon must stay up meanwhile).
  void run_until(const std::string& iso) {
    const auto clock = ami::Clock::accelerated(ami::UtcMillis{*ami::parse_utc(kSimStart)}, kSpeed,
                                               ami::UtcMillis{std::chrono::milliseconds{anchor_ms_}});
    const auto until = ami::UtcMillis{*ami::parse_utc(iso)};
    while (clock.now() < until) {
      INFO("daemon stderr: " << ami::test::read_file(dir_ / "headend.err"));
      REQUIRE(daemon_->running());
      std::this_thread::sleep_for(std::chrono::milliseconds{200});
    }
  }

  [[nodiscard]] std::vector<std::string> clock_args() const {
    return {"--clock", "accelerated", "--clock-start", kSimStart, "--clock-speed", std::to_string(kSpeed),
            "--clock-anchor", std::to_string(anchor_ms_)};
  }
  // "tcp://127.0.0.1:PORT" of gateway g (1-based), as the registry names it.
  [[nodiscard]] std::string gateway(int g) const {
    return "tcp://127.0.0.1:" + std::to_string(base_port_ + g - 1);
  }
  [[nodiscard]] std::uint16_t http_port() const { return http_port_; }
  [[nodiscard]] const std::filesystem::path& config() const { return config_; }
  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }

  nlohmann::json get_json(const std::string& target) const {
    const auto res = ami::test::http_get(http_port_, target);
    INFO("GET " << target << " -> " << res.body());
    REQUIRE(res.result() == boost::beast::http::status::ok);
    return nlohmann::json::parse(res.body());
  }

  // headendctl with the daemon's config and clock.
  std::string headendctl(std::vector<std::string> args) const {
    std::vector<std::string> argv{(bin_ / "headendctl").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--config", config_.string(), "--grace-seconds", std::to_string(kGraceSeconds)});
    const auto clock = clock_args();
    argv.insert(argv.end(), clock.begin(), clock.end());
    return ami::test::run_and_capture(argv);
  }

  static std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }

 private:
  std::string fleet_toml_with_port(const std::string& toml) const {
    // The first [[gateway]] table gets base_port; gateways are numbered on from it.
    const auto at = toml.find("[[gateway]]");
    REQUIRE(at != std::string::npos);
    auto out = toml;
    out.insert(at + std::string("[[gateway]]").size(), "\nbase_port = " + std::to_string(base_port_));
    return out;
  }

  std::filesystem::path dir_;
  std::filesystem::path bin_;
  std::filesystem::path fleet_file_;
  std::filesystem::path registry_csv_;
  std::filesystem::path config_;
  std::uint16_t base_port_ = 0;
  std::uint16_t http_port_ = 0;
  std::int64_t anchor_ms_ = 0;
  std::unique_ptr<ami::test::ChildProcess> sim_;
  std::unique_ptr<ami::test::ChildProcess> daemon_;
};

}  // namespace ami::monitor::test
