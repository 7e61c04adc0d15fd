#include <catch2/catch.hpp>

#include <fcntl.h>
#include <stdlib.h>
#include <termios.h>

#include "headend/collection/boundary_read.hpp"
#include "headend/collection/tcp_gateway_channel.hpp"
#include "tests/unit/headend/fake_meter.hpp"
#include "tests/unit/headend/run_coroutine.hpp"

using namespace ami;
using namespace ami::collection;
using namespace std::chrono_literals;
using ami::test::ScriptedReply;

namespace {

dlt645::Address address(const char* digits) {
  std::string error;
  return *dlt645::Address::parse(digits, error);
}

const UtcSeconds kBoundary = *parse_utc("2026-01-05T00:15:00Z");

ChannelOptions fast_options() {
  ChannelOptions o;
  o.response_timeout = 150ms;
  o.connect_timeout = 500ms;
  o.inter_frame_gap = 0ms;
  o.reconnect_backoff = 300ms;
  o.reconnect_backoff_max = 1s;
  return o;
}

// One boundary read through the channel, interpreted like the worker does.
asio::awaitable<std::pair<TcpGatewayChannel::Result, BoundaryReadResult>> read_boundary(TcpGatewayChannel& channel,
                                                                                        BoundaryRequest request) {
  auto result = co_await channel.transact(make_boundary_request(request),
                                          [&request](const dlt645::Frame& f) { return is_reply_to(request, f); });
  BoundaryReadResult read;
  if (result.outcome == Outcome::ok) read = interpret_boundary_reply(request, *result.reply);
  co_return std::make_pair(std::move(result), std::move(read));
}

}  // namespace

TEST_CASE("channel reads a boundary from a meter behind a gateway", "[channel]") {
  asio::io_context io;
  const auto meter = address("000000000001");
  test::FakeMeterGateway gateway(io, [&](const dlt645::Frame& request, int) {
    return std::vector<ScriptedReply>{{0ms, test::load_profile_reply(meter, test::requested_start(request), 2)}};
  });
  TcpGatewayChannel channel(io.get_executor(), "gw", "127.0.0.1", gateway.port(), fast_options());
  const auto [result, read] = test::run_coroutine(io, read_boundary(channel, {meter, 480, kBoundary, 15min}));
  REQUIRE(result.outcome == Outcome::ok);
  REQUIRE(read.outcome == Outcome::ok);
  REQUIRE(read.snapshots.size() == 2);
  CHECK(read.snapshots[0].boundary == kBoundary - 15min);
  CHECK(read.snapshots[1].boundary == kBoundary);
  CHECK(read.snapshots[1].forward_active_wh == test::fake_register_wh(kBoundary, 1230));
  CHECK(*read.snapshots[1].forward_active_wh - *read.snapshots[0].forward_active_wh == 1230);
  CHECK(channel.connected());
}

TEST_CASE("a silent meter times out, the next request on the same connection succeeds", "[channel]") {
  asio::io_context io;
  const auto meter = address("000000000002");
  test::FakeMeterGateway gateway(io, [&](const dlt645::Frame& request, int n) {
    if (n == 1) return std::vector<ScriptedReply>{};
    return std::vector<ScriptedReply>{{0ms, test::load_profile_reply(meter, test::requested_start(request), 2)}};
  });
  TcpGatewayChannel channel(io.get_executor(), "gw", "127.0.0.1", gateway.port(), fast_options());
  const auto first = test::run_coroutine(io, read_boundary(channel, {meter, 480, kBoundary, 15min}));
  CHECK(first.first.outcome == Outcome::timeout);
  CHECK(category_of(first.first.outcome) == OutcomeCategory::transport);
  const auto second = test::run_coroutine(io, read_boundary(channel, {meter, 480, kBoundary, 15min}));
  CHECK(second.second.outcome == Outcome::ok);
  CHECK(gateway.connections() == 1);
  CHECK(channel.counters().timeouts == 1);
}

