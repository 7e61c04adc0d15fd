#include "simulators/modbus_gateway.hpp"

#include <modbus.h>
#include <netinet/in.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "simulators/gateway_server.hpp"

namespace ami::sim {

struct ModbusGateway::Context {
  modbus_t* ctx = nullptr;
};

ModbusGateway::ModbusGateway(const GatewaySpec& spec, const Clock& clock, FaultSet* faults)
    : spec_(&spec), clock_(clock), faults_(faults), bus_(spec, faults, true), context_(std::make_unique<Context>()) {
  bus_.table().set_drift_reference(clock.now());
}

ModbusGateway::~ModbusGateway() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (context_->ctx != nullptr) modbus_free(context_->ctx);
}

void ModbusGateway::start() {
  context_->ctx = modbus_new_tcp(spec_->host.c_str(), spec_->port);
  if (context_->ctx == nullptr) throw std::runtime_error("modbus_new_tcp failed for " + where());
  listen_fd_ = modbus_tcp_listen(context_->ctx, 64);
  if (listen_fd_ < 0) throw std::runtime_error("cannot listen on " + where() + ": " + modbus_strerror(errno));
  thread_ = std::thread([this] { run(); });
}

void ModbusGateway::run() {
  std::vector<int> clients;
  std::vector<std::uint8_t> query(MODBUS_TCP_MAX_ADU_LENGTH);
  while (!stop_) {
    fd_set readable;
    FD_ZERO(&readable);
    FD_SET(listen_fd_, &readable);
    int highest = listen_fd_;
    for (const int fd : clients) {
      FD_SET(fd, &readable);
      highest = std::max(highest, fd);
    }
    timeval tick{0, 100'000};  // wake up to notice stop_
    if (::select(highest + 1, &readable, nullptr, nullptr, &tick) <= 0) continue;
    if (FD_ISSET(listen_fd_, &readable)) {
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd >= 0) {
        auto& counters = bus_.table().counters();
        bump(counters.connections);
        if (fd >= FD_SETSIZE - 1 ||
            (faults_ != nullptr && faults_->decide({FaultKind::refuse_connections}, spec_->id, {}, clock_.now(), draws_++))) {
          bump(counters.refused);
          if (fd < FD_SETSIZE - 1) bump(counters.faults);
          ::close(fd);
        } else {
          clients.push_back(fd);
        }
      }
    }
    for (auto it = clients.begin(); it != clients.end();) {
      bool keep = true;
      if (FD_ISSET(*it, &readable)) {
        modbus_set_socket(context_->ctx, *it);
        const int length = modbus_receive(context_->ctx, query.data());
        keep = length > 0 && serve(*it, query.data(), length);
      }
      if (keep) {
        ++it;
      } else {
        ::close(*it);
        it = clients.erase(it);
      }
    }
  }
  for (const int fd : clients) ::close(fd);
}

bool ModbusGateway::serve(int fd, std::uint8_t* query, int length) {
  const int header = modbus_get_header_length(context_->ctx);  // 7 on TCP: MBAP, unit id last
  const std::uint8_t unit = query[header - 1];
  const std::uint8_t function = query[header];
  const bool has_range = length >= header + 5;
  const auto start = has_range ? static_cast<std::uint16_t>(query[header + 1] << 8 | query[header + 2]) : std::uint16_t{0};
  const auto count = has_range ? static_cast<std::uint16_t>(query[header + 3] << 8 | query[header + 4]) : std::uint16_t{0};
  const auto answer = bus_.transact(unit, function, start, count, clock_.now());
  if (answer.drop_connection) return false;
  if (answer.kind == ModbusAnswer::Kind::silence) return true;
  // Hold the bus for the line time of an RTU request (8 bytes) and reply, plus the meter's turnaround.
  auto hold = std::chrono::duration_cast<std::chrono::microseconds>(answer.delay);
  if (spec_->baud > 0) hold += wire_time(8 + 5 + 2 * std::size_t{count}, spec_->baud) + kMeterTurnaround;
  if (hold.count() > 0) std::this_thread::sleep_for(hold);
  if (answer.kind == ModbusAnswer::Kind::garbage || answer.corrupt_checksum) {
    const auto bytes = answer.kind == ModbusAnswer::Kind::garbage ? answer.garbage : encode_rtu_answer(answer);
    return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) >= 0;
  }
  query[header - 1] = answer.unit;  // libmodbus echoes the request's unit id
  if (answer.kind == ModbusAnswer::Kind::exception) {
    modbus_reply_exception(context_->ctx, query, answer.exception);
    return true;
  }
  modbus_mapping_t* mapping =
      function == 0x03 ? modbus_mapping_new_start_address(0, 0, 0, 0, start, count, 0, 0)
                       : modbus_mapping_new_start_address(0, 0, 0, 0, 0, 0, start, count);
  if (mapping == nullptr) {
    modbus_reply_exception(context_->ctx, query, 0x04);  // server device failure
    return true;
  }
  std::uint16_t* table = function == 0x03 ? mapping->tab_registers : mapping->tab_input_registers;
  std::copy(answer.registers.begin(), answer.registers.end(), table);
  modbus_reply(context_->ctx, query, length, mapping);
  modbus_mapping_free(mapping);
  return true;
}

}  // namespace ami::sim
