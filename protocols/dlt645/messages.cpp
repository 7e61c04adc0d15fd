#include "protocols/dlt645/messages.hpp"

#include <algorithm>

#include "protocols/dlt645/bcd.hpp"

namespace ami::dlt645 {
namespace {

constexpr std::uint8_t kFreezeWildcard = 0x99;

std::span<const std::uint8_t> bytes_of(const std::array<std::uint8_t, 4>& a) { return {a.data(), a.size()}; }

void append(std::vector<std::uint8_t>& data, std::span<const std::uint8_t> bytes) {
  data.insert(data.end(), bytes.begin(), bytes.end());
}

Frame request(const Address& address, std::uint8_t function) {
  Frame f{address, Control::request(function), {}};
  f.data.reserve(16);  // every fixed-layout request fits; saves regrowth while appending fields
  return f;
}

Frame credentials_request(const Address& address, std::uint8_t function, const Password& password,
                          const OperatorCode& op) {
  Frame f = request(address, function);
  append(f.data, bytes_of(password));
  append(f.data, bytes_of(op));
  return f;
}

// Write address goes to AA..AA: only sane with one meter on the bus.
Frame write_address_request(std::uint8_t function, const Address& new_address) {
  Frame f = request(Address::wildcard(), function);
  append(f.data, new_address.wire());
  return f;
}

std::array<std::uint8_t, 4> take4(std::span<const std::uint8_t> bytes) {
  return {bytes[0], bytes[1], bytes[2], bytes[3]};
}

std::optional<std::uint8_t> bcd_field(std::optional<int> v, int lo, int hi) {
  if (!v) return kFreezeWildcard;
  if (*v < lo || *v > hi) return std::nullopt;
  return static_cast<std::uint8_t>(((*v / 10) << 4) | (*v % 10));
}

// One freeze byte: 99 is the wildcard, otherwise BCD in lo..hi.
bool freeze_byte(std::uint8_t b, int lo, int hi, std::optional<int>& out) {
  if (b == kFreezeWildcard) {
    out.reset();
    return true;
  }
  const auto v = decode_bcd(std::span<const std::uint8_t>(&b, 1));
  if (v.status != BcdStatus::ok || v.value < lo || v.value > hi) return false;
  out = static_cast<int>(v.value);
  return true;
}

std::string hex_byte(std::uint8_t b) {
  static constexpr char hex[] = "0123456789ABCDEF";
  return {hex[b >> 4], hex[b & 0x0F]};
}

class Checker {
 public:
  Checker(const Message& m, std::span<const std::uint8_t> data, MessageStatus& status)
      : m_(m), data_(data), status_(status) {}

  // Offsets are 0-based into DATA; messages count from 1.
  // DATA must be exactly one of `sizes` bytes long; `shape` names the layout(s) for the message.
  bool size_is(std::initializer_list<std::size_t> sizes, std::string_view shape) {
    if (std::find(sizes.begin(), sizes.end(), data_.size()) != sizes.end()) return true;
    return fail_length("must be " + std::string(shape));
  }
  bool size_at_least(std::size_t n, std::string_view shape) {
    if (data_.size() >= n) return true;
    return fail_length("must be at least " + std::to_string(n) + " bytes (" + std::string(shape) + ")");
  }
  bool fail(MessageError e, std::size_t offset, std::string_view what) {
    status_.error = e;
    status_.detail = name() + ": " + std::string(what) + " at DATA byte " + std::to_string(offset + 1);
    return false;
  }

 private:
  std::string name() const {
    return std::string(to_string(m_.kind)) + (m_.from_meter ? " reply" : " request") + " (DL/T 645-" +
           std::string(to_string(m_.edition)) + ", C=" + hex_byte(static_cast<std::uint8_t>(
                                                           m_.function | (m_.from_meter ? 0x80 : 0) |
                                                           (m_.abnormal ? 0x40 : 0) | (m_.follow_up ? 0x20 : 0))) +
           "H)";
  }
  bool fail_length(const std::string& expectation) {
    status_.error = MessageError::wrong_length;
    status_.detail = name() + ": DATA has " + std::to_string(data_.size()) + " bytes, " + expectation;
    return false;
  }

