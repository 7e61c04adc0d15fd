// Issue 9's acceptance test: a fleet of twenty gateways with known injected failures (one gateway
// refusing every connection, three meters that never read: one silent, one with bad checksums, one
// answering from the wrong address). The JSON API, /metrics, `headendctl report` and `headendctl
// status` must show exactly those meters and that gateway as failing, with the right reasons
// (transport vs meter), and everything else at 100%.
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <sstream>

#include "tests/integration/monitoring/monitored_fleet.hpp"
#include "tests/unit/monitor/promtool.hpp"

using ami::monitor::test::kDay;
using ami::monitor::test::MonitoredFleet;
using nlohmann::json;
namespace bh = boost::beast::http;

namespace {

constexpr int kGateways = 20;
constexpr int kMetersPerGateway = 3;

const std::string kFleet = R"(seed = 20260105
[[gateway]]
count = 20
meters = 3
protocol = "dlt645-2007"

[[fault]]
kind = "refuse_connections"
target = "gw007"
rate = 1.0

[[fault]]
kind = "no_answer"
target = "gw002-m0001"
rate = 1.0

[[fault]]
kind = "bad_checksum"
target = "gw003-m0002"
rate = 1.0

[[fault]]
kind = "wrong_address"
target = "gw004-m0003"
rate = 1.0
)";

