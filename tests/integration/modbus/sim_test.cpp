// The daemon's Modbus path against meter-sim's Modbus gateways (TCP, RTU over TCP, RTU on a pty):
// the energy read lies between the simulator's ground truth just before and just after the read.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <future>
#include <thread>
#include <optional>
#include <sstream>

#include "headend/modbus/executor.hpp"
#include "headend/modbus/meter_resolver.hpp"
#include "protocols/common/clock.hpp"
#include "tests/support/process.hpp"

using namespace std::chrono_literals;
using namespace ami::modbus;

namespace {

std::vector<std::string> fleet(const std::string& protocol, const std::string& model, unsigned short port,
                               const std::filesystem::path& pty_dir = {}) {
  std::vector<std::string> args{"--gateways", "1", "--meters-per-gateway", "3", "--protocol", protocol, "--model",
                                model, "--base-port", std::to_string(port), "--baud", "0", "--seed", "31337"};
  if (protocol == "modbus-rtu") args.insert(args.end(), {"--pty-dir", pty_dir.string()});
  return args;
}

std::vector<std::string> command(const std::string& verb, std::vector<std::string> args) {
  args.insert(args.begin(), verb);
  args.insert(args.begin(), (ami::test::bin_dir() / "meter-sim").string());
  return args;
}

struct Truth {
  std::int64_t forward_wh;
  std::int64_t reverse_wh;
};

Truth truth_at(const std::vector<std::string>& fleet_args, const std::string& meter_id, ami::UtcSeconds t) {
  auto args = fleet_args;
  args.insert(args.end(), {"--meter", meter_id, "--at", ami::format_utc(t)});
  const auto j = nlohmann::json::parse(ami::test::run_and_capture(command("truth", args)));
  return {j.at("forward_wh").get<std::int64_t>(), j.at("reverse_wh").get<std::int64_t>()};
}

ami::UtcSeconds now_floor() { return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()); }

// One SDM630 gateway of `protocol` (TCP transport) with the admin endpoint, for fault injection.
struct SimWithAdmin {
  SimWithAdmin(const std::string& protocol, const std::string& name)
      : dir(ami::test::fresh_temp_dir(name)),
        port(ami::test::free_tcp_port()),
        admin_port(ami::test::free_tcp_port()),
        args(fleet(protocol, "SDM630", port)),
        process(command("serve", with_admin(args, admin_port)), dir / "sim.out", dir / "sim.err") {
    REQUIRE(ami::test::wait_for_port(port, 20s));
    REQUIRE(ami::test::wait_for_port(admin_port, 20s));
  }
  nlohmann::json admin(const std::string& json) const {
    return nlohmann::json::parse(ami::test::run_and_capture({(ami::test::bin_dir() / "meter-sim").string(), "admin",
                                                             "--connect", "127.0.0.1:" + std::to_string(admin_port),
                                                             json}));
  }
  static std::vector<std::string> with_admin(std::vector<std::string> a, unsigned short admin_port) {
    a.insert(a.end(), {"--admin-port", std::to_string(admin_port)});
    return a;
  }

  std::filesystem::path dir;
  unsigned short port;
  unsigned short admin_port;
  std::vector<std::string> args;
  ami::test::ChildProcess process;
};

