#include <catch2/catch.hpp>

#include <thread>

#include "headend/http/server.hpp"
#include "headend/runtime/asio.hpp"

#include <boost/beast/core.hpp>
#include <nlohmann/json.hpp>

namespace bh = boost::beast::http;
using ami::http::RequestContext;
using asio_tcp = boost::asio::ip::tcp;

namespace {

// A server on 127.0.0.1:<free port> with its io_context on one thread and handlers on a pool.
struct RunningServer {
  boost::asio::io_context io;
  boost::asio::thread_pool pool{1};
  ami::http::Router router;
  std::unique_ptr<ami::http::HttpServer> server;
  std::thread thread;
  std::thread::id io_thread_id;
  std::atomic<std::thread::id> handler_thread_id{};

  explicit RunningServer(std::size_t max_connections = 64) {
    router.add(bh::verb::get, "/hello", [this](const RequestContext& ctx) {
      handler_thread_id = std::this_thread::get_id();
      return ami::http::json_response(bh::status::ok, {{"hello", ctx.query_value("name").value_or("world")}});
    });
    router.add(bh::verb::post, "/echo", [](const RequestContext& ctx) {
      return ami::http::json_response(bh::status::ok, ctx.json_body());
    });
    ami::http::ServerOptions options;
    options.port = 0;
    options.header_limit_bytes = 1024;
    options.body_limit_bytes = 256;
    options.max_connections = max_connections;
    server = std::make_unique<ami::http::HttpServer>(io, pool.get_executor(), router, options);
    server->start();
    thread = std::thread([this] {
      io_thread_id = std::this_thread::get_id();
      io.run();
    });
  }
  ~RunningServer() {
    io.stop();
    thread.join();
    pool.join();
  }
};

// Sends raw bytes and reads one response (blocking; test side only).
bh::response<bh::string_body> exchange(asio_tcp::socket& socket, boost::beast::flat_buffer& buffer,
                                        const std::string& raw) {
  boost::asio::write(socket, boost::asio::buffer(raw));
  bh::response<bh::string_body> res;
  bh::read(socket, buffer, res);
  return res;
}

asio_tcp::socket connect(boost::asio::io_context& client_io, std::uint16_t port) {
  asio_tcp::socket socket(client_io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  return socket;
}

}  // namespace

TEST_CASE("http server: keep-alive requests on one connection, handlers off the io thread", "[monitor][http]") {
  RunningServer s;
  boost::asio::io_context client_io;
  auto socket = connect(client_io, s.server->port());
  boost::beast::flat_buffer buffer;
  const auto first = exchange(socket, buffer, "GET /hello?name=ops HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(first.result() == bh::status::ok);
  CHECK(nlohmann::json::parse(first.body())["hello"] == "ops");
  CHECK(first.keep_alive());
  const auto second = exchange(socket, buffer,
                               "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                               "Content-Length: 7\r\nConnection: close\r\n\r\n{\"a\":1}");
  CHECK(second.result() == bh::status::ok);
  CHECK(nlohmann::json::parse(second.body())["a"] == 1);
  CHECK_FALSE(second.keep_alive());
  CHECK(s.handler_thread_id.load() != std::thread::id{});
  CHECK(s.handler_thread_id.load() != s.io_thread_id);
}

TEST_CASE("http server: oversized headers get 431, oversized bodies 413", "[monitor][http]") {
  RunningServer s;
  boost::asio::io_context client_io;
  {
    auto socket = connect(client_io, s.server->port());
    boost::beast::flat_buffer buffer;
    const auto res = exchange(socket, buffer,
                              "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n");
    CHECK(res.result() == bh::status::request_header_fields_too_large);
    CHECK(nlohmann::json::parse(res.body())["error"]["code"] == "headers_too_large");
  }
  {
    auto socket = connect(client_io, s.server->port());
    boost::beast::flat_buffer buffer;
    const auto res = exchange(socket, buffer,
                              "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                              "Content-Length: 1000\r\n\r\n" + std::string(1000, ' '));
    CHECK(res.result() == bh::status::payload_too_large);
  }
}

TEST_CASE("http server: a malformed request gets a JSON 400", "[monitor][http]") {
  RunningServer s;
  boost::asio::io_context client_io;
  auto socket = connect(client_io, s.server->port());
  boost::beast::flat_buffer buffer;
  const auto res = exchange(socket, buffer, "GET /hello HTTP/1.1\r\nBad Header Line\r\n\r\n");
  CHECK(res.result() == bh::status::bad_request);
  CHECK(nlohmann::json::parse(res.body())["error"]["code"] == "bad_request");
}

TEST_CASE("http server: start() names the address it cannot listen on", "[monitor][http]") {
  boost::asio::io_context io;
  ami::http::Router router;
  ami::http::ServerOptions options;
  options.host = "not-an-ip";
  ami::http::HttpServer server(io, io.get_executor(), router, options);
  CHECK_THROWS_WITH(server.start(), Catch::Contains("not-an-ip"));

  RunningServer taken;
  ami::http::ServerOptions clash;
  clash.port = taken.server->port();
  ami::http::HttpServer second(io, io.get_executor(), router, clash);
  CHECK_THROWS_WITH(second.start(), Catch::Contains("127.0.0.1:" + std::to_string(clash.port)));
}

TEST_CASE("http server: connections past the limit get 503", "[monitor][http]") {
  RunningServer s(1);
  boost::asio::io_context client_io;
  auto first = connect(client_io, s.server->port());
  boost::beast::flat_buffer first_buffer;
  // A full keep-alive exchange: the first connection is certainly open and counted now.
  CHECK(exchange(first, first_buffer, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").result() == bh::status::ok);
  auto second = connect(client_io, s.server->port());
  boost::beast::flat_buffer second_buffer;
  const auto refused = exchange(second, second_buffer, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(refused.result() == bh::status::service_unavailable);
  CHECK(nlohmann::json::parse(refused.body())["error"]["code"] == "busy");
  CHECK(exchange(first, first_buffer, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").result() == bh::status::ok);
}
