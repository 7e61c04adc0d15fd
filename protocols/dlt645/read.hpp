// DL/T 645-2007 read data (11H) request and reply: the minimum the collection slice needs.
// The full catalogue and every other function code build on these (see catalogue.hpp).
// Pure; never throws. A reply that is not a normal read reply comes back as std::nullopt.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "protocols/dlt645/frame.hpp"

namespace ami::dlt645 {

inline constexpr std::uint8_t kFnRead = 0x11;
inline constexpr std::uint32_t kDiForwardActiveTotal = 0x00010000;
inline constexpr std::uint32_t kDiReverseActiveTotal = 0x00020000;

// DI is sent DI0 first.
inline void append_di(std::uint32_t di, std::vector<std::uint8_t>& data) {
  for (int i = 0; i < 4; ++i) data.push_back(static_cast<std::uint8_t>(di >> (8 * i)));
}

inline Frame make_read_request(const Address& address, std::uint32_t di) {
  Frame f{address, Control::request(kFnRead), {}};
  f.data.reserve(4);
  append_di(di, f.data);
  return f;
}

struct ReadReply {
  std::uint32_t di = 0;
  std::span<const std::uint8_t> value;  // points into the frame's data
};

// A normal (91H, or B1H with more to follow) reply to a 2007 read.
inline std::optional<ReadReply> parse_read_reply(const Frame& f) {
  if (!f.control.from_meter() || f.control.abnormal() || f.control.function() != kFnRead || f.data.size() < 4)
    return std::nullopt;
  ReadReply r;
  r.di = static_cast<std::uint32_t>(f.data[0]) | static_cast<std::uint32_t>(f.data[1]) << 8 |
         static_cast<std::uint32_t>(f.data[2]) << 16 | static_cast<std::uint32_t>(f.data[3]) << 24;
  r.value = std::span<const std::uint8_t>(f.data).subspan(4);
  return r;
}

}  // namespace ami::dlt645
