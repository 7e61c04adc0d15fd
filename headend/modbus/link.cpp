#include "headend/modbus/link.hpp"

#include <array>
#include <cerrno>
#include <memory>
#include <optional>
#include <system_error>
#include <thread>
#include <vector>

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <modbus/modbus.h>

#include "headend/runtime/asio.hpp"
#include "protocols/modbus/pdu.hpp"
#include "protocols/modbus/rtu.hpp"

namespace ami::modbus {
namespace {

// Sleeps for options.unit_switch_pause when `unit` differs from the previous request's.
class UnitSwitchPacer {
 public:
  explicit UnitSwitchPacer(std::chrono::milliseconds pause) : pause_(pause) {}
  void before(std::uint8_t unit) {
    if (pause_.count() > 0 && last_unit_ != 0 && unit != last_unit_) std::this_thread::sleep_for(pause_);
    last_unit_ = unit;
  }

 private:
  std::chrono::milliseconds pause_;
  std::uint8_t last_unit_ = 0;
};

void set_timeout(modbus_t* ctx, std::chrono::milliseconds timeout) {
  const auto ms = static_cast<std::uint32_t>(timeout.count());
  modbus_set_response_timeout(ctx, ms / 1000, (ms % 1000) * 1000);
}

std::string fd_setsize_refusal() {
  return "every descriptor below FD_SETSIZE (" + std::to_string(FD_SETSIZE) +
         ") is in use and libmodbus select()s on its descriptor: refused rather than overflowing fd_set";
}

// A connected, non-blocking TCP socket (as libmodbus makes its own) whose descriptor is below
// FD_SETSIZE, or -1 and `error`. The connect is bounded by `timeout` with poll(), which has no
// descriptor limit.
int connect_tcp_below_fd_setsize(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout,
                                 std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0) {
    error = "resolve " + host + ": " + ::gai_strerror(rc);
    return -1;
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, &::freeaddrinfo);
  error = "no address for " + host;
  for (const addrinfo* a = addresses.get(); a != nullptr; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      error = "socket: " + std::system_category().message(errno);
      continue;
    }
    if (fd >= FD_SETSIZE) {  // the kernel hands out the lowest free descriptor: none is left below
      ::close(fd);
      error = fd_setsize_refusal();
      return -1;
    }
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
      int so_error = 0;
      socklen_t len = sizeof so_error;
      if (rc == 0) {
        errno = ETIMEDOUT;
        rc = -1;
      } else if (rc > 0 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) == 0) {
        errno = so_error;
        rc = so_error == 0 ? 0 : -1;
      } else {
        rc = -1;
      }
    }
    if (rc == 0) {
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      return fd;
    }
    error = std::system_category().message(errno);
    ::close(fd);
  }
  return -1;
}

// libmodbus (TCP and serial RTU): every call blocks on this worker thread.
class LibmodbusLink final : public Link {
 public:
  LibmodbusLink(ChannelSpec channel, LinkOptions options)
      : channel_(std::move(channel)), options_(options), pacer_(options.unit_switch_pause) {}
  ~LibmodbusLink() override { close(); }
  LibmodbusLink(const LibmodbusLink&) = delete;
  LibmodbusLink& operator=(const LibmodbusLink&) = delete;

  TransactionResult read_registers(std::uint8_t unit, FunctionCode function, std::uint16_t start, std::uint16_t count,
                                   std::span<std::uint16_t> out) override {
    if (count == 0 || count > kMaxReadRegisters || out.size() < count)
      return {TransactionStatus::bad_reply, 0, "read of " + std::to_string(count) + " registers refused"};
    if (ctx_ == nullptr) {
      if (auto failed = connect()) return *failed;
    }
    pacer_.before(unit);
    modbus_set_slave(ctx_, unit);
    const int n = function == FunctionCode::read_input_registers
                      ? modbus_read_input_registers(ctx_, start, count, out.data())
                      : modbus_read_registers(ctx_, start, count, out.data());
    if (n == count) return {TransactionStatus::ok, 0, {}};
    const int err = errno;
    if (n >= 0) {
      close();
      return {TransactionStatus::bad_reply, 0, "short reply: " + std::to_string(n) + " registers"};
    }
    if (err > MODBUS_ENOBASE && err <= EMBXGTAR) {
      const auto code = static_cast<std::uint8_t>(err - MODBUS_ENOBASE);
      return {TransactionStatus::exception, code, std::string(exception_name(code))};
    }
    // Anything else may leave the stream out of step: start over on a fresh connection.
    close();
    if (err == ETIMEDOUT) return {TransactionStatus::timeout, 0, "no reply within the response timeout"};
    if (err >= EMBBADCRC && err <= EMBBADSLAVE) return {TransactionStatus::bad_reply, 0, modbus_strerror(err)};
    return {TransactionStatus::link_error, 0, modbus_strerror(err)};
  }

