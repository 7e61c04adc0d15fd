// The simulator's DL/T 645-2007 replies, produced by the bus (no sockets) and decoded by the
// protocol library, checked against the meter's ground truth.
#include <catch2/catch.hpp>

#include "protocols/dlt645/bcd.hpp"
#include "protocols/dlt645/datetime.hpp"
#include "protocols/dlt645/framer.hpp"
#include "protocols/dlt645/load_profile.hpp"
#include "protocols/dlt645/read.hpp"
#include "sim_test_support.hpp"
#include "simulators/bus.hpp"
#include "simulators/dlt645_responder.hpp"
#include "simulators/truth.hpp"

using namespace ami;
using namespace ami::sim;
using namespace ami::sim::test;
using namespace std::chrono;

namespace {

struct Fixture {
  Fixture() {
    FleetSpec spec;
    spec.groups[0].meters_per_gateway = 3;
    spec.seed = 20260105;
    fleet = build_fleet(spec);
  }
  const MeterSpec& meter(std::size_t i) const { return fleet.gateways[0].meters[i]; }
  Fleet fleet;
};

std::int64_t energy_wh(std::span<const std::uint8_t> four) {
  const auto v = dlt645::decode_bcd(four.subspan(0, 4));
  REQUIRE(v.status == dlt645::BcdStatus::ok);
  return v.value * 10;
}

}  // namespace

TEST_CASE("energy register reads match the truth at the read instant", "[simulators][dlt645]") {
  Fixture f;
  Dlt645Bus bus(f.fleet.gateways[0], nullptr);
  const auto now = at("2026-01-05T03:21:17Z");
  const SimMeter truth_meter(f.meter(1));
  const auto truth = truth_meter.dlt645_registers_at(now);
  for (const auto& [di, expected] : {std::pair{dlt645::kDiForwardActiveTotal, truth.forward_wh},
                                    std::pair{dlt645::kDiReverseActiveTotal, truth.reverse_wh}}) {
    const auto reply = exchange(bus, dlt645::make_read_request(f.meter(1).address, di), now);
    REQUIRE(reply);
    CHECK(reply->address == f.meter(1).address);
    const auto read = dlt645::parse_read_reply(*reply);
    REQUIRE(read);
    CHECK(read->di == di);
    REQUIRE(read->value.size() == 4);
    CHECK(energy_wh(read->value) == expected);
  }
  // Block read: total then tariffs 1..4.
  const auto reply = exchange(bus, dlt645::make_read_request(f.meter(1).address, 0x0001FF00), now);
  REQUIRE(reply);
  const auto read = dlt645::parse_read_reply(*reply);
  REQUIRE(read);
  REQUIRE(read->value.size() == 20);
  CHECK(energy_wh(read->value) == truth.forward_wh);
  for (std::size_t i = 0; i < kTariffs; ++i) CHECK(energy_wh(read->value.subspan(4 * (i + 1))) == truth.forward_tariff_wh[i]);
}

TEST_CASE("load-profile records at boundaries equal the truth, the future is 'no data'", "[simulators][dlt645]") {
  Fixture f;
  Dlt645Bus bus(f.fleet.gateways[0], nullptr);
  const auto& meter = f.meter(2);
  const auto boundary = *parse_utc("2026-01-05T01:00:00Z");
  const auto truth = compute_truth(meter, boundary - minutes{15}, boundary, minutes{15});
  REQUIRE(truth.boundaries.size() == 2);

  // NN=2 from B-15min, read a few seconds after B (meter local time = UTC+8).
  const auto request =
      dlt645::make_load_profile_request(meter.address, 2, dlt645::to_meter_time(boundary - minutes{15}, 480));
  const auto reply = exchange(bus, request, UtcMillis{boundary} + seconds{7});
  REQUIRE(reply);
  const auto read = dlt645::parse_read_reply(*reply);
  REQUIRE(read);
  CHECK(read->di == dlt645::kDiLoadProfileFromTime);
  std::vector<dlt645::LoadProfileRecord> records;
  REQUIRE(dlt645::parse_load_profile_records(read->value, records) == dlt645::LoadProfileError::none);
  REQUIRE(records.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(dlt645::to_utc(records[i].time, 480) == truth.boundaries[i].t);
    CHECK(records[i].forward_active_wh == truth.boundaries[i].forward_wh);
    CHECK(records[i].reverse_active_wh == truth.boundaries[i].reverse_wh);
  }
  CHECK(*records[1].forward_active_wh - *records[0].forward_active_wh == truth.intervals[0].forward_wh);

  // Just before B only the record at B-15min exists.
  const auto early = exchange(bus, request, UtcMillis{boundary} - seconds{1});
  REQUIRE(early);
  records.clear();
  REQUIRE(dlt645::parse_load_profile_records(dlt645::parse_read_reply(*early)->value, records) ==
          dlt645::LoadProfileError::none);
  CHECK(records.size() == 1);

  // A record entirely in the future: abnormal reply D1, ERR bit1 "no requested data".
  const auto future = exchange(bus,
                               dlt645::make_load_profile_request(meter.address, 1,
                                                                 dlt645::to_meter_time(boundary + hours{1}, 480)),
                               UtcMillis{boundary});
  REQUIRE(future);
  CHECK(future->control.raw == 0xD1);
  CHECK(future->data == std::vector<std::uint8_t>{kErrNoData});
}

