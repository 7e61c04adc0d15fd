// The rest of the DL/T 645 catalogue as the simulator answers it, decoded with the protocol
// library's catalogue: instantaneous values, freezes, settlement days, events, 1997 edition,
// broadcast time sync, replacement and register rollover.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "protocols/dlt645/bcd.hpp"
#include "protocols/dlt645/catalogue.hpp"
#include "protocols/dlt645/datetime.hpp"
#include "protocols/dlt645/load_profile.hpp"
#include "protocols/dlt645/read.hpp"
#include "sim_test_support.hpp"
#include "simulators/dlt645_responder.hpp"
#include "simulators/truth.hpp"

using namespace ami;
using namespace ami::sim;
using namespace ami::sim::test;
using namespace std::chrono;
using dlt645::Edition;

namespace {

// Decoded fields of a read of `di` from meter `index` (0-based) at `now`.
std::vector<dlt645::FieldValue> read_fields(Dlt645Bus& bus, Edition edition, std::uint32_t di, std::size_t index,
                                            UtcMillis now) {
  const auto& meter = bus.table().meters()[index];
  const auto request = edition == Edition::v2007
                           ? dlt645::make_read_request(meter.spec().address, di)
                           : dlt645::make_read_request_1997(meter.spec().address, static_cast<std::uint16_t>(di));
  const auto value = read_value(exchange(bus, request, now), edition);
  const auto* item = dlt645::find_data_item(edition, di);
  REQUIRE(item != nullptr);
  std::vector<dlt645::FieldValue> fields;
  REQUIRE(dlt645::decode_value(*item, value, fields).error == dlt645::ValueError::none);
  return fields;
}

std::int64_t wh(const dlt645::FieldValue& f) { return *dlt645::to_wh(f.number); }

Fleet fleet_of(int meters, const char* protocol = "dlt645-2007") {
  FleetSpec spec;
  spec.seed = 31;
  spec.groups[0].meters_per_gateway = meters;
  spec.groups[0].protocol = protocol;
  return build_fleet(spec);
}

// Index of the first meter with rooftop solar.
std::size_t solar_meter(const Fleet& fleet) {
  for (std::size_t i = 0; i < fleet.gateways[0].meters.size(); ++i)
    if (fleet.gateways[0].meters[i].load.solar != 0) return i;
  FAIL("no solar meter in the fleet");
  return 0;
}

}  // namespace

TEST_CASE("instantaneous values follow the energy flow", "[simulators][dlt645]") {
  const auto fleet = fleet_of(20);
  Dlt645Bus bus(fleet.gateways[0], nullptr);
  const auto index = solar_meter(fleet);
  for (const auto* when : {"2026-05-04T04:00:00Z", "2026-05-04T12:00:00Z"}) {  // local noon (export), 20:00
    INFO(when);
    const auto now = at(when);
    const auto power = read_fields(bus, Edition::v2007, 0x02030000, index, now);
    const auto pf = read_fields(bus, Edition::v2007, 0x02060000, index, now);
    const auto voltage = read_fields(bus, Edition::v2007, 0x0201FF00, index, now);
    const auto current = read_fields(bus, Edition::v2007, 0x0202FF00, index, now);
    const auto frequency = read_fields(bus, Edition::v2007, 0x02800002, index, now);
    REQUIRE(voltage.size() == 3);
    REQUIRE(current.size() == 3);
    const auto kw = static_cast<double>(power[0].number.raw) / 1e4;
    const bool exporting = std::string(when) == "2026-05-04T04:00:00Z";
    CHECK((kw < 0) == exporting);
    CHECK((pf[0].number.raw < 0) == exporting);
    // Current carries the direction (signed), so P = sum V x I x |PF| within the fields' rounding.
    double sum = 0;
    for (std::size_t p = 0; p < 3; ++p) {
      const auto v = static_cast<double>(voltage[p].number.raw) / 10;
      CHECK(v > 210);
      CHECK(v < 240);
      sum += v * static_cast<double>(current[p].number.raw) / 1000 * static_cast<double>(std::abs(pf[0].number.raw)) / 1000 / 1000;
    }
    CHECK(std::abs(sum - kw) < 0.02 + std::abs(kw) * 0.01);
    CHECK(frequency[0].number.raw > 4990);
    CHECK(frequency[0].number.raw < 5010);
  }
}

