// Fuzz the feed's varint length-delimited reader (what the feed server reads from any client):
// arbitrary bytes in arbitrary chunks must give messages, need_more, or a final error, never a
// read past the buffer or a payload larger than the limit.
#include <algorithm>
#include <cstdint>
#include <string_view>

#include "protocols/feed/delimited.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t limit = 1 + (data[0] % 64) * 64;
  ami::feed::DelimitedReader reader(limit);
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  bool failed = false;
  while (!rest.empty() && !failed) {
    const std::size_t chunk = std::min<std::size_t>(rest.size(), 1 + static_cast<std::uint8_t>(rest[0]) % 32);
    reader.feed(rest.substr(0, chunk));
    rest.remove_prefix(chunk);
    for (;;) {
      std::string_view payload;
      const auto status = reader.next(payload);
      if (status == ami::feed::DelimitedReader::Status::message) {
        if (payload.size() > limit) __builtin_trap();
        volatile char sink = payload.empty() ? 0 : payload.back();
        (void)sink;
        continue;
      }
      failed = status != ami::feed::DelimitedReader::Status::need_more;
      break;
    }
  }
  return 0;
}