TEST_CASE("a meter that was unreachable still holds the gap's load profile", "[simulators][dlt645]") {
  Fixture f;
  Dlt645Bus bus(f.fleet.gateways[0], nullptr);
  const auto& meter = f.meter(0);
  const auto from = *parse_utc("2026-01-05T00:00:00Z");
  const auto truth = compute_truth(meter, from, from + hours{2}, minutes{15});
  const auto reply = exchange(bus, dlt645::make_load_profile_request(meter.address, 8, dlt645::to_meter_time(from, 480)),
                              at("2026-01-07T00:00:00Z"));
  REQUIRE(reply);
  std::vector<dlt645::LoadProfileRecord> records;
  REQUIRE(dlt645::parse_load_profile_records(dlt645::parse_read_reply(*reply)->value, records) ==
          dlt645::LoadProfileError::none);
  REQUIRE(records.size() == 8);
  for (std::size_t i = 0; i < records.size(); ++i) CHECK(records[i].forward_active_wh == truth.boundaries[i].forward_wh);
}

TEST_CASE("date, time, address and unsupported identifiers", "[simulators][dlt645]") {
  Fixture f;
  Dlt645Bus bus(f.fleet.gateways[0], nullptr);
  const auto& meter = f.meter(0);
  const auto now = at("2026-01-04T16:05:09Z");  // Monday 2026-01-05 00:05:09 local

  auto reply = exchange(bus, dlt645::make_read_request(meter.address, 0x04000101), now);
  REQUIRE(reply);
  auto read = dlt645::parse_read_reply(*reply);
  REQUIRE(read);
  CHECK(std::vector<std::uint8_t>(read->value.begin(), read->value.end()) ==
        std::vector<std::uint8_t>{0x01, 0x05, 0x01, 0x26});

  reply = exchange(bus, dlt645::make_read_request(meter.address, 0x04000102), now);
  REQUIRE(reply);
  read = dlt645::parse_read_reply(*reply);
  REQUIRE(read);
  CHECK(std::vector<std::uint8_t>(read->value.begin(), read->value.end()) == std::vector<std::uint8_t>{0x09, 0x05, 0x00});

  // 13H read address to AA..AA is ambiguous with three meters on the bus: nobody usable answers.
  const dlt645::Frame read_address{dlt645::Address::wildcard(), dlt645::Control::request(0x13), {}};
  CHECK_FALSE(exchange(bus, read_address, now));
  // With one meter on the bus it answers with its address.
  FleetSpec single;
  const auto single_fleet = build_fleet(single);
  Dlt645Bus single_bus(single_fleet.gateways[0], nullptr);
  reply = exchange(single_bus, read_address, now);
  REQUIRE(reply);
  CHECK(reply->control.raw == 0x93);
  CHECK(reply->address == single_fleet.gateways[0].meters[0].address);
  CHECK(reply->data == std::vector<std::uint8_t>(reply->address.wire().begin(), reply->address.wire().end()));

  // Unsupported DI: D1 with ERR bit1.
  reply = exchange(bus, dlt645::make_read_request(meter.address, 0x0A0B0C0D), now);
  REQUIRE(reply);
  CHECK(reply->control.raw == 0xD1);
  CHECK(reply->data == std::vector<std::uint8_t>{kErrNoData});

  // Frames for other addresses and broadcasts get silence.
  std::string error;
  CHECK_FALSE(exchange(bus, dlt645::make_read_request(*dlt645::Address::parse("000000019999", error), 0x00010000), now));
  CHECK_FALSE(exchange(bus, dlt645::make_read_request(dlt645::Address::broadcast(), 0x00010000), now));
}
