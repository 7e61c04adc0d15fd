#include "protocols/dlt645/hex.hpp"

namespace ami::dlt645 {
namespace {

int nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

std::optional<std::vector<std::uint8_t>> parse_hex(std::string_view text, std::string& error) {
  std::vector<std::uint8_t> out;
  out.reserve(text.size() / 2);
  std::size_t i = 0;
  while (i < text.size()) {
    if (is_space(text[i])) {
      ++i;
      continue;
    }
    const int hi = nibble(text[i]);
    if (hi < 0) {
      error = "invalid hex character '" + std::string(1, text[i]) + "' at position " + std::to_string(i + 1);
      return std::nullopt;
    }
    if (i + 1 >= text.size() || is_space(text[i + 1])) {
      error = "hex digit '" + std::string(1, text[i]) + "' at position " + std::to_string(i + 1) +
              " has no partner: bytes are two hex digits";
      return std::nullopt;
    }
    const int lo = nibble(text[i + 1]);
    if (lo < 0) {
      error = "invalid hex character '" + std::string(1, text[i + 1]) + "' at position " + std::to_string(i + 2);
      return std::nullopt;
    }
    out.push_back(static_cast<std::uint8_t>((hi << 4) | lo));
    i += 2;
  }
  if (out.empty()) {
    error = "no hex bytes given";
    return std::nullopt;
  }
  return out;
}

std::string to_hex(std::span<const std::uint8_t> bytes, bool spaced) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string s;
  s.reserve(bytes.size() * 3);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (spaced && i > 0) s.push_back(' ');
    s.push_back(digits[bytes[i] >> 4]);
    s.push_back(digits[bytes[i] & 0x0F]);
  }
  return s;
}

}  // namespace ami::dlt645
