// One DL/T 645 channel: a TCP gateway (or a meter reached directly over TCP) carrying frames to an
// RS-485 bus, or a local serial port on the bus itself (Asio serial_port: baud, parity, stop and
// data bits from the registry's serial:///dev/...?baud=&parity=&stop= channel).
//
// Owns one persistent connection (or the open port), opened on first use and re-opened after a failure with an
// exponential reconnect backoff (during the backoff a transaction fails at once as `unreachable`
// rather than hammering a dead gateway). ONE transaction at a time: the bus behind the gateway
// carries one request/reply exchange at a time, so callers must await transact() before calling it
// again (GatewayWorker does). Each transaction: wait out the inter-frame gap, drop any stale bytes
// already received, send the request, then read until a frame from the right address that the
// caller's matcher accepts arrives or the response timeout passes. Frames that do not answer the
// request (a late reply to an earlier request, another meter's reply) are dropped and counted,
// never taken as the answer. A timeout keeps the connection; a read/write error closes it.
// A connection the peer closes before it carried a single byte, in the transaction that opened
// it, is `connection_refused` like a refused connect (serial servers that accept and drop at once
// when busy or locked do this); during the reconnect backoff that follows, transactions fail at
// once with the connect failure's outcome. With idle_close > 0 a connection unused that long is
// closed (gateways have few sockets); the next transaction reconnects. On a serial port, stale
// input is flushed (tcflush) before each request and a port that cannot be opened is `unreachable`.
//
// Threads: construct, call and destroy on the io_context's thread only. Destroy only after the
// io_context has stopped running (pending timer handlers refer to this object).
// Errors: every failure is a Result with an Outcome and a human detail; nothing throws.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "headend/collection/outcome.hpp"
#include "headend/runtime/asio.hpp"
#include "protocols/dlt645/frame.hpp"
#include "protocols/dlt645/framer.hpp"

namespace ami::collection {

struct ChannelOptions {
  std::chrono::milliseconds response_timeout{1500};
  std::chrono::milliseconds connect_timeout{1500};
  std::chrono::milliseconds inter_frame_gap{20};
  std::chrono::milliseconds reconnect_backoff{500};
  std::chrono::milliseconds reconnect_backoff_max{10'000};
  std::chrono::milliseconds idle_close{0};  // 0: keep the connection open however long it idles
};

struct ChannelCounters {
  std::uint64_t connects = 0;
  std::uint64_t connect_failures = 0;
  std::uint64_t transactions = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t dropped_replies = 0;  // well-formed frames that did not answer the request
  std::uint64_t stale_bytes = 0;      // bytes found waiting before a request was sent
  std::uint64_t idle_closes = 0;      // connections closed after idle_close without a transaction
};

// A local serial port: device path and line settings.
struct SerialSettings {
  std::string device;  // e.g. /dev/ttyUSB0
  int baud = 2400;
  char parity = 'E';   // N, E, O
  int data_bits = 8;
  int stop_bits = 1;
};

// "serial:///dev/ttyUSB0?baud=2400&parity=E&stop=1[&data=8]" -> settings; std::nullopt with
// `error` naming the field otherwise (the registry validates channels, so this is a safety net).
// Defaults are DL/T 645's 2400 baud, 8 data bits, even parity, 1 stop bit (8E1), not Modbus' 9600 8N1.
std::optional<SerialSettings> parse_serial_channel(std::string_view channel, std::string& error);

class Dlt645Channel {
 public:
  struct Result {
    Outcome outcome = Outcome::timeout;
    std::string detail;
    std::optional<dlt645::Frame> reply;  // set when outcome == ok
    std::int32_t latency_ms = 0;         // request sent -> reply (or failure), real time
  };
  // Decides whether a frame from the expected address answers the request in flight.
  using ReplyMatcher = std::function<bool(const dlt645::Frame&)>;

