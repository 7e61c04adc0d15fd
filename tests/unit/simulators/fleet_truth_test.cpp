// Fleet naming/registry CSV and the ground truth: intervals are register deltas at the protocol's
// resolution, and the JSON/CSV outputs carry them.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <sstream>

#include "simulators/fleet.hpp"
#include "simulators/meter.hpp"
#include "simulators/truth.hpp"

using namespace ami;
using namespace ami::sim;
using namespace std::chrono;

TEST_CASE("fleet names, ports and addresses follow the documented scheme", "[simulators][fleet]") {
  FleetSpec spec;
  spec.groups[0].count = 3;
  spec.groups[0].meters_per_gateway = 12;
  spec.groups[0].base_port = 9100;
  const auto fleet = build_fleet(spec);
  REQUIRE(fleet.gateways.size() == 3);
  CHECK(fleet.meter_count() == 36);
  const auto& gw = fleet.gateways[1];
  CHECK(gw.id == "gw002");
  CHECK(gw.port == 9101);
  CHECK(gw.meters[11].id == "gw002-m0012");
  CHECK(gw.meters[11].address.to_string() == "000000020012");
  REQUIRE(fleet.find_meter("gw003-m0007") != nullptr);
  CHECK(fleet.find_meter("gw003-m0007")->address.to_string() == "000000030007");
  CHECK(fleet.find_meter("gw004-m0001") == nullptr);
  CHECK(fleet.find_meter("gw003-m0013") == nullptr);
}

TEST_CASE("adding meters does not change existing meters", "[simulators][fleet]") {
  FleetSpec small;
  small.groups[0].meters_per_gateway = 2;
  FleetSpec large = small;
  large.groups[0].meters_per_gateway = 50;
  large.groups[0].count = 4;
  CHECK(build_fleet(small).gateways[0].meters[1].load == build_fleet(large).gateways[0].meters[1].load);
}

TEST_CASE("bad fleet flags are rejected naming the flag", "[simulators][fleet]") {
  FleetSpec spec;
  spec.groups[0].count = 0;
  CHECK_THROWS_WITH(build_fleet(spec), Catch::Contains("--gateways"));
  spec = FleetSpec{};
  spec.groups[0].protocol = "iec62056";
  CHECK_THROWS_WITH(build_fleet(spec), Catch::Contains("iec62056"));
  spec = FleetSpec{};
  spec.groups[0].base_port = 65535;
  spec.groups[0].count = 2;
  CHECK_THROWS_WITH(build_fleet(spec), Catch::Contains("--base-port"));
  spec = FleetSpec{};
  spec.groups[0].protocol = "modbus-tcp";
  spec.groups[0].model = "NOPE9000";
  CHECK_THROWS_WITH(build_fleet(spec), Catch::Contains("NOPE9000"));
  spec.groups[0].model = "SDM630";
  spec.groups[0].meters_per_gateway = 248;
  CHECK_THROWS_WITH(build_fleet(spec), Catch::Contains("--meters-per-gateway"));
  spec = FleetSpec{};
  spec.groups[0].protocol = "modbus-rtu";
  spec.groups[0].model = "SDM630";
  CHECK_THROWS_WITH(build_fleet(spec), Catch::Contains("--pty-dir"));
  spec.groups[0].protocol = "modbus-tcp";
  spec.groups[0].pty_dir = "/tmp/x";
  CHECK_THROWS_WITH(build_fleet(spec), Catch::Contains("modbus-rtu"));
  spec = FleetSpec{};
  spec.overrides.push_back(MeterOverride{"gw009-m0001", 5, {}, {}, {}, {}});
  CHECK_THROWS_WITH(build_fleet(spec), Catch::Contains("gw009-m0001"));
}

TEST_CASE("registry CSV has the documented header and one row per meter", "[simulators][fleet]") {
  FleetSpec spec;
  spec.groups[0].count = 2;
  spec.groups[0].meters_per_gateway = 2;
  spec.groups[0].base_port = 9200;
  std::ostringstream out;
  write_registry_csv(build_fleet(spec), out);
  std::istringstream lines(out.str());
  std::string line;
  std::getline(lines, line);
  CHECK(line ==
        "meter_id,protocol,channel,address,model,ct_ratio,pt_ratio,utc_offset_minutes,usage_point,interval_minutes,"
        "enabled,tags");
  std::vector<std::string> rows;
  while (std::getline(lines, line)) rows.push_back(line);
  REQUIRE(rows.size() == 4);
  CHECK(rows[3].starts_with("gw002-m0002,dlt645-2007,tcp://127.0.0.1:9201,000000020002,dlt645-generic,1,1,480,"));
}

