#include <catch2/catch.hpp>

#include <vector>

#include "protocols/modbus/pdu.hpp"

using namespace ami::modbus;

TEST_CASE("read request PDU is function, start and count big endian") {
  std::vector<std::uint8_t> pdu;
  append_read_request_pdu(FunctionCode::read_input_registers, 0x1234, 0x007D, pdu);
  CHECK(pdu == std::vector<std::uint8_t>{0x04, 0x12, 0x34, 0x00, 0x7D});
}

TEST_CASE("read response PDU parses registers big endian") {
  const std::uint8_t pdu[] = {0x03, 0x04, 0x12, 0x34, 0xAB, 0xCD};
  std::uint16_t regs[2] = {};
  const auto r = parse_read_response_pdu(pdu, FunctionCode::read_holding_registers, 2, regs);
  CHECK(r.status == ResponseStatus::ok);
  CHECK(regs[0] == 0x1234);
  CHECK(regs[1] == 0xABCD);
}

TEST_CASE("malformed and exceptional read responses") {
  std::uint16_t regs[4] = {};
  struct Row {
    const char* what;
    std::vector<std::uint8_t> pdu;
    std::uint16_t count;
    ResponseStatus status;
    std::uint8_t exception;
  };
  const Row rows[] = {
      {"exception 0x02", {0x83, 0x02}, 2, ResponseStatus::exception, 0x02},
      {"gateway exception 0x0B", {0x83, 0x0B}, 2, ResponseStatus::exception, 0x0B},
      {"exception with trailing byte", {0x83, 0x02, 0x00}, 2, ResponseStatus::bad_length, 0},
      {"reply to function 4", {0x04, 0x04, 0, 1, 0, 2}, 2, ResponseStatus::wrong_function, 0},
      {"byte count disagrees with request", {0x03, 0x02, 0, 1}, 2, ResponseStatus::bad_length, 0},
      {"truncated data", {0x03, 0x04, 0, 1, 0}, 2, ResponseStatus::bad_length, 0},
      {"extra data", {0x03, 0x04, 0, 1, 0, 2, 9}, 2, ResponseStatus::bad_length, 0},
      {"empty", {}, 2, ResponseStatus::bad_length, 0},
      {"output too small", {0x03, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 5, ResponseStatus::bad_length, 0},
  };
  for (const auto& row : rows) {
    INFO(row.what);
    const auto r = parse_read_response_pdu(row.pdu, FunctionCode::read_holding_registers, row.count, regs);
    CHECK(r.status == row.status);
    CHECK(r.exception_code == row.exception);
  }
}

TEST_CASE("gateway exceptions mean the meter is unreachable, 0x02 means split") {
  CHECK(classify_exception(0x02) == ExceptionClass::block_rejected);
  CHECK(classify_exception(0x06) == ExceptionClass::meter_unreachable);
  CHECK(classify_exception(0x0A) == ExceptionClass::meter_unreachable);
  CHECK(classify_exception(0x0B) == ExceptionClass::meter_unreachable);
  CHECK(classify_exception(0x01) == ExceptionClass::meter_error);
  CHECK(classify_exception(0x04) == ExceptionClass::meter_error);
  CHECK(classify_exception(0x42) == ExceptionClass::meter_error);
  CHECK(exception_name(0x0B) == "gateway target device failed to respond");
  CHECK(exception_name(0x42) == "unknown exception");
}