  void close() override {
    if (ctx_ == nullptr) return;
    modbus_close(ctx_);
    modbus_free(ctx_);
    ctx_ = nullptr;
  }
  [[nodiscard]] bool connected() const override { return ctx_ != nullptr; }
  [[nodiscard]] std::uint64_t connects() const override { return connects_; }

 private:
  std::optional<TransactionResult> connect() {
    int tcp_fd = -1;
    if (channel_.transport == Transport::tcp) {
      // Our own socket: libmodbus's modbus_connect() would FD_SET a descriptor >= FD_SETSIZE
      // (glibc aborts the process) before we could look at it.
      std::string why;
      tcp_fd = connect_tcp_below_fd_setsize(channel_.host, channel_.port, options_.connect_timeout, why);
      if (tcp_fd < 0) return TransactionResult{TransactionStatus::link_error, 0, "connect to " + channel_.key() + ": " + why};
      ctx_ = modbus_new_tcp_pi(channel_.host.c_str(), std::to_string(channel_.port).c_str());
    } else {
      ctx_ = modbus_new_rtu(channel_.device.c_str(), channel_.baud, channel_.parity, channel_.data_bits,
                            channel_.stop_bits);
    }
    if (ctx_ == nullptr) {
      if (tcp_fd >= 0) ::close(tcp_fd);
      return TransactionResult{TransactionStatus::link_error, 0, "cannot create libmodbus context"};
    }
    modbus_set_error_recovery(ctx_, MODBUS_ERROR_RECOVERY_NONE);
    if (tcp_fd >= 0) {
      modbus_set_socket(ctx_, tcp_fd);  // modbus_close() closes it
    } else {
      // Serial: libmodbus open()s the device without select(), so the descriptor is checked after.
      if (modbus_connect(ctx_) != 0) {
        const std::string why = modbus_strerror(errno);
        modbus_free(ctx_);
        ctx_ = nullptr;
        return TransactionResult{TransactionStatus::link_error, 0, "connect to " + channel_.key() + ": " + why};
      }
      if (modbus_get_socket(ctx_) >= FD_SETSIZE) {
        close();
        return TransactionResult{TransactionStatus::link_error, 0, "open " + channel_.device + ": " + fd_setsize_refusal()};
      }
    }
    set_timeout(ctx_, options_.response_timeout);
    ++connects_;
    return std::nullopt;
  }

  ChannelSpec channel_;
  LinkOptions options_;
  UnitSwitchPacer pacer_;
  modbus_t* ctx_ = nullptr;
  std::uint64_t connects_ = 0;
};

// RTU frames over TCP with our framer. A private io_context runs only inside read_registers(), on
// the calling worker thread, with a deadline; on expiry the socket is closed.
class RtuOverTcpLink final : public Link {
 public:
  RtuOverTcpLink(ChannelSpec channel, LinkOptions options)
      : channel_(std::move(channel)), options_(options), pacer_(options.unit_switch_pause), socket_(io_) {}