// meter -> category its failures must have
const std::map<std::string, std::string> kFailing{
    {"gw007-m0001", "transport"}, {"gw007-m0002", "transport"}, {"gw007-m0003", "transport"},
    {"gw002-m0001", "transport"}, {"gw003-m0002", "meter"},     {"gw004-m0003", "meter"},
};

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("monitoring: injected failures show up exactly, with reasons, everywhere",
          "[integration][monitoring]") {
  MonitoredFleet fleet("monitoring-failures", kFleet, kGateways);
  fleet.run_until("2026-01-04T17:08:00Z");  // intervals ending 16:15..17:00 UTC are due (grace 2 min)

  // --- JSON API: failing meters and their reasons.
  const auto failing = fleet.get_json(std::string("/api/v1/meters?failing=true&day=") + kDay)["meters"];
  std::map<std::string, json> failing_by_id;
  for (const auto& m : failing) failing_by_id[m["meter_id"].get<std::string>()] = m;
  std::set<std::string> got_ids;
  for (const auto& [id, m] : failing_by_id) got_ids.insert(id);
  std::set<std::string> want_ids;
  for (const auto& [id, category] : kFailing) want_ids.insert(id);
  CHECK(got_ids == want_ids);
  for (const auto& [id, category] : kFailing) {
    if (!failing_by_id.count(id)) continue;
    const auto& m = failing_by_id.at(id);
    INFO(id << ": " << m.dump());
    CHECK(m["intervals_after_backfill"] == 0);
    CHECK(m["intervals_expected"].get<int>() >= 4);
    REQUIRE_FALSE(m["reasons"].empty());
    for (const auto& r : m["reasons"]) CHECK(r["category"] == category);
    CHECK(m["last_failure"]["category"] == category);
  }
  // The refusing gateway's meters: every failed boundary is connection_refused (the collection
  // keeps that reason through its reconnect backoff), a transport reason.
  for (const auto* id : {"gw007-m0001", "gw007-m0002", "gw007-m0003"}) {
    if (!failing_by_id.count(id)) continue;
    const auto& m = failing_by_id.at(id);
    INFO(id << ": " << m.dump());
    CHECK(m["main_reason"] == "connection_refused (transport)");
    REQUIRE(m["reasons"].size() == 1);
    CHECK(m["reasons"][0]["outcome"] == "connection_refused");
    CHECK(m["reasons"][0]["boundaries"] == m["boundaries_failed_transport"]);
    CHECK(m["last_failure"]["outcome"] == "connection_refused");
  }
  if (failing_by_id.count("gw002-m0001")) CHECK(failing_by_id.at("gw002-m0001")["reasons"][0]["outcome"] == "timeout");
  if (failing_by_id.count("gw003-m0002")) CHECK(failing_by_id.at("gw003-m0002")["reasons"][0]["outcome"] == "bad_frame");
  if (failing_by_id.count("gw004-m0003")) {
    CHECK(failing_by_id.at("gw004-m0003")["reasons"][0]["outcome"] == "unexpected_address");
  }

  // Everyone else: every expected interval, first attempt.
  const auto all = fleet.get_json(std::string("/api/v1/meters?day=") + kDay)["meters"];
  CHECK(all.size() == kGateways * kMetersPerGateway);
  for (const auto& m : all) {
    if (kFailing.count(m["meter_id"].get<std::string>())) continue;
    INFO(m.dump());
    CHECK(m["intervals_expected"].get<int>() >= 4);
    CHECK(m["intervals_after_backfill"] == m["intervals_expected"]);
    CHECK(m["complete"] == true);
    CHECK(m["boundaries_failed_transport"] == 0);
    CHECK(m["boundaries_failed_meter"] == 0);
  }

  // Gateways: gw007 down, the three with one bad meter degraded, the rest ok at 100%.
  const auto gateways = fleet.get_json(std::string("/api/v1/gateways?day=") + kDay)["gateways"];
  CHECK(gateways.size() == kGateways);
  for (const auto& g : gateways) {
    const auto key = g["gateway"].get<std::string>();
    INFO(g.dump());
    if (key == fleet.gateway(7)) {
      CHECK(g["status"] == "down");
      CHECK(g["totals"]["completeness_after_backfill"] == 0.0);
    } else if (key == fleet.gateway(2) || key == fleet.gateway(3) || key == fleet.gateway(4)) {
      CHECK(g["status"] == "degraded");
      CHECK(g["totals"]["meters_failing"] == 1);
    } else {
      CHECK(g["status"] == "ok");
      CHECK(g["totals"]["completeness_after_backfill"] == 1.0);
    }
  }
  const auto summary = fleet.get_json(std::string("/api/v1/summary?day=") + kDay);
  CHECK(summary["totals"]["meters"] == kGateways * kMetersPerGateway);
  CHECK(summary["totals"]["meters_failing"] == kFailing.size());
  CHECK(summary["gateways"]["down"] == 1);
  CHECK(summary["gateways"]["degraded"] == 3);
  CHECK(summary["gateways"]["ok"] == kGateways - 4);

  // --- /metrics: valid, bounded labels, the same picture.
  const auto metrics = ami::test::http_get(fleet.http_port(), "/metrics").body();
  const auto lint = ami::test::promtool_check_metrics(metrics);
  INFO("promtool: " << lint.output);
  CHECK(lint.exit_code == 0);
  CHECK(has_line(metrics, "ami_kpi_meters{state=\"failing\"} 6"));
  CHECK(has_line(metrics, "ami_kpi_meters{state=\"total\"} 60"));
  CHECK(has_line(metrics, "ami_kpi_gateways{status=\"down\"} 1"));
  CHECK(has_line(metrics, "ami_kpi_gateways{status=\"degraded\"} 3"));
  CHECK(has_line(metrics, "ami_kpi_gateway_up{gateway=\"" + fleet.gateway(7) + "\"} 0"));
  CHECK(has_line(metrics, "ami_kpi_gateway_up{gateway=\"" + fleet.gateway(1) + "\"} 1"));
  CHECK(has_line(metrics, "ami_kpi_gateway_completeness_ratio{gateway=\"" + fleet.gateway(5) + "\"} 1"));
  CHECK(metrics.find("ami_read_attempts_total{gateway=\"" + fleet.gateway(1) + "\",outcome=\"ok\",category=\"ok\"}") !=
        std::string::npos);
  CHECK(metrics.find("outcome=\"bad_frame\",category=\"meter\"") != std::string::npos);
  CHECK(metrics.find("outcome=\"timeout\",category=\"transport\"") != std::string::npos);
  CHECK(metrics.find("ami_kpi_failure_reasons{outcome=\"connection_refused\",category=\"transport\"}") !=
        std::string::npos);
  CHECK(metrics.find("ami_read_attempts_total{gateway=\"" + fleet.gateway(7) +
                     "\",outcome=\"connection_refused\",category=\"transport\"}") != std::string::npos);
  CHECK(metrics.find("ami_channel_queue_depth{gateway=\"" + fleet.gateway(1) + "\"}") != std::string::npos);
  CHECK(metrics.find("ami_store_rows_total{kind=\"reads\"}") != std::string::npos);
  const std::string cache_gauge = "\nami_store_page_cache_bytes ";
  const auto cache_at = metrics.find(cache_gauge);
  REQUIRE(cache_at != std::string::npos);
  CHECK(std::stod(metrics.substr(cache_at + cache_gauge.size())) > 0);  // the writer has committed reads
  CHECK(metrics.find("gw00") == std::string::npos);  // no meter id in any label

  // --- headendctl report --csv: the six meters incomplete with their reasons, the rest complete.
  const auto csv = fleet.headendctl({"report", "--day", kDay, "--csv"});
  std::istringstream lines(csv);
  std::string line;
  std::getline(lines, line);
  CHECK(line.rfind("day,meter_id,gateway,", 0) == 0);
  int meter_lines = 0;
  while (std::getline(lines, line)) {
    if (line.rfind(std::string(kDay) + ",TOTAL,", 0) == 0) {
      CHECK(line.find(",54/60,") != std::string::npos);
      continue;
    }
    ++meter_lines;
    const auto id = line.substr(line.find(',') + 1, 11);
    INFO(line);
    const bool should_fail = kFailing.count(id) > 0;
    CHECK((line.find(",no,") != std::string::npos) == should_fail);
    CHECK((line.find(",yes,") != std::string::npos) == !should_fail);
    if (should_fail) CHECK(line.find("(" + kFailing.at(id) + ")") != std::string::npos);
    if (id.rfind("gw007-", 0) == 0) CHECK(line.find(",connection_refused (transport),") != std::string::npos);
  }
  CHECK(meter_lines == kGateways * kMetersPerGateway);

  // --- headendctl status --json: the same failing set.
  const auto status = json::parse(fleet.headendctl({"status", "--day", kDay, "--json"}));
  std::set<std::string> status_ids;
  for (const auto& m : status["failing_meters"]) status_ids.insert(m["meter_id"].get<std::string>());
  CHECK(status_ids == want_ids);
  const auto text = fleet.headendctl({"status", "--day", kDay});
  CHECK(text.find(fleet.gateway(7)) != std::string::npos);
  CHECK(text.find("down") != std::string::npos);
  CHECK(text.find("connection_refused (transport)") != std::string::npos);

  // --- The on-demand POST is guarded by the token.
  const auto unauthorized =
      ami::test::http_request(fleet.http_port(), bh::verb::post, "/api/v1/meters/gw001-m0001/read", "{}", "wrong");
  CHECK(unauthorized.result() == bh::status::unauthorized);

  // --- On-demand read (召测): a healthy meter answers with its registers, a meter behind the dead
  // gateway fails with a transport reason.
  const auto read_ok = ami::test::http_request(fleet.http_port(), bh::verb::post, "/api/v1/meters/gw001-m0001/read",
                                               "{}", ami::monitor::test::kToken);
  INFO("on-demand: " << read_ok.body());
  REQUIRE(read_ok.result() == bh::status::ok);
  const auto ok_body = json::parse(read_ok.body());
  CHECK(ok_body["ok"] == true);
  CHECK(ok_body["outcome"] == "ok");
  CHECK(ok_body["forward_wh"].is_number_integer());
  const auto read_dead = ami::test::http_request(fleet.http_port(), bh::verb::post,
                                                 "/api/v1/meters/gw007-m0001/read", "", ami::monitor::test::kToken);
  INFO("on-demand: " << read_dead.body());
  REQUIRE(read_dead.result() == bh::status::ok);
  CHECK(json::parse(read_dead.body())["ok"] == false);
  CHECK(json::parse(read_dead.body())["category"] == "transport");
}
