// Addresses: 12 BCD digits low byte first, broadcast, AA wildcards, clear errors.
#include <catch2/catch.hpp>

#include "protocols/dlt645/address.hpp"

using ami::dlt645::Address;

TEST_CASE("address: digits go low byte first on the wire and short ones are left-padded") {
  std::string error;
  const auto a = Address::parse("123456789012", error);
  REQUIRE(a.has_value());
  CHECK(a->wire() == std::array<std::uint8_t, 6>{0x12, 0x90, 0x78, 0x56, 0x34, 0x12});
  CHECK(a->to_string() == "123456789012");
  CHECK(a->is_concrete());
  const auto short_one = Address::parse("42", error);
  REQUIRE(short_one.has_value());
  CHECK(short_one->to_string() == "000000000042");
}

TEST_CASE("address: broadcast and wildcards") {
  CHECK(Address::broadcast().is_broadcast());
  CHECK(Address::broadcast().to_string() == "999999999999");
  CHECK(Address::wildcard().has_wildcard());
  CHECK_FALSE(Address::wildcard().is_concrete());
  std::string error;
  const auto shortened = Address::parse("aaaaaaaa9012", error);
  REQUIRE(shortened.has_value());
  CHECK(shortened->to_string() == "AAAAAAAA9012");
  CHECK(shortened->matches(*Address::parse("123456789012", error)));
  CHECK_FALSE(shortened->matches(*Address::parse("123456789013", error)));
  CHECK(Address::wildcard().matches(*Address::parse("1", error)));
}

TEST_CASE("address: invalid text says what and where") {
  std::string error;
  CHECK_FALSE(Address::parse("", error).has_value());
  CHECK(error == "address '' must have 1 to 12 digits");
  CHECK_FALSE(Address::parse("1234567890123", error).has_value());
  CHECK(error == "address '1234567890123' must have 1 to 12 digits");
  CHECK_FALSE(Address::parse("12345A789012", error).has_value());
  CHECK(error ==
        "address '12345A789012' has an invalid digit pair '5A' at digits 5-6 of 12 (only 0-9, or AA pairs as wildcards)");
}