TEST_CASE("daily and hourly freezes hold the registers at their times", "[simulators][dlt645]") {
  const auto fleet = fleet_of(2);
  Dlt645Bus bus(fleet.gateways[0], nullptr);
  const SimMeter truth_meter(fleet.gateways[0].meters[0]);
  const auto now = at("2026-01-10T05:20:00Z");  // 13:20 local on the 10th
  // Two days back: local midnight of the 9th = 2026-01-08T16:00Z.
  const auto time = read_fields(bus, Edition::v2007, 0x05060002, 0, now);
  CHECK(dlt645::to_utc(time[0].time, 480) == parse_utc("2026-01-08T16:00:00Z"));
  const auto daily = read_fields(bus, Edition::v2007, 0x05060102, 0, now);
  REQUIRE(daily.size() == 5);  // total + 4 tariffs
  const auto expected = truth_meter.dlt645_registers_at(at("2026-01-08T16:00:00Z"));
  CHECK(wh(daily[0]) == expected.forward_wh);
  for (std::size_t t = 0; t < kTariffs; ++t) CHECK(wh(daily[t + 1]) == expected.forward_tariff_wh[t]);
  // Hourly freeze 3 hours back: 05:00Z - 2 h.
  const auto hourly_time = read_fields(bus, Edition::v2007, 0x05040003, 0, now);
  CHECK(dlt645::to_utc(hourly_time[0].time, 480) == parse_utc("2026-01-10T03:00:00Z"));
  const auto hourly = read_fields(bus, Edition::v2007, 0x05040103, 0, now);
  CHECK(wh(hourly[0]) == truth_meter.dlt645_registers_at(at("2026-01-10T03:00:00Z")).forward_wh);
}

TEST_CASE("a meter without a load profile answers 06000001 'no requested data' and still serves its freezes",
          "[simulators][dlt645]") {
  FleetSpec spec;
  spec.seed = 31;
  spec.groups[0].meters_per_gateway = 3;
  MeterOverride none;
  none.id = "gw001-m0001";
  none.load_profile_hours = 0;
  MeterOverride short_memory;
  short_memory.id = "gw001-m0002";
  short_memory.load_profile_hours = 2;
  spec.overrides = {none, short_memory};
  const auto fleet = build_fleet(spec);
  Dlt645Bus bus(fleet.gateways[0], nullptr);
  const auto now = at("2026-01-10T05:20:00Z");
  const auto load_profile = [&](std::size_t index, const char* start) {
    return exchange(bus,
                    dlt645::make_load_profile_request(fleet.gateways[0].meters[index].address, 2,
                                                      dlt645::to_meter_time(*parse_utc(start), 480)),
                    now);
  };
  const auto no_data = [](const std::optional<dlt645::Frame>& reply) {
    REQUIRE(reply);
    CHECK(reply->control.abnormal());
    CHECK(reply->data == std::vector<std::uint8_t>{kErrNoData});
  };
  no_data(load_profile(0, "2026-01-10T05:00:00Z"));
  // Two hours of memory: 03:15 (05:15 - 2 h) is the oldest record kept.
  no_data(load_profile(1, "2026-01-10T03:00:00Z"));
  CHECK_FALSE(load_profile(1, "2026-01-10T03:15:00Z")->control.abnormal());
  CHECK_FALSE(load_profile(2, "2026-01-08T03:00:00Z")->control.abnormal());  // the default 62 days
  // The freezes of the meter without a load profile equal its truth.
  const SimMeter truth_meter(fleet.gateways[0].meters[0]);
  const auto hourly_time = read_fields(bus, Edition::v2007, 0x05040002, 0, now);
  CHECK(dlt645::to_utc(hourly_time[0].time, 480) == parse_utc("2026-01-10T04:00:00Z"));
  const auto forward = read_fields(bus, Edition::v2007, 0x05040102, 0, now);
  const auto reverse = read_fields(bus, Edition::v2007, 0x05040202, 0, now);
  const auto expected = exposed_registers(truth_meter, at("2026-01-10T04:00:00Z"));
  CHECK(wh(forward[0]) == expected.forward_wh);
  CHECK(wh(reverse[0]) == expected.reverse_wh);
}

TEST_CASE("hourly freezes are on the meter's local whole hours", "[simulators][dlt645]") {
  FleetSpec spec;
  spec.seed = 31;
  spec.utc_offset_minutes = 330;  // UTC+5:30: local hours start at :30 UTC
  const auto fleet = build_fleet(spec);
  Dlt645Bus bus(fleet.gateways[0], nullptr);
  const auto time = read_fields(bus, Edition::v2007, 0x05040001, 0, at("2026-01-10T05:20:00Z"));
  CHECK(dlt645::to_utc(time[0].time, 330) == parse_utc("2026-01-10T04:30:00Z"));
}

