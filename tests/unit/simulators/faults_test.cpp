// Fault injection at the bus (no sockets): each fault kind as the master sees it on the wire.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "protocols/dlt645/bcd.hpp"
#include "protocols/dlt645/read.hpp"
#include "sim_test_support.hpp"
#include "simulators/meter.hpp"
#include "simulators/truth.hpp"

using namespace ami;
using namespace ami::sim;
using namespace ami::sim::test;
using namespace std::chrono;

namespace {

struct Rig {
  Rig() {
    FleetSpec spec;
    spec.groups[0].meters_per_gateway = 3;
    fleet = build_fleet(spec);
    bus.emplace(fleet.gateways[0], &faults);
  }
  dlt645::Frame read(const char* addr, std::uint32_t di = dlt645::kDiForwardActiveTotal) const {
    return dlt645::make_read_request(address(addr), di);
  }
  Fleet fleet;
  FaultSet faults{7};
  std::optional<Dlt645Bus> bus;
};

FaultRule rule(FaultKind kind, std::string target) {
  FaultRule r;
  r.kind = kind;
  r.target = std::move(target);
  return r;
}

const auto kNow = at("2026-01-05T03:00:00Z");

}  // namespace

TEST_CASE("no_answer and offline silence only the targeted meter", "[simulators][faults]") {
  Rig rig;
  rig.faults.add(rule(FaultKind::no_answer, "gw001-m0002"));
  CHECK_FALSE(exchange(*rig.bus, rig.read("000000010002"), kNow));
  CHECK(exchange(*rig.bus, rig.read("000000010001"), kNow));
  const auto& m2 = rig.bus->table().meters()[1];
  CHECK(m2.counters().requests == 1);
  CHECK(m2.counters().faults == 1);
  CHECK(m2.counters().replies == 0);
}

TEST_CASE("offline for a window, then back with its memory intact", "[simulators][faults]") {
  Rig rig;
  auto r = rule(FaultKind::offline, "gw001-m0003");
  r.from = *parse_utc("2026-01-05T01:00:00Z");
  r.until = *parse_utc("2026-01-05T04:00:00Z");
  rig.faults.add(r);
  CHECK(exchange(*rig.bus, rig.read("000000010003"), at("2026-01-05T00:59:59Z")));
  CHECK_FALSE(exchange(*rig.bus, rig.read("000000010003"), at("2026-01-05T01:00:00Z")));
  CHECK_FALSE(exchange(*rig.bus, rig.read("000000010003"), at("2026-01-05T03:59:59Z")));
  CHECK(exchange(*rig.bus, rig.read("000000010003"), at("2026-01-05T04:00:00Z")));
}

TEST_CASE("late answer asks the gateway to hold the reply", "[simulators][faults]") {
  Rig rig;
  auto r = rule(FaultKind::late_answer, "gw001");
  r.delay_ms = 1500;
  rig.faults.add(r);
  const auto reply = rig.bus->transact(rig.read("000000010001"), kNow);
  CHECK(reply.delay == milliseconds{1500});
  CHECK_FALSE(reply.bytes.empty());
}

TEST_CASE("bad checksum replies are rejected by the framer", "[simulators][faults]") {
  Rig rig;
  rig.faults.add(rule(FaultKind::bad_checksum, "gw001-m0001"));
  const auto bytes = rig.bus->transact(rig.read("000000010001"), kNow).bytes;
  REQUIRE_FALSE(bytes.empty());
  dlt645::Framer framer;
  framer.feed(bytes);
  dlt645::Frame frame;
  bool saw_bad_checksum = false;
  for (int i = 0; i < 10; ++i) {
    const auto e = framer.next(frame);
    CHECK(e.kind != dlt645::Framer::EventKind::frame);
    saw_bad_checksum = saw_bad_checksum || e.error == dlt645::FrameError::bad_checksum;
    if (e.kind == dlt645::Framer::EventKind::need_more) break;
  }
  CHECK(saw_bad_checksum);
}

TEST_CASE("garbage replies hold no frame", "[simulators][faults]") {
  Rig rig;
  rig.faults.add(rule(FaultKind::garbage, "*"));
  const auto bytes = rig.bus->transact(rig.read("000000010001"), kNow).bytes;
  REQUIRE(bytes.size() >= 8);
  dlt645::Framer framer;
  framer.feed(bytes);
  dlt645::Frame frame;
  for (int i = 0; i < 10; ++i) {
    const auto e = framer.next(frame);
    REQUIRE(e.kind != dlt645::Framer::EventKind::frame);
    if (e.kind == dlt645::Framer::EventKind::need_more) break;
  }
}

TEST_CASE("wrong-address replies come from another address", "[simulators][faults]") {
  Rig rig;
  rig.faults.add(rule(FaultKind::wrong_address, "gw001-m0001"));
  const auto reply = exchange(*rig.bus, rig.read("000000010001"), kNow);
  REQUIRE(reply);
  CHECK(reply->address == address("000000010002"));
}

TEST_CASE("drop_connections asks the gateway to close the connection", "[simulators][faults]") {
  Rig rig;
  rig.faults.add(rule(FaultKind::drop_connections, "gw001"));
  const auto reply = rig.bus->transact(rig.read("000000010001"), kNow);
  CHECK(reply.drop_connection);
  CHECK(reply.bytes.empty());
  CHECK(rig.bus->table().counters().dropped == 1);
}