// Serves one gateway of three `model` meters over `protocol`, reads each meter once through the
// executor as the daemon does, and checks the energy against the truth around the read.
void check_fleet_against_truth(const std::string& protocol, const std::string& model) {
  INFO(protocol << " " << model);
  const auto dir = ami::test::fresh_temp_dir("modbus-sim-" + protocol + "-" + model);
  const auto port = ami::test::free_tcp_port();
  const auto args = fleet(protocol, model, port, dir);
  ami::test::ChildProcess sim(command("serve", args), dir / "sim.out", dir / "sim.err");
  if (protocol == "modbus-rtu") {
    for (int i = 0; i < 200 && !std::filesystem::exists(dir / "gw001"); ++i) std::this_thread::sleep_for(50ms);
    REQUIRE(std::filesystem::exists(dir / "gw001"));
  } else {
    REQUIRE(ami::test::wait_for_port(port, 20s));
  }

  // The registry rows come from the simulator itself, as the daemon would import them.
  const std::string csv = ami::test::run_and_capture(command("registry", args));
  std::vector<ami::storage::MeterRecord> meters;
  std::istringstream lines(csv);
  std::string line;
  std::getline(lines, line);  // header: meter_id,protocol,channel,address,model,...
  while (std::getline(lines, line)) {
    std::vector<std::string> cells;
    std::istringstream cell_stream(line);
    for (std::string cell; std::getline(cell_stream, cell, ',');) cells.push_back(cell);
    REQUIRE(cells.size() >= 5);
    ami::storage::MeterRecord m;
    m.meter_id = cells[0];
    m.protocol = cells[1];
    m.channel = cells[2];
    m.address = cells[3];
    m.model = cells[4];
    meters.push_back(m);
  }
  REQUIRE(meters.size() == 3);

  Executor executor(ExecutorOptions{2, 100, LinkOptions{1000ms, 1000ms}});
  for (const auto& m : meters) {
    INFO(m.meter_id << " on " << m.channel);
    std::string error;
    const auto resolved = resolve_meter(m, {}, false, error);
    INFO(error);
    REQUIRE(resolved);
    const auto before = now_floor() - 1s;
    std::promise<MeterReadResult> promise;
    executor.submit(resolved->channel, resolved->request, [&](MeterReadResult r) { promise.set_value(std::move(r)); });
    const auto result = promise.get_future().get();
    const auto after = now_floor() + 2s;
    INFO(to_string(result.outcome) << ": " << result.detail);
    REQUIRE(result.outcome == MeterOutcome::ok);
    std::optional<std::int64_t> forward, reverse;
    for (const auto& r : result.readings) {
      if (r.quantity == ami::Quantity::forward_active_energy) forward = r.value;
      if (r.quantity == ami::Quantity::reverse_active_energy) reverse = r.value;
    }
    REQUIRE(forward);
    const Truth lo = truth_at(args, m.meter_id, before);
    const Truth hi = truth_at(args, m.meter_id, after);
    CHECK(lo.forward_wh <= *forward);
    CHECK(*forward <= hi.forward_wh);
    if (reverse) {
      CHECK(lo.reverse_wh <= *reverse);
      CHECK(*reverse <= hi.reverse_wh);
    }
  }
}

}  // namespace

TEST_CASE("meter-sim Modbus TCP: energy read lies within the simulator's truth around the read") {
  for (const std::string model : {"SDM630", "DTSU666", "EM340", "iEM3xxx"}) check_fleet_against_truth("modbus-tcp", model);
}

TEST_CASE("meter-sim Modbus RTU over TCP through our framer: energy within truth") {
  for (const std::string model : {"SDM630", "EM340"}) check_fleet_against_truth("modbus-rtu-over-tcp", model);
}

TEST_CASE("meter-sim Modbus RTU on a pty with libmodbus RTU: energy within truth") {
  check_fleet_against_truth("modbus-rtu", "DTSU666");
}