  const Message& m_;
  std::span<const std::uint8_t> data_;
  MessageStatus& status_;
};

bool parse_address(std::span<const std::uint8_t> data, Checker& check, Message& m) {
  const Address a = Address::from_wire(data.data());
  if (!a.is_concrete()) return check.fail(MessageError::bad_address, 0, "address is not 12 BCD digits");
  m.address = a;
  return true;
}

bool parse_request(std::span<const std::uint8_t> data, Checker& check, Message& m) {
  const bool v2007 = m.edition == Edition::v2007;
  const std::size_t di_bytes = di_size(m.edition);
  switch (m.kind) {
    case MessageKind::broadcast_time:
      if (!check.size_is({6}, "6 bytes (ss mm hh DD MM YY)")) return false;
      m.time = decode_yymmddhhmmss(data);
      return m.time ? true : check.fail(MessageError::bad_time, 0, "time is not a valid ss mm hh DD MM YY");
    case MessageKind::read:
      if (v2007) {
        if (!check.size_is({4, 5, 10}, "4 (DI), 5 (DI + NN) or 10 (DI + NN + mm hh DD MM YY) bytes")) return false;
      } else if (!check.size_is({2}, "2 bytes (DI)")) {
        return false;
      }
      m.di = read_di(m.edition, data);
      if (data.size() >= 5) {
        const auto nn = decode_bcd(data.subspan(4, 1));
        if (nn.status != BcdStatus::ok) return check.fail(MessageError::bad_field, 4, "block count NN is not BCD");
        m.count = static_cast<std::uint8_t>(nn.value);
      }
      if (data.size() == 10) {
        m.time = decode_yymmddhhmm(data.subspan(5, 5));
        if (!m.time) return check.fail(MessageError::bad_time, 5, "start time is not a valid mm hh DD MM YY");
      }
      return true;
    case MessageKind::read_follow_up:
      if (!check.size_is({v2007 ? std::size_t{5} : std::size_t{2}}, v2007 ? "5 bytes (DI + SEQ)" : "2 bytes (DI)"))
        return false;
      m.di = read_di(m.edition, data);
      if (v2007) m.seq = data[4];
      return true;
    case MessageKind::reread:
    case MessageKind::read_address: return check.size_is({0}, "empty");
    case MessageKind::write: {
      const std::size_t header = di_bytes + 4 + (v2007 ? 4 : 0);
      if (!check.size_at_least(header, v2007 ? "DI + PA P0 P1 P2 + C0..C3 + value" : "DI + PA P0 P1 P2 + value"))
        return false;
      m.di = read_di(m.edition, data);
      m.password = take4(data.subspan(di_bytes));
      if (v2007) m.operator_code = take4(data.subspan(di_bytes + 4));
      m.value = data.subspan(header);
      return true;
    }
    case MessageKind::write_address:
      if (!check.size_is({6}, "6 bytes (new address)")) return false;
      return parse_address(data, check, m);
    case MessageKind::freeze: {
      if (!check.size_is({4}, "4 bytes (mm hh DD MM, 99 = any)")) return false;
      FreezeTime t;
      if (!freeze_byte(data[0], 0, 59, t.minute)) return check.fail(MessageError::bad_field, 0, "minute is not 00..59 or 99");
      if (!freeze_byte(data[1], 0, 23, t.hour)) return check.fail(MessageError::bad_field, 1, "hour is not 00..23 or 99");
      if (!freeze_byte(data[2], 1, 31, t.day)) return check.fail(MessageError::bad_field, 2, "day is not 01..31 or 99");
      if (!freeze_byte(data[3], 1, 12, t.month)) return check.fail(MessageError::bad_field, 3, "month is not 01..12 or 99");
      m.freeze_time = t;
      return true;
    }
    case MessageKind::change_baud:
      if (!check.size_is({1}, "1 byte (Z)")) return false;
      m.baud_code = data[0];
      return true;
    case MessageKind::change_password: {
      const std::size_t n = v2007 ? 12 : 8;
      if (!check.size_is({n}, v2007 ? "12 bytes (DI + old + new password)" : "8 bytes (old + new password)"))
        return false;
      const std::size_t at = v2007 ? 4 : 0;
      if (v2007) m.di = read_di(m.edition, data);
      m.password = take4(data.subspan(at));
      m.new_password = take4(data.subspan(at + 4));
      return true;
    }
    case MessageKind::max_demand_reset:
    case MessageKind::meter_clear:
    case MessageKind::event_clear: {
      if (!v2007) return check.size_is({0}, "empty");
      const bool event = m.kind == MessageKind::event_clear;
      if (!check.size_is({event ? std::size_t{12} : std::size_t{8}},
                         event ? "12 bytes (PA P0 P1 P2 + C0..C3 + event DI)" : "8 bytes (PA P0 P1 P2 + C0..C3)"))
        return false;
      m.password = take4(data);
      m.operator_code = take4(data.subspan(4));
      if (event) m.di = read_di(Edition::v2007, data.subspan(8));
      return true;
    }
    case MessageKind::relay_control: m.value = data; return true;
  }
  return true;
}

bool parse_reply(std::span<const std::uint8_t> data, Checker& check, Message& m) {
  const bool v2007 = m.edition == Edition::v2007;
  const std::size_t di_bytes = di_size(m.edition);
  switch (m.kind) {
    case MessageKind::read:
    case MessageKind::reread:
      if (!check.size_at_least(di_bytes, "DI + value")) return false;
      m.di = read_di(m.edition, data);
      m.value = data.subspan(di_bytes);
      return true;
    case MessageKind::read_follow_up:
      if (!v2007) {
        if (!check.size_at_least(di_bytes, "DI + value")) return false;
        m.di = read_di(m.edition, data);
        m.value = data.subspan(di_bytes);
        return true;
      }
      if (!check.size_at_least(5, "DI + value + SEQ")) return false;
      m.di = read_di(m.edition, data);
      m.value = data.subspan(4, data.size() - 5);
      m.seq = data.back();
      return true;
    case MessageKind::read_address:
      if (!check.size_is({6}, "6 bytes (address)")) return false;
      return parse_address(data, check, m);
    case MessageKind::change_baud:
      if (!check.size_is({1}, "1 byte (Z)")) return false;
      m.baud_code = data[0];
      return true;
    case MessageKind::change_password:
      if (!check.size_is({4}, "4 bytes (new password)")) return false;
      m.new_password = take4(data);
      return true;
    case MessageKind::relay_control:
    case MessageKind::broadcast_time: m.value = data; return true;  // 08H has no reply; keep what came
    case MessageKind::write:
    case MessageKind::write_address:
    case MessageKind::freeze:
    case MessageKind::max_demand_reset:
    case MessageKind::meter_clear:
    case MessageKind::event_clear: return check.size_is({0}, "empty (L=0)");
  }
  return true;
}

}  // namespace

std::optional<Baud> baud_from_rate(int bits_per_second) {
  switch (bits_per_second) {
    case 600: return Baud::b600;
    case 1200: return Baud::b1200;
    case 2400: return Baud::b2400;
    case 4800: return Baud::b4800;
    case 9600: return Baud::b9600;
    case 19200: return Baud::b19200;
    default: return std::nullopt;
  }
}

std::optional<int> rate_of_baud_code(std::uint8_t z) {
  switch (z) {
    case 0x02: return 600;
    case 0x04: return 1200;
    case 0x08: return 2400;
    case 0x10: return 4800;
    case 0x20: return 9600;
    case 0x40: return 19200;
    default: return std::nullopt;
  }
}

void append_di(Edition edition, std::uint32_t di, std::vector<std::uint8_t>& data) {
  const std::uint8_t bytes[4] = {static_cast<std::uint8_t>(di), static_cast<std::uint8_t>(di >> 8),
                                 static_cast<std::uint8_t>(di >> 16), static_cast<std::uint8_t>(di >> 24)};
  data.insert(data.end(), bytes, bytes + di_size(edition));
}

std::uint32_t read_di(Edition edition, std::span<const std::uint8_t> bytes) {
  std::uint32_t di = 0;
  for (std::size_t i = di_size(edition); i-- > 0;) di = (di << 8) | bytes[i];
  return di;
}

// --- requests --------------------------------------------------------------------------------

std::optional<Frame> make_read_request(const Address& address, std::uint32_t di, std::optional<std::uint8_t> count) {
  Frame f = request(address, fn2007::read);
  append_di(Edition::v2007, di, f.data);
  if (count) {
    std::uint8_t nn = 0;
    if (*count == 0 || !encode_bcd(*count, std::span<std::uint8_t>(&nn, 1))) return std::nullopt;
    f.data.push_back(nn);
  }
  return f;
}

std::optional<Frame> make_read_request(const Address& address, std::uint32_t di, std::uint8_t count,
                                       const MeterDateTime& start) {
  auto f = make_read_request(address, di, std::optional<std::uint8_t>(count));
  std::array<std::uint8_t, 5> t{};
  if (!f || !encode_yymmddhhmm(start, t)) return std::nullopt;
  append(f->data, t);
  return f;
}

Frame make_read_follow_up_request(const Address& address, std::uint32_t di, std::uint8_t seq) {
  Frame f = request(address, fn2007::read_follow_up);
  append_di(Edition::v2007, di, f.data);
  f.data.push_back(seq);
  return f;
}

Frame make_read_address_request() { return request(Address::wildcard(), fn2007::read_address); }

Frame make_write_request(const Address& address, std::uint32_t di, const Password& password, const OperatorCode& op,
                         std::span<const std::uint8_t> value) {
  Frame f = request(address, fn2007::write);
  append_di(Edition::v2007, di, f.data);
  append(f.data, bytes_of(password));
  append(f.data, bytes_of(op));
  append(f.data, value);
  return f;
}

Frame make_write_address_request(const Address& new_address) {
  return write_address_request(fn2007::write_address, new_address);
}

std::optional<Frame> make_broadcast_time_sync(const MeterDateTime& local, Edition edition) {
  std::array<std::uint8_t, 6> body{};
  if (!encode_yymmddhhmmss(local, body)) return std::nullopt;
  Frame f = request(Address::broadcast(),
                    edition == Edition::v2007 ? fn2007::broadcast_time : fn1997::broadcast_time);
  append(f.data, body);
  return f;
}

std::optional<Frame> make_freeze_request(const Address& address, const FreezeTime& when) {
  const auto mm = bcd_field(when.minute, 0, 59), hh = bcd_field(when.hour, 0, 23), dd = bcd_field(when.day, 1, 31),
             mo = bcd_field(when.month, 1, 12);
  if (!mm || !hh || !dd || !mo) return std::nullopt;
  Frame f = request(address, fn2007::freeze);
  f.data = {*mm, *hh, *dd, *mo};
  return f;
}

Frame make_change_baud_request(const Address& address, Baud baud) {
  Frame f = request(address, fn2007::change_baud);
  f.data.push_back(static_cast<std::uint8_t>(baud));
  return f;
}

Frame make_change_password_request(const Address& address, std::uint32_t di, const Password& old_password,
                                   const Password& new_password) {
  Frame f = request(address, fn2007::change_password);
  append_di(Edition::v2007, di, f.data);
  append(f.data, bytes_of(old_password));
  append(f.data, bytes_of(new_password));
  return f;
}

Frame make_max_demand_reset_request(const Address& address, const Password& password, const OperatorCode& op) {
  return credentials_request(address, fn2007::max_demand_reset, password, op);
}

Frame make_meter_clear_request(const Address& address, const Password& password, const OperatorCode& op) {
  return credentials_request(address, fn2007::meter_clear, password, op);
}

Frame make_event_clear_request(const Address& address, const Password& password, const OperatorCode& op,
                               std::uint32_t event_di) {
  Frame f = credentials_request(address, fn2007::event_clear, password, op);
  append_di(Edition::v2007, event_di, f.data);
  return f;
}

Frame make_relay_control_request(const Address& address, std::span<const std::uint8_t> raw) {
  Frame f = request(address, fn2007::relay_control);
  append(f.data, raw);
  return f;
}

Frame make_read_request_1997(const Address& address, std::uint16_t di) {
  Frame f = request(address, fn1997::read);
  append_di(Edition::v1997, di, f.data);
  return f;
}

Frame make_read_follow_up_request_1997(const Address& address, std::uint16_t di) {
  Frame f = request(address, fn1997::read_follow_up);
  append_di(Edition::v1997, di, f.data);
  return f;
}

Frame make_reread_request_1997(const Address& address) { return request(address, fn1997::reread); }

Frame make_write_request_1997(const Address& address, std::uint16_t di, const Password& password,
                              std::span<const std::uint8_t> value) {
  Frame f = request(address, fn1997::write);
  append_di(Edition::v1997, di, f.data);
  append(f.data, bytes_of(password));
  append(f.data, value);
  return f;
}

Frame make_write_address_request_1997(const Address& new_address) {
  return write_address_request(fn1997::write_address, new_address);
}

Frame make_change_baud_request_1997(const Address& address, Baud baud) {
  Frame f = request(address, fn1997::change_baud);
  f.data.push_back(static_cast<std::uint8_t>(baud));
  return f;
}

Frame make_change_password_request_1997(const Address& address, const Password& old_password,
                                        const Password& new_password) {
  Frame f = request(address, fn1997::change_password);
  append(f.data, bytes_of(old_password));
  append(f.data, bytes_of(new_password));
  return f;
}

Frame make_max_demand_reset_request_1997(const Address& address) {
  return request(address, fn1997::max_demand_reset);
}

// --- replies ---------------------------------------------------------------------------------

Frame make_read_reply(Edition edition, const Address& address, std::uint32_t di, std::span<const std::uint8_t> value,
                      bool more_follows) {
  Frame f{address, Control::reply(edition == Edition::v2007 ? fn2007::read : fn1997::read, more_follows), {}};
  f.data.reserve(di_size(edition) + value.size());
  append_di(edition, di, f.data);
  append(f.data, value);
  return f;
}

Frame make_read_follow_up_reply(const Address& address, std::uint32_t di, std::span<const std::uint8_t> value,
                                std::uint8_t seq, bool more_follows) {
  Frame f{address, Control::reply(fn2007::read_follow_up, more_follows), {}};
  append_di(Edition::v2007, di, f.data);
  append(f.data, value);
  f.data.push_back(seq);
  return f;
}

Frame make_read_address_reply(const Address& address) {
  Frame f{address, Control::reply(fn2007::read_address), {}};
  append(f.data, address.wire());
  return f;
}

Frame make_normal_reply(const Address& address, std::uint8_t function, std::span<const std::uint8_t> data) {
  Frame f{address, Control::reply(function), {}};
  append(f.data, data);
  return f;
}

Frame make_abnormal_reply(const Address& address, std::uint8_t function, std::uint8_t err) {
  return Frame{address, Control::abnormal_reply(function), {err}};
}

// --- ERR -------------------------------------------------------------------------------------

namespace {
constexpr std::array<ErrorReason, 8> kReasons2007 = {
    ErrorReason::other,          ErrorReason::no_requested_data,    ErrorReason::unauthorized,
    ErrorReason::baud_unchangeable, ErrorReason::too_many_year_zones, ErrorReason::too_many_day_periods,
    ErrorReason::too_many_tariffs, ErrorReason::reserved_bit};
constexpr std::array<ErrorReason, 8> kReasons1997 = {
    ErrorReason::illegal_data, ErrorReason::wrong_di,     ErrorReason::wrong_password, ErrorReason::reserved_bit,
    ErrorReason::reserved_bit, ErrorReason::reserved_bit, ErrorReason::reserved_bit,   ErrorReason::reserved_bit};
const std::array<ErrorReason, 8>& reason_table(Edition e) {
  return e == Edition::v2007 ? kReasons2007 : kReasons1997;
}
}  // namespace

std::string_view to_string(ErrorReason r) {
  switch (r) {
    case ErrorReason::other: return "other";
    case ErrorReason::no_requested_data: return "no_requested_data";
    case ErrorReason::unauthorized: return "unauthorized";
    case ErrorReason::baud_unchangeable: return "baud_unchangeable";
    case ErrorReason::too_many_year_zones: return "too_many_year_zones";
    case ErrorReason::too_many_day_periods: return "too_many_day_periods";
    case ErrorReason::too_many_tariffs: return "too_many_tariffs";
    case ErrorReason::illegal_data: return "illegal_data";
    case ErrorReason::wrong_di: return "wrong_di";
    case ErrorReason::wrong_password: return "wrong_password";
    case ErrorReason::reserved_bit: return "reserved_bit";
  }
  return "unknown";
}

std::string_view describe(ErrorReason r) {
  switch (r) {
    case ErrorReason::other: return "other error";
    case ErrorReason::no_requested_data: return "the meter has no such data";
    case ErrorReason::unauthorized: return "wrong password or not authorised";
    case ErrorReason::baud_unchangeable: return "the baud rate cannot be changed";
    case ErrorReason::too_many_year_zones: return "too many year time zones";
    case ErrorReason::too_many_day_periods: return "too many daily time periods";
    case ErrorReason::too_many_tariffs: return "too many tariffs";
    case ErrorReason::illegal_data: return "illegal data";
    case ErrorReason::wrong_di: return "wrong data identifier";
    case ErrorReason::wrong_password: return "wrong password";
    case ErrorReason::reserved_bit: return "a reserved ERR bit is set";
  }
  return "unknown";
}

bool ErrorReasons::contains(ErrorReason r) const { return std::find(begin(), end(), r) != end(); }

ErrorReasons decode_error_reasons(Edition edition, std::uint8_t err) {
  ErrorReasons out;
  const auto& table = reason_table(edition);
  for (std::size_t bit = 0; bit < 8; ++bit)
    if (err & (1u << bit)) out.items[out.count++] = table[bit];
  return out;
}

std::uint8_t error_bit(Edition edition, ErrorReason reason) {
  if (reason == ErrorReason::reserved_bit) return 0;
  const auto& table = reason_table(edition);
  for (std::size_t bit = 0; bit < 8; ++bit)
    if (table[bit] == reason) return static_cast<std::uint8_t>(1u << bit);
  return 0;
}

// --- parsing ---------------------------------------------------------------------------------

std::string_view to_string(MessageError e) {
  switch (e) {
    case MessageError::none: return "ok";
    case MessageError::unknown_function: return "unknown function code";
    case MessageError::wrong_length: return "wrong DATA length";
    case MessageError::bad_time: return "bad date/time";
    case MessageError::bad_address: return "bad address";
    case MessageError::bad_field: return "bad field";
  }
  return "unknown";
}

MessageStatus parse_message(const Frame& frame, std::optional<Edition> edition, Message& out) {
  out = Message{};
  MessageStatus status;
  const std::uint8_t function = frame.control.function();
  out.edition = edition ? *edition : edition_of_function(function).value_or(Edition::v2007);
  out.function = function;
  out.from_meter = frame.control.from_meter();
  out.abnormal = frame.control.abnormal();
  out.follow_up = frame.control.follow_up();
  const auto kind = message_kind(out.edition, function);
  if (!kind) {
    status.error = MessageError::unknown_function;
    status.detail = "function " + hex_byte(function) + "H (control byte " + hex_byte(frame.control.raw) +
                    "H) is not defined in DL/T 645-" + std::string(to_string(out.edition));
    return status;
  }
  out.kind = *kind;
  const std::span<const std::uint8_t> data(frame.data);
  Checker check(out, data, status);
  if (out.abnormal) {
    // ERR first; 1CH abnormal replies may add vendor bytes after it.
    if (check.size_at_least(1, "ERR")) {
      out.error_bits = data[0];
      out.value = data.subspan(1);
    }
    return status;
  }
  if (out.from_meter) {
    parse_reply(data, check, out);
  } else {
    parse_request(data, check, out);
  }
  return status;
}

}  // namespace ami::dlt645
