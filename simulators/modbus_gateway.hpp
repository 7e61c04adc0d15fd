// A Modbus TCP gateway served with libmodbus: one listening socket standing for a TCP-to-RS-485
// gateway with up to 247 meters (unit ids) behind it.
//
// libmodbus calls block, so each gateway runs its own thread: a select() loop over the listener
// and its clients, one request at a time (which is the bus rule). Requests dispatch on the unit
// id (libmodbus does not filter by unit over TCP); registers come from modbus_model.hpp and go
// out through modbus_reply() from a mapping filled by hand (never the 3.1.6 float setters). An
// unknown or offline unit gets exception 0x0B from the gateway. Faults as in faults.hpp (applied
// by ModbusBus, bus.hpp); Modbus TCP has no checksum, so bad_checksum sends an RTU frame with a bad
// CRC, which a TCP master sees as garbage.
// Ownership/threads: start() spawns the thread; the destructor stops and joins it. The meter
// table is touched only by that thread (counters are atomics). Errors: start() throws
// std::runtime_error naming the port if it cannot listen. At most ~1000 open client sockets
// (select()'s FD_SETSIZE, a libmodbus limit).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "protocols/common/clock.hpp"
#include "simulators/bus.hpp"
#include "simulators/faults.hpp"

namespace ami::sim {

class ModbusGateway {
 public:
  ModbusGateway(const GatewaySpec& spec, const Clock& clock, FaultSet* faults);
  ModbusGateway(const ModbusGateway&) = delete;
  ModbusGateway& operator=(const ModbusGateway&) = delete;
  ~ModbusGateway();

  void start();
  [[nodiscard]] std::string where() const { return spec_->host + ":" + std::to_string(spec_->port); }
  [[nodiscard]] const MeterTable& table() const { return bus_.table(); }

 private:
  void run();
  // Serves one request read from client `fd`; false when the connection must close.
  bool serve(int fd, std::uint8_t* query, int length);

  const GatewaySpec* spec_;
  Clock clock_;
  FaultSet* faults_;
  ModbusBus bus_;
  struct Context;
  std::unique_ptr<Context> context_;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::uint64_t draws_ = 0;
};

}  // namespace ami::sim
