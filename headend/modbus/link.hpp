// A Link is the connection to one gateway or bus, executing one blocking register read at a time.
//
// Implementations:
//   tcp           libmodbus Modbus TCP (modbus_new_tcp_pi: host names allowed)
//   rtu_serial    libmodbus RTU on a serial device or pty (RS-485 ioctl deliberately not used:
//                 it fails on ptys, and USB adapters switch direction themselves)
//   rtu_over_tcp  our RtuFramer (protocols/modbus/rtu.hpp) over an Asio TCP socket driven by a
//                 private io_context; libmodbus 3.1.6 has no such mode
//
// Threads: a Link is owned by the executor and used by one worker thread at a time (the executor
// serialises per channel); it never touches the daemon's io_context. Calls block for at most about
// the response timeout (plus connect time on the first call after a close).
// Errors: never throws; every failure is a TransactionResult. After a timeout or a garbled reply
// the link closes itself and reconnects on the next call: libmodbus over TCP can otherwise read a
// late reply as the answer to the next request.
// Descriptors: libmodbus select()s on its fd (glibc aborts the process on an fd >= FD_SETSIZE,
// 1024), already inside modbus_connect() for TCP. So the TCP link opens and connects its socket
// itself and hands it to libmodbus only when it is below FD_SETSIZE; a serial device is checked
// right after libmodbus opens it. Otherwise the read is link_error and nothing is overflowed.
// The Asio RTU-over-TCP link uses epoll and has no such limit.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "headend/modbus/channel_spec.hpp"
#include "protocols/modbus/register_map.hpp"

namespace ami::modbus {

struct LinkOptions {
  std::chrono::milliseconds response_timeout{500};
  std::chrono::milliseconds connect_timeout{1000};
  // Silence before a request to another unit id than the previous one: some RS-485 meters miss a
  // frame that follows traffic to a neighbour too closely. 0 = none (the default for TCP gateways).
  std::chrono::milliseconds unit_switch_pause{0};
};

enum class TransactionStatus : std::uint8_t {
  ok,
  exception,   // the meter or gateway answered with an exception; exception_code says which
  timeout,     // no (matching) answer in time; the link was closed and reconnects next call
  link_error,  // could not connect, or the connection broke
  bad_reply,   // an answer that is not a valid reply to the request (CRC, length, function)
};
std::string_view to_string(TransactionStatus s);

struct TransactionResult {
  TransactionStatus status = TransactionStatus::link_error;
  std::uint8_t exception_code = 0;
  std::string detail;  // human-readable reason for anything but ok
};

class Link {
 public:
  virtual ~Link() = default;
  // Reads `count` registers starting at `start` from unit `unit` into out[0..count).
  virtual TransactionResult read_registers(std::uint8_t unit, FunctionCode function, std::uint16_t start,
                                           std::uint16_t count, std::span<std::uint16_t> out) = 0;
  // Drops the connection; the next read reconnects.
  virtual void close() = 0;
  [[nodiscard]] virtual bool connected() const = 0;
  [[nodiscard]] virtual std::uint64_t connects() const = 0;  // successful (re)connections so far
};

std::unique_ptr<Link> make_link(const ChannelSpec& channel, const LinkOptions& options);

}  // namespace ami::modbus
