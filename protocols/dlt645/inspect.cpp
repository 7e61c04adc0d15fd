#include "protocols/dlt645/inspect.hpp"

#include "protocols/dlt645/hex.hpp"

namespace ami::dlt645 {
namespace {

std::string hex_of(std::uint8_t b) { return to_hex(std::span<const std::uint8_t>(&b, 1)) + "H"; }

std::string link_error(std::span<const std::uint8_t> frame, std::size_t at, FrameError e) {
  // `at`: 0-based position of the start byte in the input; messages count bytes from 1.
  const auto pos = [at](std::size_t i) { return std::to_string(at + i + 1); };
  switch (e) {
    case FrameError::need_more:
      if (frame.size() < kHeaderSize)
        return "frame truncated: the header needs " + std::to_string(kHeaderSize) + " bytes from the start byte at byte " +
               pos(0) + ", got " + std::to_string(frame.size());
      return "frame truncated: L=" + hex_of(frame[9]) + " needs " + std::to_string(kHeaderSize + frame[9] + 2) +
             " bytes from the start byte at byte " + pos(0) + ", got " + std::to_string(frame.size());
    case FrameError::bad_second_start: return "byte " + pos(7) + " is " + hex_of(frame[7]) + ", expected the second start byte 68H";
    case FrameError::bad_checksum: {
      const std::size_t cs = kHeaderSize + frame[9];
      std::uint8_t sum = 0;
      for (std::size_t i = 0; i < cs; ++i) sum = static_cast<std::uint8_t>(sum + frame[i]);
      return "bad checksum at byte " + pos(cs) + ": the frame carries " + hex_of(frame[cs]) +
             ", the bytes from 68H through DATA sum to " + hex_of(sum);
    }
    case FrameError::bad_end: {
      const std::size_t end = kHeaderSize + frame[9] + 1;
      return "byte " + pos(end) + " is " + hex_of(frame[end]) + ", expected the end byte 16H";
    }
    case FrameError::no_start:
    case FrameError::bad_length:
    case FrameError::none: break;
  }
  return std::string(to_string(e));
}

void decode_item_value(std::size_t value_at, Inspection& out) {
  const auto& m = out.message;
  if (out.item->fields[0].kind == FieldKind::load_profile) {
    if (!m.value.empty() && parse_load_profile_records(m.value, out.load_profile) != LoadProfileError::none)
      out.value_error = "malformed load-profile records in the value starting at byte " + std::to_string(value_at + 1);
    return;
  }
  const auto status = decode_value(*out.item, m.value, out.values);
  if (status.error != ValueError::none)
    out.value_error = std::string(to_string(status.error)) + " at byte " + std::to_string(value_at + status.offset + 1) +
                      " (value byte " + std::to_string(status.offset + 1) + " of " + std::to_string(m.value.size()) +
                      ", DI " + format_di(m.edition, *m.di) + ")";
}

}  // namespace

bool inspect_frame(std::span<const std::uint8_t> bytes, std::optional<Edition> edition, Inspection& out,
                   std::string& error) {
  std::size_t at = 0;
  while (at < bytes.size() && bytes[at] == kPreambleByte) ++at;
  out.preamble = at;
  if (at == bytes.size()) {
    error = bytes.empty() ? "no bytes given" : "only FE preamble bytes, no frame";
    return false;
  }
  if (bytes[at] != kStartByte) {
    error = "byte " + std::to_string(at + 1) + " is " + hex_of(bytes[at]) + ", expected the start byte 68H";
    return false;
  }
  const auto frame_bytes = bytes.subspan(at);
  const auto result = decode_frame(frame_bytes, out.frame);
  if (result.error != FrameError::none) {
    error = link_error(frame_bytes, at, result.error);
    return false;
  }
  if (result.consumed != frame_bytes.size()) {
    error = std::to_string(frame_bytes.size() - result.consumed) + " unexpected byte(s) after the end byte, from byte " +
            std::to_string(at + result.consumed + 1);
    return false;
  }
  const auto status = parse_message(out.frame, edition, out.message);
  if (!status.ok()) {
    error = status.detail + " (DATA starts at byte " + std::to_string(at + kHeaderSize + 1) + ")";
    return false;
  }
  const auto& m = out.message;
  if (m.abnormal && m.error_bits) out.reasons = decode_error_reasons(m.edition, *m.error_bits);
  if (m.di && m.kind != MessageKind::event_clear) out.item = find_data_item(m.edition, *m.di);
  const bool value_reply = m.from_meter && !m.abnormal &&
                           (m.kind == MessageKind::read || m.kind == MessageKind::read_follow_up ||
                            m.kind == MessageKind::reread);
  const bool value_write = !m.from_meter && m.kind == MessageKind::write;  // the value being written
  if ((value_reply || value_write) && out.item != nullptr) {
    const auto value_offset = m.value.empty() ? out.frame.data.size()
                                              : static_cast<std::size_t>(m.value.data() - out.frame.data.data());
    decode_item_value(at + kHeaderSize + value_offset, out);
  }
  return true;
}

}  // namespace ami::dlt645
