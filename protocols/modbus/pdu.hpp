// Modbus PDUs for register reads (function 03/04) and exception handling, shared by the RTU
// framing here and by the daemon's TCP and RTU sessions.
//
// Pure; any thread may call; nothing throws. Malformed replies come back as a ResponseStatus.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "protocols/modbus/register_map.hpp"

namespace ami::modbus {

inline constexpr std::uint16_t kMaxReadRegisters = 125;  // protocol limit per read

enum class ExceptionCode : std::uint8_t {
  illegal_function = 0x01,
  illegal_data_address = 0x02,
  illegal_data_value = 0x03,
  server_device_failure = 0x04,
  acknowledge = 0x05,
  server_device_busy = 0x06,
  memory_parity_error = 0x08,
  gateway_path_unavailable = 0x0A,
  gateway_target_failed = 0x0B,
};
std::string_view exception_name(std::uint8_t code);  // "illegal data address", "exception 0x42"

// What an exception means for the read that got it.
enum class ExceptionClass : std::uint8_t {
  block_rejected,     // 0x02: split the block and retry (read_plan.hpp); a one-point block -> point unsupported
  meter_unreachable,  // 0x06, 0x0A, 0x0B from a gateway: this meter, now; the link itself is fine
  meter_error,        // anything else: the meter answered, with an error
};
ExceptionClass classify_exception(std::uint8_t code);

// Appends function, start (big endian), count (big endian): 5 bytes.
void append_read_request_pdu(FunctionCode function, std::uint16_t start, std::uint16_t count,
                             std::vector<std::uint8_t>& out);

enum class ResponseStatus : std::uint8_t {
  ok,
  exception,       // exception_code says which
  wrong_function,  // a reply to some other function
  bad_length,      // byte count does not match the request or the PDU length
};
std::string_view to_string(ResponseStatus s);

struct ReadResponse {
  ResponseStatus status = ResponseStatus::bad_length;
  std::uint8_t exception_code = 0;
};

// Parses the reply PDU (function byte first) to a read of `count` registers into registers[0..count).
// registers.size() must be >= count, otherwise bad_length.
ReadResponse parse_read_response_pdu(std::span<const std::uint8_t> pdu, FunctionCode function, std::uint16_t count,
                                     std::span<std::uint16_t> registers);

}  // namespace ami::modbus
