// DL/T 645 meter address: 12 BCD digits, carried low byte first on the wire.
// Pure value type; any thread. parse() reports what is wrong in `error` and never throws.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ami::dlt645 {

class Address {
 public:
  static constexpr std::uint8_t kWildcard = 0xAA;

  Address() = default;
  // From wire order (A0 first).
  static Address from_wire(const std::uint8_t* bytes);
  // "123456789012" (1..12 digits, left-padded with 0); 'A'/'a' pairs are wildcards ("AAAAAAAAAAAA").
  static std::optional<Address> parse(std::string_view text, std::string& error);
  static Address broadcast();  // 99 99 99 99 99 99
  static Address wildcard();   // AA AA AA AA AA AA

  // Digits as written on the nameplate, most significant first ("AA" for wildcard bytes).
  [[nodiscard]] std::string to_string() const;
  [[nodiscard]] const std::array<std::uint8_t, 6>& wire() const { return wire_; }
  [[nodiscard]] bool is_broadcast() const;
  [[nodiscard]] bool has_wildcard() const;
  // True when a reply from `actual` answers a request sent to *this (wildcard bytes match anything).
  [[nodiscard]] bool matches(const Address& actual) const;
  // Every byte a valid BCD pair (a concrete meter address, no wildcard).
  [[nodiscard]] bool is_concrete() const;

  friend bool operator==(const Address&, const Address&) = default;

 private:
  std::array<std::uint8_t, 6> wire_{};
};

}  // namespace ami::dlt645
