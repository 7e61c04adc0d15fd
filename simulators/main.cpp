// meter-sim: stands in for a district of meters behind gateways, and tells the ground truth.
//   meter-sim serve    <fleet> [clock options] [--admin-port P]   serve until SIGINT/SIGTERM
//   meter-sim registry <fleet>                                    print the head-end registry CSV
//   meter-sim truth    <fleet> --meter ID (--from T --to T [--interval-minutes 15] | --at T) [--format json|csv]
//   meter-sim admin    --connect HOST:PORT '<json request>'       talk to a running simulator
// <fleet> is either --fleet FILE.toml or the fleet flags. See docs/SIMULATOR.md.
#include <CLI/CLI.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <list>
#include <memory>
#include <nlohmann/json.hpp>

#include "headend/runtime/asio.hpp"
#include "headend/runtime/clock_options.hpp"
#include "simulators/admin.hpp"
#include "simulators/fleet.hpp"
#include "simulators/fleet_file.hpp"
#include "simulators/gateway_server.hpp"
#include "simulators/modbus_gateway.hpp"
#include "simulators/truth.hpp"

namespace {

using namespace ami;

struct FleetOptions {
  std::string fleet_file;
  sim::FleetSpec spec;
  sim::GatewayGroupSpec group;
};

void add_fleet_options(CLI::App& app, FleetOptions& o) {
  auto* file = app.add_option("--fleet", o.fleet_file, "TOML fleet file (instead of the fleet flags)");
  const std::vector<CLI::Option*> flags = {
      app.add_option("--gateways", o.group.count, "number of gateways (one RS-485 bus each)"),
      app.add_option("--meters-per-gateway", o.group.meters_per_gateway, "meters on each gateway's bus"),
      app.add_option("--protocol", o.group.protocol, "dlt645-2007 | dlt645-1997 | modbus-tcp"),
      app.add_option("--model", o.group.model, "Modbus model (SDM630, DTSU666, EM340, ...); DL/T 645: dlt645-generic"),
      app.add_option("--base-port", o.group.base_port, "TCP port of gateway 1 (default 9600); gateway g listens on base-port + g - 1"),
      app.add_option("--baud", o.group.baud, "wire timing of each bus (8E1 at this rate); 0 = zero latency"),
      app.add_option("--pty-dir", o.group.pty_dir, "serve each DL/T 645 bus on a pty linked at DIR/gwGGG instead of TCP"),
      app.add_option("--seed", o.spec.seed, "seed of every meter's load"),
      app.add_option("--listen", o.spec.listen, "address the gateways listen on"),
      app.add_option("--dial-wh", o.spec.dial_modulus_wh, "registers wrap at this many Wh (0 = the protocol's dial)"),
  };
  for (auto* flag : flags) file->excludes(flag);
}

sim::FleetFile resolve_fleet(const FleetOptions& o) {
  if (!o.fleet_file.empty()) return sim::parse_fleet_file(o.fleet_file);
  sim::FleetFile f;
  f.spec = o.spec;
  f.spec.groups = {o.group};
  if (!o.group.pty_dir.empty()) f.spec.groups[0].pty_dir = std::filesystem::absolute(o.group.pty_dir).string();
  return f;
}

long resident_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

int serve(const FleetOptions& options, const ClockSpec& clock_spec, int admin_port) {
  const auto clock = resolve_clock(clock_spec);
  const auto file = resolve_fleet(options);
  auto fleet = sim::build_fleet(file.spec);
  sim::apply_spikes(file.faults, fleet);
  sim::FaultSet faults(file.spec.seed);
  for (const auto& rule : file.faults) faults.add(rule);

  asio::io_context io(1);
  // Before any port listens: a test (or script) that signals as soon as a port accepts must get a
  // clean exit, not the default action of SIGINT/SIGTERM.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&io](const boost::system::error_code&, int) { io.stop(); });
  std::list<sim::GatewayServer> dlt645_servers;
  std::list<sim::ModbusGateway> modbus_gateways;
  std::vector<const sim::MeterTable*> tables;
  for (const auto& gw : fleet.gateways) {
    std::string where;
    try {
      if (gw.protocol == sim::MeterProtocol::modbus_tcp) {
        auto& g = modbus_gateways.emplace_back(gw, clock, &faults);
        g.start();
        tables.push_back(&g.table());
        where = g.where();
      } else {
        auto& s = dlt645_servers.emplace_back(io, gw, clock, &faults);
        s.start();
        tables.push_back(&s.table());
        where = s.where();
      }
    } catch (const std::exception& e) {
      std::cerr << "meter-sim: gateway " << gw.id << " cannot serve on "
                << (gw.pty_link.empty() ? gw.host + ":" + std::to_string(gw.port) : gw.pty_link) << ": " << e.what()
                << "\n";
      return 1;
    }
    std::cout << "gateway " << gw.id << (gw.pty_link.empty() ? " listening on " : " serving ") << where << " with "
              << gw.meters.size() << " meters" << std::endl;
  }
  std::unique_ptr<sim::AdminServer> admin;
  if (admin_port > 0) {
    admin = std::make_unique<sim::AdminServer>(io, file.spec.listen, static_cast<std::uint16_t>(admin_port), faults,
                                               tables);
    try {
      admin->start();
    } catch (const std::exception& e) {
      std::cerr << "meter-sim: admin endpoint cannot listen on port " << admin_port << ": " << e.what() << "\n";
      return 1;
    }
    std::cout << "admin listening on " << file.spec.listen << ":" << admin_port << std::endl;
  }
  std::cout << "fleet: " << fleet.meter_count() << " meters on " << fleet.gateways.size()
            << " gateways, resident memory " << resident_kib() << " KiB" << std::endl;
  io.run();
  return 0;
}

int admin_request(const std::string& connect, const std::string& request) {
  const auto colon = connect.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("--connect must be HOST:PORT, got '" + connect + "'");
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  asio::ip::tcp::resolver resolver(io);
  asio::connect(socket, resolver.resolve(connect.substr(0, colon), connect.substr(colon + 1)));
  asio::write(socket, asio::buffer(request + "\n"));
  std::string reply;
  asio::read_until(socket, asio::dynamic_buffer(reply), '\n');
  std::cout << reply;
  return nlohmann::json::parse(reply).value("ok", false) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"meter-sim: simulated DL/T 645 and Modbus meters behind gateways, and their ground truth"};
  app.require_subcommand(1);

