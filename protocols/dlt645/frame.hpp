// DL/T 645 link frame: [FE..] 68 A0..A5 68 C L DATA CS 16, both editions (2007 and 1997 share it).
//
// Pure and allocation-light: encode_frame() appends to a caller's buffer; decode_frame() parses one
// frame that starts at the first 68H of a span. Neither throws; failures come back as FrameError.
// DATA in a Frame is always the plain value (the +33H line offset removed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "protocols/dlt645/address.hpp"

namespace ami::dlt645 {

inline constexpr std::uint8_t kStartByte = 0x68;
inline constexpr std::uint8_t kEndByte = 0x16;
inline constexpr std::uint8_t kPreambleByte = 0xFE;
inline constexpr std::uint8_t kDataOffset = 0x33;
inline constexpr std::size_t kHeaderSize = 10;  // 68 + 6 address + 68 + C + L
inline constexpr std::size_t kMaxDataLength = 255;
inline constexpr std::size_t kMaxFrameSize = kHeaderSize + kMaxDataLength + 2;

// Control byte: D7 direction, D6 abnormal, D5 follow-up, D4..D0 function.
struct Control {
  std::uint8_t raw = 0;
  [[nodiscard]] constexpr bool from_meter() const { return (raw & 0x80) != 0; }
  [[nodiscard]] constexpr bool abnormal() const { return (raw & 0x40) != 0; }
  [[nodiscard]] constexpr bool follow_up() const { return (raw & 0x20) != 0; }
  [[nodiscard]] constexpr std::uint8_t function() const { return raw & 0x1F; }
  static constexpr Control request(std::uint8_t function) { return Control{static_cast<std::uint8_t>(function & 0x1F)}; }
  static constexpr Control reply(std::uint8_t function, bool follow = false) {
    return Control{static_cast<std::uint8_t>(0x80 | (follow ? 0x20 : 0) | (function & 0x1F))};
  }
  static constexpr Control abnormal_reply(std::uint8_t function) {
    return Control{static_cast<std::uint8_t>(0xC0 | (function & 0x1F))};
  }
  friend constexpr bool operator==(Control, Control) = default;
};

struct Frame {
  Address address;
  Control control;
  std::vector<std::uint8_t> data;  // plain bytes, +33H already removed
};

enum class FrameError : std::uint8_t {
  none,
  need_more,      // the span ends before the frame does
  no_start,       // first byte is not 68H
  bad_second_start,
  bad_checksum,
  bad_end,
  bad_length,     // L above the receiver's limit (Framer::set_max_data_length)
};
std::string_view to_string(FrameError e);

// Appends `preamble` FE bytes and the encoded frame to `out`. data.size() must be <= 255.
void encode_frame(const Frame& frame, std::vector<std::uint8_t>& out, std::size_t preamble = 4);
std::vector<std::uint8_t> encode_frame(const Frame& frame, std::size_t preamble = 4);

struct DecodeResult {
  FrameError error = FrameError::none;
  std::size_t consumed = 0;  // bytes of the frame (valid only when error == none)
};
// Decodes one frame that starts at bytes[0] (which must be 68H). On success fills `frame`.
DecodeResult decode_frame(std::span<const std::uint8_t> bytes, Frame& frame);

}  // namespace ami::dlt645
