// The thin end-to-end slice (issue 2): meter-sim serves DL/T 645 meters behind a TCP gateway, the
// headend daemon collects them on an accelerated clock for more than two simulated hours, and a
// `headendctl feed tail` consumer must receive exactly the expected intervals, each equal to the
// simulator's own ground truth (`meter-sim truth`, computed from fleet + seed, not from this code path).
#include <catch2/catch.hpp>

#include <csignal>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "protocols/common/clock.hpp"
#include "tests/support/process.hpp"

using namespace std::chrono;
using ami::test::ChildProcess;
using json = nlohmann::json;

namespace {

constexpr int kGateways = 1;
constexpr int kMetersPerGateway = 4;
constexpr int kSeed = 20260105;
constexpr std::int64_t kSpeed = 1200;  // 15 simulated minutes per 0.75 s
const char* const kSimStart = "2026-01-05T00:00:00Z";

struct Key {
  std::string meter_id;
  std::string kind;
  std::int64_t end_unix;
  auto operator<=>(const Key&) const = default;
};

std::vector<std::string> fleet_args(unsigned short base_port) {
  return {"--gateways", std::to_string(kGateways), "--meters-per-gateway", std::to_string(kMetersPerGateway),
          "--protocol", "dlt645-2007", "--base-port", std::to_string(base_port), "--seed", std::to_string(kSeed)};
}

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

TEST_CASE("slice: simulator -> daemon -> feed consumer delivers every interval equal to ground truth",
          "[integration][slice]") {
  const auto dir = ami::test::fresh_temp_dir("slice");
  const auto bin = ami::test::bin_dir();
  const auto gw_port = ami::test::free_tcp_port();
  const auto feed_port = ami::test::free_tcp_port();

  // Registry for the daemon, straight from the simulator's fleet description.
  const auto registry_csv = dir / "meters.csv";
  {
    std::ofstream(registry_csv) << ami::test::run_and_capture(
        with({(bin / "meter-sim").string(), "registry"}, fleet_args(gw_port)));
  }
  const auto config = dir / "headend.toml";
  {
    std::ofstream out(config);
    out << "[daemon]\nid = \"slice-test\"\nstate_dir = \"" << (dir / "state").string() << "\"\n"
        << "[registry]\nimport_csv = \"" << registry_csv.string() << "\"\n"
        << "[collection]\ninterval_minutes = 15\nspread_window_seconds = 60\n"
        << "[feed]\nlisten = \"127.0.0.1:" << feed_port << "\"\n"
        << "[[feed.consumers]]\nname = \"billing\"\ntoken = \"s3cret\"\n";
  }

  const auto anchor_ms = ami::test::unix_ms_now() + 1000;
  const std::vector<std::string> clock = {"--clock", "accelerated", "--clock-start", kSimStart,
                                          "--clock-speed", std::to_string(kSpeed), "--clock-anchor",
                                          std::to_string(anchor_ms)};
  ChildProcess sim(with(with({(bin / "meter-sim").string(), "serve"}, fleet_args(gw_port)), clock),
                   dir / "sim.out", dir / "sim.err");
  REQUIRE(ami::test::wait_for_port(gw_port, seconds{10}));
  ChildProcess daemon(with({(bin / "headend").string(), "--config", config.string()}, clock), dir / "headend.out",
                      dir / "headend.err");
  INFO("daemon stderr: " << ami::test::read_file(dir / "headend.err"));
  REQUIRE(ami::test::wait_for_port(feed_port, seconds{10}));
  ChildProcess tail({(bin / "headendctl").string(), "feed", "tail", "--connect", "127.0.0.1:" + std::to_string(feed_port),
                     "--consumer", "billing", "--token", "s3cret", "--idle-exit-ms", "4000"},
                    dir / "tail.out", dir / "tail.err");

  // Run until the simulated clock is past 02:30 (two hours of intervals plus margin).
  const auto clk = ami::Clock::accelerated(ami::UtcMillis{*ami::parse_utc(kSimStart)}, kSpeed,
                                           ami::UtcMillis{milliseconds{anchor_ms}});
  const auto until = ami::UtcMillis{*ami::parse_utc("2026-01-05T02:30:00Z")};
  while (clk.now() < until) {
    REQUIRE(daemon.running());
    std::this_thread::sleep_for(milliseconds{100});
  }
  CHECK(daemon.stop() == 0);
  CHECK(tail.wait(seconds{20}) == 0);
  CHECK(sim.stop() == 0);

  // Parse what the consumer printed.
  std::map<Key, std::int64_t> received;
  std::set<std::int64_t> ends;
  std::istringstream lines(ami::test::read_file(dir / "tail.out"));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    const auto j = json::parse(line);
    Key key{j.at("meter_id").get<std::string>(), j.at("kind").get<std::string>(), j.at("end_unix").get<std::int64_t>()};
    CHECK(j.at("end_unix").get<std::int64_t>() - j.at("start_unix").get<std::int64_t>() == 900);
    CHECK(j.at("status").get<std::string>() == "INTERVAL_STATUS_ACTUAL");
    INFO("duplicate interval " << line);
    CHECK(received.emplace(key, j.at("value_wh").get<std::int64_t>()).second);
    ends.insert(key.end_unix);
  }
  REQUIRE_FALSE(received.empty());

