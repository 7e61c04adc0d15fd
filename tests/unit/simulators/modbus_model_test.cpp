// Modbus meters from the protocol library's built-in maps: registers decoded with the library's
// own decoder give the truth; bad addresses and functions get exceptions.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>

#include "protocols/modbus/decode.hpp"
#include "protocols/modbus/register_map.hpp"
#include "protocols/modbus/rtu.hpp"
#include "sim_test_support.hpp"
#include "simulators/modbus_model.hpp"
#include "simulators/truth.hpp"

using namespace ami;
using namespace ami::sim;
using namespace ami::sim::test;

namespace {

Fleet modbus_fleet(const char* model) {
  FleetSpec spec;
  spec.seed = 5;
  spec.groups[0].protocol = "modbus-tcp";
  spec.groups[0].model = model;
  spec.groups[0].meters_per_gateway = 3;
  return build_fleet(spec);
}

// Reads one point's registers the way a master would and decodes them.
std::int64_t read_point(const SimMeter& meter, const modbus::Point& p, UtcMillis now) {
  const auto result = read_modbus_registers(meter, static_cast<std::uint8_t>(p.function), p.address, p.width(), now);
  REQUIRE(std::holds_alternative<std::vector<std::uint16_t>>(result));
  const auto decoded = modbus::decode_point(p, std::get<std::vector<std::uint16_t>>(result));
  REQUIRE(decoded.status == modbus::ValueStatus::ok);
  return decoded.value;
}

}  // namespace

TEST_CASE("SDM630, DTSU666 and EM340 registers decode to the truth", "[simulators][modbus]") {
  const auto model = GENERATE(as<std::string>{}, "SDM630", "DTSU666", "EM340");
  INFO(model);
  const auto fleet = modbus_fleet(model.c_str());
  const SimMeter meter(fleet.gateways[0].meters[2]);
  const auto now = at("2026-01-05T11:00:00Z");
  const auto truth = exposed_registers(meter, now);
  const auto exact = meter.registers_at(now);
  const auto v = meter.instantaneous_at(now);
  for (const auto& p : meter.spec().modbus_map->points) {
    INFO(p.name);
    const auto value = read_point(meter, p, now);
    switch (p.quantity) {
      case Quantity::forward_active_energy:
        CHECK(value == truth.forward_wh);
        CHECK(std::abs(value - exact.forward_wh) <= exact.forward_wh / 1'000'000 + 100);  // float32 / 0.1 kWh
        break;
      case Quantity::reverse_active_energy: CHECK(value == truth.reverse_wh); break;
      case Quantity::voltage_l1: CHECK(std::abs(value - v.voltage_mv[0]) <= 100); break;
      case Quantity::current_l1: CHECK(std::abs(value - v.current_ma[0]) <= 1); break;
      case Quantity::active_power: CHECK(std::abs(value - v.active_power_mw) <= 100); break;
      case Quantity::power_factor: CHECK(value == v.power_factor_permille); break;
      case Quantity::frequency: CHECK(std::abs(value - v.frequency_mhz) <= 100); break;
      default: break;
    }
  }
}

TEST_CASE("Modbus block reads, illegal addresses and functions", "[simulators][modbus]") {
  const auto fleet = modbus_fleet("SDM630");
  const SimMeter meter(fleet.gateways[0].meters[0]);
  const auto now = at("2026-01-05T11:00:00Z");
  // One block over voltages and currents (0x0000..0x000B).
  const auto block = read_modbus_registers(meter, 0x04, 0x0000, 12, now);
  REQUIRE(std::holds_alternative<std::vector<std::uint16_t>>(block));
  CHECK(std::get<std::vector<std::uint16_t>>(block).size() == 12);
  const auto code = [&](std::uint8_t fn, std::uint16_t start, std::uint16_t count) {
    const auto r = read_modbus_registers(meter, fn, start, count, now);
    REQUIRE(std::holds_alternative<ModbusException>(r));
    return std::get<ModbusException>(r).code;
  };
  CHECK(code(0x04, 0x004C, 2) == kModbusIllegalDataAddress);  // past the last point
  CHECK(code(0x04, 0x0000, 41) == kModbusIllegalDataAddress);  // beyond the model's 40-register block
  CHECK(code(0x03, 0x0000, 2) == kModbusIllegalFunction);      // SDM630 energy is in input registers
}

