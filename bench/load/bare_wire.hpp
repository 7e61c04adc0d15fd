// The bare-wire limit of the load harness: the same request frames the daemon sends, over the same
// number of gateway connections and with the same quiet gap between transactions, but nothing
// done with the replies beyond finding where each one ends (no decoding, storing or publishing).
// What the daemon reaches is reported as a ratio of this (docs/PERFORMANCE.md, "End to end").
//
// Threads: run_bare_wire() runs one io_context on the calling thread (as the daemon does) and
// returns when every connection finished its rounds. Errors: a connection that cannot connect, or a
// reply that does not arrive within the timeout, counts as a failed transaction (the connection is
// reopened for the next one); nothing throws for wire trouble.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace ami::load {

// How a reply's end is found: DL/T 645 (FE preamble, 68 A0..A5 68 C L DATA CS 16) or Modbus TCP
// (MBAP length field).
enum class WireFraming { dlt645, modbus_tcp };

struct BareWireConnection {
  std::string host;
  std::uint16_t port = 0;
  std::vector<std::vector<std::uint8_t>> requests;  // one frame per transaction, sent in order
};

struct BareWireOptions {
  WireFraming framing = WireFraming::dlt645;
  int rounds = 1;                           // each connection sends its request list this many times
  std::chrono::milliseconds gap{0};         // quiet time between a reply and the next request
  std::chrono::milliseconds timeout{1500};  // per transaction
};

struct BareWireResult {
  std::uint64_t transactions = 0;
  std::uint64_t replies = 0;
  double seconds = 0;                      // wall time, first connect to last reply
  std::vector<std::uint32_t> latency_us;   // per reply, request written -> last reply byte
};

BareWireResult run_bare_wire(const std::vector<BareWireConnection>& connections, const BareWireOptions& options);

// The number of bytes of the first complete reply at the front of `bytes` (leading FE / other
// bytes before a DL/T 645 start byte included), or 0 when more bytes are needed.
std::size_t complete_reply_size(WireFraming framing, const std::uint8_t* bytes, std::size_t size);

}  // namespace ami::load