namespace {

// A late meter times out once (the link closes, so its late reply is never read as an answer) and
// reads right on its next try; its neighbour right after is right; 0x0B is unreachable without
// costing the connection.
void check_late_meter_and_gateway_exception(const std::string& protocol) {
  SimWithAdmin sim(protocol, "modbus-sim-faults-" + protocol);
  const auto& args = sim.args;
  const auto port = sim.port;
  auto admin = [&](const std::string& json) { return sim.admin(json); };

  std::string error;
  ami::storage::MeterRecord row;
  row.protocol = protocol;
  row.channel = "tcp://127.0.0.1:" + std::to_string(port);
  row.model = "SDM630";
  auto resolve = [&](int unit) {
    row.meter_id = "gw001-m000" + std::to_string(unit);
    row.address = std::to_string(unit);
    auto r = resolve_meter(row, {}, false, error);
    REQUIRE(r);
    return *r;
  };
  const auto m1 = resolve(1), m2 = resolve(2), m3 = resolve(3);
  PlanCache plans;
  // The late meter answers after 3 s; a 2 s timeout leaves the neighbour a 1 s margin behind it.
  const auto link = make_link(m1.channel, LinkOptions{2000ms, 2000ms});
  auto forward_within_truth = [&](const ResolvedMeter& m) {
    const auto before = now_floor() - 1s;
    const auto r = read_meter(*link, m.request, plans);
    const auto after = now_floor() + 2s;
    INFO(m.request.meter_id << " " << to_string(r.outcome) << ": " << r.detail);
    REQUIRE(r.outcome == MeterOutcome::ok);
    std::int64_t forward = -1;
    for (const auto& reading : r.readings)
      if (reading.quantity == ami::Quantity::forward_active_energy) forward = reading.value;
    CHECK(truth_at(args, m.request.meter_id, before).forward_wh <= forward);
    CHECK(forward <= truth_at(args, m.request.meter_id, after).forward_wh);
  };

  forward_within_truth(m1);
  const auto late = admin(R"({"cmd":"inject","fault":{"kind":"late_answer","delay_ms":3000,"target":"gw001-m0002"}})");
  REQUIRE(late.at("ok").get<bool>());
  const auto connects_before_timeout = link->connects();
  CHECK(read_meter(*link, m2.request, plans).outcome == MeterOutcome::timeout);
  CHECK_FALSE(link->connected());
  REQUIRE(admin(R"({"cmd":"remove","id":)" + std::to_string(late.at("id").get<int>()) + "}").at("ok").get<bool>());
  forward_within_truth(m1);  // the neighbour, right after, on the same gateway
  forward_within_truth(m2);  // the late meter on its next try
  CHECK(link->connects() == connects_before_timeout + 1);  // one reconnect, after the timeout
  const auto connects_before = link->connects();

  REQUIRE(admin(R"({"cmd":"inject","fault":{"kind":"modbus_exception_0b","target":"gw001-m0003"}})").at("ok").get<bool>());
  const auto unreachable = read_meter(*link, m3.request, plans);
  CHECK(unreachable.outcome == MeterOutcome::unreachable);
  forward_within_truth(m1);
  CHECK(link->connects() == connects_before);  // 0x0B did not cost the connection
}

}  // namespace

TEST_CASE("meter-sim faults: a late meter times out once then reads right, 0x0B is unreachable, neighbours unaffected") {
  check_late_meter_and_gateway_exception("modbus-tcp");
}

TEST_CASE("meter-sim faults over RTU over TCP: a late meter times out once, the link reconnects, neighbours unaffected") {
  check_late_meter_and_gateway_exception("modbus-rtu-over-tcp");
}

TEST_CASE("meter-sim RTU over TCP: replies with a bad CRC are refused, the next read is right") {
  SimWithAdmin sim("modbus-rtu-over-tcp", "modbus-sim-rtu-crc");
  const auto& args = sim.args;
  const auto port = sim.port;
  auto admin = [&](const std::string& json) { return sim.admin(json); };

  ami::storage::MeterRecord row;
  row.meter_id = "gw001-m0002";
  row.protocol = "modbus-rtu-over-tcp";
  row.channel = "tcp://127.0.0.1:" + std::to_string(port);
  row.address = "2";
  row.model = "SDM630";
  std::string error;
  const auto m2 = resolve_meter(row, {}, false, error);
  REQUIRE(m2);
  PlanCache plans;
  const auto link = make_link(m2->channel, LinkOptions{1000ms, 1000ms});

  const auto fault = admin(R"({"cmd":"inject","fault":{"kind":"bad_checksum","target":"gw001-m0002"}})");
  REQUIRE(fault.at("ok").get<bool>());
  const auto refused = read_meter(*link, m2->request, plans);
  INFO(refused.detail);
  CHECK(refused.outcome == MeterOutcome::bad_reply);
  CHECK(refused.readings.empty());
  REQUIRE(admin(R"({"cmd":"remove","id":)" + std::to_string(fault.at("id").get<int>()) + "}").at("ok").get<bool>());

  const auto before = now_floor() - 1s;
  const auto good = read_meter(*link, m2->request, plans);
  const auto after = now_floor() + 2s;
  REQUIRE(good.outcome == MeterOutcome::ok);
  std::int64_t forward = -1;
  for (const auto& r : good.readings)
    if (r.quantity == ami::Quantity::forward_active_energy) forward = r.value;
  CHECK(truth_at(args, "gw001-m0002", before).forward_wh <= forward);
  CHECK(forward <= truth_at(args, "gw001-m0002", after).forward_wh);
}
