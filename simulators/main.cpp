// meter-sim: stands in for a district of meters behind TCP gateways, and tells the ground truth.
//   meter-sim serve    <fleet flags> [clock options]   serve the fleet until SIGINT/SIGTERM
//   meter-sim registry <fleet flags>                   print the head-end registry CSV
//   meter-sim truth    <fleet flags> --meter ID --from T --to T [--interval-minutes 15] [--format json|csv]
// See docs/SIMULATOR.md.
#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>
#include <list>

#include "headend/runtime/asio.hpp"
#include "headend/runtime/clock_options.hpp"
#include "simulators/fleet.hpp"
#include "simulators/gateway_server.hpp"
#include "simulators/truth.hpp"

namespace {

using namespace ami;

void add_fleet_options(CLI::App& app, sim::FleetSpec& spec) {
  app.add_option("--gateways", spec.gateways, "number of gateways (TCP listeners, one RS-485 bus each)");
  app.add_option("--meters-per-gateway", spec.meters_per_gateway, "meters on each gateway's bus");
  app.add_option("--protocol", spec.protocol, "meter protocol: dlt645-2007");
  app.add_option("--base-port", spec.base_port, "TCP port of gateway 1; gateway g listens on base-port + g - 1");
  app.add_option("--seed", spec.seed, "seed of every meter's load and address-independent randomness");
  app.add_option("--listen", spec.listen, "address the gateways listen on");
}

int serve(const sim::FleetSpec& spec, const ClockSpec& clock_spec) {
  const auto clock = resolve_clock(clock_spec);
  const auto fleet = sim::build_fleet(spec);
  asio::io_context io(1);
  std::list<sim::GatewayServer> servers;
  for (const auto& gw : fleet.gateways) {
    auto& server = servers.emplace_back(io, gw, clock);
    try {
      server.start();
    } catch (const boost::system::system_error& e) {
      std::cerr << "meter-sim: gateway " << gw.id << " cannot listen on " << gw.host << ":" << gw.port << ": "
                << e.code().message() << "\n";
      return 1;
    }
    std::cout << "gateway " << gw.id << " listening on " << gw.host << ":" << gw.port << " with " << gw.meters.size()
              << " meters" << std::endl;
  }
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&io](const boost::system::error_code&, int) { io.stop(); });
  io.run();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"meter-sim: simulated DL/T 645 meters behind TCP gateways, and their ground truth"};
  app.require_subcommand(1);

  sim::FleetSpec fleet_spec;
  ClockSpec clock_spec;
  auto* serve_cmd = app.add_subcommand("serve", "serve the fleet until SIGINT/SIGTERM");
  add_fleet_options(*serve_cmd, fleet_spec);
  add_clock_options(*serve_cmd, clock_spec);

  auto* registry_cmd = app.add_subcommand("registry", "print the head-end registry CSV of the fleet");
  add_fleet_options(*registry_cmd, fleet_spec);

  auto* truth_cmd = app.add_subcommand("truth", "print a meter's true registers and interval energy");
  add_fleet_options(*truth_cmd, fleet_spec);
  std::string meter_id, from_text, to_text, format = "json";
  int interval_minutes = 15;
  truth_cmd->add_option("--meter", meter_id, "meter id, e.g. gw001-m0001")->required();
  truth_cmd->add_option("--from", from_text, "first instant, UTC, e.g. 2026-01-05T00:00:00Z")->required();
  truth_cmd->add_option("--to", to_text, "last instant, UTC")->required();
  truth_cmd->add_option("--interval-minutes", interval_minutes, "interval length (divides a day)");
  truth_cmd->add_option("--format", format, "json | csv")->check(CLI::IsMember({"json", "csv"}));

  CLI11_PARSE(app, argc, argv);

  try {
    if (serve_cmd->parsed()) return serve(fleet_spec, clock_spec);
    const auto fleet = sim::build_fleet(fleet_spec);
    if (registry_cmd->parsed()) {
      sim::write_registry_csv(fleet, std::cout);
      return 0;
    }
    const auto* meter = fleet.find_meter(meter_id);
    if (meter == nullptr) throw std::invalid_argument("--meter: no meter '" + meter_id + "' in this fleet");
    const auto from = parse_utc(from_text);
    if (!from) throw std::invalid_argument("--from: not a UTC time: '" + from_text + "'");
    const auto to = parse_utc(to_text);
    if (!to) throw std::invalid_argument("--to: not a UTC time: '" + to_text + "'");
    const auto truth = sim::compute_truth(*meter, *from, *to, std::chrono::minutes{interval_minutes});
    if (format == "csv") {
      sim::write_truth_csv(truth, std::cout);
    } else {
      sim::write_truth_json(truth, std::cout);
    }
    return 0;
  } catch (const CLI::Error& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::cerr << "meter-sim: " << e.what() << "\n";
    return 2;
  }
}
