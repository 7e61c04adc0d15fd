// Register reads of a meter's current energy: DL/T 645-1997 meters always, DL/T 645-2007 meters
// found without a load profile (scheduler.hpp "no load profile").
//
// 1997 meters. The 1997 edition has no load-profile DI (06000001 is
// 2007 only, and meter-sim's 1997 meters answer it with silence, like real 1997 meters), so at
// boundary B the engine reads the forward (9010) and reverse (9020) active energy totals as soon
// after B as the spread window allows, and attributes them to B when the second read completed
// within a tolerance of B, like Modbus (docs/ARCHITECTURE.md "Interval collection").
//
// A 2007 meter without a load profile configured refuses 06000001 (ERR no_requested_data) but
// answers its current forward (00010000) and reverse (00020000) active totals: the scheduler then
// reads those the same way, attributed to B within the same tolerance.
//
// Pure (no I/O): builds each request, recognises the reply that answers it (function 81H/C1H and
// the DI: a late reply to the other register's request is not an answer), and decodes the value
// to Wh with the protocol library's catalogue. Any thread; never throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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

inline constexpr std::uint32_t kDi2007ForwardActiveTotal = 0x00010000;
inline constexpr std::uint32_t kDi2007ReverseActiveTotal = 0x00020000;

dlt645::Frame make_register_request_1997(const dlt645::Address& address, std::uint16_t di);

// True when `reply` (already from the right address) is a 1997 read reply carrying `di`, or an
// abnormal 1997 read reply (which carries no DI; a meter answers only the request in flight).
bool is_register_reply_1997(std::uint16_t di, const dlt645::Frame& reply);

RegisterReadResult interpret_register_reply_1997(std::uint16_t di, const dlt645::Frame& reply);

// A 2007 meter's 00010000 / 00020000 read reply in Wh (requests: dlt645::make_read_request; reply
// test: answers_read_of, boundary_read.hpp).
RegisterReadResult interpret_register_reply_2007(std::uint32_t di, const dlt645::Frame& reply);

// The register read of one meter: its edition's requests, reply test and decoding, so the worker
// runs 1997 and 2007 register reads through one loop. nullptr for a protocol without them.
struct RegisterReadSpec {
  std::uint32_t forward_di = 0;
  std::uint32_t reverse_di = 0;
  dlt645::Frame (*request)(const dlt645::Address&, std::uint32_t di) = nullptr;
  bool (*answers)(std::uint32_t di, const dlt645::Frame& reply) = nullptr;
  RegisterReadResult (*interpret)(std::uint32_t di, const dlt645::Frame& reply) = nullptr;
};
const RegisterReadSpec* register_read_spec(std::string_view protocol);

}  // namespace ami::collection
