// DL/T 645 editions and their function codes (the D4..D0 bits of the control byte).
// Pure constants; any thread. Both editions share the link frame (frame.hpp); they differ in
// function codes, DI width (2007: 4 bytes, 1997: 2 bytes) and the meaning of the ERR byte.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace ami::dlt645 {

enum class Edition : std::uint8_t { v2007, v1997 };

std::string_view to_string(Edition e);  // "2007" / "1997"
// "2007", "1997", "dlt645-2007", "dlt645-1997"; std::nullopt otherwise.
std::optional<Edition> parse_edition(std::string_view text);

// Bytes of a data identifier on the wire (DI0 first).
constexpr std::size_t di_size(Edition e) { return e == Edition::v2007 ? 4 : 2; }

// 2007 function codes.
namespace fn2007 {
inline constexpr std::uint8_t broadcast_time = 0x08;
inline constexpr std::uint8_t read = 0x11;
inline constexpr std::uint8_t read_follow_up = 0x12;
inline constexpr std::uint8_t read_address = 0x13;
inline constexpr std::uint8_t write = 0x14;
inline constexpr std::uint8_t write_address = 0x15;
inline constexpr std::uint8_t freeze = 0x16;
inline constexpr std::uint8_t change_baud = 0x17;
inline constexpr std::uint8_t change_password = 0x18;
inline constexpr std::uint8_t max_demand_reset = 0x19;
inline constexpr std::uint8_t meter_clear = 0x1A;
inline constexpr std::uint8_t event_clear = 0x1B;
inline constexpr std::uint8_t relay_control = 0x1C;
}  // namespace fn2007

// 1997 function codes.
namespace fn1997 {
inline constexpr std::uint8_t read = 0x01;
inline constexpr std::uint8_t read_follow_up = 0x02;
inline constexpr std::uint8_t reread = 0x03;
inline constexpr std::uint8_t write = 0x04;
inline constexpr std::uint8_t broadcast_time = 0x08;
inline constexpr std::uint8_t write_address = 0x0A;
inline constexpr std::uint8_t change_baud = 0x0C;
inline constexpr std::uint8_t change_password = 0x0F;
inline constexpr std::uint8_t max_demand_reset = 0x10;
}  // namespace fn1997

// What a function code asks for, independent of edition.
enum class MessageKind : std::uint8_t {
  broadcast_time,
  read,
  read_follow_up,
  reread,  // 1997 only: repeat the last reply
  read_address,
  write,
  write_address,
  freeze,
  change_baud,
  change_password,
  max_demand_reset,
  meter_clear,
  event_clear,
  relay_control,  // 1CH: vendor/ESAM specific, carried as raw data
};
std::string_view to_string(MessageKind k);  // "read", "read_follow_up", ...

// Function code -> kind for one edition; std::nullopt for a code the edition does not define.
std::optional<MessageKind> message_kind(Edition e, std::uint8_t function);
// Kind -> function code; std::nullopt when the edition has no such function.
std::optional<std::uint8_t> function_code(Edition e, MessageKind k);
// The edition a function code belongs to; 08H (shared) and unknown codes give std::nullopt.
std::optional<Edition> edition_of_function(std::uint8_t function);

}  // namespace ami::dlt645
