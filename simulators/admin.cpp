#include "simulators/admin.hpp"

#include <nlohmann/json.hpp>

namespace ami::sim {

using asio::ip::tcp;
using nlohmann::json;

namespace {

json meter_counters_json(const SimMeter& m) {
  const auto& c = m.counters();
  return {{"id", m.spec().id},
          {"requests", c.requests.load(std::memory_order_relaxed)},
          {"replies", c.replies.load(std::memory_order_relaxed)},
          {"faults", c.faults.load(std::memory_order_relaxed)}};
}

}  // namespace

json gateway_counters_json(const MeterTable& table, bool with_meters) {
  const auto& c = table.counters();
  json j{{"id", table.gateway().id},
         {"connections", c.connections.load(std::memory_order_relaxed)},
         {"refused", c.refused.load(std::memory_order_relaxed)},
         {"dropped", c.dropped.load(std::memory_order_relaxed)},
         {"requests", c.requests.load(std::memory_order_relaxed)},
         {"replies", c.replies.load(std::memory_order_relaxed)},
         {"faults", c.faults.load(std::memory_order_relaxed)}};
  if (with_meters) {
    j["meters"] = json::array();
    for (const auto& m : table.meters()) j["meters"].push_back(meter_counters_json(m));
  }
  return j;
}

AdminServer::AdminServer(asio::io_context& io, std::string host, std::uint16_t port, FaultSet& faults,
                         std::vector<const MeterTable*> tables)
    : io_(io), host_(std::move(host)), port_(port), faults_(faults), tables_(std::move(tables)), acceptor_(io) {}

void AdminServer::start() {
  const tcp::endpoint endpoint(asio::ip::make_address(host_), port_);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen();
  asio::co_spawn(io_, accept_loop(), asio::detached);
}

asio::awaitable<void> AdminServer::accept_loop() {
  for (;;) {
    boost::system::error_code ec;
    auto socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted) co_return;
    if (!ec) asio::co_spawn(io_, session(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> AdminServer::session(tcp::socket socket) {
  std::string buffer;
  for (;;) {
    boost::system::error_code ec;
    const auto n = co_await asio::async_read_until(socket, asio::dynamic_buffer(buffer, 64 * 1024), '\n',
                                                   asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    const auto line = buffer.substr(0, n);
    buffer.erase(0, n);
    const auto reply = handle(line) + "\n";
    co_await asio::async_write(socket, asio::buffer(reply), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
  }
}

json AdminServer::counters(const json& request) const {
  json j{{"ok", true}, {"faults_injected", faults_.injected_total()}, {"gateways", json::array()}};
  const auto gateway = request.value("gateway", std::string{});
  const auto meter = request.value("meter", std::string{});
  for (const auto* table : tables_) {
    if (!meter.empty()) {
      for (const auto& m : table->meters())
        if (m.spec().id == meter) {
          j["meter"] = meter_counters_json(m);
          return j;
        }
      continue;
    }
    if (!gateway.empty() && table->gateway().id != gateway) continue;
    j["gateways"].push_back(gateway_counters_json(*table, !gateway.empty()));
  }
  if (!meter.empty()) return json{{"ok", false}, {"error", "counters: no meter '" + meter + "'"}};
  if (!gateway.empty() && j["gateways"].empty()) return json{{"ok", false}, {"error", "counters: no gateway '" + gateway + "'"}};
  return j;
}

std::string AdminServer::handle(const std::string& line) {
  try {
    const auto request = json::parse(line);
    if (!request.is_object() || !request.contains("cmd") || !request.at("cmd").is_string())
      return json{{"ok", false}, {"error", "request must be an object with a string 'cmd'"}}.dump();
    const auto cmd = request.at("cmd").get<std::string>();
    if (cmd == "inject") {
      if (!request.contains("fault")) return json{{"ok", false}, {"error", "inject: 'fault' is required"}}.dump();
      auto rule = parse_fault_rule(request.at("fault"));
      if (rule.kind == FaultKind::spike)
        return json{{"ok", false}, {"error", "inject: a spike changes the meter's registers and its truth: put it in "
                                             "the fleet file ([[fault]] kind = \"spike\")"}}.dump();
      const auto id = faults_.add(std::move(rule));
      return json{{"ok", true}, {"id", id}}.dump();
    }
    if (cmd == "remove") {
      if (!request.contains("id") || !request.at("id").is_number_unsigned())
        return json{{"ok", false}, {"error", "remove: 'id' (a fault id) is required"}}.dump();
      const auto id = request.at("id").get<std::uint64_t>();
      if (!faults_.remove(id)) return json{{"ok", false}, {"error", "remove: no fault " + std::to_string(id)}}.dump();
      return json{{"ok", true}}.dump();
    }
    if (cmd == "clear") {
      faults_.clear();
      return json{{"ok", true}}.dump();
    }
    if (cmd == "faults") {
      json list = json::array();
      for (const auto& rule : faults_.rules()) list.push_back(to_json(rule));
      return json{{"ok", true}, {"faults", list}}.dump();
    }
    if (cmd == "counters") return counters(request).dump();
    return json{{"ok", false}, {"error", "unknown cmd '" + cmd + "' (inject, remove, clear, faults, counters)"}}.dump();
  } catch (const json::exception& e) {
    return json{{"ok", false}, {"error", std::string("bad JSON: ") + e.what()}}.dump();
  } catch (const std::invalid_argument& e) {
    return json{{"ok", false}, {"error", e.what()}}.dump();
  }
}

}  // namespace ami::sim
