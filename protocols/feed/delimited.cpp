#include "protocols/feed/delimited.hpp"

namespace ami::feed {

void append_varint(std::uint64_t value, std::string& out) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void append_delimited(std::string_view payload, std::string& out) {
  append_varint(payload.size(), out);
  out.append(payload);
}

void DelimitedReader::feed(std::span<const std::uint8_t> bytes) {
  feed(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

void DelimitedReader::feed(std::string_view bytes) {
  if (read_pos_ > 0 && read_pos_ >= buffer_.size() / 2) {
    buffer_.erase(0, read_pos_);
    read_pos_ = 0;
  }
  buffer_.append(bytes);
}

DelimitedReader::Status DelimitedReader::next(std::string_view& payload) {
  if (failed_) return Status::bad_prefix;
  std::uint64_t size = 0;
  std::size_t pos = read_pos_;
  int shift = 0;
  for (;;) {
    if (pos >= buffer_.size()) return Status::need_more;
    const auto byte = static_cast<std::uint8_t>(buffer_[pos++]);
    if (shift >= 63 && byte > 1) {
      failed_ = true;
      return Status::bad_prefix;
    }
    size |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) break;
    shift += 7;
    if (shift > 63) {
      failed_ = true;
      return Status::bad_prefix;
    }
  }
  if (size > max_message_) {
    failed_ = true;
    return Status::too_large;
  }
  if (buffer_.size() - pos < size) return Status::need_more;
  payload = std::string_view(buffer_).substr(pos, static_cast<std::size_t>(size));
  read_pos_ = pos + static_cast<std::size_t>(size);
  return Status::message;
}

}  // namespace ami::feed