TEST_CASE("a late reply to an earlier boundary is dropped, never taken as the next answer", "[channel]") {
  asio::io_context io;
  const auto meter = address("000000000003");
  // Request 1 (boundary 00:15) is answered 250 ms late, after the 150 ms timeout, while request 2
  // (boundary 00:30) is in flight; request 2's own answer comes 100 ms after it was sent.
  test::FakeMeterGateway gateway(io, [&](const dlt645::Frame& request, int n) {
    const auto reply = test::load_profile_reply(meter, test::requested_start(request), 2);
    return std::vector<ScriptedReply>{{n == 1 ? 250ms : 100ms, reply}};
  });
  TcpGatewayChannel channel(io.get_executor(), "gw", "127.0.0.1", gateway.port(), fast_options());
  const auto first = test::run_coroutine(io, read_boundary(channel, {meter, 480, kBoundary, 15min}));
  CHECK(first.first.outcome == Outcome::timeout);
  const auto next_boundary = kBoundary + 15min;
  const auto second = test::run_coroutine(io, read_boundary(channel, {meter, 480, next_boundary, 15min}));
  REQUIRE(second.second.outcome == Outcome::ok);
  CHECK(second.second.snapshots.back().boundary == next_boundary);
  CHECK(second.second.snapshots.back().forward_active_wh == test::fake_register_wh(next_boundary, 1230));
  CHECK(channel.counters().dropped_replies + channel.counters().stale_bytes > 0);
}

TEST_CASE("replies from another address are ignored, only those give unexpected_address", "[channel]") {
  asio::io_context io;
  const auto meter = address("000000000004");
  const auto other = address("000000000099");
  test::FakeMeterGateway gateway(io, [&](const dlt645::Frame& request, int n) {
    std::vector<ScriptedReply> replies{{0ms, test::load_profile_reply(other, test::requested_start(request), 2)}};
    if (n == 2) replies.push_back({30ms, test::load_profile_reply(meter, test::requested_start(request), 2)});
    return replies;
  });
  TcpGatewayChannel channel(io.get_executor(), "gw", "127.0.0.1", gateway.port(), fast_options());
  const auto first = test::run_coroutine(io, read_boundary(channel, {meter, 480, kBoundary, 15min}));
  CHECK(first.first.outcome == Outcome::unexpected_address);
  CHECK(category_of(first.first.outcome) == OutcomeCategory::meter);
  const auto second = test::run_coroutine(io, read_boundary(channel, {meter, 480, kBoundary, 15min}));
  CHECK(second.second.outcome == Outcome::ok);
}

TEST_CASE("corrupt frames only give bad_frame", "[channel]") {
  asio::io_context io;
  const auto meter = address("000000000005");
  test::FakeMeterGateway gateway(io, [&](const dlt645::Frame& request, int) {
    auto bytes = test::load_profile_reply(meter, test::requested_start(request), 2);
    bytes[bytes.size() - 2] ^= 0x01;  // checksum
    return std::vector<ScriptedReply>{{0ms, bytes}};
  });
  TcpGatewayChannel channel(io.get_executor(), "gw", "127.0.0.1", gateway.port(), fast_options());
  const auto result = test::run_coroutine(io, read_boundary(channel, {meter, 480, kBoundary, 15min}));
  CHECK(result.first.outcome == Outcome::bad_frame);
}

TEST_CASE("an abnormal reply is a meter_error with the ERR reason", "[channel]") {
  asio::io_context io;
  const auto meter = address("000000000006");
  test::FakeMeterGateway gateway(io, [&](const dlt645::Frame&, int) {
    const dlt645::Frame reply{meter, dlt645::Control::abnormal_reply(dlt645::kFnRead), {0x02}};
    return std::vector<ScriptedReply>{{0ms, dlt645::encode_frame(reply, 0)}};
  });
  TcpGatewayChannel channel(io.get_executor(), "gw", "127.0.0.1", gateway.port(), fast_options());
  const auto result = test::run_coroutine(io, read_boundary(channel, {meter, 480, kBoundary, 15min}));
  REQUIRE(result.first.outcome == Outcome::ok);
  CHECK(result.second.outcome == Outcome::meter_error);
  CHECK(result.second.detail.find("no_requested_data") != std::string::npos);
}

