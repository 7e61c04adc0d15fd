// One RS-485 bus behind a gateway: the meters on it and who answers a request frame.
//
// Pure of I/O: the gateway server (gateway_server.hpp) feeds it one request at a time, which is
// the bus's one-transaction-at-a-time rule. A frame for an address nobody has gets silence;
// a wildcard (AA) address that matches several meters gets silence too (their replies collide).
// Ownership/threads: owned by its gateway; one thread at a time. Never throws.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "protocols/dlt645/frame.hpp"
#include "simulators/fleet.hpp"
#include "simulators/meter.hpp"

namespace ami::sim {

class Dlt645Bus {
 public:
  explicit Dlt645Bus(const GatewaySpec& gateway);

  // The encoded reply (with FE preamble) to `request` at simulated time `now`; empty = silence.
  std::vector<std::uint8_t> transact(const dlt645::Frame& request, UtcMillis now);

  [[nodiscard]] const std::vector<SimMeter>& meters() const { return meters_; }
  // nullptr when no meter on this bus has that concrete address.
  [[nodiscard]] const SimMeter* find(const dlt645::Address& address) const;

 private:
  static std::uint64_t key_of(const dlt645::Address& address);

  std::vector<SimMeter> meters_;
  std::unordered_map<std::uint64_t, std::size_t> by_address_;
};

}  // namespace ami::sim
