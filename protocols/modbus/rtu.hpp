// Modbus RTU framing over byte streams: CRC-16/MODBUS, request encoding, and an incremental framer.
//
// On a real RS-485 line RTU frames are delimited by 3.5 character times of silence. Over a TCP
// stream (transparent serial servers, "RTU over TCP") there is no silence to see, so the framer
// derives each frame's length from its function code (and byte count), checks the CRC, and
// resynchronises by dropping one byte after a CRC failure. It is bounded (never holds more than
// kCapacity bytes) and never throws, so it is safe to feed arbitrary bytes (fuzzing).
//
// A framer belongs to one connection/session; not thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "protocols/modbus/register_map.hpp"

namespace ami::modbus {

inline constexpr std::size_t kMaxRtuFrameSize = 256;  // unit + PDU (<= 253) + CRC

// CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF); sent low byte first.
std::uint16_t crc16_modbus(std::span<const std::uint8_t> bytes);

// Appends unit + pdu + CRC.
void append_rtu_frame(std::uint8_t unit, std::span<const std::uint8_t> pdu, std::vector<std::uint8_t>& out);
// Appends a complete read request ADU (8 bytes).
void append_rtu_read_request(std::uint8_t unit, FunctionCode function, std::uint16_t start, std::uint16_t count,
                             std::vector<std::uint8_t>& out);

// Which side's frames a framer delimits: the master reads responses, a server (simulator) requests.
enum class RtuDirection : std::uint8_t { response, request };

// Total frame length (CRC included) implied by the first bytes of a frame:
//   0 -> need more bytes to tell; std::nullopt -> unknown function code (not a frame start).
std::optional<std::size_t> rtu_frame_length(RtuDirection direction, std::span<const std::uint8_t> head);

struct RtuFrame {
  std::array<std::uint8_t, kMaxRtuFrameSize> bytes{};
  std::size_t size = 0;  // CRC included
  [[nodiscard]] std::uint8_t unit() const { return bytes[0]; }
  [[nodiscard]] std::uint8_t function() const { return bytes[1]; }
  // Function code and data, without unit and CRC.
  [[nodiscard]] std::span<const std::uint8_t> pdu() const {
    return std::span<const std::uint8_t>(bytes).subspan(1, size >= 3 ? size - 3 : 0);
  }
};

class RtuFramer {
 public:
  static constexpr std::size_t kCapacity = 2 * kMaxRtuFrameSize;

  explicit RtuFramer(RtuDirection direction = RtuDirection::response) : direction_(direction) {}

  enum class EventKind : std::uint8_t {
    need_more,  // nothing complete buffered; feed more bytes
    frame,      // `out` holds a frame with a good CRC
    discarded,  // `discarded` bytes were dropped: garbage, a bad CRC (bad_crc set), or an unexpected header
  };
  struct Event {
    EventKind kind = EventKind::need_more;
    bool bad_crc = false;
    std::size_t discarded = 0;
  };
  struct Counters {
    std::uint64_t frames = 0;
    std::uint64_t discarded_bytes = 0;
    std::uint64_t bad_crc = 0;
  };

  // Copies as many bytes as fit; returns how many were taken. Call next() until need_more, then
  // feed the rest.
  std::size_t feed(std::span<const std::uint8_t> bytes);
  Event next(RtuFrame& out);

  // While an answer to (unit, function) is awaited, bytes that cannot start that answer (other unit,
  // other function, not its exception) are dropped at once instead of being parsed: a late reply to
  // an earlier request can then never be taken for the current one.
  void expect(std::uint8_t unit, std::uint8_t function) { expected_ = Expected{unit, function}; }
  void expect_any() { expected_.reset(); }
  void reset() { size_ = 0; }

  [[nodiscard]] std::size_t buffered() const { return size_; }
  [[nodiscard]] const Counters& counters() const { return counters_; }

 private:
  struct Expected {
    std::uint8_t unit;
    std::uint8_t function;
  };
  [[nodiscard]] bool can_start_frame(std::size_t at) const;
  void drop_front(std::size_t n);

  RtuDirection direction_;
  std::array<std::uint8_t, kCapacity> buffer_{};
  std::size_t size_ = 0;
  std::optional<Expected> expected_;
  Counters counters_;
};

}  // namespace ami::modbus
