// The admin endpoint of a running simulator: one JSON object per line over TCP, one JSON reply
// line each. Faults are injected and removed here, and counters read.
//
//   {"cmd":"inject","fault":{"kind":"no_answer","target":"gw001-m0002","rate":1}}  -> {"ok":true,"id":3}
//   {"cmd":"remove","id":3}    {"cmd":"clear"}    {"cmd":"faults"}  -> {"ok":true,"faults":[...]}
//   {"cmd":"counters"}  (gateway totals)   {"cmd":"counters","gateway":"gw001"}  (+ its meters)
//   {"cmd":"counters","meter":"gw001-m0002"}
// A bad line gets {"ok":false,"error":"..."} naming the problem; the connection stays open.
// Ownership/threads: runs on the io_context thread; reads the gateways' atomic counters and the
// self-locking FaultSet. Errors: start() throws boost::system::system_error if it cannot listen.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "headend/runtime/asio.hpp"
#include "simulators/bus.hpp"
#include "simulators/faults.hpp"

namespace ami::sim {

class AdminServer {
 public:
  AdminServer(asio::io_context& io, std::string host, std::uint16_t port, FaultSet& faults,
              std::vector<const MeterTable*> tables);
  void start();

  // The reply to one request line (exposed for unit tests).
  std::string handle(const std::string& line);

 private:
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> session(asio::ip::tcp::socket socket);
  nlohmann::json counters(const nlohmann::json& request) const;

  asio::io_context& io_;
  std::string host_;
  std::uint16_t port_;
  FaultSet& faults_;
  std::vector<const MeterTable*> tables_;
  asio::ip::tcp::acceptor acceptor_;
};

// Counters of one gateway (and optionally its meters) as JSON.
nlohmann::json gateway_counters_json(const MeterTable& table, bool with_meters);

}  // namespace ami::sim