TEST_CASE("settlement-day registers, tariffs beyond four and reactive energy", "[simulators][dlt645]") {
  const auto fleet = fleet_of(1);
  Dlt645Bus bus(fleet.gateways[0], nullptr);
  const SimMeter truth_meter(fleet.gateways[0].meters[0]);
  const auto now = at("2026-03-10T05:00:00Z");
  // 1st previous settlement: 2026-03-01 00:00 local.
  CHECK(wh(read_fields(bus, Edition::v2007, 0x00010001, 0, now)[0]) ==
        truth_meter.dlt645_registers_at(at("2026-02-28T16:00:00Z")).forward_wh);
  const auto& address = fleet.gateways[0].meters[0].address;
  const auto tariff5 = exchange(bus, dlt645::make_read_request(address, 0x00010500), now);
  REQUIRE(tariff5);
  CHECK(tariff5->control.raw == 0xD1);
  const auto q1 = read_fields(bus, Edition::v2007, 0x00050000, 0, now);
  CHECK(wh(q1[0]) > 0);
}

TEST_CASE("max demand is the largest 15-minute average power this month", "[simulators][dlt645]") {
  const auto fleet = fleet_of(1);
  Dlt645Bus bus(fleet.gateways[0], nullptr);
  const auto& meter = bus.table().meters()[0];
  const auto now = at("2026-03-03T00:00:00Z");
  const auto fields = read_fields(bus, Edition::v2007, 0x01010000, 0, now);
  REQUIRE(fields.size() == 2);
  const auto slot_start = *dlt645::to_utc(fields[1].time, 480);
  const auto k = meter.load().local_slot_of(UtcMillis{slot_start});
  // demand kW x 1e4 = W x 10
  CHECK(fields[0].number.raw == meter.load().slot_energy_mwh(k) * 4 / 1000 * 10);
  for (auto t = at("2026-02-28T16:00:00Z"); t < now; t += minutes{15})
    CHECK(meter.load().slot_energy_mwh(meter.load().local_slot_of(t)) <= meter.load().slot_energy_mwh(k));
}

TEST_CASE("power-down events: count and records agree", "[simulators][dlt645]") {
  const auto fleet = fleet_of(1);
  Dlt645Bus bus(fleet.gateways[0], nullptr);
  const auto now = at("2026-03-10T05:00:00Z");
  const auto count = read_fields(bus, Edition::v2007, 0x03110000, 0, now)[0].number.raw;
  CHECK(count > 50);  // about one cut in 20 days since 2020
  const auto last = read_fields(bus, Edition::v2007, 0x03110001, 0, now);
  const auto before = read_fields(bus, Edition::v2007, 0x03110002, 0, now);
  REQUIRE(last.size() == 2);
  const auto last_start = *dlt645::to_utc(last[0].time, 480);
  const auto last_end = *dlt645::to_utc(last[1].time, 480);
  CHECK(last_start < last_end);
  CHECK(UtcMillis{last_end} <= now);
  CHECK(*dlt645::to_utc(before[1].time, 480) < last_start);
  CHECK(power_down_count(bus.table().meters()[0], UtcMillis{last_end}) == count);
}

TEST_CASE("the 1997 edition answers 2-byte identifiers with 81H", "[simulators][dlt645]") {
  const auto fleet = fleet_of(2, "dlt645-1997");
  Dlt645Bus bus(fleet.gateways[0], nullptr);
  const auto now = at("2026-01-05T03:00:00Z");
  const auto& meter = fleet.gateways[0].meters[1];
  const auto reply = exchange(bus, dlt645::make_read_request_1997(meter.address, 0x9010), now);
  REQUIRE(reply);
  CHECK(reply->control.raw == 0x81);
  const auto fields = read_fields(bus, Edition::v1997, 0x9010, 1, now);
  CHECK(wh(fields[0]) == SimMeter(meter).dlt645_registers_at(now).forward_wh);
  const auto unknown = exchange(bus, dlt645::make_read_request_1997(meter.address, 0x1234), now);
  REQUIRE(unknown);
  CHECK(unknown->control.raw == 0xC1);
  // A 2007 read is not understood by a 1997 meter: silence.
  CHECK_FALSE(exchange(bus, dlt645::make_read_request(meter.address, 0x00010000), now));
}

