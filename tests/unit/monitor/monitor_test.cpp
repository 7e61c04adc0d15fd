#include <catch2/catch.hpp>

#include <fstream>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "headend/monitor/monitor.hpp"
#include "tests/unit/monitor/fleet_fixture.hpp"
#include "tests/unit/monitor/http_client.hpp"
#include "tests/unit/monitor/promtool.hpp"

using ami::monitor::test::Behaviour;
using ami::monitor::test::Fleet;
using ami::monitor::test::TempStore;
using namespace std::chrono;
namespace bh = boost::beast::http;
namespace st = ami::storage;

namespace {

ami::UtcSeconds day_start() { return st::day_start_utc(*st::parse_day("2026-01-05"), 480); }

// A Monitor over a scripted day (gateway 2 down, M3 with meter errors), its clock at 22:00 local.
struct RunningMonitor {
  TempStore db{"monitor"};
  boost::asio::io_context io;
  std::unique_ptr<ami::monitor::Monitor> monitor;
  std::thread thread;

  RunningMonitor() {
    Fleet fleet(day_start(), 89);  // boundaries up to 22:00 local
    fleet.add("M1", "tcp://10.0.0.1:8899", "dlt645-generic", "district=north;feeder=F1");
    fleet.add("M2", "tcp://10.0.0.1:8899", "dlt645-generic", "district=north;feeder=F1");
    fleet.add("M3", "tcp://10.0.0.1:8899", "DTSU666", "district=north;feeder=F2").overrides[30] =
        Behaviour::meter_error;
    fleet.add("M4", "tcp://10.0.0.2:8899", "DTSU666", "district=south;feeder=F3", Behaviour::refused);
    {
      st::StoreWriter writer(ami::monitor::test::store_options(db.path()));
      fleet.write(writer);
    }
    const auto real_now = time_point_cast<milliseconds>(system_clock::now());
    const auto clock = ami::Clock::accelerated(ami::UtcMillis{day_start() + hours{22}}, 1, ami::UtcMillis{real_now});
    ami::monitor::MonitorOptions options;
    options.http.port = 0;
    options.api_token = "tok";
    options.kpi_refresh = milliseconds{0};
    monitor = std::make_unique<ami::monitor::Monitor>(io, clock, db.path(), options);
    monitor->start();
    thread = std::thread([this] { io.run(); });
  }
  ~RunningMonitor() {
    io.stop();
    thread.join();
  }
};

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("monitor: /metrics passes promtool and shows exactly the failing gateway and meters",
          "[monitor][metrics][promtool]") {
  RunningMonitor m;
  st::AttemptRecord a;
  a.channel = "tcp://10.0.0.2:8899";
  a.outcome = "connection_refused";
  a.category = "transport";
  a.latency_ms = 3;
  m.monitor->record_attempts({a, a});

  const auto res = ami::test::http_get(m.monitor->port(), "/metrics");
  REQUIRE(res.result() == bh::status::ok);
  CHECK(res[bh::field::content_type] == "text/plain; version=0.0.4; charset=utf-8");
  const auto& text = res.body();
  const auto lint = ami::test::promtool_check_metrics(text);
  INFO("promtool: " << lint.output);
  CHECK(lint.exit_code == 0);

  CHECK(has_line(text, R"(ami_read_attempts_total{gateway="tcp://10.0.0.2:8899",outcome="connection_refused",category="transport"} 2)"));
  CHECK(has_line(text, R"(ami_read_transaction_seconds_bucket{gateway="tcp://10.0.0.2:8899",le="0.025"} 2)"));
  CHECK(has_line(text, R"(ami_kpi_meters{state="total"} 4)"));
  CHECK(has_line(text, R"(ami_kpi_meters{state="failing"} 2)"));
  CHECK(has_line(text, R"(ami_kpi_meters{state="complete"} 2)"));
  CHECK(has_line(text, R"(ami_kpi_gateway_up{gateway="tcp://10.0.0.2:8899"} 0)"));
  CHECK(has_line(text, R"(ami_kpi_gateway_up{gateway="tcp://10.0.0.1:8899"} 1)"));
  CHECK(has_line(text, R"(ami_kpi_gateways{status="down"} 1)"));
  CHECK(has_line(text, R"(ami_kpi_gateways{status="degraded"} 1)"));
  CHECK(has_line(text, R"(ami_kpi_gateway_completeness_ratio{gateway="tcp://10.0.0.2:8899"} 0)"));
  CHECK(has_line(text, R"(ami_kpi_failure_reasons{outcome="connection_refused",category="transport"} 88)"));
  CHECK(has_line(text, R"(ami_kpi_failure_reasons{outcome="meter_error",category="meter"} 1)"));
  CHECK(has_line(text, R"(ami_kpi_failed_boundaries{category="transport"} 88)"));
  CHECK(has_line(text, R"(ami_kpi_group_completeness_ratio{dimension="tag:district",key="south"} 0)"));
  CHECK(has_line(text, R"(ami_kpi_group_completeness_ratio{dimension="model",key="dlt645-generic"} 1)"));
  CHECK(has_line(text, "ami_kpi_refresh_errors_total 0"));
  // No per-meter labels: meter ids belong to the API, not to metric labels.
  CHECK(text.find("M1") == std::string::npos);
  CHECK(text.find("M4") == std::string::npos);
}

TEST_CASE("monitor: serves the dashboard and its assets, JSON for unknown ones", "[monitor][http]") {
  RunningMonitor m;
  const auto index = ami::test::http_get(m.monitor->port(), "/");
  REQUIRE(index.result() == bh::status::ok);
  CHECK(index[bh::field::content_type] == "text/html; charset=utf-8");
  CHECK(index.body().find("<script src=\"/assets/app.js\">") != std::string::npos);
  const auto js = ami::test::http_get(m.monitor->port(), "/assets/app.js");
  CHECK(js.result() == bh::status::ok);
  CHECK(js[bh::field::content_type] == "text/javascript; charset=utf-8");
  CHECK(js.body().find("/api/v1/summary") != std::string::npos);
  CHECK(ami::test::http_get(m.monitor->port(), "/assets/style.css").result() == bh::status::ok);
  const auto missing = ami::test::http_get(m.monitor->port(), "/assets/../../etc/passwd");
  CHECK(missing.result() == bh::status::not_found);
  CHECK(nlohmann::json::parse(missing.body())["error"]["code"] == "not_found");
  CHECK(ami::test::http_get(m.monitor->port(), "/healthz").result() == bh::status::ok);
}

TEST_CASE("monitor: the API answers over HTTP with the same numbers as the metrics", "[monitor][api]") {
  RunningMonitor m;
  const auto summary =
      nlohmann::json::parse(ami::test::http_get(m.monitor->port(), "/api/v1/summary").body());
  CHECK(summary["day"] == "2026-01-05");
  CHECK(summary["totals"]["meters_failing"] == 2);
  CHECK(summary["totals"]["intervals_expected"] == 4 * 88);
  const auto post = ami::test::http_request(m.monitor->port(), bh::verb::post, "/api/v1/meters/M1/read", "{}", "bad");
  CHECK(post.result() == bh::status::unauthorized);
}

TEST_CASE("monitor: every metric the Grafana dashboard queries is exported", "[monitor][grafana]") {
  RunningMonitor m;
  const auto exposition = m.monitor->metrics().render();
  std::ifstream file(std::string(AMI_SOURCE_DIR) + "/docs/grafana/headend-dashboard.json");
  REQUIRE(file.good());
  const auto dashboard = nlohmann::json::parse(file);
  const std::regex metric_name("ami_[a-z_]+");
  int queried = 0;
  for (const auto& panel : dashboard.at("panels")) {
    for (const auto& target : panel.at("targets")) {
      const auto expr = target.at("expr").get<std::string>();
      for (auto it = std::sregex_iterator(expr.begin(), expr.end(), metric_name); it != std::sregex_iterator(); ++it) {
        auto name = it->str();
        for (const char* suffix : {"_bucket", "_sum", "_count"}) {
          const std::string s(suffix);
          if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0 &&
              exposition.find("# TYPE " + name.substr(0, name.size() - s.size()) + " histogram") != std::string::npos) {
            name.resize(name.size() - s.size());
          }
        }
        INFO("panel '" << panel.at("title").get<std::string>() << "' queries " << name);
        CHECK(exposition.find("# TYPE " + name + " ") != std::string::npos);
        ++queried;
      }
    }
  }
  CHECK(queried >= 15);
}
