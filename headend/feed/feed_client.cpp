#include "headend/feed/feed_client.hpp"

#include <array>

#include <fmt/format.h>

namespace ami::feed {

namespace v1 = headend::feed::v1;

FeedClient::FeedClient(std::string host, std::uint16_t port) : host_(std::move(host)), port_(port), socket_(io_) {}

bool FeedClient::run_until(const bool& done, std::chrono::milliseconds timeout) {
  io_.restart();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    io_.run_one_until(deadline);
  }
  if (done) return true;
  // The operation may complete in the meantime: cancelling only aborts it if it is still pending,
  // so the handler's error code (operation_aborted or not) says whether it timed out.
  boost::system::error_code ignored;
  socket_.cancel(ignored);
  io_.restart();
  while (!done && io_.run_one() > 0) {
  }
  return done;
}

void FeedClient::connect(std::chrono::milliseconds timeout) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host_, ec);
  if (ec) throw FeedClientError(fmt::format("{}: '{}' is not an IP address", endpoint(), host_));
  bool done = false;
  socket_.async_connect(asio::ip::tcp::endpoint(address, port_), [&](const boost::system::error_code& e) {
    ec = e;
    done = true;
  });
  if (!run_until(done, timeout) || ec == asio::error::operation_aborted) {
    close();
    throw FeedClientError(fmt::format("{}: connect timed out", endpoint()));
  }
  if (ec) throw FeedClientError(fmt::format("{}: connect failed: {}", endpoint(), ec.message()));
}

void FeedClient::send_raw(std::string_view bytes, std::chrono::milliseconds timeout) {
  boost::system::error_code ec;
  bool done = false;
  asio::async_write(socket_, asio::buffer(bytes.data(), bytes.size()), [&](const boost::system::error_code& e, std::size_t) {
    ec = e;
    done = true;
  });
  // A write that completed after the deadline is a success. One cut short may have left part of a
  // message on the wire, so the connection is closed rather than reused.
  if (!run_until(done, timeout) || ec == asio::error::operation_aborted) {
    close();
    throw FeedClientError(fmt::format("{}: send timed out (connection closed)", endpoint()));
  }
  if (ec) throw FeedClientError(fmt::format("{}: send failed: {}", endpoint(), ec.message()));
}
void FeedClient::send(const v1::ClientMessage& message, std::chrono::milliseconds timeout) {
  std::string out;
  append_delimited(message.SerializeAsString(), out);
  send_raw(out, timeout);
}

void FeedClient::ack(std::uint64_t sequence, std::chrono::milliseconds timeout) {
  v1::ClientMessage message;
  message.mutable_ack()->set_sequence(sequence);
  send(message, timeout);
}

std::optional<v1::ServerMessage> FeedClient::next(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::array<char, 16384> buffer{};
  for (;;) {
    std::string_view payload;
    switch (reader_.next(payload)) {
      case DelimitedReader::Status::message: {
        v1::ServerMessage message;
        if (!message.ParseFromArray(payload.data(), static_cast<int>(payload.size())))
          throw FeedClientError(fmt::format("{}: received a message that is not a ServerMessage", endpoint()));
        return message;
      }
      case DelimitedReader::Status::too_large:
        throw FeedClientError(fmt::format("{}: server message exceeds the size limit", endpoint()));
      case DelimitedReader::Status::bad_prefix:
        throw FeedClientError(fmt::format("{}: malformed length prefix from the server", endpoint()));
      case DelimitedReader::Status::need_more: break;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return std::nullopt;
    boost::system::error_code ec;
    std::size_t n = 0;
    bool done = false;
    socket_.async_read_some(asio::buffer(buffer), [&](const boost::system::error_code& e, std::size_t size) {
      ec = e;
      n = size;
      done = true;
    });
    const bool ran = run_until(done, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
    // Bytes that arrived are kept even when the deadline passed meanwhile: dropping them would
    // desynchronise the length-delimited stream.
    if (ran && n > 0) reader_.feed(std::string_view(buffer.data(), n));
    if (!ran || ec == asio::error::operation_aborted) return std::nullopt;
    if (ec == asio::error::eof) throw FeedClientError(fmt::format("{}: server closed the connection", endpoint()));
    if (ec) throw FeedClientError(fmt::format("{}: receive failed: {}", endpoint(), ec.message()));
  }
}

v1::Subscribed FeedClient::subscribe(const v1::Subscribe& subscribe, std::chrono::milliseconds timeout) {
  v1::ClientMessage message;
  *message.mutable_subscribe() = subscribe;
  send(message, timeout);
  auto reply = next(timeout);
  if (!reply) throw FeedClientError(fmt::format("{}: no answer to Subscribe within {} ms", endpoint(), timeout.count()));
  if (reply->has_error())
    throw FeedClientError(fmt::format("{}: server refused the subscription: {} ({})", endpoint(), reply->error().message(),
                                      v1::Error::Code_Name(reply->error().code())));
  if (!reply->has_subscribed())
    throw FeedClientError(fmt::format("{}: expected Subscribed, got another message", endpoint()));
  return reply->subscribed();
}

void FeedClient::close() {
  boost::system::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  reader_ = DelimitedReader();
}

}  // namespace ami::feed
