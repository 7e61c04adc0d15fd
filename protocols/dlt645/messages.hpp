// DL/T 645 application messages: builders for every request and reply of both editions, a parser
// that turns any Frame into a typed Message, and the ERR byte of abnormal replies as named reasons.
//
// Builders return a Frame (frame.hpp) ready for encode_frame(); the master side (daemon, headendctl)
// uses the request builders, the meter side (simulator) the reply builders. parse_message() is
// used by both: a meter parses requests, a master parses replies.
//
// Pure; any thread; nothing throws. parse_message() reports failures as a MessageError plus a
// sentence naming the field and byte offset. A Message's spans point into the Frame it was parsed
// from: keep that Frame alive and unchanged while using them.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/dlt645/datetime.hpp"
#include "protocols/dlt645/edition.hpp"
#include "protocols/dlt645/frame.hpp"

namespace ami::dlt645 {

// PA P0 P1 P2: password level then three password bytes, as on the wire.
using Password = std::array<std::uint8_t, 4>;
// C0..C3: operator code.
using OperatorCode = std::array<std::uint8_t, 4>;

// 16H freeze time: mm hh DD MM, a missing field is 99 (wildcard). All missing = freeze now.
struct FreezeTime {
  std::optional<int> month;
  std::optional<int> day;
  std::optional<int> hour;
  std::optional<int> minute;
  friend bool operator==(const FreezeTime&, const FreezeTime&) = default;
};

// 17H / 0CH baud codes (the bit table most sources agree on).
enum class Baud : std::uint8_t { b600 = 0x02, b1200 = 0x04, b2400 = 0x08, b4800 = 0x10, b9600 = 0x20, b19200 = 0x40 };
std::optional<Baud> baud_from_rate(int bits_per_second);
std::optional<int> rate_of_baud_code(std::uint8_t z);  // exactly one known bit set, else nullopt

// ---------------------------------------------------------------------------------------------
// Requests (master -> meter). 2007 unless the name says 1997. DI values as 0xDI3DI2DI1DI0.

// 11H read; `count` = NN (block count, BCD 1..99) when given. The plain two-argument form is in
// read.hpp. std::nullopt when count is 0 or above 99.
std::optional<Frame> make_read_request(const Address& address, std::uint32_t di, std::optional<std::uint8_t> count);
// 11H read with NN and a start time (mm hh DD MM YY), e.g. load profile 06000001.
// std::nullopt when count is not 1..99 or `start` is not a valid 2000..2099 time.
std::optional<Frame> make_read_request(const Address& address, std::uint32_t di, std::uint8_t count,
                                       const MeterDateTime& start);
// 12H read follow-up frame number `seq`.
Frame make_read_follow_up_request(const Address& address, std::uint32_t di, std::uint8_t seq);
// 13H read address, sent to AA..AA (only sane with one meter on the bus).
Frame make_read_address_request();
// 14H write data.
Frame make_write_request(const Address& address, std::uint32_t di, const Password& password,
                         const OperatorCode& op, std::span<const std::uint8_t> value);
// 15H write address, sent to AA..AA.
Frame make_write_address_request(const Address& new_address);
// 08H broadcast time sync to 99..99 (body ss mm hh DD MM YY). Same body in both editions.
// std::nullopt when `local` is not a valid 2000..2099 date/time.
std::optional<Frame> make_broadcast_time_sync(const MeterDateTime& local, Edition edition = Edition::v2007);
// 16H freeze; `address` may be broadcast. std::nullopt when a field is out of range.
std::optional<Frame> make_freeze_request(const Address& address, const FreezeTime& when);
// 17H change baud.
Frame make_change_baud_request(const Address& address, Baud baud);
// 18H change password: DI (04000C01..0A = level) + old + new.
Frame make_change_password_request(const Address& address, std::uint32_t di, const Password& old_password,
                                   const Password& new_password);
// 19H max demand reset, 1AH meter clear.
Frame make_max_demand_reset_request(const Address& address, const Password& password, const OperatorCode& op);
Frame make_meter_clear_request(const Address& address, const Password& password, const OperatorCode& op);
// 1BH event clear; event_di FFFFFFFF = all events.
Frame make_event_clear_request(const Address& address, const Password& password, const OperatorCode& op,
                               std::uint32_t event_di);
// 1CH relay control: vendor/ESAM specific, carried as raw bytes.
Frame make_relay_control_request(const Address& address, std::span<const std::uint8_t> raw);

// 1997 requests (2-byte DI).
Frame make_read_request_1997(const Address& address, std::uint16_t di);
Frame make_read_follow_up_request_1997(const Address& address, std::uint16_t di);
Frame make_reread_request_1997(const Address& address);
Frame make_write_request_1997(const Address& address, std::uint16_t di, const Password& password,
                              std::span<const std::uint8_t> value);
Frame make_write_address_request_1997(const Address& new_address);
Frame make_change_baud_request_1997(const Address& address, Baud baud);
Frame make_change_password_request_1997(const Address& address, const Password& old_password,
                                        const Password& new_password);
Frame make_max_demand_reset_request_1997(const Address& address);

// ---------------------------------------------------------------------------------------------
// Replies (meter -> master). `edition` picks the DI width where one is carried.

// 91H (or B1H when `more_follows`) / 1997 81H (A1H): DI + value.
Frame make_read_reply(Edition edition, const Address& address, std::uint32_t di, std::span<const std::uint8_t> value,
                      bool more_follows = false);
// 92H / B2H: DI + value + SEQ (2007 only).
Frame make_read_follow_up_reply(const Address& address, std::uint32_t di, std::span<const std::uint8_t> value,
                                std::uint8_t seq, bool more_follows);
// 93H: the meter's own address in the address field and the DATA.
Frame make_read_address_reply(const Address& address);
// Normal reply with DATA `data` (often empty): 94, 95, 96, 99, 9A, 9B (2007); 84, 8A, 90 (1997);
// 97/8C echo Z, 98/8F carry the new password, 9C carries vendor data.
Frame make_normal_reply(const Address& address, std::uint8_t function, std::span<const std::uint8_t> data = {});
// Abnormal reply: C|C0H with the ERR byte.
Frame make_abnormal_reply(const Address& address, std::uint8_t function, std::uint8_t err);

// ---------------------------------------------------------------------------------------------
// ERR byte of abnormal replies.

enum class ErrorReason : std::uint8_t {
  other,                 // 2007 bit0
  no_requested_data,     // 2007 bit1
  unauthorized,          // 2007 bit2: password wrong / not authorised
  baud_unchangeable,     // 2007 bit3
  too_many_year_zones,   // 2007 bit4
  too_many_day_periods,  // 2007 bit5
  too_many_tariffs,      // 2007 bit6
  illegal_data,          // 1997 bit0
  wrong_di,              // 1997 bit1
  wrong_password,        // 1997 bit2
  reserved_bit,          // a bit the edition does not define
};
std::string_view to_string(ErrorReason r);  // snake_case name
std::string_view describe(ErrorReason r);   // short English sentence

struct ErrorReasons {
  std::array<ErrorReason, 8> items{};
  std::size_t count = 0;
  [[nodiscard]] const ErrorReason* begin() const { return items.data(); }
  [[nodiscard]] const ErrorReason* end() const { return items.data() + count; }
  [[nodiscard]] bool contains(ErrorReason r) const;
};
// One reason per set bit, lowest bit first. ERR 0 gives no reasons.
ErrorReasons decode_error_reasons(Edition edition, std::uint8_t err);
// Inverse for the simulator: the bit of `reason` in `edition` (0 for reserved_bit / other edition's reasons).
std::uint8_t error_bit(Edition edition, ErrorReason reason);

// ---------------------------------------------------------------------------------------------
// Parsing any frame.

struct Message {
  Edition edition = Edition::v2007;
  MessageKind kind = MessageKind::read;
  std::uint8_t function = 0;
  bool from_meter = false;
  bool abnormal = false;
  bool follow_up = false;  // D5: more frames follow
  std::optional<std::uint32_t> di;        // reads, writes, change password (2007), event clear's event DI
  std::span<const std::uint8_t> value;    // read reply value, write value, 1CH raw data, other vendor data
  std::optional<std::uint8_t> seq;        // 12H request / 92H reply
  std::optional<std::uint8_t> count;      // NN of a read request (plain binary of the BCD byte)
  std::optional<MeterDateTime> time;      // broadcast time sync, read request start time
  std::optional<FreezeTime> freeze_time;  // 16H request
  std::optional<Address> address;         // read-address reply, write-address request
  std::optional<std::uint8_t> baud_code;  // change-baud request/reply (Z)
  std::optional<Password> password;       // write / clear / reset (PA P0 P1 P2); change-password: old
  std::optional<Password> new_password;   // change-password request / reply
  std::optional<OperatorCode> operator_code;
  std::optional<std::uint8_t> error_bits;  // abnormal reply ERR
};

enum class MessageError : std::uint8_t {
  none,
  unknown_function,  // the function code is not defined in the (given or detected) edition
  wrong_length,      // DATA length does not fit the function
  bad_time,          // a date/time field is not a valid BCD time
  bad_address,       // an address field is not 12 BCD digits
  bad_field,         // another field out of range (NN, Z, freeze time)
};
std::string_view to_string(MessageError e);

struct MessageStatus {
  MessageError error = MessageError::none;
  std::string detail;  // empty on success; otherwise names the field and the DATA byte offset
  [[nodiscard]] bool ok() const { return error == MessageError::none; }
};

// Parses `frame` as a request or reply (by its direction bit). `edition`: the edition the peer speaks;
// std::nullopt detects it from the function code (08H, shared, then reads as 2007).
MessageStatus parse_message(const Frame& frame, std::optional<Edition> edition, Message& out);

// DI helpers: 4 (2007) or 2 (1997) bytes, DI0 first.
void append_di(Edition edition, std::uint32_t di, std::vector<std::uint8_t>& data);
std::uint32_t read_di(Edition edition, std::span<const std::uint8_t> bytes);  // bytes.size() >= di_size()

}  // namespace ami::dlt645