  // Every meter must have both channels for every boundary from 00:15 to 02:00, and nothing the
  // consumer got may disagree with the simulator's truth.
  const auto first_required = ami::parse_utc("2026-01-05T00:15:00Z")->time_since_epoch().count();
  const auto last_required = ami::parse_utc("2026-01-05T02:00:00Z")->time_since_epoch().count();
  const auto lo = std::min(*ends.begin(), first_required);
  const auto hi = std::max(*ends.rbegin(), last_required);
  const auto registry = ami::test::read_file(registry_csv);
  std::istringstream reg(registry);
  std::getline(reg, line);  // header
  int meters = 0;
  while (std::getline(reg, line)) {
    if (line.empty()) continue;
    const auto meter_id = line.substr(0, line.find(','));
    ++meters;
    const auto truth = json::parse(ami::test::run_and_capture(with(
        with({(bin / "meter-sim").string(), "truth"}, fleet_args(gw_port)),
        {"--meter", meter_id, "--from", ami::format_utc(ami::UtcSeconds{seconds{lo - 900}}), "--to",
         ami::format_utc(ami::UtcSeconds{seconds{hi}}), "--format", "json"})));
    std::map<std::int64_t, std::pair<std::int64_t, std::int64_t>> truth_by_end;
    for (const auto& iv : truth.at("intervals")) {
      const auto end = ami::parse_utc(iv.at("end").get<std::string>())->time_since_epoch().count();
      truth_by_end[end] = {iv.at("forward_wh").get<std::int64_t>(), iv.at("reverse_wh").get<std::int64_t>()};
    }
    for (auto end = first_required; end <= last_required; end += 900) {
      INFO("meter " << meter_id << " interval ending " << ami::format_utc(ami::UtcSeconds{seconds{end}}));
      CHECK(received.count(Key{meter_id, "READING_KIND_FORWARD_ACTIVE_ENERGY", end}) == 1);
      CHECK(received.count(Key{meter_id, "READING_KIND_REVERSE_ACTIVE_ENERGY", end}) == 1);
    }
    for (const auto& [key, value] : received) {
      if (key.meter_id != meter_id) continue;
      INFO("meter " << meter_id << " " << key.kind << " ending " << ami::format_utc(ami::UtcSeconds{seconds{key.end_unix}}));
      REQUIRE(truth_by_end.count(key.end_unix) == 1);
      const auto& [fwd, rev] = truth_by_end.at(key.end_unix);
      CHECK(value == (key.kind == "READING_KIND_FORWARD_ACTIVE_ENERGY" ? fwd : rev));
    }
  }
  CHECK(meters == kGateways * kMetersPerGateway);
  // Nothing for meters outside the registry.
  for (const auto& [key, value] : received) CHECK(registry.find(key.meter_id + ",") != std::string::npos);
}
