#include "protocols/dlt645/address.hpp"

#include <algorithm>

namespace ami::dlt645 {
namespace {
bool bcd_ok(std::uint8_t b) { return (b & 0x0F) <= 9 && (b >> 4) <= 9; }
}  // namespace

Address Address::from_wire(const std::uint8_t* bytes) {
  Address a;
  std::copy(bytes, bytes + 6, a.wire_.begin());
  return a;
}

Address Address::broadcast() {
  Address a;
  a.wire_.fill(0x99);
  return a;
}

Address Address::wildcard() {
  Address a;
  a.wire_.fill(kWildcard);
  return a;
}

std::optional<Address> Address::parse(std::string_view text, std::string& error) {
  if (text.empty() || text.size() > 12) {
    error = "address '" + std::string(text) + "' must have 1 to 12 digits";
    return std::nullopt;
  }
  std::string digits(12 - text.size(), '0');
  digits.append(text);
  Address a;
  for (std::size_t pair = 0; pair < 6; ++pair) {
    const char hi = digits[pair * 2];
    const char lo = digits[pair * 2 + 1];
    const bool hi_wild = hi == 'A' || hi == 'a';
    const bool lo_wild = lo == 'A' || lo == 'a';
    std::uint8_t value = 0;
    if (hi_wild && lo_wild) {
      value = kWildcard;
    } else if (hi >= '0' && hi <= '9' && lo >= '0' && lo <= '9') {
      value = static_cast<std::uint8_t>(((hi - '0') << 4) | (lo - '0'));
    } else {
      const std::size_t first = pair * 2 + 1;  // 1-based position in the 12-digit form
      error = "address '" + std::string(text) + "' has an invalid digit pair '" + digits.substr(pair * 2, 2) +
              "' at digits " + std::to_string(first) + "-" + std::to_string(first + 1) +
              " of 12 (only 0-9, or AA pairs as wildcards)";
      return std::nullopt;
    }
    a.wire_[5 - pair] = value;  // most significant pair goes last on the wire
  }
  return a;
}

std::string Address::to_string() const {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string s;
  s.reserve(12);
  for (int i = 5; i >= 0; --i) {
    const auto b = wire_[static_cast<std::size_t>(i)];
    s.push_back(hex[b >> 4]);
    s.push_back(hex[b & 0x0F]);
  }
  return s;
}

bool Address::is_broadcast() const {
  return std::all_of(wire_.begin(), wire_.end(), [](std::uint8_t b) { return b == 0x99; });
}

bool Address::has_wildcard() const {
  return std::any_of(wire_.begin(), wire_.end(), [](std::uint8_t b) { return b == kWildcard; });
}

bool Address::is_concrete() const { return std::all_of(wire_.begin(), wire_.end(), bcd_ok); }

bool Address::matches(const Address& actual) const {
  for (std::size_t i = 0; i < 6; ++i) {
    if (wire_[i] != kWildcard && wire_[i] != actual.wire_[i]) return false;
  }
  return true;
}

}  // namespace ami::dlt645