TEST_CASE("a clock jump shows in the meter's time", "[simulators][faults]") {
  Rig rig;
  auto r = rule(FaultKind::clock_jump, "gw001-m0001");
  r.seconds = 3600;
  rig.faults.add(r);
  const auto value = read_value(exchange(*rig.bus, rig.read("000000010001", 0x04000102), kNow), dlt645::Edition::v2007);
  // 03:00Z = 11:00 local, +1 h = 12:00:00 (ss mm hh).
  CHECK(value == std::vector<std::uint8_t>{0x00, 0x00, 0x12});
  // Applied once, not again on the next request.
  const auto again = read_value(exchange(*rig.bus, rig.read("000000010001", 0x04000102), kNow), dlt645::Edition::v2007);
  CHECK(again == value);
}

TEST_CASE("a fault rate fires on about that share of requests, deterministically", "[simulators][faults]") {
  const auto pattern = [] {
    Rig rig;
    auto r = rule(FaultKind::no_answer, "gw001-m0001");
    r.rate = 0.3;
    rig.faults.add(r);
    std::vector<bool> silent;
    for (int i = 0; i < 400; ++i) silent.push_back(!exchange(*rig.bus, rig.read("000000010001"), kNow));
    return silent;
  };
  const auto a = pattern();
  CHECK(a == pattern());
  const auto fired = std::count(a.begin(), a.end(), true);
  CHECK(fired > 80);
  CHECK(fired < 160);
}

TEST_CASE("fault rules parse from JSON and reject bad fields by name", "[simulators][faults]") {
  const auto r = parse_fault_rule(nlohmann::json::parse(
      R"({"kind":"late_answer","target":"gw002","rate":0.5,"delay_ms":700,"from":"2026-01-05T00:00:00Z"})"));
  CHECK(r.kind == FaultKind::late_answer);
  CHECK(r.target == "gw002");
  CHECK(r.rate == 0.5);
  CHECK(r.delay_ms == 700);
  CHECK(r.from == parse_utc("2026-01-05T00:00:00Z"));
  CHECK_THROWS_WITH(parse_fault_rule(nlohmann::json::parse(R"({"kind":"melt"})")), Catch::Contains("melt"));
  CHECK_THROWS_WITH(parse_fault_rule(nlohmann::json::parse(R"({"kind":"no_answer","rate":2})")),
                    Catch::Contains("'rate'"));
  CHECK_THROWS_WITH(parse_fault_rule(nlohmann::json::parse(R"({"kind":"no_answer","colour":"red"})")),
                    Catch::Contains("colour"));
  CHECK_THROWS_WITH(parse_fault_rule(nlohmann::json::parse(R"({"kind":"late_answer"})")), Catch::Contains("delay_ms"));
}

TEST_CASE("a spike adds its energy to the meter's registers and to the truth", "[simulators][faults]") {
  FleetSpec spec;
  spec.groups[0].meters_per_gateway = 2;
  auto fleet = build_fleet(spec);
  const auto plain = fleet;
  const auto spike_rule = parse_fault_rule(nlohmann::json{
      {"kind", "spike"}, {"target", "gw001-m0001"}, {"from", "2026-01-05T03:00:00Z"}, {"until", "2026-01-05T03:10:00Z"},
      {"wh", 9000}});
  CHECK(to_json(spike_rule).at("wh") == 9000);
  apply_spikes({spike_rule}, fleet);
  REQUIRE(fleet.find_meter("gw001-m0001")->spikes.size() == 1);
  CHECK(fleet.find_meter("gw001-m0002")->spikes.empty());

  const SimMeter spiked(*fleet.find_meter("gw001-m0001"));
  const SimMeter normal(*plain.find_meter("gw001-m0001"));
  const auto extra = [&](const char* t) {
    return spiked.registers_at(UtcMillis{at(t)}).forward_wh - normal.registers_at(UtcMillis{at(t)}).forward_wh;
  };
  CHECK(extra("2026-01-05T02:59:00Z") == 0);
  CHECK(extra("2026-01-05T03:05:00Z") == 4500);  // half the window, half the energy
  CHECK(extra("2026-01-05T03:15:00Z") == 9000);
  CHECK(extra("2026-01-06T00:00:00Z") == 9000);
  const auto r = spiked.registers_at(UtcMillis{at("2026-01-05T04:00:00Z")});
  std::int64_t tariffs = 0;
  for (const auto v : r.forward_tariff_wh) tariffs += v;
  const auto n = normal.registers_at(UtcMillis{at("2026-01-05T04:00:00Z")});
  std::int64_t normal_tariffs = 0;
  for (const auto v : n.forward_tariff_wh) normal_tariffs += v;
  CHECK(tariffs - normal_tariffs == 9000);

  // The truth interval holding the window carries it (DL/T 645 resolution: 10 Wh).
  const auto from = *parse_utc("2026-01-05T02:45:00Z");
  const auto to = *parse_utc("2026-01-05T03:15:00Z");
  const auto truth = compute_truth(*fleet.find_meter("gw001-m0001"), from, to, minutes{15});
  const auto base = compute_truth(*plain.find_meter("gw001-m0001"), from, to, minutes{15});
  REQUIRE(truth.intervals.size() == 2);
  CHECK(truth.intervals[0].forward_wh == base.intervals[0].forward_wh);
  CHECK(std::abs(truth.intervals[1].forward_wh - base.intervals[1].forward_wh - 9000) <= 10);

  CHECK_THROWS_WITH(parse_fault_rule(nlohmann::json{{"kind", "spike"}, {"target", "gw001-m0001"}, {"wh", 100}}),
                    Catch::Contains("spike needs"));
}