  // A TCP gateway or directly reached meter.
  Dlt645Channel(asio::any_io_executor executor, std::string key, std::string host, std::uint16_t port,
                ChannelOptions options);
  // A local serial port.
  Dlt645Channel(asio::any_io_executor executor, std::string key, SerialSettings serial, ChannelOptions options);

  // response_timeout 0: the channel's ChannelOptions::response_timeout (per-protocol timeouts
  // come from the caller, since one gateway may carry meters of several protocols).
  asio::awaitable<Result> transact(const dlt645::Frame& request, ReplyMatcher is_answer,
                                   std::chrono::milliseconds response_timeout = std::chrono::milliseconds{0});
  void close();

  [[nodiscard]] const std::string& key() const { return key_; }
  [[nodiscard]] bool connected() const { return link_open(); }
  [[nodiscard]] bool is_serial() const { return serial_port_.has_value(); }
  [[nodiscard]] const ChannelCounters& counters() const { return counters_; }

 private:
  struct ReadState {
    bool saw_bad_frame = false;
    bool saw_other_address = false;
    std::uint64_t dropped = 0;
  };

  asio::awaitable<Result> exchange(const dlt645::Frame& request, const ReplyMatcher& is_answer,
                                   std::chrono::milliseconds response_timeout);
  asio::awaitable<Result> connect();
  Result open_serial();
  [[nodiscard]] bool link_open() const;
  void close_link();
  asio::awaitable<std::size_t> read_some(boost::system::error_code& ec);
  asio::awaitable<std::size_t> write_all(const std::vector<std::uint8_t>& bytes, boost::system::error_code& ec);
  // One timer per channel guards the operation in flight (connect, or send + reply): arming sets
  // the deadline, disarming only clears it; the timer is re-aimed when it fires early or must
  // fire sooner. Expiry cancels the socket's operations (or closes the link, for a connect).
  void arm_timeout(std::chrono::milliseconds timeout, bool close_on_expiry);
  void disarm_timeout();
  void wait_for_deadline();
  bool discard_stale_bytes();  // false when the peer has closed the connection
  std::optional<dlt645::Frame> take_answer(const ReplyMatcher& is_answer, ReadState& state);
  void drop_connection(std::string_view why);
  Result refused_after_accept(std::int32_t latency_ms);
  void note_connected(std::string_view what);
  void back_off(const Result& failure);  // counts the failure, schedules the next connect
  void arm_idle_close();

  std::string key_;
  std::string host_;  // TCP, or the serial device (for messages)
  std::uint16_t port_;
  std::optional<SerialSettings> serial_;
  ChannelOptions options_;
  asio::ip::tcp::socket socket_;
  std::optional<asio::serial_port> serial_port_;  // set for a serial channel
  asio::steady_timer timeout_timer_;
  asio::steady_timer gap_timer_;
  asio::steady_timer idle_timer_;
  std::uint64_t idle_generation_ = 0;
  bool in_transaction_ = false;
  std::chrono::steady_clock::time_point deadline_{};      // of the guarded operation, while deadline_armed_
  std::chrono::steady_clock::time_point timer_expiry_{};  // of the wait in flight, while timer_waiting_
  std::uint64_t timer_generation_ = 0;                    // tells a replaced wait's handler to do nothing
  bool deadline_armed_ = false;
  bool timer_waiting_ = false;
  bool close_on_expiry_ = false;
  bool timed_out_ = false;
  std::chrono::steady_clock::time_point last_activity_{};
  std::chrono::steady_clock::time_point reconnect_at_{};
  std::chrono::milliseconds backoff_;
  std::string last_connect_error_;
  Outcome last_connect_outcome_ = Outcome::unreachable;
  dlt645::Framer framer_;
  std::array<std::uint8_t, 512> read_buffer_{};  // a whole frame of the largest size (267 + preamble) in one read
  std::vector<std::uint8_t> send_buffer_;  // the request in flight, encoded
  ChannelCounters counters_;
};

// The name this class had while it served TCP only (clock sync and tests still use it).
using TcpGatewayChannel = Dlt645Channel;

}  // namespace ami::collection
