#include "protocols/dlt645/edition.hpp"

#include <array>
#include <utility>

namespace ami::dlt645 {
namespace {

struct CodeRow {
  Edition edition;
  std::uint8_t function;
  MessageKind kind;
};

constexpr std::array kCodes = {
    CodeRow{Edition::v2007, fn2007::broadcast_time, MessageKind::broadcast_time},
    CodeRow{Edition::v2007, fn2007::read, MessageKind::read},
    CodeRow{Edition::v2007, fn2007::read_follow_up, MessageKind::read_follow_up},
    CodeRow{Edition::v2007, fn2007::read_address, MessageKind::read_address},
    CodeRow{Edition::v2007, fn2007::write, MessageKind::write},
    CodeRow{Edition::v2007, fn2007::write_address, MessageKind::write_address},
    CodeRow{Edition::v2007, fn2007::freeze, MessageKind::freeze},
    CodeRow{Edition::v2007, fn2007::change_baud, MessageKind::change_baud},
    CodeRow{Edition::v2007, fn2007::change_password, MessageKind::change_password},
    CodeRow{Edition::v2007, fn2007::max_demand_reset, MessageKind::max_demand_reset},
    CodeRow{Edition::v2007, fn2007::meter_clear, MessageKind::meter_clear},
    CodeRow{Edition::v2007, fn2007::event_clear, MessageKind::event_clear},
    CodeRow{Edition::v2007, fn2007::relay_control, MessageKind::relay_control},
    CodeRow{Edition::v1997, fn1997::read, MessageKind::read},
    CodeRow{Edition::v1997, fn1997::read_follow_up, MessageKind::read_follow_up},
    CodeRow{Edition::v1997, fn1997::reread, MessageKind::reread},
    CodeRow{Edition::v1997, fn1997::write, MessageKind::write},
    CodeRow{Edition::v1997, fn1997::broadcast_time, MessageKind::broadcast_time},
    CodeRow{Edition::v1997, fn1997::write_address, MessageKind::write_address},
    CodeRow{Edition::v1997, fn1997::change_baud, MessageKind::change_baud},
    CodeRow{Edition::v1997, fn1997::change_password, MessageKind::change_password},
    CodeRow{Edition::v1997, fn1997::max_demand_reset, MessageKind::max_demand_reset},
};

}  // namespace

std::string_view to_string(Edition e) { return e == Edition::v2007 ? "2007" : "1997"; }

std::optional<Edition> parse_edition(std::string_view text) {
  if (text == "2007" || text == "dlt645-2007") return Edition::v2007;
  if (text == "1997" || text == "dlt645-1997") return Edition::v1997;
  return std::nullopt;
}

std::string_view to_string(MessageKind k) {
  switch (k) {
    case MessageKind::broadcast_time: return "broadcast_time";
    case MessageKind::read: return "read";
    case MessageKind::read_follow_up: return "read_follow_up";
    case MessageKind::reread: return "reread";
    case MessageKind::read_address: return "read_address";
    case MessageKind::write: return "write";
    case MessageKind::write_address: return "write_address";
    case MessageKind::freeze: return "freeze";
    case MessageKind::change_baud: return "change_baud";
    case MessageKind::change_password: return "change_password";
    case MessageKind::max_demand_reset: return "max_demand_reset";
    case MessageKind::meter_clear: return "meter_clear";
    case MessageKind::event_clear: return "event_clear";
    case MessageKind::relay_control: return "relay_control";
  }
  return "unknown";
}

std::optional<MessageKind> message_kind(Edition e, std::uint8_t function) {
  for (const auto& row : kCodes)
    if (row.edition == e && row.function == function) return row.kind;
  return std::nullopt;
}

std::optional<std::uint8_t> function_code(Edition e, MessageKind k) {
  for (const auto& row : kCodes)
    if (row.edition == e && row.kind == k) return row.function;
  return std::nullopt;
}

std::optional<Edition> edition_of_function(std::uint8_t function) {
  const bool in_2007 = message_kind(Edition::v2007, function).has_value();
  const bool in_1997 = message_kind(Edition::v1997, function).has_value();
  if (in_2007 == in_1997) return std::nullopt;
  return in_2007 ? Edition::v2007 : Edition::v1997;
}

}  // namespace ami::dlt645
