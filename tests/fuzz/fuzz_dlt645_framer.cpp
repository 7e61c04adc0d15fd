// libFuzzer target: the incremental DL/T 645 framer under arbitrary bytes and chunkings.
// The first input byte picks the chunk size and whether an address is expected; the rest is the
// line. Checks the framer's own promises: it never holds more than kCapacity bytes, every byte
// fed is either still buffered or reported consumed, and every frame it yields re-encodes to
// bytes that decode_frame() accepts.
#include <cstddef>
#include <cstdint>
#include <span>

#include "protocols/dlt645/framer.hpp"

using namespace ami::dlt645;

namespace {
void require(bool ok) {
  if (!ok) __builtin_trap();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = static_cast<std::size_t>(data[0] & 0x3F) + 1;
  Framer framer;
  if (data[0] & 0x80) {
    const std::uint8_t expected[6] = {0x12, 0x90, 0x78, 0x56, 0x34, 0x12};
    framer.expect(Address::from_wire(expected));
  }
  if (data[0] & 0x40) framer.set_max_data_length(200);
  const std::span<const std::uint8_t> line(data + 1, size - 1);
  std::size_t fed = 0;
  std::size_t consumed = 0;
  Frame frame;
  std::size_t pos = 0;
  while (pos < line.size()) {
    const auto piece = line.subspan(pos, std::min(chunk, line.size() - pos));
    const auto taken = framer.feed(piece);
    pos += taken;
    fed += taken;
    for (;;) {
      const auto ev = framer.next(frame);
      consumed += ev.consumed;
      require(framer.buffered() <= Framer::kCapacity);
      if (ev.kind == Framer::EventKind::need_more) break;
      if (ev.kind == Framer::EventKind::frame || ev.kind == Framer::EventKind::unexpected_address) {
        const auto wire = encode_frame(frame, 0);
        Frame again;
        require(decode_frame(wire, again).error == FrameError::none);
        require(again.data == frame.data && again.address == frame.address);
      }
    }
    require(fed == consumed + framer.buffered());
    require(framer.buffered() < Framer::kCapacity);  // a drained framer always has room again
  }
  require(fed == consumed + framer.buffered());
  return 0;
}