TEST_CASE("broadcast time sync sets every meter's clock, silently", "[simulators][dlt645]") {
  const auto fleet = fleet_of(2);
  Dlt645Bus bus(fleet.gateways[0], nullptr);
  const auto now = at("2026-01-05T03:00:00Z");
  const auto sync = dlt645::make_broadcast_time_sync(dlt645::to_meter_time(*parse_utc("2026-01-05T03:10:00Z"), 480));
  REQUIRE(sync);
  CHECK(bus.transact(*sync, now).bytes.empty());
  for (std::size_t i = 0; i < 2; ++i) {
    const auto t = read_fields(bus, Edition::v2007, 0x04000102, i, now + seconds{5});
    CHECK(t[0].time.hour == 11);
    CHECK(t[0].time.minute == 10);
    CHECK(t[0].time.second == 5);
  }
}

TEST_CASE("replacement: new address, registers from zero, truth spans the swap", "[simulators][dlt645]") {
  FleetSpec spec;
  spec.groups[0].meters_per_gateway = 2;
  Replacement r;
  r.at = *parse_utc("2026-01-05T06:05:00Z");
  r.new_address = address("000000019001");
  spec.overrides.push_back(MeterOverride{"gw001-m0002", {}, {}, {}, r, {}});
  const auto fleet = build_fleet(spec);
  Dlt645Bus bus(fleet.gateways[0], nullptr);
  const auto before = at("2026-01-05T06:00:00Z");
  const auto after = at("2026-01-05T07:00:00Z");
  CHECK(exchange(bus, dlt645::make_read_request(address("000000010002"), 0x00010000), before));
  CHECK_FALSE(exchange(bus, dlt645::make_read_request(address("000000010002"), 0x00010000), after));
  const auto fresh = read_value(exchange(bus, dlt645::make_read_request(address("000000019001"), 0x00010000), after),
                                Edition::v2007);
  const auto& meter = fleet.gateways[0].meters[1];
  const SimMeter sim_meter(meter);
  const auto new_register = sim_meter.dlt645_registers_at(after).forward_wh;
  CHECK(new_register > 0);
  CHECK(new_register < 50'000);  // the new meter counted only 55 minutes
  std::vector<std::uint8_t> expected(4);
  dlt645::encode_bcd(static_cast<std::uint64_t>(new_register / 10), expected);
  CHECK(fresh == expected);

  const auto truth = compute_truth(meter, *parse_utc("2026-01-05T06:00:00Z"), *parse_utc("2026-01-05T06:15:00Z"),
                                   minutes{15});
  REQUIRE(truth.intervals.size() == 1);
  MeterSpec unreplaced = meter;
  unreplaced.replacement.reset();
  const auto plain = compute_truth(unreplaced, *parse_utc("2026-01-05T06:00:00Z"), *parse_utc("2026-01-05T06:15:00Z"),
                                   minutes{15});
  // The same energy flowed, split over two meters (each floored to 10 Wh): within 20 Wh.
  CHECK(std::abs(truth.intervals[0].forward_wh - plain.intervals[0].forward_wh) <= 20);
  CHECK(truth.boundaries[1].forward_wh == sim_meter.dlt645_registers_at(at("2026-01-05T06:15:00Z")).forward_wh);
}

TEST_CASE("registers roll over at the configured dial and truth bridges the wrap", "[simulators][dlt645]") {
  FleetSpec spec;
  spec.dial_modulus_wh = 100'000'000;  // 99999.99 kWh dial
  const auto base = build_fleet(spec).gateways[0].meters[0];
  const SimMeter probe(base);
  // Start the register so that it wraps during 2026-01-05.
  const auto day_start = probe.registers_at(at("2026-01-05T00:00:00Z")).forward_wh;
  spec.overrides.push_back(
      MeterOverride{"gw001-m0001", base.load.initial_wh + (100'000'000 - 500 - day_start), {}, {}, {}, {}});
  const auto fleet = build_fleet(spec);
  const auto truth = compute_truth(fleet.gateways[0].meters[0], *parse_utc("2026-01-05T00:00:00Z"),
                                   *parse_utc("2026-01-05T12:00:00Z"), minutes{15});
  bool wrapped = false;
  for (std::size_t i = 0; i < truth.intervals.size(); ++i) {
    const auto& a = truth.boundaries[i];
    const auto& b = truth.boundaries[i + 1];
    CHECK(truth.intervals[i].forward_wh >= 0);
    CHECK(truth.intervals[i].forward_wh < 100'000);
    if (b.forward_wh < a.forward_wh) wrapped = true;
  }
  CHECK(wrapped);
}

TEST_CASE("a drifting meter clock shows in its time and shifts its load-profile memory", "[simulators][dlt645]") {
  FleetSpec spec;
  spec.overrides.push_back(MeterOverride{"gw001-m0001", {}, {}, 1000, {}, {}});  // 1000 ppm fast: 3.6 s per hour
  const auto fleet = build_fleet(spec);
  Dlt645Bus bus(fleet.gateways[0], nullptr);
  const auto start = at("2026-01-05T00:00:00Z");
  bus.table().set_drift_reference(start);
  auto& meter = bus.table().meters()[0];
  const auto now = start + hours{10};
  CHECK(meter.meter_clock(now) == now + seconds{36});
  CHECK(meter.true_instant_of(meter.meter_clock(now)) == now);
  const auto t = read_fields(bus, Edition::v2007, 0x04000102, 0, now);
  CHECK(t[0].time.hour == 18);  // 10:00Z = 18:00 local
  CHECK(t[0].time.second == 36);
  // The record the meter stamped 10:00Z holds the registers of the true instant its clock showed that.
  const auto record_time = *parse_utc("2026-01-05T10:00:00Z");
  const auto reply = exchange(bus, dlt645::make_load_profile_request(meter.spec().address, 1,
                                                                     dlt645::to_meter_time(record_time, 480)),
                              now);
  std::vector<dlt645::LoadProfileRecord> records;
  REQUIRE(dlt645::parse_load_profile_records(read_value(reply, Edition::v2007), records) ==
          dlt645::LoadProfileError::none);
  REQUIRE(records.size() == 1);
  CHECK(records[0].forward_active_wh ==
        meter.dlt645_registers_at(UtcMillis{record_time} - seconds{36}).forward_wh);
  // A time sync puts it right again.
  meter.set_clock(now, now);
  CHECK(meter.meter_clock(now + hours{1}) == now + hours{1} + milliseconds{3600});
}

TEST_CASE("long load-profile reads continue in 12H follow-up frames", "[simulators][dlt645]") {
  const auto fleet = fleet_of(1);
  Dlt645Bus bus(fleet.gateways[0], nullptr);
  const auto& spec = fleet.gateways[0].meters[0];
  const auto from = *parse_utc("2026-01-05T00:00:00Z");
  const auto now = at("2026-01-06T00:00:00Z");
  const auto truth = compute_truth(spec, from, from + minutes{15 * 19}, minutes{15});
  REQUIRE(truth.boundaries.size() == 20);

  std::vector<dlt645::LoadProfileRecord> records;
  auto reply = exchange(bus, dlt645::make_load_profile_request(spec.address, 20, dlt645::to_meter_time(from, 480)), now);
  REQUIRE(reply);
  CHECK(reply->control.raw == 0xB1);  // 8 records, more follow
  REQUIRE(dlt645::parse_load_profile_records(read_value(reply, Edition::v2007), records) ==
          dlt645::LoadProfileError::none);
  for (std::uint8_t seq = 1; seq <= 2; ++seq) {
    reply = exchange(bus, dlt645::make_read_follow_up_request(spec.address, dlt645::kDiLoadProfileFromTime, seq), now);
    REQUIRE(reply);
    CHECK(reply->control.raw == (seq == 1 ? 0xB2 : 0x92));
    dlt645::Message m;
    REQUIRE(dlt645::parse_message(*reply, Edition::v2007, m).ok());
    CHECK(m.seq == seq);
    REQUIRE(dlt645::parse_load_profile_records(m.value, records) == dlt645::LoadProfileError::none);
  }
  REQUIRE(records.size() == 20);
  for (std::size_t i = 0; i < records.size(); ++i) {
    CHECK(dlt645::to_utc(records[i].time, 480) == truth.boundaries[i].t);
    CHECK(records[i].forward_active_wh == truth.boundaries[i].forward_wh);
  }
  // Nothing left: a further follow-up gets D2, no requested data.
  reply = exchange(bus, dlt645::make_read_follow_up_request(spec.address, dlt645::kDiLoadProfileFromTime, 3), now);
  REQUIRE(reply);
  CHECK(reply->control.raw == 0xD2);
}
