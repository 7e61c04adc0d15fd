// The dashboard in headless Chromium (Debian `chromium`, its own --dump-dom and --screenshot):
// the page served by the daemon loads, its numbers match the JSON API, the meter page draws the
// interval chart, and screenshots are saved as test artefacts under <build>/test-artifacts/.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <regex>

#include <unistd.h>
#include <set>

#include "tests/integration/monitoring/monitored_fleet.hpp"

using ami::monitor::test::kDay;
using ami::monitor::test::MonitoredFleet;
using nlohmann::json;

namespace {

const std::string kFleet = R"(seed = 7
[[gateway]]
count = 3
meters = 2
protocol = "dlt645-2007"

[[fault]]
kind = "refuse_connections"
target = "gw002"
rate = 1.0

[[fault]]
kind = "no_answer"
target = "gw001-m0002"
rate = 1.0
)";

std::filesystem::path artifacts_dir() {
  auto dir = std::filesystem::path(AMI_TEST_TMP_DIR).parent_path() / "test-artifacts" / "monitoring";
  std::filesystem::create_directories(dir);
  return dir;
}

// Debian's chromium from PATH (the child-process helper needs a full path).
std::string chromium_path() {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin";
  std::size_t pos = 0;
  while (pos <= dirs.size()) {
    const auto colon = dirs.find(':', pos);
    const auto dir = dirs.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos);
    for (const char* name : {"chromium", "chromium-browser"}) {
      const auto candidate = std::filesystem::path(dir) / name;
      if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
    if (colon == std::string::npos) break;
    pos = colon + 1;
  }
  FAIL("chromium not found on PATH (Debian package 'chromium', scripts/install-deps.sh)");
  return {};
}

