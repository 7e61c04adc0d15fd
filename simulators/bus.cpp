#include "simulators/bus.hpp"

#include "simulators/dlt645_responder.hpp"

namespace ami::sim {

Dlt645Bus::Dlt645Bus(const GatewaySpec& gateway) {
  meters_.reserve(gateway.meters.size());
  for (const auto& spec : gateway.meters) {
    by_address_.emplace(key_of(spec.address), meters_.size());
    meters_.emplace_back(spec);
  }
}

std::uint64_t Dlt645Bus::key_of(const dlt645::Address& address) {
  std::uint64_t key = 0;
  for (const auto b : address.wire()) key = key << 8 | b;
  return key;
}

const SimMeter* Dlt645Bus::find(const dlt645::Address& address) const {
  const auto it = by_address_.find(key_of(address));
  return it == by_address_.end() ? nullptr : &meters_[it->second];
}

std::vector<std::uint8_t> Dlt645Bus::transact(const dlt645::Frame& request, UtcMillis now) {
  const SimMeter* target = nullptr;
  if (request.address.has_wildcard()) {
    for (const auto& meter : meters_) {
      if (!request.address.matches(meter.spec().address)) continue;
      if (target != nullptr) return {};  // two meters answer at once: the master hears noise
      target = &meter;
    }
  } else if (!request.address.is_broadcast()) {
    target = find(request.address);
  }
  if (target == nullptr) return {};
  const auto reply = answer_dlt645_2007(*target, request, now);
  if (!reply) return {};
  return dlt645::encode_frame(*reply);
}

}  // namespace ami::sim