  TransactionResult read_registers(std::uint8_t unit, FunctionCode function, std::uint16_t start, std::uint16_t count,
                                   std::span<std::uint16_t> out) override {
    if (count == 0 || count > kMaxReadRegisters || out.size() < count)
      return {TransactionStatus::bad_reply, 0, "read of " + std::to_string(count) + " registers refused"};
    if (!socket_.is_open()) {
      if (auto failed = connect()) return *failed;
    }
    pacer_.before(unit);
    request_.clear();
    append_rtu_read_request(unit, function, start, count, request_);
    framer_.reset();
    framer_.expect(unit, static_cast<std::uint8_t>(function));
    const auto deadline = std::chrono::steady_clock::now() + options_.response_timeout;

    auto ec = run_until(deadline, [&](auto done) {
      asio::async_write(socket_, asio::buffer(request_), [done](boost::system::error_code e, std::size_t) { done(e); });
    });
    if (ec) return failure(ec, "write");

    std::size_t bad_crc = 0;
    while (true) {
      const auto event = framer_.next(frame_);
      if (event.kind == RtuFramer::EventKind::frame) break;
      if (event.kind == RtuFramer::EventKind::discarded) {
        bad_crc += event.bad_crc ? 1 : 0;
        continue;
      }
      std::size_t received = 0;
      ec = run_until(deadline, [&](auto done) {
        socket_.async_read_some(asio::buffer(buffer_), [done, &received](boost::system::error_code e, std::size_t n) {
          received = n;
          done(e);
        });
      });
      if (ec) {
        if (ec == asio::error::timed_out && bad_crc > 0) {
          close();
          return {TransactionStatus::bad_reply, 0, "only frames with a bad CRC arrived"};
        }
        return failure(ec, "read");
      }
      framer_.feed(std::span<const std::uint8_t>(buffer_.data(), received));
    }
    const auto response = parse_read_response_pdu(frame_.pdu(), function, count, out);
    switch (response.status) {
      case ResponseStatus::ok: return {TransactionStatus::ok, 0, {}};
      case ResponseStatus::exception:
        return {TransactionStatus::exception, response.exception_code,
                std::string(exception_name(response.exception_code))};
      default:
        close();
        return {TransactionStatus::bad_reply, 0, std::string(to_string(response.status))};
    }
  }

  void close() override {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }
  [[nodiscard]] bool connected() const override { return socket_.is_open(); }
  [[nodiscard]] std::uint64_t connects() const override { return connects_; }

 private:
  // Starts one async operation (start(done)), runs the private io_context until done() is called
  // or the deadline passes; on expiry closes the socket and returns timed_out.
  template <typename Start>
  boost::system::error_code run_until(std::chrono::steady_clock::time_point deadline, Start start) {
    std::optional<boost::system::error_code> result;
    start([&result](boost::system::error_code ec) { result = ec; });
    io_.restart();
    while (!result && io_.run_one_until(deadline) > 0) {
    }
    if (result) return *result;
    close();
    io_.restart();
    io_.run();  // lets the aborted operation complete before `result` goes out of scope
    return asio::error::timed_out;
  }

  TransactionResult failure(boost::system::error_code ec, const char* what) {
    close();
    if (ec == asio::error::timed_out) return {TransactionStatus::timeout, 0, "no reply within the response timeout"};
    return {TransactionStatus::link_error, 0, std::string(what) + ": " + ec.message()};
  }

  std::optional<TransactionResult> connect() {
    boost::system::error_code ec;
    asio::ip::tcp::resolver resolver(io_);
    const auto endpoints = resolver.resolve(channel_.host, std::to_string(channel_.port), ec);
    if (ec) return TransactionResult{TransactionStatus::link_error, 0, "resolve " + channel_.host + ": " + ec.message()};
    const auto deadline = std::chrono::steady_clock::now() + options_.connect_timeout;
    ec = run_until(deadline, [&](auto done) {
      asio::async_connect(socket_, endpoints, [done](boost::system::error_code e, const auto&) { done(e); });
    });
    if (ec) {
      close();
      return TransactionResult{TransactionStatus::link_error, 0, "connect to " + channel_.key() + ": " + ec.message()};
    }
    socket_.set_option(asio::ip::tcp::no_delay(true), ec);
    ++connects_;
    return std::nullopt;
  }

  ChannelSpec channel_;
  LinkOptions options_;
  UnitSwitchPacer pacer_;
  asio::io_context io_{1};
  asio::ip::tcp::socket socket_;
  RtuFramer framer_;
  RtuFrame frame_;
  std::vector<std::uint8_t> request_;
  std::array<std::uint8_t, 512> buffer_{};
  std::uint64_t connects_ = 0;
};

}  // namespace

std::string_view to_string(TransactionStatus s) {
  switch (s) {
    case TransactionStatus::ok: return "ok";
    case TransactionStatus::exception: return "exception";
    case TransactionStatus::timeout: return "timeout";
    case TransactionStatus::link_error: return "link error";
    case TransactionStatus::bad_reply: return "bad reply";
  }
  return "?";
}

std::unique_ptr<Link> make_link(const ChannelSpec& channel, const LinkOptions& options) {
  if (channel.transport == Transport::rtu_over_tcp) return std::make_unique<RtuOverTcpLink>(channel, options);
  return std::make_unique<LibmodbusLink>(channel, options);
}

}  // namespace ami::modbus
