// Length-delimited framing for the feed: varint size prefix + message bytes (the same framing as
// protobuf's delimited_message_util). Pure; the decoder is incremental and bounded, never throws.
// One DelimitedReader per connection; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ami::feed {

inline constexpr std::size_t kDefaultMaxMessage = 4 * 1024 * 1024;

void append_varint(std::uint64_t value, std::string& out);
// Appends prefix + payload.
void append_delimited(std::string_view payload, std::string& out);

class DelimitedReader {
 public:
  enum class Status : std::uint8_t { need_more, message, too_large, bad_prefix };

  explicit DelimitedReader(std::size_t max_message = kDefaultMaxMessage) : max_message_(max_message) {}

  void feed(std::span<const std::uint8_t> bytes);
  void feed(std::string_view bytes);
  // On `message`, `payload` views the next message; it stays valid until the next feed()/next().
  // too_large and bad_prefix are final: the stream cannot be resynchronised; close the connection.
  Status next(std::string_view& payload);
  [[nodiscard]] std::size_t buffered() const { return buffer_.size() - read_pos_; }

 private:
  std::size_t max_message_;
  std::string buffer_;
  std::size_t read_pos_ = 0;
  bool failed_ = false;
};

}  // namespace ami::feed
