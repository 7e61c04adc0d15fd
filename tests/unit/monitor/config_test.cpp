#include <catch2/catch.hpp>

#include "headend/config/daemon_config.hpp"
#include "headend/monitor/daemon_hook.hpp"

using ami::daemon::ConfigError;
using ami::daemon::parse_config;

TEST_CASE("monitor config: absent table means no HTTP server", "[monitor][config]") {
  const auto c = parse_config("[daemon]\nid = \"x\"\n", "test.toml", "/tmp");
  CHECK_FALSE(c.monitor.enabled);
}

TEST_CASE("monitor config: [monitor] turns it on and maps onto MonitorOptions", "[monitor][config]") {
  const auto c = parse_config(
      "[monitor]\nlisten = \"0.0.0.0:9100\"\napi_token = \"t0k\"\nutc_offset_minutes = 60\n"
      "deadline_minutes = 120\nchronic_days = 5\ngrace_seconds = 300\nkpi_refresh_ms = 1000\n",
      "test.toml", "/tmp");
  CHECK(c.monitor.enabled);
  const auto o = ami::monitor::monitor_options_from(c);
  CHECK(o.http.host == "0.0.0.0");
  CHECK(o.http.port == 9100);
  CHECK(o.api_token == "t0k");
  CHECK(o.api.kpi.utc_offset_minutes == 60);
  CHECK(o.api.kpi.deadline_minutes == 120);
  CHECK(o.api.kpi.grace_seconds == 300);
  CHECK(o.api.chronic_days == 5);
  CHECK(o.kpi_refresh == std::chrono::milliseconds{1000});
  CHECK_FALSE(parse_config("[monitor]\nenabled = false\n", "t.toml", "/tmp").monitor.enabled);
  const auto defaults = parse_config("[monitor]\n", "t.toml", "/tmp");
  CHECK(defaults.monitor.listen_host == "127.0.0.1");
  CHECK(defaults.monitor.listen_port == 8080);
}

TEST_CASE("monitor config: mistakes name the file, table and key", "[monitor][config]") {
  CHECK_THROWS_WITH(parse_config("[monitor]\nlisten = \"nohost\"\n", "a.toml", "/tmp"),
                    Catch::Contains("a.toml") && Catch::Contains("[monitor] listen"));
  CHECK_THROWS_WITH(parse_config("[monitor]\nport = 1\n", "a.toml", "/tmp"),
                    Catch::Contains("[monitor] port") && Catch::Contains("unknown key"));
  CHECK_THROWS_WITH(parse_config("[monitor]\nchronic_days = 0\n", "a.toml", "/tmp"),
                    Catch::Contains("chronic_days") && Catch::Contains("1..31"));
}
