#include "headend/collection/tcp_gateway_channel.hpp"

#include <termios.h>

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "headend/modbus/channel_spec.hpp"

namespace ami::collection {
namespace {

using steady = std::chrono::steady_clock;

std::int32_t millis_since(steady::time_point start) {
  return static_cast<std::int32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start).count());
}

}  // namespace

Dlt645Channel::Dlt645Channel(asio::any_io_executor executor, std::string key, std::string host,
                             std::uint16_t port, ChannelOptions options)
    : key_(std::move(key)),
      host_(std::move(host)),
      port_(port),
      options_(options),
      socket_(executor),
      timeout_timer_(executor),
      gap_timer_(executor),
      idle_timer_(executor),
      backoff_(options.reconnect_backoff) {}

Dlt645Channel::Dlt645Channel(asio::any_io_executor executor, std::string key, SerialSettings serial,
                             ChannelOptions options)
    : Dlt645Channel(executor, std::move(key), serial.device, 0, options) {
  serial_ = std::move(serial);
  serial_port_.emplace(executor);
}

namespace {
// True when the channel URL's query names `key` ("serial:///dev/ttyS0?baud=1200&parity=E").
bool serial_query_names(std::string_view channel, std::string_view key) {
  const auto q = channel.find('?');
  if (q == std::string_view::npos) return false;
  auto query = channel.substr(q + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto item = query.substr(0, amp);
    if (item.substr(0, item.find('=')) == key) return true;
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return false;
}
}  // namespace

std::optional<SerialSettings> parse_serial_channel(std::string_view channel, std::string& error) {
  // One parser for serial:// channels: the Modbus RTU one (same registry syntax and keys); only
  // the defaults differ: DL/T 645 buses run 2400 baud 8E1, Modbus RTU 9600 8N1.
  const auto spec = modbus::parse_channel("modbus-rtu", channel, error);
  if (!spec) return std::nullopt;
  SerialSettings settings{spec->device, spec->baud, spec->parity, spec->data_bits, spec->stop_bits};
  if (!serial_query_names(channel, "baud")) settings.baud = 2400;
  if (!serial_query_names(channel, "parity")) settings.parity = 'E';
  return settings;
}

bool Dlt645Channel::link_open() const { return serial_port_ ? serial_port_->is_open() : socket_.is_open(); }

void Dlt645Channel::close_link() {
  boost::system::error_code ignored;
  if (serial_port_) {
    serial_port_->close(ignored);
  } else {
    socket_.close(ignored);
  }
}

// Not coroutines: they hand back the operation's own awaitable (no wrapper frame per read).
asio::awaitable<std::size_t> Dlt645Channel::read_some(boost::system::error_code& ec) {
  if (serial_port_)
    return serial_port_->async_read_some(asio::buffer(read_buffer_), asio::redirect_error(asio::use_awaitable, ec));
  return socket_.async_read_some(asio::buffer(read_buffer_), asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<std::size_t> Dlt645Channel::write_all(const std::vector<std::uint8_t>& bytes,
                                                      boost::system::error_code& ec) {
  if (serial_port_)
    return asio::async_write(*serial_port_, asio::buffer(bytes), asio::redirect_error(asio::use_awaitable, ec));
  return asio::async_write(socket_, asio::buffer(bytes), asio::redirect_error(asio::use_awaitable, ec));
}

Dlt645Channel::Result Dlt645Channel::open_serial() {
  Result result;
  boost::system::error_code ec;
  serial_port_->open(serial_->device, ec);
  using sp = asio::serial_port_base;
  const auto parity = serial_->parity == 'E'   ? sp::parity::even
                      : serial_->parity == 'O' ? sp::parity::odd
                                               : sp::parity::none;
  if (!ec) serial_port_->set_option(sp::baud_rate(static_cast<unsigned>(serial_->baud)), ec);
  if (!ec) serial_port_->set_option(sp::parity(parity), ec);
  if (!ec) serial_port_->set_option(sp::stop_bits(serial_->stop_bits == 2 ? sp::stop_bits::two : sp::stop_bits::one), ec);
  if (!ec) serial_port_->set_option(sp::character_size(static_cast<unsigned>(serial_->data_bits)), ec);
  if (!ec) serial_port_->set_option(sp::flow_control(sp::flow_control::none), ec);
  if (!ec) {
    result.outcome = Outcome::ok;
    return result;
  }
  result.outcome = Outcome::unreachable;
  result.detail = fmt::format("serial port {} ({} {}{}{}): {}", serial_->device, serial_->baud, serial_->data_bits,
                              serial_->parity, serial_->stop_bits, ec.message());
  close_link();
  return result;
}

void Dlt645Channel::arm_timeout(std::chrono::milliseconds timeout, bool close_on_expiry) {
  timed_out_ = false;
  deadline_ = steady::now() + timeout;
  deadline_armed_ = true;
  close_on_expiry_ = close_on_expiry;
  // The timer already waiting ends no later than this deadline: its handler moves it on (one
  // timer operation per response_timeout, not two per transaction).
  if (!timer_waiting_ || timer_expiry_ > deadline_) wait_for_deadline();
}

void Dlt645Channel::wait_for_deadline() {
  const auto generation = ++timer_generation_;
  timer_waiting_ = true;
  timer_expiry_ = deadline_;
  timeout_timer_.expires_at(deadline_);
  timeout_timer_.async_wait([this, generation](const boost::system::error_code& ec) {
    // Cancelled (close(), a sooner deadline, destruction): touch nothing. A replaced wait that had
    // already expired is told apart by its generation.
    if (ec || generation != timer_generation_) return;
    timer_waiting_ = false;
    if (!deadline_armed_) return;        // the operation it guarded has finished
    if (steady::now() < deadline_) {     // a later operation's deadline: wait on for it
      wait_for_deadline();
      return;
    }
    deadline_armed_ = false;
    timed_out_ = true;
    boost::system::error_code ignored;
    if (close_on_expiry_) {
      close_link();
    } else if (serial_port_) {
      serial_port_->cancel(ignored);
    } else {
      socket_.cancel(ignored);
    }
  });
}

void Dlt645Channel::disarm_timeout() { deadline_armed_ = false; }

void Dlt645Channel::close() {
  disarm_timeout();
  ++timer_generation_;
  timer_waiting_ = false;
  timeout_timer_.cancel();
  ++idle_generation_;
  idle_timer_.cancel();
  close_link();
}

void Dlt645Channel::drop_connection(std::string_view why) {
  spdlog::warn("channel {}: connection closed: {}", key_, why);
  close_link();
  framer_.reset();
}

asio::awaitable<Dlt645Channel::Result> Dlt645Channel::connect() {
  const auto started = steady::now();
  if (serial_port_) {
    auto opened = open_serial();
    if (opened.outcome == Outcome::ok) {
      note_connected("serial port open");
    } else {
      back_off(opened);
    }
    opened.latency_ms = millis_since(started);
    co_return opened;
  }
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
      note_connected("connected");
      result.outcome = Outcome::ok;
      co_return result;
    }
  }
  if (timed_out_) {
    result.outcome = Outcome::unreachable;
    result.detail = fmt::format("connect to {}:{} timed out after {} ms", host_, port_, options_.connect_timeout.count());
  } else if (ec == asio::error::connection_refused) {
    result.outcome = Outcome::connection_refused;
    result.detail = fmt::format("connect to {}:{} refused", host_, port_);
  } else {
    result.outcome = Outcome::unreachable;
    result.detail = fmt::format("connect to {}:{} failed: {}", host_, port_, ec.message());
  }
  close_link();
  back_off(result);
  result.latency_ms = millis_since(started);
  co_return result;
}

void Dlt645Channel::note_connected(std::string_view what) {
  ++counters_.connects;
  backoff_ = options_.reconnect_backoff;
  framer_.reset();
  spdlog::info("channel {}: {}", key_, what);
}

void Dlt645Channel::back_off(const Result& failure) {
  ++counters_.connect_failures;
  reconnect_at_ = steady::now() + backoff_;
  spdlog::warn("channel {}: {}; next attempt in {} ms", key_, failure.detail, backoff_.count());
  backoff_ = std::min(backoff_ * 2, options_.reconnect_backoff_max);
  last_connect_error_ = failure.detail;
  last_connect_outcome_ = failure.outcome;
}

Dlt645Channel::Result Dlt645Channel::refused_after_accept(std::int32_t latency_ms) {
  Result result;
  result.outcome = Outcome::connection_refused;
  result.detail = fmt::format("{}:{} accepted the connection and closed it before any reply (refusing service)",
                              host_, port_);
  result.latency_ms = latency_ms;
  drop_connection(result.detail);
  back_off(result);  // like a refused connect: reconnecting at once would only be dropped again
  return result;
}

void Dlt645Channel::arm_idle_close() {
  if (options_.idle_close.count() <= 0 || !link_open()) return;
  const auto generation = ++idle_generation_;
  idle_timer_.expires_after(options_.idle_close);
  idle_timer_.async_wait([this, generation](const boost::system::error_code& ec) {
    if (ec || generation != idle_generation_ || in_transaction_ || !link_open()) return;
    ++counters_.idle_closes;
    spdlog::debug("channel {}: closing the connection after {} ms idle", key_, options_.idle_close.count());
    close_link();
    framer_.reset();
  });
}

bool Dlt645Channel::discard_stale_bytes() {
  if (serial_port_) {
    // A serial line has no peer to close; drop what the driver buffered (a late reply's tail).
    ::tcflush(serial_port_->native_handle(), TCIFLUSH);
    framer_.reset();
    return true;
  }
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

std::optional<dlt645::Frame> Dlt645Channel::take_answer(const ReplyMatcher& is_answer, ReadState& state) {
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

asio::awaitable<Dlt645Channel::Result> Dlt645Channel::transact(const dlt645::Frame& request, ReplyMatcher is_answer,
                                                               std::chrono::milliseconds response_timeout) {
  in_transaction_ = true;
  ++idle_generation_;
  if (options_.idle_close.count() > 0) idle_timer_.cancel();  // only then was it armed
  auto result = co_await exchange(request, is_answer,
                                  response_timeout.count() > 0 ? response_timeout : options_.response_timeout);
  in_transaction_ = false;
  arm_idle_close();
  co_return result;
}

asio::awaitable<Dlt645Channel::Result> Dlt645Channel::exchange(const dlt645::Frame& request,
                                                               const ReplyMatcher& is_answer,
                                                               std::chrono::milliseconds response_timeout) {
  ++counters_.transactions;
  Result result;
  if (link_open() && !discard_stale_bytes()) drop_connection("peer closed while idle");
  bool opened_here = false;
  if (!link_open()) {
    if (steady::now() < reconnect_at_) {
      result.outcome = last_connect_outcome_;
      result.detail = fmt::format("no connection to {}:{} (reconnect backoff after: {})", host_, port_,
                                  last_connect_error_);
      co_return result;
    }
    auto connected = co_await connect();
    if (connected.outcome != Outcome::ok) co_return connected;
    opened_here = true;
  }
  bool received_bytes = false;

  boost::system::error_code ec;
  // The bus needs a quiet gap between frames; a zero gap (a TCP meter, the load harness) skips the clock.
  if (options_.inter_frame_gap.count() > 0) {
    const auto gap_end = last_activity_ + options_.inter_frame_gap;
    if (steady::now() < gap_end) {
      gap_timer_.expires_at(gap_end);
      co_await gap_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  framer_.reset();
  framer_.expect(request.address);
  send_buffer_.clear();  // reused: no vector per request
  dlt645::encode_frame(request, send_buffer_);
  const auto sent = steady::now();
  arm_timeout(response_timeout, false);
  co_await write_all(send_buffer_, ec);
  if (ec && !timed_out_ && opened_here && !serial_port_) {
    disarm_timeout();
    co_return refused_after_accept(millis_since(sent));
  }
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
      n = co_await read_some(ec);
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
        result.detail = fmt::format("no reply within {} ms", response_timeout.count());
        if (state.dropped > 0) result.detail += fmt::format(" ({} non-matching frame(s) dropped)", state.dropped);
      }
      co_return result;
    }
    if (ec && opened_here && !received_bytes && !serial_port_) {
      disarm_timeout();
      co_return refused_after_accept(result.latency_ms);
    }
    if (ec) {
      disarm_timeout();
      result.outcome = Outcome::connection_lost;
      result.detail = fmt::format("connection to {}:{} lost: {}", host_, port_, ec.message());
      drop_connection(result.detail);
      co_return result;
    }
    received_bytes = received_bytes || n > 0;
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
