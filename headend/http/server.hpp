// HttpServer: HTTP/1.1 (Boost.Beast) on the daemon's io_context, one coroutine per connection,
// requests dispatched to a Router (headend/http/router.hpp).
//
// Limits (ServerOptions): request header and body size (431 / 413 then close), read/write
// timeouts (idle keep-alive connections close), a cap on open connections (503 then close).
// A malformed request gets 400 and the connection closes.
//
// Where handlers run: on `handler_executor` (e.g. a small asio::thread_pool), so SQLite queries
// behind the API never block the io_context that drives meter channels. The connection coroutine
// waits for the handler and resumes on the io_context. Pass the io_context's executor to run
// handlers inline (tests, cheap routers).
//
// Ownership/threads: the daemon owns the HttpServer and the Router; both must outlive the
// io_context's run() (coroutines hold pointers to them). start() and stop() are called from the
// thread that owns the io_context before run() / from within it; port() from any thread after
// start(). Errors: start() throws std::system_error naming the address when it cannot listen;
// per-connection failures are logged at debug level and end only that connection.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "headend/http/router.hpp"
#include "headend/runtime/asio.hpp"

namespace ami::http {

struct ServerOptions {
  std::string host = "127.0.0.1";  // loopback unless the operator opens it up
  std::uint16_t port = 8080;       // 0 picks a free port (tests); see HttpServer::port()
  std::uint32_t header_limit_bytes = 8 * 1024;
  std::uint64_t body_limit_bytes = 64 * 1024;
  std::chrono::milliseconds read_timeout{15000};
  std::chrono::milliseconds write_timeout{15000};
  std::size_t max_connections = 64;
};

class HttpServer {
 public:
  HttpServer(asio::io_context& io, asio::any_io_executor handler_executor, const Router& router,
             ServerOptions options);
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts the accept loop (a coroutine on `io`).
  void start();
  // Stops accepting; open connections end at their next read (or when the io_context stops).
  void stop();
  [[nodiscard]] std::uint16_t port() const { return bound_port_.load(); }

 private:
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve(asio::ip::tcp::socket socket, std::shared_ptr<std::size_t> open_connections);
  asio::awaitable<Response> dispatch(const Request& request);

  asio::io_context& io_;
  asio::any_io_executor handler_executor_;
  const Router& router_;
  ServerOptions options_;
  asio::ip::tcp::acceptor acceptor_;
  std::atomic<std::uint16_t> bound_port_{0};
  // io_context thread only. Shared with the connection coroutines: an io_context destroyed after
  // the server still destroys their frames, and those must not touch the server.
  std::shared_ptr<std::size_t> open_connections_ = std::make_shared<std::size_t>(0);
};

}  // namespace ami::http
