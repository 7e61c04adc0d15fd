// Test helper: a tiny DL/T 645 "gateway" on loopback whose replies a test scripts per request
// (what to send back, after how long, or nothing), plus helpers that build load-profile replies.
// Runs on the test's io_context; single-threaded like everything it serves.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "headend/runtime/asio.hpp"
#include "protocols/dlt645/datetime.hpp"
#include "protocols/dlt645/frame.hpp"
#include "protocols/dlt645/framer.hpp"
#include "protocols/dlt645/load_profile.hpp"
#include "protocols/dlt645/read.hpp"

namespace ami::test {

struct ScriptedReply {
  std::chrono::milliseconds delay{0};
  std::vector<std::uint8_t> bytes;
};

class FakeMeterGateway {
 public:
  using Script = std::function<std::vector<ScriptedReply>(const dlt645::Frame& request, int request_number)>;

  // port 0: any free port.
  FakeMeterGateway(asio::io_context& io, Script script, std::uint16_t port = 0)
      : io_(io),
        acceptor_(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port)),
        script_(std::move(script)) {
    asio::co_spawn(io_, accept_loop(), asio::detached);
  }

  [[nodiscard]] std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  [[nodiscard]] int requests() const { return requests_; }
  [[nodiscard]] int connections() const { return connections_; }
  void stop() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (auto& s : sockets_) s->close(ignored);
  }

 private:
  asio::awaitable<void> accept_loop() {
    boost::system::error_code ec;
    for (;;) {
      auto socket = std::make_shared<asio::ip::tcp::socket>(co_await acceptor_.async_accept(
          asio::redirect_error(asio::use_awaitable, ec)));
      if (ec) co_return;
      ++connections_;
      sockets_.push_back(socket);
      asio::co_spawn(io_, serve(socket), asio::detached);
    }
  }

  asio::awaitable<void> serve(std::shared_ptr<asio::ip::tcp::socket> socket) {
    dlt645::Framer framer;
    std::array<std::uint8_t, 512> buffer{};
    boost::system::error_code ec;
    for (;;) {
      const auto n = co_await socket->async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      framer.feed(std::span<const std::uint8_t>(buffer.data(), n));
      dlt645::Frame request;
      while (framer.next(request).kind != dlt645::Framer::EventKind::need_more) {
        ++requests_;
        for (auto& reply : script_(request, requests_)) asio::co_spawn(io_, send_later(socket, reply), asio::detached);
      }
    }
  }

  asio::awaitable<void> send_later(std::shared_ptr<asio::ip::tcp::socket> socket, ScriptedReply reply) {
    boost::system::error_code ec;
    if (reply.delay.count() > 0) {
      asio::steady_timer timer(io_, reply.delay);
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    co_await asio::async_write(*socket, asio::buffer(reply.bytes), asio::redirect_error(asio::use_awaitable, ec));
  }

  asio::io_context& io_;
  asio::ip::tcp::acceptor acceptor_;
  Script script_;
  std::vector<std::shared_ptr<asio::ip::tcp::socket>> sockets_;
  int requests_ = 0;
  int connections_ = 0;
};

// Register value at a boundary for the fake meter: deterministic, increasing, a multiple of 10 Wh
// (the load profile carries 0.01 kWh).
inline std::int64_t fake_register_wh(UtcSeconds boundary, std::int64_t per_interval_wh) {
  return 1'000'000 + (boundary.time_since_epoch().count() / 900) % 100'000 * per_interval_wh;
}

// The reply a meter at `address` gives to a load-profile request for `count` records from `start`
// (UTC), with registers from fake_register_wh (reverse = forward / 10, rounded to 10 Wh).
inline std::vector<std::uint8_t> load_profile_reply(const dlt645::Address& address, UtcSeconds start, int count,
                                                    int utc_offset_minutes = 480) {
  dlt645::Frame reply{address, dlt645::Control::reply(dlt645::kFnRead), {}};
  dlt645::append_di(dlt645::kDiLoadProfileFromTime, reply.data);
  for (int i = 0; i < count; ++i) {
    const auto at = start + std::chrono::minutes{15 * i};
    const auto forward = fake_register_wh(at, 1230);
    dlt645::append_load_profile_record({dlt645::to_meter_time(at, utc_offset_minutes), forward, forward / 100 * 10},
                                       reply.data);
  }
  return dlt645::encode_frame(reply, 2);
}

// The start time (UTC) asked for by a load-profile request.
inline UtcSeconds requested_start(const dlt645::Frame& request, int utc_offset_minutes = 480) {
  const auto parsed = dlt645::parse_load_profile_request(request.data);
  return *dlt645::to_utc(*parsed->start, utc_offset_minutes);
}

}  // namespace ami::test
