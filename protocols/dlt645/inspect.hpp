// One-shot inspection of a captured DL/T 645 frame: what `headendctl dlt645 decode` prints and
// what the test vectors check. Runs every layer (preamble, link frame, message, catalogue value,
// ERR reasons) over bytes that should hold exactly one frame, and says precisely where it fails.
//
// Pure; any thread; never throws. An Inspection owns its Frame and `message`'s spans point into
// it, so it is neither copyable nor movable: fill one in place with inspect_frame().
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "protocols/dlt645/catalogue.hpp"
#include "protocols/dlt645/load_profile.hpp"
#include "protocols/dlt645/messages.hpp"

namespace ami::dlt645 {

struct Inspection {
  Inspection() = default;
  Inspection(const Inspection&) = delete;
  Inspection& operator=(const Inspection&) = delete;

  std::size_t preamble = 0;  // FE bytes before the first 68H
  Frame frame;
  Message message;
  const DataItem* item = nullptr;   // catalogue row of message.di, when known
  std::vector<FieldValue> values;   // decoded value of a normal read reply or a write request
  std::vector<LoadProfileRecord> load_profile;  // load-profile reply records
  ErrorReasons reasons;             // abnormal reply ERR bits, per edition
  std::string value_error;          // the value did not fit the DI's format (the frame itself is fine)
};

// Fills `out` from `bytes`. Returns false with `error` naming what is wrong and at which byte
// (1-based, counted over `bytes` including the preamble) when the bytes are not exactly one frame
// with a well-formed message. A value that does not fit its DI's format is not a failure: it goes
// to out.value_error so the frame can still be shown.
bool inspect_frame(std::span<const std::uint8_t> bytes, std::optional<Edition> edition, Inspection& out,
                   std::string& error);

}  // namespace ami::dlt645
