// A gateway: a TCP listener standing for a serial server with one RS-485 bus behind it.
//
// Any number of client connections may be open; every request frame from any of them joins one
// FIFO queue and the bus serves one transaction at a time (a reply goes back on the connection
// that asked). The server only moves bytes: who answers and what is the bus's business (bus.hpp).
// Ownership/threads: the server, its connections and its bus live on one io_context thread; all
// members must be called from that thread. Errors: start() throws boost::system::system_error if
// the port cannot be bound; connection errors just close that connection.
#pragma once

#include <deque>
#include <memory>

#include "headend/runtime/asio.hpp"
#include "protocols/common/clock.hpp"
#include "protocols/dlt645/frame.hpp"
#include "simulators/bus.hpp"
#include "simulators/fleet.hpp"

namespace ami::sim {

class GatewayServer {
 public:
  GatewayServer(asio::io_context& io, const GatewaySpec& spec, const Clock& clock);
  GatewayServer(const GatewayServer&) = delete;
  GatewayServer& operator=(const GatewayServer&) = delete;

  // Binds spec.host:spec.port and starts accepting and serving.
  void start();
  [[nodiscard]] const GatewaySpec& spec() const { return *spec_; }
  [[nodiscard]] const Dlt645Bus& bus() const { return bus_; }

 private:
  struct Connection {
    explicit Connection(asio::ip::tcp::socket s) : socket(std::move(s)) {}
    asio::ip::tcp::socket socket;
    bool open = true;
  };
  struct Job {
    std::shared_ptr<Connection> connection;
    dlt645::Frame request;
  };

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> read_loop(std::shared_ptr<Connection> connection);
  asio::awaitable<void> bus_loop();
  void enqueue(Job job);

  asio::io_context& io_;
  const GatewaySpec* spec_;
  Clock clock_;
  Dlt645Bus bus_;
  asio::ip::tcp::acceptor acceptor_;
  std::deque<Job> queue_;
  asio::steady_timer queue_signal_;  // cancelled to wake bus_loop when a job arrives
};

}  // namespace ami::sim
