// meter-sim serve as a process: start-up lines, DL/T 645 over TCP decoded by the protocol library
// and checked against `meter-sim truth`, several clients on one bus, clean exit on SIGTERM/SIGINT.
#include <catch2/catch.hpp>


#include <csignal>
#include <nlohmann/json.hpp>
#include <thread>

#include "protocols/common/clock.hpp"
#include "protocols/dlt645/datetime.hpp"
#include "protocols/dlt645/framer.hpp"
#include "protocols/dlt645/load_profile.hpp"
#include "protocols/dlt645/read.hpp"
#include "tests/support/process.hpp"
#include "sim_client.hpp"

using namespace std::chrono;
using ami::test::address;
using ami::test::ChildProcess;
using ami::test::Client;
using ami::test::concat;
using ami::test::kSimStart;

namespace {

constexpr std::int64_t kSpeed = 600;

std::vector<std::string> fleet_args(unsigned short base_port) {
  return {"--gateways", "2", "--meters-per-gateway", "3", "--protocol", "dlt645-2007",
          "--base-port", std::to_string(base_port), "--seed", "424242"};
}

}  // namespace

TEST_CASE("meter-sim serve answers DL/T 645 over TCP with the truth and stops cleanly",
          "[integration][simulator]") {
  const auto dir = ami::test::fresh_temp_dir("simulator_serve");
  const auto bin = ami::test::bin_dir();
  const auto base_port = ami::test::free_tcp_ports(2);
  const auto second_port = static_cast<unsigned short>(base_port + 1);
  const auto anchor_ms = ami::test::unix_ms_now();
  const auto clock = ami::Clock::accelerated(ami::UtcMillis{*ami::parse_utc(kSimStart)}, kSpeed,
                                             ami::UtcMillis{milliseconds{anchor_ms}});
  ChildProcess sim(concat(concat({(bin / "meter-sim").string(), "serve"}, fleet_args(base_port)),
                          {"--clock", "accelerated", "--clock-start", kSimStart, "--clock-speed",
                           std::to_string(kSpeed), "--clock-anchor", std::to_string(anchor_ms)}),
                   dir / "sim.out", dir / "sim.err");
  REQUIRE(ami::test::wait_for_port(base_port, seconds{10}));
  REQUIRE(ami::test::wait_for_port(second_port, seconds{10}));

  // Wait until the simulated clock is past 00:30 so the record at 00:30 exists.
  while (clock.now() < ami::UtcMillis{*ami::parse_utc("2026-01-05T00:30:05Z")})
    std::this_thread::sleep_for(milliseconds{50});

  // Two clients on gateway 2: requests are served one at a time, each reply on its own connection.
  Client a(second_port);
  Client b(second_port);
  const auto boundary = *ami::parse_utc("2026-01-05T00:30:00Z");
  const auto request = ami::dlt645::make_load_profile_request(address("000000020003"), 2,
                                                              ami::dlt645::to_meter_time(boundary - minutes{15}, 480));
  a.send(request);
  b.send(ami::dlt645::make_read_request(address("000000020001"), ami::dlt645::kDiForwardActiveTotal));
  b.send(ami::dlt645::make_read_request(address("000000029999"), ami::dlt645::kDiForwardActiveTotal));  // nobody
  const auto lp = a.receive();
  const auto energy = b.receive();
  REQUIRE(lp);
  REQUIRE(energy);
  CHECK(energy->address == address("000000020001"));
  CHECK_FALSE(b.receive(milliseconds{300}));  // silence for the unknown address

  const auto read = ami::dlt645::parse_read_reply(*lp);
  REQUIRE(read);
  std::vector<ami::dlt645::LoadProfileRecord> records;
  REQUIRE(ami::dlt645::parse_load_profile_records(read->value, records) == ami::dlt645::LoadProfileError::none);
  REQUIRE(records.size() == 2);

  const auto truth = nlohmann::json::parse(ami::test::run_and_capture(
      concat(concat({(bin / "meter-sim").string(), "truth"}, fleet_args(base_port)),
             {"--meter", "gw002-m0003", "--from", "2026-01-05T00:15:00Z", "--to", "2026-01-05T00:30:00Z"})));
  REQUIRE(truth.at("boundaries").size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(ami::format_utc(*ami::dlt645::to_utc(records[i].time, 480)) == truth["boundaries"][i]["t"]);
    CHECK(records[i].forward_active_wh == truth["boundaries"][i]["forward_wh"].get<std::int64_t>());
    CHECK(records[i].reverse_active_wh == truth["boundaries"][i]["reverse_wh"].get<std::int64_t>());
  }

  CHECK(sim.stop() == 0);
  const auto out = ami::test::read_file(dir / "sim.out");
  CHECK_THAT(out, Catch::Contains("gateway gw001 listening on 127.0.0.1:" + std::to_string(base_port) +
                                  " with 3 meters"));
  CHECK_THAT(out, Catch::Contains("gateway gw002 listening on 127.0.0.1:" + std::to_string(second_port) +
                                  " with 3 meters"));
}

TEST_CASE("meter-sim serve exits cleanly on SIGINT", "[integration][simulator]") {
  const auto dir = ami::test::fresh_temp_dir("simulator_sigint");
  const auto port = ami::test::free_tcp_port();
  ChildProcess sim(concat({(ami::test::bin_dir() / "meter-sim").string(), "serve"}, fleet_args(port)),
                   dir / "sim.out", dir / "sim.err");
  REQUIRE(ami::test::wait_for_port(port, seconds{10}));
  sim.signal(SIGINT);
  CHECK(sim.wait(seconds{10}) == 0);
}

TEST_CASE("meter-sim reports bad flags naming the flag", "[integration][simulator]") {
  const auto dir = ami::test::fresh_temp_dir("simulator_badflags");
  ChildProcess sim({(ami::test::bin_dir() / "meter-sim").string(), "truth", "--meter", "gw009-m0001", "--from",
                    "2026-01-05T00:00:00Z", "--to", "2026-01-05T01:00:00Z"},
                   dir / "out", dir / "err");
  CHECK(sim.wait(seconds{10}) != 0);
  CHECK_THAT(ami::test::read_file(dir / "err"), Catch::Contains("gw009-m0001"));
}
