// Where a Modbus meter is reached: the registry's (protocol, channel) pair parsed once.
//   modbus-tcp           tcp://HOST:PORT    Modbus TCP (MBAP), a gateway or a meter; libmodbus
//   modbus-rtu-over-tcp  tcp://HOST:PORT    raw RTU frames over TCP (transparent serial server)
//   modbus-rtu           serial:///dev/ttyUSB0?baud=9600&parity=N&stop=1   RS-485 bus; libmodbus
// One ChannelSpec = one gateway or bus = one transaction at a time (executor.hpp).
//
// Pure values; any thread. parse_channel() never throws: it returns std::nullopt and an error that
// names the field and the offending text.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ami::modbus {

enum class Transport : std::uint8_t { tcp, rtu_over_tcp, rtu_serial };

struct ChannelSpec {
  Transport transport = Transport::tcp;
  std::string host;       // tcp, rtu_over_tcp
  std::uint16_t port = 502;
  std::string device;     // rtu_serial
  int baud = 9600;
  char parity = 'N';      // N, E, O
  int data_bits = 8;
  int stop_bits = 1;

  // The serialisation key: one queue per gateway/bus.
  [[nodiscard]] std::string key() const;
};

bool is_modbus_protocol(std::string_view protocol);
std::optional<ChannelSpec> parse_channel(std::string_view protocol, std::string_view channel, std::string& error);

}  // namespace ami::modbus
