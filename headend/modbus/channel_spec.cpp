#include "headend/modbus/channel_spec.hpp"

#include <charconv>

namespace ami::modbus {
namespace {

template <typename T>
bool parse_number(std::string_view text, T& out) {
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc{} && ptr == end;
}

bool parse_tcp(std::string_view rest, ChannelSpec& spec, std::string& error) {
  const auto colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    error = "channel '" + std::string(rest) + "': expected tcp://HOST:PORT";
    return false;
  }
  spec.host = std::string(rest.substr(0, colon));
  int port = 0;
  if (!parse_number(rest.substr(colon + 1), port) || port < 1 || port > 65535) {
    error = "channel port '" + std::string(rest.substr(colon + 1)) + "' is not 1..65535";
    return false;
  }
  spec.port = static_cast<std::uint16_t>(port);
  return true;
}

bool parse_serial(std::string_view rest, ChannelSpec& spec, std::string& error) {
  const auto question = rest.find('?');
  spec.device = std::string(rest.substr(0, question));
  if (spec.device.empty()) {
    error = "channel: serial device path is empty";
    return false;
  }
  if (question == std::string_view::npos) return true;
  std::string_view query = rest.substr(question + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    bool ok = true;
    if (key == "baud") {
      ok = parse_number(value, spec.baud) && spec.baud > 0;
    } else if (key == "parity") {
      ok = value == "N" || value == "E" || value == "O";
      if (ok) spec.parity = value[0];
    } else if (key == "stop") {
      ok = parse_number(value, spec.stop_bits) && (spec.stop_bits == 1 || spec.stop_bits == 2);
    } else if (key == "data") {
      ok = parse_number(value, spec.data_bits) && spec.data_bits >= 5 && spec.data_bits <= 8;
    } else {
      error = "channel option '" + std::string(key) + "' is unknown (expected baud, parity, stop, data)";
      return false;
    }
    if (!ok) {
      error = "channel option " + std::string(key) + "='" + std::string(value) + "' is invalid";
      return false;
    }
  }
  return true;
}

}  // namespace

std::string ChannelSpec::key() const {
  switch (transport) {
    case Transport::tcp: return "tcp://" + host + ":" + std::to_string(port);
    case Transport::rtu_over_tcp: return "rtu-over-tcp://" + host + ":" + std::to_string(port);
    case Transport::rtu_serial: return "serial://" + device;
  }
  return {};
}

bool is_modbus_protocol(std::string_view protocol) {
  return protocol == "modbus-tcp" || protocol == "modbus-rtu" || protocol == "modbus-rtu-over-tcp";
}

std::optional<ChannelSpec> parse_channel(std::string_view protocol, std::string_view channel, std::string& error) {
  ChannelSpec spec;
  constexpr std::string_view kTcp = "tcp://";
  constexpr std::string_view kSerial = "serial://";
  if (protocol == "modbus-tcp" || protocol == "modbus-rtu-over-tcp") {
    spec.transport = protocol == "modbus-tcp" ? Transport::tcp : Transport::rtu_over_tcp;
    if (!channel.starts_with(kTcp)) {
      error = "protocol " + std::string(protocol) + " needs a tcp://HOST:PORT channel, got '" + std::string(channel) + "'";
      return std::nullopt;
    }
    if (!parse_tcp(channel.substr(kTcp.size()), spec, error)) return std::nullopt;
  } else if (protocol == "modbus-rtu") {
    spec.transport = Transport::rtu_serial;
    if (!channel.starts_with(kSerial)) {
      error = "protocol modbus-rtu needs a serial:///dev/... channel, got '" + std::string(channel) + "'";
      return std::nullopt;
    }
    if (!parse_serial(channel.substr(kSerial.size()), spec, error)) return std::nullopt;
  } else {
    error = "protocol '" + std::string(protocol) + "' is not a Modbus protocol";
    return std::nullopt;
  }
  return spec;
}

}  // namespace ami::modbus
