#include "simulators/bus.hpp"

#include "protocols/dlt645/messages.hpp"
#include "protocols/modbus/rtu.hpp"
#include "simulators/dlt645_responder.hpp"
#include "simulators/hash.hpp"
#include "simulators/modbus_model.hpp"

namespace ami::sim {

MeterTable::MeterTable(const GatewaySpec& gateway) : gateway_(&gateway) {
  meters_.reserve(gateway.meters.size());
  for (const auto& spec : gateway.meters) {
    const auto index = meters_.size();
    by_address_[key_of(spec.address)].push_back(index);
    by_unit_[spec.unit_id].push_back(index);
    if (spec.replacement) {
      by_address_[key_of(spec.replacement->new_address)].push_back(index);
      if (spec.replacement->new_unit_id != 0) by_unit_[spec.replacement->new_unit_id].push_back(index);
    }
    meters_.emplace_back(spec);
  }
}

std::uint64_t MeterTable::key_of(const dlt645::Address& address) {
  std::uint64_t key = 0;
  for (const auto b : address.wire()) key = key << 8 | b;
  return key;
}

SimMeter* MeterTable::find(const dlt645::Address& address, UtcMillis now) {
  const auto it = by_address_.find(key_of(address));
  if (it == by_address_.end()) return nullptr;
  for (const auto index : it->second)
    if (meters_[index].address_at(now) == address) return &meters_[index];
  return nullptr;
}

SimMeter* MeterTable::find_unit(int unit_id, UtcMillis now) {
  const auto it = by_unit_.find(unit_id);
  if (it == by_unit_.end()) return nullptr;
  for (const auto index : it->second)
    if (meters_[index].unit_id_at(now) == unit_id) return &meters_[index];
  return nullptr;
}

std::vector<std::uint8_t> garbage_bytes(std::uint64_t key, std::uint64_t draw) {
  HashStream r(key, draw);
  std::vector<std::uint8_t> out(8 + r.next() % 24);
  for (auto& b : out) {
    b = static_cast<std::uint8_t>(r.next());
    if (b == dlt645::kStartByte) b = 0x00;
  }
  return out;
}

Dlt645Bus::Dlt645Bus(const GatewaySpec& gateway, FaultSet* faults)
    : table_(gateway),
      faults_(faults),
      edition_(gateway.protocol == MeterProtocol::dlt645_1997 ? dlt645::Edition::v1997 : dlt645::Edition::v2007) {}

SimMeter* Dlt645Bus::resolve(const dlt645::Frame& request, UtcMillis now) {
  if (!request.address.has_wildcard()) return table_.find(request.address, now);
  SimMeter* target = nullptr;
  for (auto& meter : table_.meters()) {
    if (!request.address.matches(meter.address_at(now))) continue;
    if (target != nullptr) return nullptr;  // two meters answer at once: their replies collide
    target = &meter;
  }
  return target;
}

void Dlt645Bus::broadcast(const dlt645::Frame& request, UtcMillis now) {
  dlt645::Message message;
  if (!dlt645::parse_message(request, edition_, message).ok()) return;
  if (message.kind != dlt645::MessageKind::broadcast_time || !message.time) return;
  for (auto& meter : table_.meters()) {
    const auto meter_time = dlt645::to_utc(*message.time, meter.spec().utc_offset_minutes);
    if (meter_time) meter.set_clock(now, UtcMillis{*meter_time});
  }
}

BusReply Dlt645Bus::transact(const dlt645::Frame& request, UtcMillis now) {
  auto& gw_counters = table_.counters();
  bump(gw_counters.requests);
  const auto draw = draws_++;
  const auto& gateway_id = table_.gateway().id;
  BusReply out;
  if (faults_ != nullptr && faults_->decide({FaultKind::drop_connections}, gateway_id, {}, now, draw)) {
    bump(gw_counters.faults);
    bump(gw_counters.dropped);
    out.drop_connection = true;
    return out;
  }
  if (request.address.is_broadcast()) {
    broadcast(request, now);
    return out;
  }
  SimMeter* meter = resolve(request, now);
  if (meter == nullptr) return out;
  bump(meter->counters().requests);

  std::optional<FaultRule> fault;
  if (faults_ != nullptr) {
    for (const auto& jump : faults_->take_clock_jumps(gateway_id, meter->spec().id, now)) {
      meter->jump_clock(std::chrono::seconds{jump.seconds});
      bump(meter->counters().faults);
      bump(gw_counters.faults);
    }
    fault = faults_->decide({FaultKind::no_answer, FaultKind::offline, FaultKind::late_answer, FaultKind::bad_checksum,
                             FaultKind::garbage, FaultKind::wrong_address},
                            gateway_id, meter->spec().id, now, draw);
    if (fault) {
      bump(meter->counters().faults);
      bump(gw_counters.faults);
    }
  }
  if (fault && (fault->kind == FaultKind::no_answer || fault->kind == FaultKind::offline)) return out;

  auto reply = answer_dlt645(*meter, edition_, request, now);
  if (!reply) return out;
  if (fault && fault->kind == FaultKind::wrong_address) {
    // Another meter's address: the last digit pair moved by one.
    auto wire = reply->address.wire();
    wire[0] = static_cast<std::uint8_t>(wire[0] == 0x99 ? 0x00 : (wire[0] & 0x0F) == 9 ? wire[0] + 7 : wire[0] + 1);
    reply->address = dlt645::Address::from_wire(wire.data());
  }
  out.bytes = dlt645::encode_frame(*reply);
  if (fault && fault->kind == FaultKind::bad_checksum) out.bytes[out.bytes.size() - 2] ^= 0x5A;
  if (fault && fault->kind == FaultKind::garbage) out.bytes = garbage_bytes(meter->spec().key, draw);
  if (fault && fault->kind == FaultKind::late_answer) out.delay = std::chrono::milliseconds{fault->delay_ms};
  bump(meter->counters().replies);
  bump(gw_counters.replies);
  return out;
}

ModbusBus::ModbusBus(const GatewaySpec& gateway, FaultSet* faults, bool gateway_answers_0b)
    : table_(gateway), faults_(faults), gateway_answers_0b_(gateway_answers_0b) {}

ModbusAnswer ModbusBus::transact(std::uint8_t unit, std::uint8_t function, std::uint16_t start, std::uint16_t count,
                                 UtcMillis now) {
  auto& gw = table_.counters();
  bump(gw.requests);
  const auto draw = draws_++;
  const auto& gateway_id = table_.gateway().id;
  ModbusAnswer a;
  a.unit = unit;
  a.function = function;
  if (faults_ != nullptr && faults_->decide({FaultKind::drop_connections}, gateway_id, {}, now, draw)) {
    bump(gw.faults);
    bump(gw.dropped);
    a.drop_connection = true;
    return a;
  }
  const auto exception = [&](std::uint8_t code) {
    a.kind = ModbusAnswer::Kind::exception;
    a.exception = code;
    bump(gw.replies);
    return a;
  };
  if (unit == 0) return a;  // broadcast: nobody answers
  SimMeter* meter = table_.find_unit(unit, now);
  if (meter == nullptr) return gateway_answers_0b_ ? exception(kModbusGatewayTargetFailed) : a;
  bump(meter->counters().requests);
  std::optional<FaultRule> fault;
  if (faults_ != nullptr) {
    fault = faults_->decide({FaultKind::no_answer, FaultKind::offline, FaultKind::late_answer, FaultKind::bad_checksum,
                             FaultKind::garbage, FaultKind::wrong_address, FaultKind::modbus_exception_02,
                             FaultKind::modbus_exception_0b},
                            gateway_id, meter->spec().id, now, draw);
    if (fault) {
      bump(meter->counters().faults);
      bump(gw.faults);
    }
  }
  const auto kind = fault ? std::optional{fault->kind} : std::nullopt;
  if (kind == FaultKind::no_answer) return a;
  if (kind == FaultKind::offline) return gateway_answers_0b_ ? exception(kModbusGatewayTargetFailed) : a;
  if (kind == FaultKind::modbus_exception_0b) return exception(kModbusGatewayTargetFailed);
  if (kind == FaultKind::late_answer) a.delay = std::chrono::milliseconds{fault->delay_ms};
  bump(meter->counters().replies);
  if (kind == FaultKind::modbus_exception_02) return exception(kModbusIllegalDataAddress);
  if (kind == FaultKind::garbage) {
    a.kind = ModbusAnswer::Kind::garbage;
    a.garbage = garbage_bytes(meter->spec().key, draw);
    bump(gw.replies);
    return a;
  }
  a.corrupt_checksum = kind == FaultKind::bad_checksum;
  if (kind == FaultKind::wrong_address) a.unit = static_cast<std::uint8_t>(unit == 247 ? 1 : unit + 1);
  if (function != 0x03 && function != 0x04) return exception(kModbusIllegalFunction);
  auto result = read_modbus_registers(*meter, function, start, count, now);
  if (const auto* e = std::get_if<ModbusException>(&result)) return exception(e->code);
  a.kind = ModbusAnswer::Kind::registers;
  a.registers = std::move(std::get<std::vector<std::uint16_t>>(result));
  bump(gw.replies);
  return a;
}

std::vector<std::uint8_t> encode_rtu_answer(const ModbusAnswer& a) {
  std::vector<std::uint8_t> out;
  std::vector<std::uint8_t> pdu;
  switch (a.kind) {
    case ModbusAnswer::Kind::silence:
      return out;
    case ModbusAnswer::Kind::garbage:
      return a.garbage;
    case ModbusAnswer::Kind::exception:
      pdu = {static_cast<std::uint8_t>(a.function | 0x80), a.exception};
      break;
    case ModbusAnswer::Kind::registers:
      pdu.push_back(a.function);
      pdu.push_back(static_cast<std::uint8_t>(a.registers.size() * 2));
      for (const auto r : a.registers) {
        pdu.push_back(static_cast<std::uint8_t>(r >> 8));
        pdu.push_back(static_cast<std::uint8_t>(r));
      }
      break;
  }
  modbus::append_rtu_frame(a.unit, pdu, out);
  if (a.corrupt_checksum) out.back() ^= 0x5A;
  return out;
}

}  // namespace ami::sim
