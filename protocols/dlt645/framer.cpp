#include "protocols/dlt645/framer.hpp"

#include <algorithm>
#include <cstring>

namespace ami::dlt645 {

std::size_t Framer::feed(std::span<const std::uint8_t> bytes) {
  const std::size_t n = std::min(bytes.size(), kCapacity - size_);
  if (n > 0) std::memcpy(buffer_.data() + size_, bytes.data(), n);
  size_ += n;
  return n;
}

void Framer::drop_front(std::size_t n) {
  n = std::min(n, size_);
  std::memmove(buffer_.data(), buffer_.data() + n, size_ - n);
  size_ -= n;
}

std::size_t Framer::find_complete_frame_after_start(Frame& scratch) const {
  for (std::size_t i = 1; i + kHeaderSize + 2 <= size_; ++i) {
    if (buffer_[i] != kStartByte) continue;
    if (decode_frame(std::span<const std::uint8_t>(buffer_.data() + i, size_ - i), scratch).error == FrameError::none)
      return i;
  }
  return 0;
}

Framer::Event Framer::next(Frame& out) {
  // Skip preamble and garbage up to the next start byte.
  const auto* begin = buffer_.data();
  const auto* start = std::find(begin, begin + size_, kStartByte);
  const auto skipped = static_cast<std::size_t>(start - begin);
  // FE directly before 68H is the wake-up preamble of that frame; anything before it is garbage.
  std::size_t preamble = 0;
  while (preamble < skipped && begin[skipped - 1 - preamble] == kPreambleByte) ++preamble;
  if (skipped > preamble) {
    const auto garbage = skipped - preamble;
    drop_front(garbage);
    counters_.discarded_bytes += garbage;
    return {EventKind::discarded, FrameError::none, garbage, garbage};
  }
  drop_front(preamble);
  if (size_ == 0) return {EventKind::need_more, FrameError::none, 0, preamble};

  auto result = decode_frame(std::span<const std::uint8_t>(buffer_.data(), size_), out);
  if (result.error == FrameError::need_more && size_ >= kHeaderSize && buffer_[9] > max_data_length_)
    result.error = FrameError::bad_length;
  if (result.error == FrameError::need_more) {
    // A complete, valid frame further on proves this 68H (whose L promised more bytes) was not a
    // real start: resynchronise now instead of stalling the reply until the buffer fills.
    if (const auto later = find_complete_frame_after_start(out); later != 0) {
      drop_front(later);
      ++counters_.bad_frames;
      counters_.discarded_bytes += later;
      return {EventKind::discarded, FrameError::bad_length, later, preamble + later};
    }
    // A full buffer that still cannot hold a frame means the 68H was not a real start.
    if (size_ < kCapacity) return {EventKind::need_more, FrameError::none, 0, preamble};
  } else if (result.error == FrameError::none) {
    drop_front(result.consumed);
    ++counters_.frames;
    const auto kind = expected_ && !expected_->matches(out.address) ? EventKind::unexpected_address : EventKind::frame;
    if (kind == EventKind::unexpected_address) ++counters_.unexpected_address;
    return {kind, FrameError::none, 0, preamble + result.consumed};
  }
  // Broken frame: drop this start byte and resynchronise on the next 68H.
  drop_front(1);
  ++counters_.bad_frames;
  ++counters_.discarded_bytes;
  return {EventKind::discarded, result.error == FrameError::need_more ? FrameError::bad_end : result.error, 1,
          preamble + 1};
}

}  // namespace ami::dlt645
