// Helpers shared by the simulator unit tests: send a DL/T 645 request over a bus (no sockets)
// and decode the reply like a master would.
#pragma once

#include <catch2/catch.hpp>

#include <optional>

#include "protocols/dlt645/framer.hpp"
#include "protocols/dlt645/messages.hpp"
#include "simulators/bus.hpp"

namespace ami::sim::test {

inline UtcMillis at(const char* text) { return UtcMillis{*parse_utc(text)}; }

inline dlt645::Address address(const char* digits) {
  std::string error;
  return *dlt645::Address::parse(digits, error);
}

// The reply frame to `request`, or nullopt for silence. Fails the test on undecodable bytes.
inline std::optional<dlt645::Frame> exchange(Dlt645Bus& bus, const dlt645::Frame& request, UtcMillis now) {
  const auto bytes = bus.transact(request, now).bytes;
  if (bytes.empty()) return std::nullopt;
  dlt645::Framer framer;
  REQUIRE(framer.feed(bytes) == bytes.size());
  dlt645::Frame reply;
  const auto event = framer.next(reply);
  REQUIRE(event.kind == dlt645::Framer::EventKind::frame);
  return reply;
}

// The value bytes of a normal read reply (fails the test otherwise).
inline std::vector<std::uint8_t> read_value(const std::optional<dlt645::Frame>& reply, dlt645::Edition edition) {
  REQUIRE(reply);
  dlt645::Message m;
  REQUIRE(dlt645::parse_message(*reply, edition, m).ok());
  REQUIRE_FALSE(m.abnormal);
  return {m.value.begin(), m.value.end()};
}

}  // namespace ami::sim::test