TEST_CASE("truth intervals are deltas of exposed registers at aligned boundaries", "[simulators][truth]") {
  FleetSpec spec;
  spec.groups[0].meters_per_gateway = 5;
  spec.seed = 99;
  const auto fleet = build_fleet(spec);
  const auto& meter = fleet.gateways[0].meters[3];
  const auto truth = compute_truth(meter, *parse_utc("2026-01-05T00:07:00Z"), *parse_utc("2026-01-05T02:00:00Z"),
                                   minutes{15});
  REQUIRE(truth.boundaries.size() == 8);  // 00:15 .. 02:00
  CHECK(format_utc(truth.boundaries.front().t) == "2026-01-05T00:15:00Z");
  CHECK(format_utc(truth.boundaries.back().t) == "2026-01-05T02:00:00Z");
  REQUIRE(truth.intervals.size() == 7);
  const SimMeter sim_meter(meter);
  for (std::size_t i = 0; i < truth.boundaries.size(); ++i) {
    const auto r = sim_meter.registers_at(UtcMillis{truth.boundaries[i].t});
    CHECK(truth.boundaries[i].forward_wh == r.forward_wh / 10 * 10);
    CHECK(truth.boundaries[i].reverse_wh == r.reverse_wh / 10 * 10);
  }
  for (std::size_t i = 0; i < truth.intervals.size(); ++i) {
    CHECK(truth.intervals[i].start == truth.boundaries[i].t);
    CHECK(truth.intervals[i].end == truth.boundaries[i + 1].t);
    CHECK(truth.intervals[i].forward_wh == truth.boundaries[i + 1].forward_wh - truth.boundaries[i].forward_wh);
    CHECK(truth.intervals[i].reverse_wh == truth.boundaries[i + 1].reverse_wh - truth.boundaries[i].reverse_wh);
  }
}

TEST_CASE("truth JSON and CSV carry the documented shape", "[simulators][truth]") {
  FleetSpec spec;
  const auto fleet = build_fleet(spec);
  const auto truth = compute_truth(fleet.gateways[0].meters[0], *parse_utc("2026-01-05T00:00:00Z"),
                                   *parse_utc("2026-01-05T00:30:00Z"), minutes{15});
  std::ostringstream json_out;
  write_truth_json(truth, json_out);
  const auto j = nlohmann::json::parse(json_out.str());
  CHECK(j.at("meter_id") == "gw001-m0001");
  REQUIRE(j.at("boundaries").size() == 3);
  CHECK(j.at("boundaries")[1].at("t") == "2026-01-05T00:15:00Z");
  CHECK(j.at("boundaries")[1].at("forward_wh").get<std::int64_t>() == truth.boundaries[1].forward_wh);
  REQUIRE(j.at("intervals").size() == 2);
  CHECK(j.at("intervals")[1].at("start") == "2026-01-05T00:15:00Z");
  CHECK(j.at("intervals")[1].at("end") == "2026-01-05T00:30:00Z");
  CHECK(j.at("intervals")[1].at("forward_wh").get<std::int64_t>() == truth.intervals[1].forward_wh);

  std::ostringstream csv_out;
  write_truth_csv(truth, csv_out);
  CHECK_THAT(csv_out.str(), Catch::StartsWith("kind,t,end,forward_wh,reverse_wh\nboundary,2026-01-05T00:00:00Z,,"));
  CHECK_THAT(csv_out.str(), Catch::Contains("interval,2026-01-05T00:15:00Z,2026-01-05T00:30:00Z," +
                                            std::to_string(truth.intervals[1].forward_wh) + ","));
}

TEST_CASE("truth rejects reversed ranges and intervals that do not divide a day", "[simulators][truth]") {
  const auto fleet = build_fleet(FleetSpec{});
  const auto& m = fleet.gateways[0].meters[0];
  CHECK_THROWS_WITH(compute_truth(m, *parse_utc("2026-01-05T01:00:00Z"), *parse_utc("2026-01-05T00:00:00Z"),
                                  minutes{15}),
                    Catch::Contains("before --from"));
  CHECK_THROWS_WITH(compute_truth(m, *parse_utc("2026-01-05T00:00:00Z"), *parse_utc("2026-01-05T01:00:00Z"),
                                  minutes{7}),
                    Catch::Contains("--interval-minutes"));
}
