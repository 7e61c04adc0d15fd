// libFuzzer target: every DL/T 645 decoder over arbitrary bytes - link frame, message parser
// (both editions and auto-detect), catalogue values, load-profile records, the one-shot
// inspector, the hex parser and the follow-up read state machine. Decoders must never crash,
// hang or read out of bounds; a frame that decodes must re-encode to the same bytes.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/dlt645/catalogue.hpp"
#include "protocols/dlt645/hex.hpp"
#include "protocols/dlt645/inspect.hpp"
#include "protocols/dlt645/load_profile.hpp"
#include "protocols/dlt645/messages.hpp"
#include "protocols/dlt645/read_exchange.hpp"

using namespace ami::dlt645;

namespace {
void require(bool ok) {
  if (!ok) __builtin_trap();
}

void decode_values(Edition edition, const Message& m) {
  if (!m.di) return;
  const DataItem* item = find_data_item(edition, *m.di);
  if (item == nullptr) return;
  std::vector<FieldValue> values;
  decode_value(*item, m.value, values);
  for (const auto& v : values) require(v.field != nullptr && v.offset <= m.value.size());
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);

  Frame frame;
  const auto result = decode_frame(bytes, frame);
  if (result.error == FrameError::none) {
    require(result.consumed <= size);
    const auto wire = encode_frame(frame, 0);
    require(wire.size() == result.consumed);
    require(std::equal(wire.begin(), wire.end(), bytes.begin()));
    for (const auto edition : {std::optional<Edition>{}, std::optional<Edition>{Edition::v2007},
                               std::optional<Edition>{Edition::v1997}}) {
      Message m;
      const auto status = parse_message(frame, edition, m);
      if (status.ok()) {
        require(m.value.empty() || (m.value.data() >= frame.data.data() &&
                                    m.value.data() + m.value.size() <= frame.data.data() + frame.data.size()));
        decode_values(m.edition, m);
        // The frame as the reply to a read of its own DI, twice (a follow-up after a follow-up).
        ReadExchange exchange(m.edition, m.edition == Edition::v2007
                                             ? *make_read_request(frame.address, m.di.value_or(0), std::nullopt)
                                             : make_read_request_1997(frame.address, 0x9010));
        if (exchange.on_reply(frame) == ReadExchange::Step::send_next) exchange.on_reply(frame);
        require(exchange.value().size() <= 2 * frame.data.size());
      } else {
        require(!status.detail.empty());
      }
    }
  }

  // Raw bytes as a value of every catalogue row, and as load-profile records.
  std::vector<FieldValue> values;
  for (const auto& item : data_items()) {
    values.clear();
    decode_value(item, bytes, values);
  }
  std::vector<LoadProfileRecord> records;
  parse_load_profile_records(bytes, records);
  parse_load_profile_request(bytes);

  Inspection inspection;
  std::string error;
  if (!inspect_frame(bytes, std::nullopt, inspection, error)) require(!error.empty());

  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (const auto parsed = parse_hex(text, error)) require(!parsed->empty());
  return 0;
}
