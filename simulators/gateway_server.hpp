// A serial gateway: a TCP listener (or a pseudo-terminal) standing for a serial server with one
// RS-485 bus behind it, carrying DL/T 645 frames or Modbus RTU frames (modbus-rtu on a pty,
// modbus-rtu-over-tcp on TCP; Modbus TCP gateways are modbus_gateway.hpp).
//
// Any number of client connections may be open; every request frame from any of them joins one
// FIFO queue and the bus serves one transaction at a time (the reply goes back on the connection
// that asked). With a baud rate set, each transaction holds the bus for the time its request and
// reply take on an 8E1 line (11 bits per byte) plus the meter's turnaround, so 2400 bps gives
// field-like transaction times; baud 0 means zero latency. The server only moves bytes and
// applies delays/drops; who answers and what is the bus's business (bus.hpp).
// Ownership/threads: the server, its connections and its bus live on one io_context thread; call
// everything from that thread. Errors: start() throws boost::system::system_error (or
// std::runtime_error for a pty) if it cannot listen; connection errors just close that connection.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <variant>
#include <string>

#include "headend/runtime/asio.hpp"
#include "protocols/common/clock.hpp"
#include "protocols/dlt645/frame.hpp"
#include "protocols/modbus/rtu.hpp"
#include "simulators/bus.hpp"
#include "simulators/fleet.hpp"

namespace ami::sim {

// Real time an 8E1 line at `baud` needs for `bytes` (zero when baud is 0).
std::chrono::microseconds wire_time(std::size_t bytes, int baud);
// The meter's think time between request and reply on a timed line.
inline constexpr std::chrono::milliseconds kMeterTurnaround{40};

class GatewayServer {
 public:
  GatewayServer(asio::io_context& io, const GatewaySpec& spec, const Clock& clock, FaultSet* faults);
  GatewayServer(const GatewayServer&) = delete;
  GatewayServer& operator=(const GatewayServer&) = delete;
  ~GatewayServer();

  // Binds spec.host:spec.port (or opens the pty and links it at spec.pty_link) and starts serving.
  void start();
  // What start() printed about where it serves: "127.0.0.1:9600" or the pty device path.
  [[nodiscard]] std::string where() const;
  [[nodiscard]] const GatewaySpec& spec() const { return *spec_; }
  [[nodiscard]] const MeterTable& table() const {
    return dlt645_bus_ ? dlt645_bus_->table() : modbus_bus_->table();
  }

 private:
  struct Connection {
    std::optional<asio::ip::tcp::socket> socket;
    std::optional<asio::posix::stream_descriptor> pty;
    bool open = true;
  };
  struct Job {
    std::shared_ptr<Connection> connection;
    std::variant<dlt645::Frame, modbus::RtuFrame> request;
  };

  void start_pty();
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> read_loop(std::shared_ptr<Connection> connection);
  // Takes the complete request frames out of `bytes` (per-connection framer state).
  template <typename Framer>
  void take_requests(Framer& framer, std::span<const std::uint8_t> bytes, const std::shared_ptr<Connection>& connection);
  // The bytes, hold time and drop decision of one transaction.
  BusReply transact(const Job& job, std::size_t& request_bytes);
  asio::awaitable<void> bus_loop();
  void enqueue(Job job);
  static void close(Connection& connection);

  asio::io_context& io_;
  const GatewaySpec* spec_;
  Clock clock_;
  FaultSet* faults_;
  std::unique_ptr<Dlt645Bus> dlt645_bus_;  // exactly one of the two
  std::unique_ptr<ModbusBus> modbus_bus_;
  asio::ip::tcp::acceptor acceptor_;
  std::deque<Job> queue_;
  asio::steady_timer queue_signal_;  // cancelled to wake bus_loop when a job arrives
  asio::steady_timer wire_timer_;
  int pty_slave_fd_ = -1;  // kept open so the pty survives clients closing it
  std::string pty_path_;
  std::uint64_t connection_draws_ = 0;
};

}  // namespace ami::sim