std::vector<std::string> chromium(const std::vector<std::string>& extra, const std::string& url) {
  std::vector<std::string> argv{chromium_path(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                "--no-first-run", "--hide-scrollbars", "--virtual-time-budget=20000",
                                "--user-data-dir=" + (artifacts_dir() / "chromium-profile").string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(url);
  return argv;
}

std::string dump_dom(const std::string& url) {
  return ami::test::run_and_capture(chromium({"--dump-dom"}, url), std::chrono::seconds{90});
}

void screenshot(const std::string& url, const std::filesystem::path& png) {
  std::filesystem::remove(png);
  ami::test::run_and_capture(chromium({"--screenshot=" + png.string(), "--window-size=1280,1600"}, url),
                             std::chrono::seconds{90});
  const auto bytes = ami::test::read_file(png);
  REQUIRE(bytes.size() > 1000);
  CHECK(bytes.substr(1, 3) == "PNG");
}

// First capture group of `pattern` in `html`, or "<absent>".
std::string capture(const std::string& html, const std::string& pattern) {
  std::smatch m;
  return std::regex_search(html, m, std::regex(pattern)) ? m[1].str() : std::string("<absent>");
}

std::set<std::string> captures(const std::string& html, const std::string& pattern) {
  std::set<std::string> out;
  const std::regex re(pattern);
  for (auto it = std::sregex_iterator(html.begin(), html.end(), re); it != std::sregex_iterator(); ++it) {
    out.insert((*it)[1].str());
  }
  return out;
}

std::ptrdiff_t count_of(const std::string& html, const std::string& pattern) {
  const std::regex re(pattern);
  return std::distance(std::sregex_iterator(html.begin(), html.end(), re), std::sregex_iterator());
}

std::string text_of(const std::string& html, const std::string& id) {
  return capture(html, "id=\"" + id + "\"[^>]*>([^<]*)<");
}

}  // namespace

TEST_CASE("monitoring: the dashboard loads in headless Chromium and matches the API", "[integration][monitoring][dashboard]") {
  MonitoredFleet fleet("monitoring-dashboard", kFleet, 3);
  fleet.run_until("2026-01-04T16:50:00Z");
  const std::string base = "http://127.0.0.1:" + std::to_string(fleet.http_port()) + "/?day=" + kDay;

  // The API's numbers move when a boundary passes; compare a DOM and an API answer taken within
  // the same interval (retry when a boundary slipped in between).
  std::string html;
  json summary;
  json failing;
  for (int tries = 0; tries < 4; ++tries) {
    const auto before = fleet.get_json(std::string("/api/v1/summary?day=") + kDay);
    html = dump_dom(base);
    summary = fleet.get_json(std::string("/api/v1/summary?day=") + kDay);
    failing = fleet.get_json(std::string("/api/v1/meters?failing=true&day=") + kDay)["meters"];
    if (before["totals"] == summary["totals"]) break;
  }
  INFO(html);
  CHECK(capture(html, "<body[^>]*data-loaded=\"(true)\"") == "true");
  CHECK(capture(html, "id=\"error\"[^>]*(hidden)") == "hidden");

  const auto& t = summary["totals"];
  const auto rate = capture(html, "id=\"rate-today\"[^>]*data-value=\"([^\"]*)\"");
  REQUIRE(rate != "<absent>");
  REQUIRE_FALSE(rate.empty());
  CHECK(std::stod(rate) == Approx(t["completeness_after_backfill"].get<double>()));
  CHECK(std::stod(capture(html, "id=\"rate-first\"[^>]*data-value=\"([^\"]*)\"")) ==
        Approx(t["completeness_first_attempt"].get<double>()));
  CHECK(text_of(html, "meters-failing") == std::to_string(t["meters_failing"].get<int>()));
  CHECK(text_of(html, "meters-total") == std::to_string(t["meters"].get<int>()));
  CHECK(text_of(html, "meters-complete") == std::to_string(t["meters_complete"].get<int>()));
  CHECK(text_of(html, "failed-transport") == std::to_string(t["boundaries_failed_transport"].get<int>()));
  CHECK(t["meters"] == 6);
  CHECK(t["meters_failing"] == 3);  // gw002's two meters and gw001-m0002

  // Per-gateway table: one row per gateway with the API's status.
  const auto gateways = fleet.get_json(std::string("/api/v1/gateways?day=") + kDay)["gateways"];
  std::set<std::string> want_rows;
  for (const auto& g : gateways) want_rows.insert(g["gateway"].get<std::string>() + "|" + g["status"].get<std::string>());
  std::set<std::string> got_rows;
  for (const auto& row : captures(html, "<tr (data-gateway=\"[^\"]*\" data-status=\"[^\"]*\")")) {
    got_rows.insert(capture(row, "data-gateway=\"([^\"]*)\"") + "|" + capture(row, "data-status=\"([^\"]*)\""));
  }
  CHECK(got_rows == want_rows);
  CHECK(got_rows.count(fleet.gateway(2) + "|down") == 1);

  // Failing meters table: exactly the API's failing meters.
  std::set<std::string> want_failing;
  for (const auto& m : failing) want_failing.insert(m["meter_id"].get<std::string>());
  CHECK(captures(html, "<tr data-meter=\"([^\"]*)\"") == want_failing);
  CHECK(want_failing == std::set<std::string>{"gw001-m0002", "gw002-m0001", "gw002-m0002"});
  // Failure reasons table: the API's reasons by outcome, transport and meter kept apart.
  std::set<std::string> want_reasons;
  for (const auto& r : t["reasons"]) {
    want_reasons.insert(r["outcome"].get<std::string>() + "|" + r["category"].get<std::string>());
  }
  std::set<std::string> got_reasons;
  for (const auto& row : captures(html, "<tr (data-reason=\"[^\"]*\" data-category=\"[^\"]*\")")) {
    got_reasons.insert(capture(row, "data-reason=\"([^\"]*)\"") + "|" + capture(row, "data-category=\"([^\"]*)\""));
  }
  CHECK(got_reasons == want_reasons);
  CHECK(want_reasons.count("timeout|transport") == 1);  // gw001-m0002 never answers
  const auto history_days = captures(html, "<tr data-day=\"([^\"]*)\"");
  CHECK(history_days.size() == 7);
  CHECK(history_days.count(kDay) == 1);

  screenshot(base, artifacts_dir() / "dashboard.png");

  // Meter page: the chart has one bar per expected interval, the attempts table shows timeouts.
  const auto meter_url = base + "#/meter/gw001-m0002";
  const auto meter_html = dump_dom(meter_url);
  INFO(meter_html);
  CHECK(text_of(meter_html, "meter-title") == "gw001-m0002");
  const auto expected = capture(meter_html, "id=\"interval-chart\"[^>]*data-expected=\"([0-9]+)\"");
  REQUIRE(expected != "<absent>");
  CHECK(std::stoi(expected) >= 3);
  CHECK(capture(meter_html, "id=\"interval-chart\"[^>]*data-intervals=\"([0-9]+)\"") == "0");
  CHECK(count_of(meter_html, "<rect[^>]*class=\"missing\"") == std::stoi(expected));
  CHECK(captures(meter_html, "<tr data-outcome=\"([^\"]*)\"").count("timeout") == 1);

  const auto healthy_html = dump_dom(base + "#/meter/gw003-m0001");
  CHECK(capture(healthy_html, "id=\"interval-chart\"[^>]*data-intervals=\"([0-9]+)\"") ==
        capture(healthy_html, "id=\"interval-chart\"[^>]*data-expected=\"([0-9]+)\""));
  screenshot(meter_url, artifacts_dir() / "meter-page.png");
}
