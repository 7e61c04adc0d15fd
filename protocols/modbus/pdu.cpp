#include "protocols/modbus/pdu.hpp"

namespace ami::modbus {

std::string_view exception_name(std::uint8_t code) {
  switch (static_cast<ExceptionCode>(code)) {
    case ExceptionCode::illegal_function: return "illegal function";
    case ExceptionCode::illegal_data_address: return "illegal data address";
    case ExceptionCode::illegal_data_value: return "illegal data value";
    case ExceptionCode::server_device_failure: return "server device failure";
    case ExceptionCode::acknowledge: return "acknowledge";
    case ExceptionCode::server_device_busy: return "server device busy";
    case ExceptionCode::memory_parity_error: return "memory parity error";
    case ExceptionCode::gateway_path_unavailable: return "gateway path unavailable";
    case ExceptionCode::gateway_target_failed: return "gateway target device failed to respond";
  }
  return "unknown exception";
}

ExceptionClass classify_exception(std::uint8_t code) {
  switch (static_cast<ExceptionCode>(code)) {
    case ExceptionCode::illegal_data_address: return ExceptionClass::block_rejected;
    case ExceptionCode::server_device_busy:
    case ExceptionCode::gateway_path_unavailable:
    case ExceptionCode::gateway_target_failed: return ExceptionClass::meter_unreachable;
    default: return ExceptionClass::meter_error;
  }
}

void append_read_request_pdu(FunctionCode function, std::uint16_t start, std::uint16_t count,
                             std::vector<std::uint8_t>& out) {
  out.push_back(static_cast<std::uint8_t>(function));
  out.push_back(static_cast<std::uint8_t>(start >> 8));
  out.push_back(static_cast<std::uint8_t>(start));
  out.push_back(static_cast<std::uint8_t>(count >> 8));
  out.push_back(static_cast<std::uint8_t>(count));
}

std::string_view to_string(ResponseStatus s) {
  switch (s) {
    case ResponseStatus::ok: return "ok";
    case ResponseStatus::exception: return "exception";
    case ResponseStatus::wrong_function: return "reply to another function";
    case ResponseStatus::bad_length: return "bad length";
  }
  return "?";
}

ReadResponse parse_read_response_pdu(std::span<const std::uint8_t> pdu, FunctionCode function, std::uint16_t count,
                                     std::span<std::uint16_t> registers) {
  const auto fc = static_cast<std::uint8_t>(function);
  if (pdu.empty()) return {ResponseStatus::bad_length, 0};
  if (pdu[0] == (fc | 0x80)) {
    if (pdu.size() != 2) return {ResponseStatus::bad_length, 0};
    return {ResponseStatus::exception, pdu[1]};
  }
  if (pdu[0] != fc) return {ResponseStatus::wrong_function, 0};
  const std::size_t bytes = std::size_t{count} * 2;
  if (pdu.size() < 2 || pdu[1] != bytes || pdu.size() != 2 + bytes || registers.size() < count)
    return {ResponseStatus::bad_length, 0};
  for (std::size_t i = 0; i < count; ++i)
    registers[i] = static_cast<std::uint16_t>((pdu[2 + 2 * i] << 8) | pdu[3 + 2 * i]);
  return {ResponseStatus::ok, 0};
}

}  // namespace ami::modbus
