// Fleet files (TOML) and the admin endpoint's request handling.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "simulators/admin.hpp"
#include "simulators/fleet_file.hpp"
#include "protocols/dlt645/read.hpp"
#include "sim_test_support.hpp"

using namespace ami;
using namespace ami::sim;
using nlohmann::json;

TEST_CASE("a fleet file describes mixed gateways, overrides and faults", "[simulators][fleet]") {
  const auto file = parse_fleet_toml(R"(
seed = 9
utc_offset_minutes = 480
[[gateway]]
count = 2
meters = 3
protocol = "dlt645-2007"
base_port = 9400
baud = 2400
[[gateway]]
meters = 4
protocol = "modbus-tcp"
model = "DTSU666"
[[gateway]]
meters = 1
[[meter]]
id = "gw001-m0002"
initial_wh = 123456
clock_drift_ppm = 40
load_profile_hours = 0
[[meter]]
id = "gw003-m0001"
replaced_at = "2026-01-05T06:00:00Z"
new_address = "000000039001"
new_unit_id = 9
[[fault]]
kind = "no_answer"
target = "gw002"
rate = 0.25
)",
                                     "test.toml");
  const auto fleet = build_fleet(file.spec);
  REQUIRE(fleet.gateways.size() == 4);
  CHECK(fleet.gateways[1].port == 9401);
  CHECK(fleet.gateways[1].baud == 2400);
  CHECK(fleet.gateways[2].id == "gw003");
  CHECK(fleet.gateways[2].port == 9402);  // groups without base_port continue after the previous one
  CHECK(fleet.gateways[3].port == 9403);
  CHECK(fleet.gateways[2].meters[3].unit_id == 4);
  CHECK(fleet.gateways[2].meters[3].model() == "DTSU666");
  CHECK(fleet.find_meter("gw001-m0002")->load.initial_wh == 123456);
  CHECK(fleet.find_meter("gw001-m0002")->clock_drift_ppm == 40);
  CHECK(fleet.find_meter("gw001-m0002")->load_profile_hours == 0);
  CHECK(fleet.find_meter("gw001-m0001")->load_profile_hours == 24 * 62);
  REQUIRE(fleet.find_meter("gw003-m0001")->replacement);
  CHECK(fleet.find_meter("gw003-m0001")->replacement->new_unit_id == 9);
  REQUIRE(file.faults.size() == 1);
  CHECK(file.faults[0].target == "gw002");
  CHECK(file.faults[0].rate == 0.25);
}

TEST_CASE("fleet file errors name the table and key", "[simulators][fleet]") {
  CHECK_THROWS_WITH(parse_fleet_toml("[[gateway]]\nmeterz = 3\n", "f.toml"),
                    Catch::Contains("f.toml: [[gateway]] #1: unknown key 'meterz'"));
  CHECK_THROWS_WITH(parse_fleet_toml("[[gateway]]\nmeters = \"three\"\n", "f.toml"), Catch::Contains("'meters'"));
  CHECK_THROWS_WITH(parse_fleet_toml("seed = 1\n", "f.toml"), Catch::Contains("no [[gateway]]"));
  CHECK_THROWS_WITH(parse_fleet_toml("[[gateway]]\n[[meter]]\nid = \"gw001-m0001\"\nload_profile_hours = -1\n", "f.toml"),
                    Catch::Contains("'load_profile_hours'"));
  CHECK_THROWS_WITH(parse_fleet_toml("[[gateway]]\n[[fault]]\nkind = \"nope\"\n", "f.toml"),
                    Catch::Contains("[[fault]] #1"));
  CHECK_THROWS_WITH(parse_fleet_toml("[[gateway]\n", "f.toml"), Catch::Contains("f.toml"));
}

TEST_CASE("admin requests inject, list, remove faults and report counters", "[simulators][admin]") {
  FleetSpec spec;
  spec.groups[0].meters_per_gateway = 2;
  const auto fleet = build_fleet(spec);
  FaultSet faults(1);
  Dlt645Bus bus(fleet.gateways[0], &faults);
  asio::io_context io;
  AdminServer admin(io, "127.0.0.1", 0, faults, {&bus.table()});

  auto reply = json::parse(admin.handle(R"({"cmd":"inject","fault":{"kind":"no_answer","target":"gw001-m0001"}})"));
  REQUIRE(reply.at("ok") == true);
  const auto id = reply.at("id").get<std::uint64_t>();
  const auto request = dlt645::make_read_request(fleet.gateways[0].meters[0].address, 0x00010000);
  CHECK(bus.transact(request, test::at("2026-01-05T00:00:00Z")).bytes.empty());

  reply = json::parse(admin.handle(R"({"cmd":"faults"})"));
  REQUIRE(reply.at("faults").size() == 1);
  CHECK(reply.at("faults")[0].at("kind") == "no_answer");

  reply = json::parse(admin.handle(R"({"cmd":"counters","meter":"gw001-m0001"})"));
  CHECK(reply.at("meter").at("requests") == 1);
  CHECK(reply.at("meter").at("faults") == 1);
  reply = json::parse(admin.handle(R"({"cmd":"counters"})"));
  CHECK(reply.at("gateways")[0].at("requests") == 1);
  CHECK(reply.at("faults_injected") == 1);

  CHECK(json::parse(admin.handle(R"({"cmd":"remove","id":)" + std::to_string(id) + "}")).at("ok") == true);
  CHECK_FALSE(bus.transact(request, test::at("2026-01-05T00:00:00Z")).bytes.empty());

  CHECK_THAT(admin.handle("not json"), Catch::Contains("bad JSON"));
  CHECK_THAT(admin.handle(R"({"cmd":"explode"})"), Catch::Contains("unknown cmd 'explode'"));
  CHECK_THAT(admin.handle(R"({"cmd":"inject","fault":{"kind":"x"}})"), Catch::Contains("unknown kind 'x'"));
  CHECK_THAT(admin.handle(R"({"cmd":"counters","gateway":"gw404"})"), Catch::Contains("no gateway 'gw404'"));
}
