// A blocking client of the embedded feed server (docs/FEED.md): used by `headendctl feed tail`
// and by the tests. Every call takes a timeout; nothing waits forever.
//
// Threads: one thread at a time per FeedClient (it runs its own private io_context).
// Errors: connect(), subscribe(), send() and next() throw FeedClientError with a message naming
// the server and what went wrong (refused, closed, garbage, an Error from the server); next()
// returns std::nullopt only on timeout (bytes that arrived meanwhile are kept for the next call).
// A send that times out part-way closes the connection (part of a message may be on the wire).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "feed/v1/feed.pb.h"
#include "headend/runtime/asio.hpp"
#include "protocols/feed/delimited.hpp"

namespace ami::feed {

class FeedClientError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class FeedClient {
 public:
  FeedClient(std::string host, std::uint16_t port);

  void connect(std::chrono::milliseconds timeout);
  // Sends Subscribe and waits for Subscribed; an Error reply throws with the server's message.
  headend::feed::v1::Subscribed subscribe(const headend::feed::v1::Subscribe& subscribe,
                                          std::chrono::milliseconds timeout);
  void ack(std::uint64_t sequence, std::chrono::milliseconds timeout);
  void send(const headend::feed::v1::ClientMessage& message, std::chrono::milliseconds timeout);
  void send_raw(std::string_view bytes, std::chrono::milliseconds timeout);  // tests: garbage on purpose
  // The next server message, or std::nullopt when none arrived within `timeout`.
  std::optional<headend::feed::v1::ServerMessage> next(std::chrono::milliseconds timeout);
  void close();

  [[nodiscard]] std::string endpoint() const { return host_ + ":" + std::to_string(port_); }

 private:
  // Runs the private io_context until `done` or the timeout; on timeout cancels the socket's ops
  // and runs until their handlers ran. Returns whether the handler ran; a handler that ran with
  // operation_aborted timed out, one with any other result completed (maybe just after the deadline).
  bool run_until(const bool& done, std::chrono::milliseconds timeout);

  std::string host_;
  std::uint16_t port_;
  asio::io_context io_;
  asio::ip::tcp::socket socket_;
  DelimitedReader reader_;
};

}  // namespace ami::feed
