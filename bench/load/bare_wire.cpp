#include "bench/load/bare_wire.hpp"

#include <algorithm>
#include <array>
#include <optional>

#include "headend/runtime/asio.hpp"

namespace ami::load {
namespace {

using steady = std::chrono::steady_clock;
using asio::ip::tcp;

constexpr std::uint8_t kDlt645Start = 0x68;
constexpr std::size_t kDlt645LengthOffset = 9;  // 68 A0..A5 68 C L
constexpr std::size_t kDlt645Overhead = 12;     // header through L, then CS and 16
constexpr std::size_t kMbapSize = 6;            // transaction, protocol, length (the unit id counts in length)

struct Totals {
  std::uint64_t transactions = 0;
  std::uint64_t replies = 0;
  std::optional<steady::time_point> first_send;
  steady::time_point last_reply{};
  std::vector<std::uint32_t> latency_us;
};

// One gateway connection: its request list `rounds` times, one transaction on the wire at a time.
asio::awaitable<void> drive_connection(const BareWireConnection& connection, const BareWireOptions& options,
                                       Totals& totals) {
  auto executor = co_await asio::this_coro::executor;
  tcp::socket socket(executor);
  asio::steady_timer gap_timer(executor);
  asio::steady_timer watchdog(executor);
  std::uint64_t generation = 0;  // a watchdog expiry counts only for the transaction that armed it
  bool timed_out = false;
  const tcp::endpoint endpoint(asio::ip::make_address(connection.host), connection.port);
  std::vector<std::uint8_t> received;
  std::array<std::uint8_t, 4096> chunk{};
  boost::system::error_code ec;

  for (int round = 0; round < options.rounds; ++round) {
    for (const auto& request : connection.requests) {
      ++totals.transactions;
      if (!socket.is_open()) {
        co_await socket.async_connect(endpoint, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
          socket.close(ec);
          continue;
        }
        socket.set_option(tcp::no_delay(true), ec);
      }
      if (options.gap.count() > 0) {
        gap_timer.expires_after(options.gap);
        co_await gap_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      }
      received.clear();
      timed_out = false;
      const auto armed = ++generation;
      watchdog.expires_after(options.timeout);
      watchdog.async_wait([&socket, &timed_out, &generation, armed](const boost::system::error_code& e) {
        if (e || armed != generation) return;
        timed_out = true;
        boost::system::error_code ignored;
        socket.close(ignored);
      });
      const auto sent = steady::now();
      if (!totals.first_send) totals.first_send = sent;
      co_await asio::async_write(socket, asio::buffer(request), asio::redirect_error(asio::use_awaitable, ec));
      bool complete = false;
      while (!ec && !timed_out) {
        if (complete_reply_size(options.framing, received.data(), received.size()) > 0) {
          complete = true;
          break;
        }
        const auto n =
            co_await socket.async_read_some(asio::buffer(chunk), asio::redirect_error(asio::use_awaitable, ec));
        received.insert(received.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
      }
      ++generation;
      watchdog.cancel();
      if (!complete) {
        socket.close(ec);
        continue;
      }
      const auto now = steady::now();
      ++totals.replies;
      totals.last_reply = std::max(totals.last_reply, now);
      totals.latency_us.push_back(
          static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::microseconds>(now - sent).count()));
    }
  }
  socket.close(ec);
}

}  // namespace

std::size_t complete_reply_size(WireFraming framing, const std::uint8_t* bytes, std::size_t size) {
  if (framing == WireFraming::modbus_tcp) {
    if (size < kMbapSize) return 0;
    const std::size_t total = kMbapSize + (std::size_t{bytes[4]} << 8U | std::size_t{bytes[5]});
    return size >= total ? total : 0;
  }
  const auto* start = std::find(bytes, bytes + size, kDlt645Start);
  const auto offset = static_cast<std::size_t>(start - bytes);
  if (size < offset + kDlt645LengthOffset + 1) return 0;
  const std::size_t total = offset + kDlt645Overhead + std::size_t{bytes[offset + kDlt645LengthOffset]};
  return size >= total ? total : 0;
}

BareWireResult run_bare_wire(const std::vector<BareWireConnection>& connections, const BareWireOptions& options) {
  asio::io_context io;
  Totals totals;
  for (const auto& c : connections) {
    asio::co_spawn(io, drive_connection(c, options, totals), asio::detached);
  }
  io.run();
  BareWireResult result;
  result.transactions = totals.transactions;
  result.replies = totals.replies;
  if (totals.first_send && totals.replies > 0)
    result.seconds = std::chrono::duration<double>(totals.last_reply - *totals.first_send).count();
  result.latency_us = std::move(totals.latency_us);
  return result;
}

}  // namespace ami::load
