#include "simulators/bus.hpp"

#include "protocols/dlt645/messages.hpp"
#include "simulators/dlt645_responder.hpp"
#include "simulators/hash.hpp"

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

}  // namespace ami::sim