TEST_CASE("Modbus truth intervals are differences of the decoded registers", "[simulators][modbus]") {
  const auto fleet = modbus_fleet("SDM630");
  const auto& spec = fleet.gateways[0].meters[1];
  const auto truth = compute_truth(spec, *parse_utc("2026-01-05T00:00:00Z"), *parse_utc("2026-01-05T01:00:00Z"),
                                   std::chrono::minutes{15});
  REQUIRE(truth.intervals.size() == 4);
  for (std::size_t i = 0; i < 4; ++i)
    CHECK(truth.intervals[i].forward_wh == truth.boundaries[i + 1].forward_wh - truth.boundaries[i].forward_wh);
}

TEST_CASE("Modbus RTU answers decode with the library's RTU framer, faults change them", "[simulators][modbus]") {
  FleetSpec spec;
  spec.groups[0].protocol = "modbus-rtu";
  spec.groups[0].model = "SDM630";
  spec.groups[0].meters_per_gateway = 2;
  spec.groups[0].pty_dir = "/tmp/unused";
  const auto fleet = build_fleet(spec);
  FaultSet faults(3);
  ModbusBus bus(fleet.gateways[0], &faults, false);
  const auto now = at("2026-01-05T11:00:00Z");
  const auto decode = [](const std::vector<std::uint8_t>& bytes) {
    modbus::RtuFramer framer(modbus::RtuDirection::response);
    framer.feed(bytes);
    modbus::RtuFrame frame;
    for (int i = 0; i < 8; ++i) {
      const auto e = framer.next(frame);
      if (e.kind == modbus::RtuFramer::EventKind::frame) return std::optional{frame};
      if (e.kind == modbus::RtuFramer::EventKind::need_more) break;
    }
    return std::optional<modbus::RtuFrame>{};
  };
  auto frame = decode(encode_rtu_answer(bus.transact(2, 0x04, 0x48, 2, now)));
  REQUIRE(frame);
  CHECK(frame->unit() == 2);
  CHECK(frame->function() == 0x04);
  std::vector<std::uint16_t> regs{static_cast<std::uint16_t>(frame->pdu()[2] << 8 | frame->pdu()[3]),
                                  static_cast<std::uint16_t>(frame->pdu()[4] << 8 | frame->pdu()[5])};
  const auto& point = *std::find_if(fleet.gateways[0].meters[1].modbus_map->points.begin(),
                                    fleet.gateways[0].meters[1].modbus_map->points.end(),
                                    [](const modbus::Point& p) { return p.address == 0x48; });
  CHECK(modbus::decode_point(point, regs).value == exposed_registers(bus.table().meters()[1], now).forward_wh);

  // A bare RTU line: unknown units stay silent; an exception is function | 80H.
  CHECK(encode_rtu_answer(bus.transact(9, 0x04, 0x48, 2, now)).empty());
  frame = decode(encode_rtu_answer(bus.transact(1, 0x04, 0x300, 2, now)));
  REQUIRE(frame);
  CHECK(frame->function() == 0x84);
  CHECK(frame->pdu()[1] == kModbusIllegalDataAddress);

  FaultRule bad_crc;
  bad_crc.kind = FaultKind::bad_checksum;
  bad_crc.target = "gw001-m0001";
  faults.add(bad_crc);
  CHECK_FALSE(decode(encode_rtu_answer(bus.transact(1, 0x04, 0x48, 2, now))));
  FaultRule offline;
  offline.kind = FaultKind::offline;
  offline.target = "gw001-m0002";
  faults.add(offline);
  CHECK(encode_rtu_answer(bus.transact(2, 0x04, 0x48, 2, now)).empty());
}
