#include "headend/cli/read_command.hpp"

#include <cctype>
#include <cstdio>
#include <memory>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "headend/config/daemon_config.hpp"
#include "headend/runtime/asio.hpp"

namespace ami::cli {
namespace {

namespace bhttp = boost::beast::http;

[[noreturn]] void read_failed(const std::string& message, int code) {
  std::fprintf(stderr, "headendctl read: %s\n", message.c_str());
  throw CLI::RuntimeError(code);
}

struct ReadOptions {
  std::string meter_id;
  std::string config;
  bool json = false;
  int timeout_seconds = 30;
};

// One POST to the daemon's API; returns (HTTP status, body). Throws CLI::RuntimeError(1) when the
// daemon cannot be reached or does not answer within the timeout. Asynchronous operations, because
// the stream's expiry only applies to them (a blocking connect/read could wait forever); run_for()
// bounds the whole exchange, the name lookup included.
std::pair<unsigned, std::string> post_read(const daemon::DaemonConfig& config, const ReadOptions& o) {
  asio::io_context io;
  boost::beast::tcp_stream stream(io);
  asio::ip::tcp::resolver resolver(io);
  const auto timeout = std::chrono::seconds{o.timeout_seconds};
  const auto where = fmt::format("{}:{}", config.monitor.listen_host, config.monitor.listen_port);
  bhttp::request<bhttp::string_body> request{
      bhttp::verb::post, "/api/v1/meters/" + percent_encode_segment(o.meter_id) + "/read", 11};
  request.set(bhttp::field::host, where);
  request.set(bhttp::field::authorization, "Bearer " + config.monitor.api_token);
  request.set(bhttp::field::content_type, "application/json");
  request.body() = "{}";
  request.prepare_payload();
  boost::beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> response;
  boost::system::error_code failure;
  bool answered = false;
  const auto on_read = [&](boost::system::error_code ec, std::size_t) {
    failure = ec;
    answered = !ec;
  };
  const auto on_written = [&](boost::system::error_code ec, std::size_t) {
    if (ec) failure = ec;
    else bhttp::async_read(stream, buffer, response, on_read);
  };
  const auto on_connected = [&](boost::system::error_code ec, const asio::ip::tcp::endpoint&) {
    if (ec) failure = ec;
    else bhttp::async_write(stream, request, on_written);
  };
  resolver.async_resolve(config.monitor.listen_host, std::to_string(config.monitor.listen_port),
                         [&](boost::system::error_code ec, const asio::ip::tcp::resolver::results_type& results) {
                           if (ec) {
                             failure = ec;
                             return;
                           }
                           stream.expires_after(timeout);
                           stream.async_connect(results, on_connected);
                         });
  io.run_for(timeout + std::chrono::seconds{1});
  if (!answered && !failure) failure = asio::error::timed_out;
  if (failure) {
    const auto why = failure == boost::beast::error::timeout || failure == asio::error::timed_out
                         ? fmt::format("no answer within {} s", o.timeout_seconds)
                         : failure.message();
    read_failed(fmt::format("daemon API at {}: {} (is the daemon running with [monitor] on?)", where, why), 1);
  }
  return {response.result_int(), response.body()};
}

}  // namespace

std::string percent_encode_segment(std::string_view text) {
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) out.push_back(ch);
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}

void add_read_command(CLI::App& app) {
  auto o = std::make_shared<ReadOptions>();
  auto* cmd = app.add_subcommand("read", "on-demand read of one meter through the running daemon (jumps its queue)");
  cmd->add_option("meter_id", o->meter_id, "the meter to read")->required();
  cmd->add_option("--config", o->config, "the daemon's TOML config ([monitor] listen and api_token)")->required();
  cmd->add_flag("--json", o->json, "print the API's JSON answer");
  cmd->add_option("--timeout-seconds", o->timeout_seconds, "give up after this long")->check(CLI::Range(1, 600));
  cmd->callback([o] {
    daemon::DaemonConfig config;
    try {
      config = daemon::load_config(o->config);
    } catch (const daemon::ConfigError& e) {
      read_failed(e.what(), 2);
    }
    if (!config.monitor.enabled) read_failed(o->config + ": [monitor] is off; the daemon serves on-demand reads there", 2);
    if (config.monitor.api_token.empty()) read_failed(o->config + ": [monitor] api_token is empty (POST disabled)", 2);
    const auto [status, body] = post_read(config, *o);
    const auto answer = nlohmann::json::parse(body, nullptr, false);
    if (answer.is_discarded() || !answer.is_object())
      read_failed(fmt::format("HTTP {} with a body that is not a JSON object: {}", status, body.substr(0, 200)), 1);
    if (o->json) std::printf("%s\n", answer.dump().c_str());
    if (!answer.contains("ok")) {  // an API error: {"error": {"code": .., "message": ..}}
      const auto& error = answer.contains("error") && answer["error"].is_object() ? answer["error"] : answer;
      read_failed(fmt::format("HTTP {}: {}", status, error.value("message", answer.dump())), status == 404 ? 2 : 1);
    }
    const auto wh = [&](const char* key) {
      return answer.contains(key) && answer[key].is_number_integer() ? std::to_string(answer[key].get<std::int64_t>())
                                                                     : std::string("-");
    };
    if (!o->json) {
      std::printf("%s %s forward_wh=%s reverse_wh=%s at=%s attempts=%d%s%s\n", o->meter_id.c_str(),
                  answer.value("outcome", "?").c_str(), wh("forward_wh").c_str(), wh("reverse_wh").c_str(),
                  answer.value("boundary", "").c_str(), answer.value("attempts", 0),
                  answer.value("detail", "").empty() ? "" : " detail=", answer.value("detail", "").c_str());
    }
    if (!answer.value("ok", false)) throw CLI::RuntimeError(1);
  });
}

}  // namespace ami::cli
