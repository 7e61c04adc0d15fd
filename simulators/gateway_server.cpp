#include "simulators/gateway_server.hpp"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "protocols/dlt645/framer.hpp"

namespace ami::sim {

using asio::ip::tcp;

std::chrono::microseconds wire_time(std::size_t bytes, int baud) {
  if (baud <= 0) return std::chrono::microseconds{0};
  // 8E1: start + 8 data + parity + stop = 11 bits per byte.
  return std::chrono::microseconds{static_cast<std::int64_t>(bytes) * 11 * 1'000'000 / baud};
}

GatewayServer::GatewayServer(asio::io_context& io, const GatewaySpec& spec, const Clock& clock, FaultSet* faults)
    : io_(io),
      spec_(&spec),
      clock_(clock),
      faults_(faults),
      acceptor_(io),
      queue_signal_(io),
      wire_timer_(io) {
  if (is_dlt645(spec.protocol)) {
    dlt645_bus_ = std::make_unique<Dlt645Bus>(spec, faults);
    dlt645_bus_->table().set_drift_reference(clock.now());
  } else {
    modbus_bus_ = std::make_unique<ModbusBus>(spec, faults, false);
    modbus_bus_->table().set_drift_reference(clock.now());
  }
}

GatewayServer::~GatewayServer() {
  if (pty_slave_fd_ >= 0) ::close(pty_slave_fd_);
  if (!spec_->pty_link.empty()) {
    std::error_code ignored;
    std::filesystem::remove(spec_->pty_link, ignored);
  }
}

void GatewayServer::start() {
  if (!spec_->pty_link.empty()) {
    start_pty();
  } else {
    const tcp::endpoint endpoint(asio::ip::make_address(spec_->host), spec_->port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen();
    asio::co_spawn(io_, accept_loop(), asio::detached);
  }
  asio::co_spawn(io_, bus_loop(), asio::detached);
}

std::string GatewayServer::where() const {
  if (!pty_path_.empty()) return "pty " + pty_path_ + " (" + spec_->pty_link + ")";
  return spec_->host + ":" + std::to_string(spec_->port);
}

void GatewayServer::start_pty() {
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0)
    throw std::runtime_error("cannot open a pseudo-terminal: " + std::generic_category().message(errno));
  pty_path_ = ::ptsname(master);
  // Hold the slave open in raw mode: no echo of requests back to us, and the pty stays usable
  // while clients open and close it.
  pty_slave_fd_ = ::open(pty_path_.c_str(), O_RDWR | O_NOCTTY);
  if (pty_slave_fd_ < 0) throw std::runtime_error("cannot open " + pty_path_);
  termios tio{};
  ::tcgetattr(pty_slave_fd_, &tio);
  ::cfmakeraw(&tio);
  ::tcsetattr(pty_slave_fd_, TCSANOW, &tio);
  std::error_code ec;
  std::filesystem::remove(spec_->pty_link, ec);
  std::filesystem::create_symlink(pty_path_, spec_->pty_link, ec);
  if (ec) throw std::runtime_error("cannot link " + spec_->pty_link + " -> " + pty_path_ + ": " + ec.message());
  auto connection = std::make_shared<Connection>();
  connection->pty.emplace(io_, master);
  asio::co_spawn(io_, read_loop(connection), asio::detached);
}

asio::awaitable<void> GatewayServer::accept_loop() {
  for (;;) {
    boost::system::error_code ec;
    auto socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) continue;  // e.g. the client reset before we accepted: keep listening
    auto& counters = table().counters();
    bump(counters.connections);
    if (faults_ != nullptr &&
        faults_->decide({FaultKind::refuse_connections}, spec_->id, {}, clock_.now(), connection_draws_++)) {
      bump(counters.refused);
      bump(counters.faults);
      socket.close(ec);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto connection = std::make_shared<Connection>();
    connection->socket.emplace(std::move(socket));
    asio::co_spawn(io_, read_loop(std::move(connection)), asio::detached);
  }
}

template <typename Framer>
void GatewayServer::take_requests(Framer& framer, std::span<const std::uint8_t> bytes,
                                  const std::shared_ptr<Connection>& connection) {
  while (!bytes.empty()) {
    bytes = bytes.subspan(framer.feed(bytes));
    for (;;) {
      typename std::conditional_t<std::is_same_v<Framer, dlt645::Framer>, dlt645::Frame, modbus::RtuFrame> frame;
      const auto event = framer.next(frame);
      if (event.kind == Framer::EventKind::need_more) break;
      if (event.kind == Framer::EventKind::frame) enqueue(Job{connection, std::move(frame)});
    }
  }
}

asio::awaitable<void> GatewayServer::read_loop(std::shared_ptr<Connection> connection) {
  // Garbage and broken frames are dropped by the framers.
  std::unique_ptr<dlt645::Framer> dlt645_framer;
  std::unique_ptr<modbus::RtuFramer> rtu_framer;
  if (dlt645_bus_) {
    dlt645_framer = std::make_unique<dlt645::Framer>();
  } else {
    rtu_framer = std::make_unique<modbus::RtuFramer>(modbus::RtuDirection::request);
  }
  std::array<std::uint8_t, 512> buffer{};
  while (connection->open) {
    boost::system::error_code ec;
    const auto n = connection->socket
                       ? co_await connection->socket->async_read_some(asio::buffer(buffer),
                                                                      asio::redirect_error(asio::use_awaitable, ec))
                       : co_await connection->pty->async_read_some(asio::buffer(buffer),
                                                                   asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    const std::span<const std::uint8_t> bytes(buffer.data(), n);
    if (dlt645_framer) {
      take_requests(*dlt645_framer, bytes, connection);
    } else {
      take_requests(*rtu_framer, bytes, connection);
    }
  }
  close(*connection);
}

BusReply GatewayServer::transact(const Job& job, std::size_t& request_bytes) {
  const auto now = clock_.now();
  if (const auto* frame = std::get_if<dlt645::Frame>(&job.request)) {
    request_bytes = dlt645::encode_frame(*frame).size();
    return dlt645_bus_->transact(*frame, now);
  }
  const auto& rtu = std::get<modbus::RtuFrame>(job.request);
  request_bytes = rtu.size;
  const auto pdu = rtu.pdu();
  const bool read = pdu.size() == 5;
  const auto start = read ? static_cast<std::uint16_t>(pdu[1] << 8 | pdu[2]) : std::uint16_t{0};
  const auto count = read ? static_cast<std::uint16_t>(pdu[3] << 8 | pdu[4]) : std::uint16_t{0};
  const auto answer = modbus_bus_->transact(rtu.unit(), rtu.function(), start, count, now);
  return BusReply{encode_rtu_answer(answer), answer.delay, answer.drop_connection};
}

void GatewayServer::close(Connection& connection) {
  connection.open = false;
  boost::system::error_code ignored;
  if (connection.socket) connection.socket->close(ignored);
  if (connection.pty) connection.pty->close(ignored);
}

void GatewayServer::enqueue(Job job) {
  queue_.push_back(std::move(job));
  queue_signal_.cancel();
}

asio::awaitable<void> GatewayServer::bus_loop() {
  for (;;) {
    while (queue_.empty()) {
      queue_signal_.expires_at(asio::steady_timer::time_point::max());
      boost::system::error_code ec;
      co_await queue_signal_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    auto job = std::move(queue_.front());
    queue_.pop_front();
    if (!job.connection->open) continue;
    // The request occupies the line before the meter can answer.
    std::size_t request_bytes = 0;
    const auto reply = transact(job, request_bytes);
    auto hold = std::chrono::duration_cast<std::chrono::microseconds>(reply.delay) + wire_time(request_bytes, spec_->baud);
    if (spec_->baud > 0) hold += kMeterTurnaround + wire_time(reply.bytes.size(), spec_->baud);
    boost::system::error_code ec;
    if (hold.count() > 0) {
      wire_timer_.expires_after(hold);
      co_await wire_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (reply.drop_connection) {
      close(*job.connection);
      continue;
    }
    if (reply.bytes.empty() || !job.connection->open) continue;
    if (job.connection->socket) {
      co_await asio::async_write(*job.connection->socket, asio::buffer(reply.bytes),
                                 asio::redirect_error(asio::use_awaitable, ec));
    } else {
      co_await asio::async_write(*job.connection->pty, asio::buffer(reply.bytes),
                                 asio::redirect_error(asio::use_awaitable, ec));
    }
  }
}

}  // namespace ami::sim
