#include "headend/collection/tcp_gateway_channel.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace ami::collection {
namespace {

using steady = std::chrono::steady_clock;

std::int32_t millis_since(steady::time_point start) {
  return static_cast<std::int32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start).count());
}

}  // namespace

TcpGatewayChannel::TcpGatewayChannel(asio::any_io_executor executor, std::string key, std::string host,
                                     std::uint16_t port, ChannelOptions options)
    : key_(std::move(key)),
      host_(std::move(host)),
      port_(port),
      options_(options),
      socket_(executor),
      timeout_timer_(executor),
      gap_timer_(executor),
      backoff_(options.reconnect_backoff) {}

void TcpGatewayChannel::arm_timeout(std::chrono::milliseconds timeout, bool close_on_expiry) {
  timed_out_ = false;
  const auto generation = ++timeout_generation_;
  timeout_timer_.expires_after(timeout);
  timeout_timer_.async_wait([this, generation, close_on_expiry](const boost::system::error_code& ec) {
    if (ec || generation != timeout_generation_) return;
    timed_out_ = true;
    boost::system::error_code ignored;
    if (close_on_expiry) {
      socket_.close(ignored);
    } else {
      socket_.cancel(ignored);
    }
  });
}

void TcpGatewayChannel::disarm_timeout() {
  ++timeout_generation_;
  timeout_timer_.cancel();
}

void TcpGatewayChannel::close() {
  disarm_timeout();
  boost::system::error_code ignored;
  socket_.close(ignored);
}

void TcpGatewayChannel::drop_connection(std::string_view why) {
  spdlog::warn("channel {}: connection closed: {}", key_, why);
  boost::system::error_code ignored;
  socket_.close(ignored);
  framer_.reset();
}

asio::awaitable<TcpGatewayChannel::Result> TcpGatewayChannel::connect() {
  const auto started = steady::now();
  boost::system::error_code ec;
  asio::ip::tcp::resolver resolver(socket_.get_executor());
  const auto endpoints =
      co_await resolver.async_resolve(host_, std::to_string(port_), asio::redirect_error(asio::use_awaitable, ec));
  Result result;
  if (!ec) {
    arm_timeout(options_.connect_timeout, true);
    co_await asio::async_connect(socket_, endpoints, asio::redirect_error(asio::use_awaitable, ec));
    disarm_timeout();
    if (!ec && !timed_out_) {
      socket_.set_option(asio::ip::tcp::no_delay(true), ec);
      ++counters_.connects;
      backoff_ = options_.reconnect_backoff;
      framer_.reset();
      spdlog::info("channel {}: connected", key_);
      result.outcome = Outcome::ok;
      co_return result;
    }
  }
  ++counters_.connect_failures;
  if (timed_out_) {
    result.outcome = Outcome::unreachable;
    result.detail = fmt::format("connect to {}:{} timed out after {} ms", host_, port_, options_.connect_timeout.count());
  } else if (ec == asio::error::connection_refused) {
    result.outcome = Outcome::refused;
    result.detail = fmt::format("connect to {}:{} refused", host_, port_);
  } else {
    result.outcome = Outcome::unreachable;
    result.detail = fmt::format("connect to {}:{} failed: {}", host_, port_, ec.message());
  }
  boost::system::error_code ignored;
  socket_.close(ignored);
  reconnect_at_ = steady::now() + backoff_;
  spdlog::warn("channel {}: {}; next connect in {} ms", key_, result.detail, backoff_.count());
  backoff_ = std::min(backoff_ * 2, options_.reconnect_backoff_max);
  last_connect_error_ = result.detail;
  result.latency_ms = millis_since(started);
  co_return result;
}

bool TcpGatewayChannel::discard_stale_bytes() {
  boost::system::error_code ec;
  for (;;) {
    const auto available = socket_.available(ec);
    if (ec) return false;
    if (available == 0) break;
    const auto n = socket_.read_some(asio::buffer(read_buffer_.data(), std::min(available, read_buffer_.size())), ec);
    if (ec) return false;
    counters_.stale_bytes += n;
  }
  // available() == 0 cannot tell a closed peer from a quiet one; a closed peer shows on the read.
  framer_.reset();
  return true;
}

