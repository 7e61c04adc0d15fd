// One TCP gateway (or a meter reached directly over TCP) carrying DL/T 645 frames to an RS-485 bus.
//
// Owns one persistent connection, opened on first use and re-opened after a failure with an
// exponential reconnect backoff (during the backoff a transaction fails at once as `unreachable`
// rather than hammering a dead gateway). ONE transaction at a time: the bus behind the gateway
// carries one request/reply exchange at a time, so callers must await transact() before calling it
// again (GatewayWorker does). Each transaction: wait out the inter-frame gap, drop any stale bytes
// already received, send the request, then read until a frame from the right address that the
// caller's matcher accepts arrives or the response timeout passes. Frames that do not answer the
// request (a late reply to an earlier request, another meter's reply) are dropped and counted,
// never taken as the answer. A timeout keeps the connection; a read/write error closes it.
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
};

struct ChannelCounters {
  std::uint64_t connects = 0;
  std::uint64_t connect_failures = 0;
  std::uint64_t transactions = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t dropped_replies = 0;  // well-formed frames that did not answer the request
  std::uint64_t stale_bytes = 0;      // bytes found waiting before a request was sent
};

class TcpGatewayChannel {
 public:
  struct Result {
    Outcome outcome = Outcome::timeout;
    std::string detail;
    std::optional<dlt645::Frame> reply;  // set when outcome == ok
    std::int32_t latency_ms = 0;         // request sent -> reply (or failure), real time
  };
  // Decides whether a frame from the expected address answers the request in flight.
  using ReplyMatcher = std::function<bool(const dlt645::Frame&)>;

  TcpGatewayChannel(asio::any_io_executor executor, std::string key, std::string host, std::uint16_t port,
                    ChannelOptions options);

  asio::awaitable<Result> transact(const dlt645::Frame& request, ReplyMatcher is_answer);
  void close();

  [[nodiscard]] const std::string& key() const { return key_; }
  [[nodiscard]] bool connected() const { return socket_.is_open(); }
  [[nodiscard]] const ChannelCounters& counters() const { return counters_; }

 private:
  struct ReadState {
    bool saw_bad_frame = false;
    bool saw_other_address = false;
    std::uint64_t dropped = 0;
  };

  asio::awaitable<Result> connect();
  void arm_timeout(std::chrono::milliseconds timeout, bool close_on_expiry);
  void disarm_timeout();
  bool discard_stale_bytes();  // false when the peer has closed the connection
  std::optional<dlt645::Frame> take_answer(const ReplyMatcher& is_answer, ReadState& state);
  void drop_connection(std::string_view why);

  std::string key_;
  std::string host_;
  std::uint16_t port_;
  ChannelOptions options_;
  asio::ip::tcp::socket socket_;
  asio::steady_timer timeout_timer_;
  asio::steady_timer gap_timer_;
  std::uint64_t timeout_generation_ = 0;
  bool timed_out_ = false;
  std::chrono::steady_clock::time_point last_activity_{};
  std::chrono::steady_clock::time_point reconnect_at_{};
  std::chrono::milliseconds backoff_;
  std::string last_connect_error_;
  dlt645::Framer framer_;
  std::array<std::uint8_t, 256> read_buffer_{};
  ChannelCounters counters_;
};

}  // namespace ami::collection
