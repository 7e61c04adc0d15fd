#include "protocols/modbus/rtu.hpp"

#include <algorithm>
#include <cstring>

#include "protocols/modbus/pdu.hpp"

namespace ami::modbus {
namespace {

constexpr std::array<std::uint16_t, 256> make_crc_table() {
  std::array<std::uint16_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 1U) ? (crc >> 1) ^ 0xA001U : crc >> 1;
    table[i] = static_cast<std::uint16_t>(crc);
  }
  return table;
}
constexpr auto kCrcTable = make_crc_table();

constexpr std::uint8_t kMaxUnit = 247;
constexpr std::uint8_t kExceptionBit = 0x80;

// Length from a one-byte count at `at`: header + count + CRC.
std::optional<std::size_t> counted(std::span<const std::uint8_t> head, std::size_t at, std::size_t fixed) {
  if (head.size() <= at) return 0;
  return fixed + head[at];
}

std::optional<std::size_t> response_length(std::span<const std::uint8_t> head) {
  const std::uint8_t fc = head[1];
  if (fc & kExceptionBit) return 5;
  switch (fc) {
    case 0x01: case 0x02: case 0x03: case 0x04:
    case 0x0C: case 0x11: case 0x14: case 0x15: case 0x17:
      return counted(head, 2, 5);
    case 0x05: case 0x06: case 0x08: case 0x0B: case 0x0F: case 0x10: return 8;
    case 0x07: return 5;
    case 0x16: return 10;
    case 0x18:
      if (head.size() < 4) return 0;
      return std::size_t{6} + (std::size_t{head[2]} << 8 | head[3]);
    default: return std::nullopt;
  }
}

std::optional<std::size_t> request_length(std::span<const std::uint8_t> head) {
  switch (head[1]) {
    case 0x01: case 0x02: case 0x03: case 0x04: case 0x05: case 0x06: case 0x08: return 8;
    case 0x07: case 0x0B: case 0x0C: case 0x11: return 4;
    case 0x0F: case 0x10: return counted(head, 6, 9);
    case 0x14: case 0x15: return counted(head, 2, 5);
    case 0x16: return 10;
    case 0x17: return counted(head, 10, 13);
    case 0x18: return 6;
    default: return std::nullopt;
  }
}

}  // namespace

std::uint16_t crc16_modbus(std::span<const std::uint8_t> bytes) {
  std::uint16_t crc = 0xFFFF;
  for (std::uint8_t b : bytes) crc = static_cast<std::uint16_t>((crc >> 8) ^ kCrcTable[(crc ^ b) & 0xFFU]);
  return crc;
}

void append_rtu_frame(std::uint8_t unit, std::span<const std::uint8_t> pdu, std::vector<std::uint8_t>& out) {
  const std::size_t first = out.size();
  out.push_back(unit);
  out.insert(out.end(), pdu.begin(), pdu.end());
  const std::uint16_t crc = crc16_modbus(std::span<const std::uint8_t>(out).subspan(first));
  out.push_back(static_cast<std::uint8_t>(crc));
  out.push_back(static_cast<std::uint8_t>(crc >> 8));
}

void append_rtu_read_request(std::uint8_t unit, FunctionCode function, std::uint16_t start, std::uint16_t count,
                             std::vector<std::uint8_t>& out) {
  std::vector<std::uint8_t> pdu;
  pdu.reserve(5);
  append_read_request_pdu(function, start, count, pdu);
  append_rtu_frame(unit, pdu, out);
}

std::optional<std::size_t> rtu_frame_length(RtuDirection direction, std::span<const std::uint8_t> head) {
  if (head.size() < 2) return 0;
  return direction == RtuDirection::response ? response_length(head) : request_length(head);
}

std::size_t RtuFramer::feed(std::span<const std::uint8_t> bytes) {
  const std::size_t n = std::min(bytes.size(), kCapacity - size_);
  if (n > 0) std::memcpy(buffer_.data() + size_, bytes.data(), n);
  size_ += n;
  return n;
}

bool RtuFramer::can_start_frame(std::size_t at) const {
  const std::size_t available = size_ - at;
  if (available == 0) return false;
  const std::uint8_t unit = buffer_[at];
  if (expected_ ? unit != expected_->unit : unit > kMaxUnit) return false;
  if (available < 2) return true;
  const std::uint8_t fc = buffer_[at + 1];
  if (expected_) return fc == expected_->function || fc == (expected_->function | kExceptionBit);
  const auto head = std::span<const std::uint8_t>(buffer_).subspan(at, available);
  return rtu_frame_length(direction_, head).has_value();
}

void RtuFramer::drop_front(std::size_t n) {
  n = std::min(n, size_);
  std::memmove(buffer_.data(), buffer_.data() + n, size_ - n);
  size_ -= n;
  counters_.discarded_bytes += n;
}

RtuFramer::Event RtuFramer::next(RtuFrame& out) {
  std::size_t garbage = 0;
  while (garbage < size_ && !can_start_frame(garbage)) ++garbage;
  if (garbage > 0) {
    drop_front(garbage);
    return Event{EventKind::discarded, false, garbage};
  }
  const auto head = std::span<const std::uint8_t>(buffer_).first(size_);
  const auto length = rtu_frame_length(direction_, head);
  if (length && *length == 0) return Event{};
  if (!length || *length < 4 || *length > kMaxRtuFrameSize) {
    drop_front(1);
    return Event{EventKind::discarded, false, 1};
  }
  if (size_ < *length) return Event{};
  const std::uint16_t crc = crc16_modbus(head.first(*length - 2));
  if (head[*length - 2] != static_cast<std::uint8_t>(crc) || head[*length - 1] != static_cast<std::uint8_t>(crc >> 8)) {
    ++counters_.bad_crc;
    drop_front(1);
    return Event{EventKind::discarded, true, 1};
  }
  std::memcpy(out.bytes.data(), buffer_.data(), *length);
  out.size = *length;
  ++counters_.frames;
  // Not counted as discarded: these bytes were delivered.
  std::memmove(buffer_.data(), buffer_.data() + *length, size_ - *length);
  size_ -= *length;
  return Event{EventKind::frame, false, 0};
}

}  // namespace ami::modbus