std::optional<dlt645::Frame> TcpGatewayChannel::take_answer(const ReplyMatcher& is_answer, ReadState& state) {
  dlt645::Frame frame;
  for (;;) {
    const auto event = framer_.next(frame);
    switch (event.kind) {
      case dlt645::Framer::EventKind::need_more: return std::nullopt;
      case dlt645::Framer::EventKind::frame:
        if (is_answer(frame)) return frame;
        ++state.dropped;
        ++counters_.dropped_replies;
        spdlog::debug("channel {}: dropped a frame from {} that does not answer the request (late reply?)", key_,
                      frame.address.to_string());
        break;
      case dlt645::Framer::EventKind::discarded:
        if (event.error != dlt645::FrameError::none) state.saw_bad_frame = true;
        break;
      case dlt645::Framer::EventKind::unexpected_address:
        state.saw_other_address = true;
        ++counters_.dropped_replies;
        break;
    }
  }
}

asio::awaitable<TcpGatewayChannel::Result> TcpGatewayChannel::transact(const dlt645::Frame& request,
                                                                       ReplyMatcher is_answer) {
  ++counters_.transactions;
  Result result;
  if (socket_.is_open() && !discard_stale_bytes()) drop_connection("peer closed while idle");
  if (!socket_.is_open()) {
    if (steady::now() < reconnect_at_) {
      result.outcome = Outcome::unreachable;
      result.detail = fmt::format("no connection to {}:{} (reconnect backoff after: {})", host_, port_,
                                  last_connect_error_);
      co_return result;
    }
    auto connected = co_await connect();
    if (connected.outcome != Outcome::ok) co_return connected;
  }

  boost::system::error_code ec;
  const auto gap_end = last_activity_ + options_.inter_frame_gap;
  if (steady::now() < gap_end) {
    gap_timer_.expires_at(gap_end);
    co_await gap_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }

  framer_.reset();
  framer_.expect(request.address);
  const auto bytes = dlt645::encode_frame(request);
  const auto sent = steady::now();
  arm_timeout(options_.response_timeout, false);
  co_await asio::async_write(socket_, asio::buffer(bytes), asio::redirect_error(asio::use_awaitable, ec));
  if (ec || timed_out_) {
    disarm_timeout();
    result.outcome = Outcome::connection_lost;
    result.detail = fmt::format("sending to {}:{} failed: {}", host_, port_, timed_out_ ? "timed out" : ec.message());
    drop_connection(result.detail);
    result.latency_ms = millis_since(sent);
    co_return result;
  }

  ReadState state;
  std::optional<dlt645::Frame> answer;
  while (!(answer = take_answer(is_answer, state))) {
    std::size_t n = 0;
    if (!timed_out_) {
      n = co_await socket_.async_read_some(asio::buffer(read_buffer_), asio::redirect_error(asio::use_awaitable, ec));
    }
    result.latency_ms = millis_since(sent);
    if (timed_out_) {
      last_activity_ = steady::now();
      ++counters_.timeouts;
      if (state.saw_other_address) {
        result.outcome = Outcome::unexpected_address;
        result.detail = "only frames from other addresses arrived";
      } else if (state.saw_bad_frame) {
        result.outcome = Outcome::bad_frame;
        result.detail = "only corrupt frames arrived (checksum, start or end byte)";
      } else {
        result.outcome = Outcome::timeout;
        result.detail = fmt::format("no reply within {} ms", options_.response_timeout.count());
        if (state.dropped > 0) result.detail += fmt::format(" ({} non-matching frame(s) dropped)", state.dropped);
      }
      co_return result;
    }
    if (ec) {
      disarm_timeout();
      result.outcome = Outcome::connection_lost;
      result.detail = fmt::format("connection to {}:{} lost: {}", host_, port_, ec.message());
      drop_connection(result.detail);
      co_return result;
    }
    // The framer holds at most two frames; hand it the chunk in pieces, looking for the answer between them.
    std::span<const std::uint8_t> rest(read_buffer_.data(), n);
    rest = rest.subspan(framer_.feed(rest));
    while (!rest.empty() && !(answer = take_answer(is_answer, state))) rest = rest.subspan(framer_.feed(rest));
    if (answer) break;
  }
  disarm_timeout();
  last_activity_ = steady::now();
  result.outcome = Outcome::ok;
  result.reply = std::move(*answer);
  result.latency_ms = millis_since(sent);
  co_return result;
}

}  // namespace ami::collection
