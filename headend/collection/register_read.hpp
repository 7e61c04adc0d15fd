// Register reads for DL/T 645-1997 meters. The 1997 edition has no load-profile DI (06000001 is
// 2007 only, and meter-sim's 1997 meters answer it with silence, like real 1997 meters), so at
// boundary B the engine reads the forward (9010) and reverse (9020) active energy totals as soon
// after B as the spread window allows, and attributes them to B when the second read completed
// within a tolerance of B, like Modbus (docs/ARCHITECTURE.md "Interval collection").
//
// Pure (no I/O): builds each request, recognises the reply that answers it (function 81H/C1H and
// the DI: a late reply to the other register's request is not an answer), and decodes the value
// to Wh with the protocol library's catalogue. Any thread; never throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "headend/collection/outcome.hpp"
#include "protocols/dlt645/frame.hpp"

namespace ami::collection {

inline constexpr std::uint16_t kDi1997ForwardActiveTotal = 0x9010;
inline constexpr std::uint16_t kDi1997ReverseActiveTotal = 0x9020;

struct RegisterReadResult {
  Outcome outcome = Outcome::bad_reply;
  std::string detail;               // why, for anything but ok
  std::optional<std::int64_t> wh;   // set when ok
};

dlt645::Frame make_register_request_1997(const dlt645::Address& address, std::uint16_t di);

// True when `reply` (already from the right address) is a 1997 read reply carrying `di`, or an
// abnormal 1997 read reply (which carries no DI; a meter answers only the request in flight).
bool is_register_reply_1997(std::uint16_t di, const dlt645::Frame& reply);

RegisterReadResult interpret_register_reply_1997(std::uint16_t di, const dlt645::Frame& reply);

}  // namespace ami::collection
