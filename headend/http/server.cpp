#include "headend/http/server.hpp"

#include <system_error>

#include <boost/beast/core.hpp>
#include <spdlog/spdlog.h>

namespace ami::http {

namespace beast = boost::beast;
using asio::ip::tcp;
using beast_http::status;

HttpServer::HttpServer(asio::io_context& io, asio::any_io_executor handler_executor, const Router& router,
                       ServerOptions options)
    : io_(io),
      handler_executor_(std::move(handler_executor)),
      router_(router),
      options_(std::move(options)),
      acceptor_(io) {}

void HttpServer::start() {
  const auto where = options_.host + ":" + std::to_string(options_.port);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(options_.host, ec);
  if (ec) throw std::system_error(EINVAL, std::generic_category(), "http listen address '" + where + "' is not an IP address");
  const tcp::endpoint endpoint{address, options_.port};
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::system_error(ec.value(), std::system_category(), "http server cannot listen on " + where);
  bound_port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(io_, accept_loop(), asio::detached);
}

void HttpServer::stop() {
  asio::post(io_, [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  });
}

asio::awaitable<void> HttpServer::accept_loop() {
  for (;;) {
    boost::system::error_code ec;
    auto socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) {
      spdlog::warn("http: accept failed: {}", ec.message());
      continue;
    }
    asio::co_spawn(io_, serve(std::move(socket), open_connections_), asio::detached);
  }
}

asio::awaitable<Response> HttpServer::dispatch(const Request& request) {
  if (handler_executor_ == io_.get_executor()) co_return router_.handle(request);
  // Run the handler on the worker executor; co_spawn's completion resumes us on the io_context.
  co_return co_await asio::co_spawn(
      handler_executor_, [this, &request]() -> asio::awaitable<Response> { co_return router_.handle(request); },
      asio::use_awaitable);
}

asio::awaitable<void> HttpServer::serve(tcp::socket socket, std::shared_ptr<std::size_t> open_connections) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  ++*open_connections;
  struct Release {
    std::shared_ptr<std::size_t> count;
    ~Release() { --*count; }
  } release{open_connections};

  boost::system::error_code ec;
  const auto send = [&](Response res, bool keep_alive) -> asio::awaitable<void> {
    res.keep_alive(keep_alive);
    res.set(beast_http::field::server, "ami-headend");
    res.prepare_payload();
    stream.expires_after(options_.write_timeout);
    co_await beast_http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
  };

  for (;;) {
    beast_http::request_parser<beast_http::string_body> parser;
    parser.header_limit(options_.header_limit_bytes);
    parser.body_limit(options_.body_limit_bytes);
    stream.expires_after(options_.read_timeout);
    co_await beast_http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == beast_http::error::header_limit) {
      co_await send(json_error(status::request_header_fields_too_large, "headers_too_large",
                               "request headers exceed " + std::to_string(options_.header_limit_bytes) + " bytes"),
                    false);
      break;
    }
    if (ec == beast_http::error::body_limit) {
      co_await send(json_error(status::payload_too_large, "body_too_large",
                               "request body exceeds " + std::to_string(options_.body_limit_bytes) + " bytes"),
                    false);
      break;
    }
    if (ec && ec.category() == beast_http::make_error_code(beast_http::error::bad_target).category() &&
        ec != beast_http::error::end_of_stream && ec != beast_http::error::partial_message) {
      co_await send(json_error(status::bad_request, "bad_request", "malformed HTTP request"), false);
      break;
    }
    if (ec) break;  // peer closed, timeout, reset
    if (*open_connections > options_.max_connections) {
      // Read first, so the client sees the answer instead of a reset.
      co_await send(json_error(status::service_unavailable, "busy", "too many open connections, retry later"), false);
      break;
    }
    const auto request = parser.release();
    auto response = co_await dispatch(request);
    response.version(request.version());
    const bool keep_alive = request.keep_alive();
    co_await send(std::move(response), keep_alive);
    if (ec || !keep_alive) break;
  }
  if (ec && ec != beast_http::error::end_of_stream && ec != beast::error::timeout) {
    spdlog::debug("http: connection ended: {}", ec.message());
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace ami::http
