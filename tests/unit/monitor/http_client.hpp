// Test helper: one blocking HTTP/1.1 request to 127.0.0.1 (Beast, synchronous). Tests only;
// throws boost::system::system_error when the connection fails.
#pragma once

#include <cstdint>
#include <string>

#include "headend/runtime/asio.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace ami::test {

inline boost::beast::http::response<boost::beast::http::string_body> http_request(
    std::uint16_t port, boost::beast::http::verb verb, const std::string& target, const std::string& body = {},
    const std::string& bearer = {}) {
  namespace bh = boost::beast::http;
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  bh::request<bh::string_body> req{verb, target, 11};
  req.set(bh::field::host, "127.0.0.1");
  req.set(bh::field::connection, "close");
  if (!bearer.empty()) req.set(bh::field::authorization, "Bearer " + bearer);
  if (!body.empty()) {
    req.set(bh::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  bh::write(socket, req);
  boost::beast::flat_buffer buffer;
  bh::response<bh::string_body> res;
  bh::read(socket, buffer, res);
  return res;
}

inline boost::beast::http::response<boost::beast::http::string_body> http_get(std::uint16_t port,
                                                                              const std::string& target) {
  return http_request(port, boost::beast::http::verb::get, target);
}

}  // namespace ami::test
