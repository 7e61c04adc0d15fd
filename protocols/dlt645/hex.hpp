// Hex text <-> bytes for tools and tests ("68 12 90 ..." or "681290", either case).
// Pure; any thread; never throws. parse_hex() names the offending character and its position.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ami::dlt645 {

// Accepts hex digit pairs separated by any whitespace (or none). Pairs may not be split by
// whitespace. Empty input is an error.
std::optional<std::vector<std::uint8_t>> parse_hex(std::string_view text, std::string& error);
// "68 12 90" (spaced) or "681290".
std::string to_hex(std::span<const std::uint8_t> bytes, bool spaced = true);

}  // namespace ami::dlt645