  FleetOptions fleet_options;
  ClockSpec clock_spec;
  int admin_port = 0;
  auto* serve_cmd = app.add_subcommand("serve", "serve the fleet until SIGINT/SIGTERM");
  add_fleet_options(*serve_cmd, fleet_options);
  add_clock_options(*serve_cmd, clock_spec);
  serve_cmd->add_option("--admin-port", admin_port, "JSON-lines admin endpoint (fault injection, counters); 0 = off")
      ->check(CLI::Range(0, 65535));

  auto* registry_cmd = app.add_subcommand("registry", "print the head-end registry CSV of the fleet");
  add_fleet_options(*registry_cmd, fleet_options);

  auto* truth_cmd = app.add_subcommand("truth", "print a meter's true registers and interval energy");
  add_fleet_options(*truth_cmd, fleet_options);
  std::string meter_id, from_text, to_text, at_text, format = "json";
  int interval_minutes = 15;
  truth_cmd->add_option("--meter", meter_id, "meter id, e.g. gw001-m0001")->required();
  auto* from_opt = truth_cmd->add_option("--from", from_text, "first instant, UTC, e.g. 2026-01-05T00:00:00Z");
  auto* to_opt = truth_cmd->add_option("--to", to_text, "last instant, UTC");
  auto* at_opt = truth_cmd->add_option("--at", at_text, "one instant, UTC: the registers then");
  from_opt->needs(to_opt);
  to_opt->needs(from_opt);
  at_opt->excludes(from_opt)->excludes(to_opt);
  truth_cmd->add_option("--interval-minutes", interval_minutes, "interval length (divides a day)");
  truth_cmd->add_option("--format", format, "json | csv")->check(CLI::IsMember({"json", "csv"}));

  auto* admin_cmd = app.add_subcommand("admin", "send one JSON request to a running simulator's admin endpoint");
  std::string connect, request;
  admin_cmd->add_option("--connect", connect, "HOST:PORT of the admin endpoint")->required();
  admin_cmd->add_option("request", request, R"(e.g. '{"cmd":"counters"}')")->required();

  CLI11_PARSE(app, argc, argv);

  try {
    if (serve_cmd->parsed()) return serve(fleet_options, clock_spec, admin_port);
    if (admin_cmd->parsed()) return admin_request(connect, request);
    const auto file = resolve_fleet(fleet_options);
    auto fleet = sim::build_fleet(file.spec);
    sim::apply_spikes(file.faults, fleet);  // the truth includes them
    if (registry_cmd->parsed()) {
      sim::write_registry_csv(fleet, std::cout);
      return 0;
    }
    const auto* meter = fleet.find_meter(meter_id);
    if (meter == nullptr) throw std::invalid_argument("--meter: no meter '" + meter_id + "' in this fleet");
    const auto parse_time = [](const std::string& flag, const std::string& text) {
      const auto t = parse_utc(text);
      if (!t) throw std::invalid_argument(flag + ": not a UTC time: '" + text + "'");
      return *t;
    };
    if (!at_text.empty()) {
      const sim::SimMeter sim_meter(*meter);
      const auto b = sim::exposed_registers(sim_meter, UtcMillis{parse_time("--at", at_text)});
      if (format == "csv") {
        std::cout << "meter_id,t,forward_wh,reverse_wh\n"
                  << meter->id << "," << at_text << "," << b.forward_wh << "," << b.reverse_wh << "\n";
      } else {
        std::cout << nlohmann::ordered_json{{"meter_id", meter->id}, {"t", at_text}, {"forward_wh", b.forward_wh},
                                            {"reverse_wh", b.reverse_wh}}.dump()
                  << "\n";
      }
      return 0;
    }
    if (from_text.empty()) throw std::invalid_argument("truth needs --from and --to, or --at");
    const auto truth = sim::compute_truth(*meter, parse_time("--from", from_text), parse_time("--to", to_text),
                                          std::chrono::minutes{interval_minutes});
    if (format == "csv") {
      sim::write_truth_csv(truth, std::cout);
    } else {
      sim::write_truth_json(truth, std::cout);
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "meter-sim: " << e.what() << "\n";
    return 2;
  }
}
