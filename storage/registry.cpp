#include "storage/registry.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>

#include "storage/sqlite.hpp"

namespace ami::storage {

namespace {

constexpr std::array<std::string_view, 5> known_protocols{
    "dlt645-2007", "dlt645-1997", "modbus-tcp", "modbus-rtu", "modbus-rtu-over-tcp"};

std::optional<long> parse_long(std::string_view text) {
  long value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc{} || ptr != end || text.empty()) return std::nullopt;
  return value;
}

bool all_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Why `channel` is not a valid channel URI, or nullopt when it is.
std::optional<std::string> channel_problem(std::string_view channel) {
  constexpr std::string_view tcp = "tcp://";
  constexpr std::string_view serial = "serial://";
  if (channel.substr(0, tcp.size()) == tcp) {
    const auto rest = channel.substr(tcp.size());
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return "expected tcp://HOST:PORT";
    const auto port = parse_long(rest.substr(colon + 1));
    if (!port || *port < 1 || *port > 65535) return "port must be 1..65535";
    return std::nullopt;
  }
  if (channel.substr(0, serial.size()) == serial) {
    const auto rest = channel.substr(serial.size());
    const auto question = rest.find('?');
    const auto device = rest.substr(0, question);
    if (device.size() < 2 || device.front() != '/') return "expected serial:///dev/NAME?...";
    if (question == std::string_view::npos) return std::nullopt;
    auto query = rest.substr(question + 1);
    while (!query.empty()) {
      const auto amp = query.find('&');
      const auto pair = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
      const auto eq = pair.find('=');
      if (eq == std::string_view::npos) return "serial option '" + std::string(pair) + "' needs key=value";
      const auto key = pair.substr(0, eq);
      const auto value = pair.substr(eq + 1);
      if (key == "baud") {
        const auto baud = parse_long(value);
        if (!baud || *baud <= 0) return "baud must be a positive integer";
      } else if (key == "parity") {
        if (value != "N" && value != "E" && value != "O") return "parity must be N, E or O";
      } else if (key == "stop") {
        if (value != "1" && value != "2") return "stop must be 1 or 2";
      } else if (key == "data") {
        if (value != "7" && value != "8") return "data must be 7 or 8";
      } else {
        return "unknown serial option '" + std::string(key) + "' (baud, parity, stop, data)";
      }
    }
    return std::nullopt;
  }
  return "expected tcp://HOST:PORT or serial:///dev/NAME?baud=..";
}

bool is_serial(std::string_view channel) { return channel.substr(0, 9) == "serial://"; }

}  // namespace

bool is_known_protocol(std::string_view protocol) {
  return std::find(known_protocols.begin(), known_protocols.end(), protocol) !=
         known_protocols.end();
}

bool is_dlt645(std::string_view protocol) { return protocol.substr(0, 6) == "dlt645"; }

bool is_modbus(std::string_view protocol) { return protocol.substr(0, 6) == "modbus"; }

std::vector<FieldError> validate_meter(const MeterRecord& meter) {
  std::vector<FieldError> errors;
  auto add = [&errors](std::string column, std::string reason) {
    errors.push_back(FieldError{std::move(column), std::move(reason)});
  };

  if (meter.meter_id.empty()) {
    add("meter_id", "must not be empty");
  } else if (meter.meter_id.size() > 64) {
    add("meter_id", "longer than 64 characters");
  } else if (std::any_of(meter.meter_id.begin(), meter.meter_id.end(), [](char c) {
               return c == '|' || c == ',' || static_cast<unsigned char>(c) < 0x20;
             })) {
    // '|' separates the idempotency key's fields.
    add("meter_id", "must not contain '|', ',' or control characters");
  }

  const bool protocol_ok = is_known_protocol(meter.protocol);
  if (!protocol_ok) {
    add("protocol", "unknown protocol '" + meter.protocol +
                        "' (dlt645-2007, dlt645-1997, modbus-tcp, modbus-rtu, modbus-rtu-over-tcp)");
  }

  if (const auto problem = channel_problem(meter.channel)) {
    add("channel", *problem + ", got '" + meter.channel + "'");
  } else if (protocol_ok) {
    const bool serial = is_serial(meter.channel);
    if (meter.protocol == "modbus-rtu" && !serial) {
      add("channel", "modbus-rtu needs a serial:// channel");
    } else if ((meter.protocol == "modbus-tcp" || meter.protocol == "modbus-rtu-over-tcp") && serial) {
      add("channel", meter.protocol + " needs a tcp:// channel");
    }
  }

  if (protocol_ok && is_dlt645(meter.protocol)) {
    if (meter.address.size() != 12 || !all_digits(meter.address)) {
      add("address", "DL/T 645 address must be 12 decimal digits, got '" + meter.address + "'");
    }
  } else if (protocol_ok && is_modbus(meter.protocol)) {
    const auto unit = all_digits(meter.address) ? parse_long(meter.address) : std::nullopt;
    if (!unit || *unit < 1 || *unit > 247) {
      add("address", "Modbus unit id must be 1..247, got '" + meter.address + "'");
    }
  }

  if (meter.ct_ratio < 1) add("ct_ratio", "must be >= 1, got " + std::to_string(meter.ct_ratio));
  if (meter.pt_ratio < 1) add("pt_ratio", "must be >= 1, got " + std::to_string(meter.pt_ratio));
  if (meter.utc_offset_minutes < -720 || meter.utc_offset_minutes > 840) {
    add("utc_offset_minutes",
        "must be -720..840, got " + std::to_string(meter.utc_offset_minutes));
  }
  if (meter.interval_minutes <= 0 || (24 * 60) % meter.interval_minutes != 0) {
    add("interval_minutes",
        "must divide 1440 (a day), got " + std::to_string(meter.interval_minutes));
  }

  std::string_view tags = meter.tags;
  while (!tags.empty()) {
    const auto semicolon = tags.find(';');
    const auto pair = tags.substr(0, semicolon);
    tags = semicolon == std::string_view::npos ? std::string_view{} : tags.substr(semicolon + 1);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      add("tags", "expected key=value pairs separated by ';', got '" + std::string(pair) + "'");
      break;
    }
  }
  return errors;
}

std::int64_t read_registry_version(const std::filesystem::path& database) {
  Database db(database, false, 5000);
  return db.query_int64("SELECT value FROM meta WHERE key = 'registry_version'").value_or(0);
}

}  // namespace ami::storage
