// Fuzz the Modbus RTU response/request framer and the read-response PDU parser with arbitrary
// chunking. The first byte picks the direction and an optional expected (unit, function).
#include <algorithm>
#include <cstdint>
#include <span>

#include "protocols/modbus/pdu.hpp"
#include "protocols/modbus/rtu.hpp"

using namespace ami::modbus;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t control = data[0];
  RtuFramer framer((control & 1) ? RtuDirection::request : RtuDirection::response);
  if (control & 2) framer.expect(static_cast<std::uint8_t>(control >> 2), 0x03);
  std::span<const std::uint8_t> rest(data + 1, size - 1);
  RtuFrame frame;
  std::uint16_t registers[125];
  while (!rest.empty()) {
    const std::size_t chunk = std::min<std::size_t>(rest.size(), 1 + rest[0] % 64);
    rest = rest.subspan(framer.feed(rest.first(chunk)));
    for (auto event = framer.next(frame); event.kind != RtuFramer::EventKind::need_more; event = framer.next(frame)) {
      if (event.kind == RtuFramer::EventKind::frame) {
        const auto count = static_cast<std::uint16_t>(1 + frame.size % 125);
        (void)parse_read_response_pdu(frame.pdu(), FunctionCode::read_holding_registers, count, registers);
        (void)parse_read_response_pdu(frame.pdu(), FunctionCode::read_input_registers, count, registers);
      }
    }
    if (framer.buffered() > RtuFramer::kCapacity) __builtin_trap();
  }
  return 0;
}
