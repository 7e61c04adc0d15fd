#include "simulators/gateway_server.hpp"

#include <array>

#include "protocols/dlt645/framer.hpp"

namespace ami::sim {

using asio::ip::tcp;

GatewayServer::GatewayServer(asio::io_context& io, const GatewaySpec& spec, const Clock& clock)
    : io_(io), spec_(&spec), clock_(clock), bus_(spec), acceptor_(io), queue_signal_(io) {}

void GatewayServer::start() {
  const tcp::endpoint endpoint(asio::ip::make_address(spec_->host), spec_->port);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen();
  asio::co_spawn(io_, accept_loop(), asio::detached);
  asio::co_spawn(io_, bus_loop(), asio::detached);
}

asio::awaitable<void> GatewayServer::accept_loop() {
  for (;;) {
    boost::system::error_code ec;
    auto socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) continue;  // e.g. the client reset before we accepted: keep listening
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(io_, read_loop(std::make_shared<Connection>(std::move(socket))), asio::detached);
  }
}

asio::awaitable<void> GatewayServer::read_loop(std::shared_ptr<Connection> connection) {
  auto framer = std::make_unique<dlt645::Framer>();
  std::array<std::uint8_t, 512> buffer{};
  for (;;) {
    boost::system::error_code ec;
    const auto n = co_await connection->socket.async_read_some(asio::buffer(buffer),
                                                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    std::span<const std::uint8_t> rest(buffer.data(), n);
    while (!rest.empty()) {
      rest = rest.subspan(framer->feed(rest));
      for (;;) {
        dlt645::Frame frame;
        const auto event = framer->next(frame);
        if (event.kind == dlt645::Framer::EventKind::need_more) break;
        if (event.kind == dlt645::Framer::EventKind::frame) enqueue(Job{connection, std::move(frame)});
      }
    }
  }
  connection->open = false;
  boost::system::error_code ignored;
  connection->socket.close(ignored);
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
    const auto reply = bus_.transact(job.request, clock_.now());
    if (reply.empty()) continue;
    boost::system::error_code ec;
    co_await asio::async_write(job.connection->socket, asio::buffer(reply),
                               asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace ami::sim