TEST_CASE("a refused gateway fails fast, backs off, and reconnects once it is back", "[channel]") {
  asio::io_context io;
  const auto meter = address("000000000007");
  std::uint16_t port = 0;
  {
    // Find a port nobody listens on: bind, note, close.
    asio::ip::tcp::acceptor probe(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = probe.local_endpoint().port();
  }
  TcpGatewayChannel channel(io.get_executor(), "gw", "127.0.0.1", port, fast_options());
  const auto first = test::run_coroutine(io, read_boundary(channel, {meter, 480, kBoundary, 15min}));
  CHECK(first.first.outcome == Outcome::connection_refused);
  const auto during_backoff = test::run_coroutine(io, read_boundary(channel, {meter, 480, kBoundary, 15min}));
  CHECK(during_backoff.first.outcome == Outcome::connection_refused);  // the backoff keeps the reason
  CHECK(channel.counters().connect_failures == 1);  // the backoff spared the dead gateway a second connect

  test::FakeMeterGateway revived(io, [&](const dlt645::Frame& request, int) {
    return std::vector<ScriptedReply>{{0ms, test::load_profile_reply(meter, test::requested_start(request), 2)}};
  }, port);
  asio::steady_timer wait(io, 350ms);  // past the 300 ms backoff
  test::run_until(io, [&] { return wait.expiry() <= asio::steady_timer::clock_type::now(); }, 1s);
  const auto recovered = test::run_coroutine(io, read_boundary(channel, {meter, 480, kBoundary, 15min}));
  CHECK(recovered.second.outcome == Outcome::ok);
}

TEST_CASE("a gateway that closes mid-transaction gives connection_lost and the connection is dropped", "[channel]") {
  asio::io_context io;
  const auto meter = address("000000000008");
  std::unique_ptr<test::FakeMeterGateway> gateway;
  gateway = std::make_unique<test::FakeMeterGateway>(io, [&](const dlt645::Frame& request, int n) {
    if (n == 2) {
      asio::post(io, [&] { gateway->stop(); });
      return std::vector<ScriptedReply>{};
    }
    return std::vector<ScriptedReply>{{0ms, test::load_profile_reply(meter, test::requested_start(request), 2)}};
  });
  TcpGatewayChannel channel(io.get_executor(), "gw", "127.0.0.1", gateway->port(), fast_options());
  const auto first = test::run_coroutine(io, read_boundary(channel, {meter, 480, kBoundary, 15min}));
  REQUIRE(first.second.outcome == Outcome::ok);
  const auto second = test::run_coroutine(io, read_boundary(channel, {meter, 480, kBoundary, 15min}));
  CHECK(second.first.outcome == Outcome::connection_lost);
  CHECK_FALSE(channel.connected());
}

TEST_CASE("a gateway that accepts and closes at once gives connection_refused, not connection_lost", "[channel]") {
  asio::io_context io;
  const auto meter = address("000000000010");
  // Accepts, then closes every connection at once (meter-sim's refuse_connections fault).
  asio::ip::tcp::acceptor acceptor(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  int accepted = 0;
  std::function<void()> accept_next = [&] {
    acceptor.async_accept([&](const boost::system::error_code& ec, asio::ip::tcp::socket socket) {
      if (ec) return;
      ++accepted;
      boost::system::error_code ignored;
      socket.close(ignored);
      accept_next();
    });
  };
  accept_next();
  TcpGatewayChannel channel(io.get_executor(), "gw", "127.0.0.1", acceptor.local_endpoint().port(), fast_options());
  const auto first = test::run_coroutine(io, read_boundary(channel, {meter, 480, kBoundary, 15min}));
  CHECK(first.first.outcome == Outcome::connection_refused);
  CHECK(category_of(first.first.outcome) == OutcomeCategory::transport);
  CHECK(accepted == 1);
  const auto during_backoff = test::run_coroutine(io, read_boundary(channel, {meter, 480, kBoundary, 15min}));
  CHECK(during_backoff.first.outcome == Outcome::connection_refused);
  CHECK(accepted == 1);  // backed off instead of reconnecting at once
  acceptor.close();
}

TEST_CASE("an idle connection is closed after idle_close and reopened by the next transaction", "[channel]") {
  asio::io_context io;
  const auto meter = address("000000000011");
  test::FakeMeterGateway gateway(io, [&](const dlt645::Frame& request, int) {
    return std::vector<ScriptedReply>{{0ms, test::load_profile_reply(meter, test::requested_start(request), 2)}};
  });
  auto options = fast_options();
  options.idle_close = 100ms;
  TcpGatewayChannel channel(io.get_executor(), "gw", "127.0.0.1", gateway.port(), options);
  REQUIRE(test::run_coroutine(io, read_boundary(channel, {meter, 480, kBoundary, 15min})).second.outcome == Outcome::ok);
  CHECK(channel.connected());
  REQUIRE(test::run_until(io, [&] { return !channel.connected(); }, 2s));
  CHECK(channel.counters().idle_closes == 1);
  REQUIRE(test::run_coroutine(io, read_boundary(channel, {meter, 480, kBoundary, 15min})).second.outcome == Outcome::ok);
  CHECK(gateway.connections() == 2);
}

TEST_CASE("a per-transaction response timeout overrides the channel's", "[channel]") {
  asio::io_context io;
  const auto meter = address("000000000012");
  // Replies after 300 ms: too late for the channel's 150 ms, in time for a 1000 ms protocol timeout.
  test::FakeMeterGateway gateway(io, [&](const dlt645::Frame& request, int) {
    return std::vector<ScriptedReply>{{300ms, test::load_profile_reply(meter, test::requested_start(request), 2)}};
  });
  TcpGatewayChannel channel(io.get_executor(), "gw", "127.0.0.1", gateway.port(), fast_options());
  const BoundaryRequest request{meter, 480, kBoundary, 15min};
  const auto slow = test::run_coroutine(
      io, channel.transact(make_boundary_request(request), [&](const dlt645::Frame& f) { return is_reply_to(request, f); },
                           1000ms));
  CHECK(slow.outcome == Outcome::ok);
  const auto fast = test::run_coroutine(io, read_boundary(channel, {meter, 480, kBoundary + 15min, 15min}));
  CHECK(fast.first.outcome == Outcome::timeout);
}

TEST_CASE("back-to-back transactions each get their own response deadline from the one channel timer",
          "[channel]") {
  asio::io_context io;
  const auto meter = address("000000000013");
  // Every reply takes 250 ms against a 400 ms timeout: four transactions span 1 s, so the timer
  // armed for the first one expires during the second and must wait on, not time it out. The
  // fifth request is never answered: it must still time out.
  test::FakeMeterGateway gateway(io, [&](const dlt645::Frame& request, int n) {
    if (n == 5) return std::vector<ScriptedReply>{};
    return std::vector<ScriptedReply>{{250ms, test::load_profile_reply(meter, test::requested_start(request), 2)}};
  });
  auto options = fast_options();
  options.response_timeout = 400ms;
  TcpGatewayChannel channel(io.get_executor(), "gw", "127.0.0.1", gateway.port(), options);
  for (int i = 0; i < 4; ++i) {
    const auto read = test::run_coroutine(io, read_boundary(channel, {meter, 480, kBoundary + i * 15min, 15min}));
    CHECK(read.first.outcome == Outcome::ok);
  }
  const auto silent = test::run_coroutine(io, read_boundary(channel, {meter, 480, kBoundary + 60min, 15min}));
  CHECK(silent.first.outcome == Outcome::timeout);
  CHECK(channel.counters().timeouts == 1);
  CHECK(gateway.connections() == 1);
}

TEST_CASE("the inter-frame gap separates a reply from the next request; a zero gap adds no wait", "[channel]") {
  asio::io_context io;
  const auto meter = address("000000000014");
  std::vector<std::chrono::steady_clock::time_point> arrivals;
  test::FakeMeterGateway gateway(io, [&](const dlt645::Frame& request, int) {
    arrivals.push_back(std::chrono::steady_clock::now());
    return std::vector<ScriptedReply>{{0ms, test::load_profile_reply(meter, test::requested_start(request), 2)}};
  });
  auto options = fast_options();
  options.inter_frame_gap = 300ms;
  options.response_timeout = 1000ms;
  TcpGatewayChannel gapped(io.get_executor(), "gw", "127.0.0.1", gateway.port(), options);
  const auto first = test::run_coroutine(io, read_boundary(gapped, {meter, 480, kBoundary, 15min}));
  const auto second = test::run_coroutine(io, read_boundary(gapped, {meter, 480, kBoundary + 15min, 15min}));
  CHECK(first.first.outcome == Outcome::ok);
  CHECK(second.first.outcome == Outcome::ok);
  REQUIRE(arrivals.size() == 2);
  // The gap runs from the reply, which came after the first request arrived (a lower bound: load
  // only lengthens it; without the gap the second request follows within a millisecond or so).
  CHECK(arrivals[1] - arrivals[0] >= 300ms);

  options.inter_frame_gap = 0ms;
  TcpGatewayChannel ungapped(io.get_executor(), "gw0", "127.0.0.1", gateway.port(), options);
  for (int i = 0; i < 3; ++i)
    CHECK(test::run_coroutine(io, read_boundary(ungapped, {meter, 480, kBoundary + i * 15min, 15min})).first.outcome ==
          Outcome::ok);
  CHECK(arrivals.size() == 5);
}

namespace {

// The far end of a pseudo-terminal pair: a fake RS-485 bus the serial channel opens by path.
struct PtyBus {
  explicit PtyBus(asio::io_context& io) : master(io) {
    const int fd = ::posix_openpt(O_RDWR | O_NOCTTY);
    REQUIRE(fd >= 0);
    REQUIRE(::grantpt(fd) == 0);
    REQUIRE(::unlockpt(fd) == 0);
    device = ::ptsname(fd);
    termios raw{};
    ::tcgetattr(fd, &raw);
    ::cfmakeraw(&raw);
    ::tcsetattr(fd, TCSANOW, &raw);
    master.assign(fd);
  }
  asio::posix::stream_descriptor master;
  std::string device;
};

// Answers each load-profile request on the pty; the first one only after `first_delay`.
asio::awaitable<void> serve_pty(PtyBus& bus, dlt645::Address meter, std::chrono::milliseconds first_delay,
                                int& requests) {
  dlt645::Framer framer;
  std::array<std::uint8_t, 256> buffer{};
  boost::system::error_code ec;
  for (;;) {
    const auto n = co_await bus.master.async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    framer.feed(std::span<const std::uint8_t>(buffer.data(), n));
    dlt645::Frame request;
    while (framer.next(request).kind == dlt645::Framer::EventKind::frame) {
      ++requests;
      auto reply = test::load_profile_reply(meter, test::requested_start(request), 2);
      if (requests == 1) {
        asio::steady_timer timer(bus.master.get_executor(), first_delay);
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      }
      co_await asio::async_write(bus.master, asio::buffer(reply), asio::redirect_error(asio::use_awaitable, ec));
    }
  }
}

}  // namespace

TEST_CASE("a serial channel reads over a pty, and a late reply never answers the next request", "[channel]") {
  asio::io_context io;
  const auto meter = address("000000000013");
  PtyBus bus(io);
  int requests = 0;
  asio::co_spawn(io, serve_pty(bus, meter, 250ms, requests), asio::detached);
  std::string error;
  const auto serial = parse_serial_channel("serial://" + bus.device + "?baud=2400&parity=E&stop=1", error);
  REQUIRE(serial);
  CHECK(serial->baud == 2400);
  CHECK(serial->parity == 'E');
  Dlt645Channel channel(io.get_executor(), "serial", *serial, fast_options());
  CHECK(channel.is_serial());
  // The first reply comes after the 150 ms timeout; the next request (another boundary) must get
  // its own answer, not the late one.
  const auto first = test::run_coroutine(io, read_boundary(channel, {meter, 480, kBoundary, 15min}));
  CHECK(first.first.outcome == Outcome::timeout);
  const auto second = test::run_coroutine(io, read_boundary(channel, {meter, 480, kBoundary + 15min, 15min}));
  REQUIRE(second.second.outcome == Outcome::ok);
  REQUIRE(second.second.snapshots.size() == 2);
  CHECK(second.second.snapshots.back().boundary == kBoundary + 15min);
  CHECK(requests == 2);
  channel.close();
}

TEST_CASE("a serial port that cannot be opened is unreachable and names the device", "[channel]") {
  asio::io_context io;
  std::string error;
  const auto serial = parse_serial_channel("serial:///dev/nonexistent-ami-tty?baud=9600&parity=N&stop=1", error);
  REQUIRE(serial);
  Dlt645Channel channel(io.get_executor(), "serial", *serial, fast_options());
  const auto result = test::run_coroutine(io, read_boundary(channel, {address("000000000014"), 480, kBoundary, 15min}));
  CHECK(result.first.outcome == Outcome::unreachable);
  CHECK_THAT(result.first.detail, Catch::Contains("/dev/nonexistent-ami-tty"));
  CHECK_FALSE(parse_serial_channel("serial:///dev/ttyS0?baud=fast", error));
  CHECK_FALSE(error.empty());
}

TEST_CASE("a DL/T 645 serial:// channel defaults to 2400 baud 8E1, not Modbus' 9600 8N1", "[channel]") {
  std::string error;
  const auto defaults = parse_serial_channel("serial:///dev/ttyS0", error);
  REQUIRE(defaults);
  CHECK(defaults->device == "/dev/ttyS0");
  CHECK(defaults->baud == 2400);
  CHECK(defaults->parity == 'E');
  CHECK(defaults->data_bits == 8);
  CHECK(defaults->stop_bits == 1);
  const auto given = parse_serial_channel("serial:///dev/ttyS0?stop=1&baud=1200&parity=N", error);
  REQUIRE(given);
  CHECK(given->baud == 1200);
  CHECK(given->parity == 'N');
  const auto baud_only = parse_serial_channel("serial:///dev/ttyS0?baud=9600", error);
  REQUIRE(baud_only);
  CHECK(baud_only->baud == 9600);
  CHECK(baud_only->parity == 'E');
}
