// Incremental DL/T 645 framer: feed bytes in any chunking, take frames out.
//
// Skips FE preambles and any garbage before 68H, resynchronises after a bad checksum, second start
// byte, end byte or a length above set_max_data_length() by dropping that 68H and scanning on (a
// start whose L promises more bytes than arrive is dropped as soon as a complete valid frame
// follows it in the buffer, so a false 68H in line noise cannot stall a real reply), and
// never holds more than kCapacity bytes. Every event says how many buffered bytes it consumed.
// Owned by one session/connection; not thread-safe. Never throws.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "protocols/dlt645/frame.hpp"

namespace ami::dlt645 {

class Framer {
 public:
  static constexpr std::size_t kCapacity = 2 * kMaxFrameSize;

  enum class EventKind : std::uint8_t {
    need_more,         // nothing complete buffered; feed more bytes
    frame,             // `out` holds a well-formed frame
    discarded,         // bytes were dropped (garbage, or a broken frame: see `error`)
    unexpected_address // a well-formed frame from an address that does not match expect(); `out` holds it
  };
  struct Event {
    EventKind kind = EventKind::need_more;
    FrameError error = FrameError::none;  // why bytes were discarded (none = plain garbage/preamble)
    std::size_t discarded = 0;
    std::size_t consumed = 0;   // buffered bytes this call removed (preamble + frame, or discarded)
  };
  struct Counters {
    std::uint64_t frames = 0;
    std::uint64_t discarded_bytes = 0;
    std::uint64_t bad_frames = 0;  // checksum / start / end failures
    std::uint64_t unexpected_address = 0;
  };

  // Copies as many bytes as fit into the internal buffer; returns how many were taken.
  // Call next() until need_more, then feed the rest.
  std::size_t feed(std::span<const std::uint8_t> bytes);
  Event next(Frame& out);

  // Replies whose address does not match are reported as unexpected_address rather than frame.
  void expect(const Address& address) { expected_ = address; }
  void expect_any() { expected_.reset(); }
  void reset() { size_ = 0; }
  // Frames whose L exceeds `max` are broken (bad_length) without waiting for their bytes;
  // the standard caps reads at 200. Default: 255 (no cap).
  void set_max_data_length(std::size_t max) { max_data_length_ = max; }

  [[nodiscard]] std::size_t buffered() const { return size_; }
  [[nodiscard]] const Counters& counters() const { return counters_; }

 private:
  void drop_front(std::size_t n);
  // Offset of a later 68H that starts a complete valid frame, or 0.
  std::size_t find_complete_frame_after_start(Frame& scratch) const;

  std::array<std::uint8_t, kCapacity> buffer_{};
  std::size_t size_ = 0;
  std::optional<Address> expected_;
  std::size_t max_data_length_ = kMaxDataLength;
  Counters counters_;
};

}  // namespace ami::dlt645
