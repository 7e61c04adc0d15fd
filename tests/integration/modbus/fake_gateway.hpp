// A scripted Modbus TCP gateway for fault tests (test only; the value tests use pymodbus instead).
// Serves registers per unit id from a map, and injects faults per unit:
//   silent_first_n    the first n requests to the unit get their reply only 2.5 s later
//                     (after the client's timeout: the late-reply trap of libmodbus over TCP)
//   exception         every request gets this exception code (e.g. 0x0B)
//   refused_register  any request whose range covers it gets exception 0x02
// Records the largest number of requests it ever had in progress at once (across connections),
// which must stay 1: the head-end sends one transaction at a time per gateway.
// One accept thread, one thread per connection; stop() (or the destructor) ends them.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace ami::test {

struct FakeUnit {
  std::map<std::uint16_t, std::uint16_t> input_registers;
  int silent_first_n = 0;
  std::uint8_t exception = 0;
  int refused_register = -1;
  int requests = 0;
};

class FakeGateway {
 public:
  explicit FakeGateway(std::map<std::uint8_t, FakeUnit> units, std::chrono::milliseconds service_time = {})
      : units_(std::move(units)), service_time_(service_time) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listener_, 16);
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~FakeGateway() { stop(); }
  FakeGateway(const FakeGateway&) = delete;
  FakeGateway& operator=(const FakeGateway&) = delete;

  void stop() {
    if (stopped_.exchange(true)) return;
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    acceptor_.join();
    std::vector<std::thread> connections;
    {
      std::lock_guard lock(mutex_);
      connections.swap(connections_);
    }
    for (auto& t : connections) t.join();
  }

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] int max_in_progress() const { return max_in_progress_.load(); }
  [[nodiscard]] int connections_accepted() const { return accepted_.load(); }
  int requests(std::uint8_t unit) {
    std::lock_guard lock(mutex_);
    return units_[unit].requests;
  }

 private:
  void accept_loop() {
    while (!stopped_) {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) continue;
      ++accepted_;
      std::lock_guard lock(mutex_);
      connections_.emplace_back([this, fd] { serve(fd); });
    }
  }

  bool read_exact(int fd, std::uint8_t* out, std::size_t n) {
    std::size_t got = 0;
    while (got < n) {
      pollfd p{fd, POLLIN, 0};
      if (stopped_) return false;
      if (::poll(&p, 1, 50) <= 0) continue;
      const auto r = ::recv(fd, out + got, n - got, 0);
      if (r <= 0) return false;
      got += static_cast<std::size_t>(r);
    }
    return true;
  }

  void serve(int fd) {
    std::uint8_t header[7];
    while (read_exact(fd, header, 7)) {
      const std::size_t length = static_cast<std::size_t>(header[4] << 8 | header[5]);
      if (length < 2 || length > 254) break;
      std::vector<std::uint8_t> pdu(length - 1);
      if (!read_exact(fd, pdu.data(), pdu.size())) break;
      const int now = ++in_progress_;
      int seen = max_in_progress_.load();
      while (now > seen && !max_in_progress_.compare_exchange_weak(seen, now)) {
      }
      const auto [reply, delay] = answer(header[6], pdu);
      if (service_time_.count() > 0) std::this_thread::sleep_for(service_time_);
      --in_progress_;
      if (delay.count() > 0) std::this_thread::sleep_for(delay);
      std::vector<std::uint8_t> out(header, header + 4);
      out.push_back(static_cast<std::uint8_t>((reply.size() + 1) >> 8));
      out.push_back(static_cast<std::uint8_t>(reply.size() + 1));
      out.push_back(header[6]);
      out.insert(out.end(), reply.begin(), reply.end());
      ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
    }
    ::close(fd);
  }

  std::pair<std::vector<std::uint8_t>, std::chrono::milliseconds> answer(std::uint8_t unit_id,
                                                                          const std::vector<std::uint8_t>& pdu) {
    std::lock_guard lock(mutex_);
    const std::uint8_t fc = pdu[0];
    auto exception = [fc](std::uint8_t code) {
      return std::vector<std::uint8_t>{static_cast<std::uint8_t>(fc | 0x80), code};
    };
    auto it = units_.find(unit_id);
    if (it == units_.end()) return {exception(0x0B), {}};
    FakeUnit& unit = it->second;
    ++unit.requests;
    if (pdu.size() != 5 || (fc != 0x03 && fc != 0x04)) return {exception(0x01), {}};
    const std::uint16_t start = static_cast<std::uint16_t>(pdu[1] << 8 | pdu[2]);
    const std::uint16_t count = static_cast<std::uint16_t>(pdu[3] << 8 | pdu[4]);
    if (unit.exception != 0) return {exception(unit.exception), {}};
    if (unit.refused_register >= start && unit.refused_register < start + count) return {exception(0x02), {}};
    std::vector<std::uint8_t> reply{fc, static_cast<std::uint8_t>(count * 2)};
    for (std::uint16_t i = 0; i < count; ++i) {
      const auto reg = unit.input_registers.find(static_cast<std::uint16_t>(start + i));
      const std::uint16_t v = reg == unit.input_registers.end() ? 0 : reg->second;
      reply.push_back(static_cast<std::uint8_t>(v >> 8));
      reply.push_back(static_cast<std::uint8_t>(v));
    }
    if (unit.silent_first_n > 0) {
      --unit.silent_first_n;
      return {reply, std::chrono::milliseconds{2500}};
    }
    return {reply, {}};
  }

  std::map<std::uint8_t, FakeUnit> units_;
  std::chrono::milliseconds service_time_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopped_{false};
  std::atomic<int> in_progress_{0};
  std::atomic<int> max_in_progress_{0};
  std::atomic<int> accepted_{0};
  std::mutex mutex_;
  std::thread acceptor_;
  std::vector<std::thread> connections_;
};

}  // namespace ami::test
