#include "protocols/dlt645/frame.hpp"

namespace ami::dlt645 {

std::string_view to_string(FrameError e) {
  switch (e) {
    case FrameError::none: return "ok";
    case FrameError::need_more: return "incomplete frame";
    case FrameError::no_start: return "missing start byte 68H";
    case FrameError::bad_second_start: return "missing second start byte 68H";
    case FrameError::bad_checksum: return "bad checksum";
    case FrameError::bad_end: return "missing end byte 16H";
    case FrameError::bad_length: return "data length L above the limit";
  }
  return "unknown";
}

void encode_frame(const Frame& frame, std::vector<std::uint8_t>& out, std::size_t preamble) {
  out.insert(out.end(), preamble, kPreambleByte);
  const std::size_t begin = out.size();
  out.push_back(kStartByte);
  out.insert(out.end(), frame.address.wire().begin(), frame.address.wire().end());
  out.push_back(kStartByte);
  out.push_back(frame.control.raw);
  const std::size_t length = frame.data.size() > kMaxDataLength ? kMaxDataLength : frame.data.size();
  out.push_back(static_cast<std::uint8_t>(length));
  for (std::size_t i = 0; i < length; ++i) out.push_back(static_cast<std::uint8_t>(frame.data[i] + kDataOffset));
  std::uint8_t sum = 0;
  for (std::size_t i = begin; i < out.size(); ++i) sum = static_cast<std::uint8_t>(sum + out[i]);
  out.push_back(sum);
  out.push_back(kEndByte);
}

std::vector<std::uint8_t> encode_frame(const Frame& frame, std::size_t preamble) {
  std::vector<std::uint8_t> out;
  out.reserve(preamble + kHeaderSize + frame.data.size() + 2);
  encode_frame(frame, out, preamble);
  return out;
}

DecodeResult decode_frame(std::span<const std::uint8_t> bytes, Frame& frame) {
  if (bytes.empty()) return {FrameError::need_more, 0};
  if (bytes[0] != kStartByte) return {FrameError::no_start, 0};
  if (bytes.size() < 8) return {FrameError::need_more, 0};
  if (bytes[7] != kStartByte) return {FrameError::bad_second_start, 0};
  if (bytes.size() < kHeaderSize) return {FrameError::need_more, 0};
  const std::size_t length = bytes[9];
  const std::size_t total = kHeaderSize + length + 2;
  if (bytes.size() < total) return {FrameError::need_more, 0};
  std::uint8_t sum = 0;
  for (std::size_t i = 0; i < kHeaderSize + length; ++i) sum = static_cast<std::uint8_t>(sum + bytes[i]);
  if (sum != bytes[kHeaderSize + length]) return {FrameError::bad_checksum, 0};
  if (bytes[total - 1] != kEndByte) return {FrameError::bad_end, 0};
  frame.address = Address::from_wire(bytes.data() + 1);
  frame.control = Control{bytes[8]};
  frame.data.resize(length);
  for (std::size_t i = 0; i < length; ++i)
    frame.data[i] = static_cast<std::uint8_t>(bytes[kHeaderSize + i] - kDataOffset);
  return {FrameError::none, total};
}

}  // namespace ami::dlt645
