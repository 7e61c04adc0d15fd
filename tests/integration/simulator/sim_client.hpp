// Test-only helpers for talking to a running meter-sim: a blocking DL/T 645 client over TCP or a
// serial device (pty), and one-line requests to the simulator's admin endpoint.
#pragma once

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "protocols/dlt645/framer.hpp"

namespace ami::test {

// The simulated instant both simulator test files start their clocks at.
inline constexpr const char* kSimStart = "2026-01-05T00:00:00Z";

// a followed by b: builds command lines from parts.
inline std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

inline int connect_tcp(unsigned short port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

inline int open_serial(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_NOCTTY);
  REQUIRE(fd >= 0);
  termios tio{};
  ::tcgetattr(fd, &tio);
  ::cfmakeraw(&tio);
  ::tcsetattr(fd, TCSANOW, &tio);
  return fd;
}

// A blocking DL/T 645 master on one file descriptor (test only).
class Client {
 public:
  explicit Client(unsigned short port) : fd_(connect_tcp(port)) {}
  explicit Client(const std::string& serial_path) : fd_(open_serial(serial_path)) {}
  ~Client() { ::close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void send(const dlt645::Frame& frame) { send_bytes(dlt645::encode_frame(frame)); }
  void send_bytes(const std::vector<std::uint8_t>& bytes) {
    REQUIRE(::write(fd_, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  }
  // The next frame, or nullopt when nothing complete arrives within `timeout` (or the peer closed).
  std::optional<dlt645::Frame> receive(std::chrono::milliseconds timeout = std::chrono::milliseconds{2000}) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      dlt645::Frame frame;
      const auto event = framer_.next(frame);
      if (event.kind == dlt645::Framer::EventKind::frame) return frame;
      if (event.kind != dlt645::Framer::EventKind::need_more) {
        if (event.error != dlt645::FrameError::none) discard_errors_.push_back(event.error);
        continue;
      }
      if (!wait_readable(deadline)) return std::nullopt;
      std::uint8_t buf[512];
      const auto n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) {
        closed_ = true;
        return std::nullopt;
      }
      received_bytes_ += static_cast<std::size_t>(n);
      REQUIRE(framer_.feed(std::span<const std::uint8_t>(buf, static_cast<std::size_t>(n))) ==
              static_cast<std::size_t>(n));
    }
  }
  [[nodiscard]] bool closed() const { return closed_; }
  [[nodiscard]] std::size_t received_bytes() const { return received_bytes_; }
  // Whether the framer dropped a broken frame for this reason since the client started.
  [[nodiscard]] bool saw_discard(dlt645::FrameError e) const {
    return std::find(discard_errors_.begin(), discard_errors_.end(), e) != discard_errors_.end();
  }

 private:
  bool wait_readable(std::chrono::steady_clock::time_point deadline) const {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(left)) > 0;
  }

  int fd_;
  dlt645::Framer framer_;
  bool closed_ = false;
  std::size_t received_bytes_ = 0;
  std::vector<dlt645::FrameError> discard_errors_;
};

inline dlt645::Address address(const std::string& digits) {
  std::string error;
  return *dlt645::Address::parse(digits, error);
}

}  // namespace ami::test
