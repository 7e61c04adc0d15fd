// meter-sim as a process, seen by independent peers: mbpoll (a Modbus master nobody here wrote)
// reads SDM630 registers and gets the truth; faults injected through the admin endpoint show on
// the wire as specified; a bus served on a pty with 2400 bps wire timing.
#include <catch2/catch.hpp>

#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "protocols/common/clock.hpp"
#include "protocols/dlt645/read.hpp"
#include "sim_client.hpp"
#include "tests/support/process.hpp"

using namespace std::chrono;
using ami::test::address;
using ami::test::ChildProcess;
using ami::test::Client;
using ami::test::concat;
using ami::test::kSimStart;
using nlohmann::json;

namespace {

std::string meter_sim() { return (ami::test::bin_dir() / "meter-sim").string(); }

json admin(unsigned short port, const std::string& request) {
  return json::parse(ami::test::run_and_capture(
      {meter_sim(), "admin", "--connect", "127.0.0.1:" + std::to_string(port), request}));
}

// A running simulator with an accelerated clock (speed 1: simulated = real, from kSimStart).
struct RunningSim {
  RunningSim(const std::string& name, std::vector<std::string> fleet, std::vector<std::string> extra = {})
      : dir(ami::test::fresh_temp_dir(name)),
        port(ami::test::free_tcp_port()),
        admin_port(ami::test::free_tcp_port()),
        anchor_ms(ami::test::unix_ms_now()),
        fleet_args(concat(std::move(fleet), {"--base-port", std::to_string(port)})),
        clock(ami::Clock::accelerated(ami::UtcMillis{*ami::parse_utc(kSimStart)}, 1,
                                      ami::UtcMillis{milliseconds{anchor_ms}})),
        process(concat(concat({meter_sim(), "serve"}, fleet_args),
                       concat({"--admin-port", std::to_string(admin_port), "--clock", "accelerated", "--clock-start",
                               kSimStart, "--clock-speed", "1", "--clock-anchor", std::to_string(anchor_ms)},
                              extra)),
                dir / "sim.out", dir / "sim.err") {
    REQUIRE(ami::test::wait_for_port(admin_port, seconds{10}));
  }
  std::filesystem::path dir;
  unsigned short port;
  unsigned short admin_port;
  std::int64_t anchor_ms;
  std::vector<std::string> fleet_args;
  ami::Clock clock;
  ChildProcess process;
};

// Registers mbpoll printed as "[72]: \t0x4A05" lines, by address.
std::map<int, std::uint16_t> parse_mbpoll_hex(const std::string& out) {
  std::map<int, std::uint16_t> registers;
  const std::regex line(R"(\[(\d+)\]:\s+0x([0-9A-Fa-f]{4}))");
  for (std::sregex_iterator it(out.begin(), out.end(), line), end; it != end; ++it)
    registers[std::stoi((*it)[1])] = static_cast<std::uint16_t>(std::stoul((*it)[2], nullptr, 16));
  return registers;
}

float float_abcd(std::uint16_t high, std::uint16_t low) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(high) << 16 | low);
}

std::int64_t truth_at(const RunningSim& sim, const std::string& meter, ami::UtcSeconds t, const char* field) {
  const auto j = json::parse(ami::test::run_and_capture(concat(
      concat({meter_sim(), "truth"}, sim.fleet_args), {"--meter", meter, "--at", ami::format_utc(t)})));
  return j.at(field).get<std::int64_t>();
}

}  // namespace

namespace {

// mbpoll reads an SDM630 (unit 3) in two blocks within its 40-register limit (V/I at 0x00..0x0B,
// Hz and energy at 0x46..0x4B); the energy must lie between the truth just before and just after.
void check_sdm630_with_mbpoll(const RunningSim& sim, const std::vector<std::string>& connection) {
  const auto before = floor<seconds>(sim.clock.now());
  const auto poll = [&](const char* start, const char* count) {
    return ami::test::run_and_capture(concat(
        {"/usr/bin/mbpoll", "-a", "3", "-0", "-r", start, "-c", count, "-t", "3:hex", "-1"}, connection));
  };
  const auto out = poll("0", "12") + poll("70", "6");
  const auto after = ceil<seconds>(sim.clock.now());
  const auto registers = parse_mbpoll_hex(out);
  REQUIRE(registers.size() == 18);
  const auto forward_wh = std::llround(double{float_abcd(registers.at(0x48), registers.at(0x49))} * 1000);
  const auto reverse_wh = std::llround(double{float_abcd(registers.at(0x4A), registers.at(0x4B))} * 1000);
  CHECK(forward_wh >= truth_at(sim, "gw001-m0003", before, "forward_wh"));
  CHECK(forward_wh <= truth_at(sim, "gw001-m0003", after, "forward_wh"));
  CHECK(reverse_wh >= truth_at(sim, "gw001-m0003", before, "reverse_wh"));
  CHECK(reverse_wh <= truth_at(sim, "gw001-m0003", after, "reverse_wh"));
  CHECK(forward_wh > 0);
  for (int phase = 0; phase < 3; ++phase) {
    const auto volts = float_abcd(registers.at(2 * phase), registers.at(2 * phase + 1));
    CHECK(volts > 210.0f);
    CHECK(volts < 240.0f);
  }
  const auto hz = float_abcd(registers.at(0x46), registers.at(0x47));
  CHECK(hz > 49.9f);
  CHECK(hz < 50.1f);
}

}  // namespace

TEST_CASE("mbpoll reads SDM630 registers from the simulator and gets the truth", "[integration][simulator]") {
  RunningSim sim("simulator_mbpoll", {"--protocol", "modbus-tcp", "--model", "SDM630", "--meters-per-gateway", "3",
                                      "--seed", "77"});
  check_sdm630_with_mbpoll(sim, {"-p", std::to_string(sim.port), "127.0.0.1"});
}

TEST_CASE("mbpoll reads SDM630 over Modbus RTU on a pty and gets the truth", "[integration][simulator]") {
  const auto pty_dir = ami::test::fresh_temp_dir("simulator_rtu_links");
  RunningSim sim("simulator_rtu", {"--protocol", "modbus-rtu", "--model", "SDM630", "--meters-per-gateway", "3",
                                   "--seed", "78", "--baud", "9600", "--pty-dir", pty_dir.string()});
  const auto link = (pty_dir / "gw001").string();
  for (int i = 0; i < 100 && !std::filesystem::exists(link); ++i) std::this_thread::sleep_for(milliseconds{20});
  REQUIRE(std::filesystem::exists(link));
  check_sdm630_with_mbpoll(sim, {"-m", "rtu", "-b", "9600", "-P", "even", link});
  ChildProcess p({"/usr/bin/mbpoll", "-m", "rtu", "-b", "9600", "-P", "even", "-a", "1", "-0", "-r", "300", "-c", "2",
                  "-t", "3:hex", "-1", link},
                 sim.dir / "mbpoll.out", sim.dir / "mbpoll.err");
  p.wait(seconds{10});
  CHECK_THAT(ami::test::read_file(sim.dir / "mbpoll.err"), Catch::Contains("Illegal data address"));
}

TEST_CASE("Modbus exceptions 0x02 and 0x0B reach mbpoll", "[integration][simulator]") {
  RunningSim sim("simulator_modbus_faults", {"--protocol", "modbus-tcp", "--model", "SDM630", "--meters-per-gateway",
                                             "2"});
  const auto poll = [&](const std::string& unit, const std::string& start) {
    ChildProcess p({"/usr/bin/mbpoll", "-a", unit, "-0", "-r", start, "-c", "2", "-t", "3:float", "-B", "-1", "-p",
                    std::to_string(sim.port), "127.0.0.1"},
                   sim.dir / "mbpoll.out", sim.dir / "mbpoll.err");
    p.wait(seconds{10});
    return ami::test::read_file(sim.dir / "mbpoll.err");
  };
  CHECK_THAT(poll("1", "300"), Catch::Contains("Illegal data address"));  // no such register
  CHECK_THAT(poll("9", "72"), Catch::Contains("Target device failed to respond"));  // no such unit
  CHECK(admin(sim.admin_port, R"({"cmd":"inject","fault":{"kind":"modbus_exception_02","target":"gw001-m0001"}})")
            .at("ok") == true);
  CHECK(admin(sim.admin_port, R"({"cmd":"inject","fault":{"kind":"modbus_exception_0b","target":"gw001-m0002"}})")
            .at("ok") == true);
  CHECK_THAT(poll("1", "72"), Catch::Contains("Illegal data address"));
  CHECK_THAT(poll("2", "72"), Catch::Contains("Target device failed to respond"));
  const auto counters = admin(sim.admin_port, R"({"cmd":"counters","gateway":"gw001"})");
  CHECK(counters.at("gateways")[0].at("faults") == 2);
  CHECK(counters.at("gateways")[0].at("meters")[0].at("faults") == 1);
}

TEST_CASE("DL/T 645 faults injected at run time show on the wire", "[integration][simulator]") {
  RunningSim sim("simulator_dlt645_faults", {"--meters-per-gateway", "2"});
  const auto read = ami::dlt645::make_read_request(address("000000010001"), ami::dlt645::kDiForwardActiveTotal);
  const auto inject = [&](const std::string& fault) {
    admin(sim.admin_port, R"({"cmd":"clear"})");
    REQUIRE(admin(sim.admin_port, R"({"cmd":"inject","fault":)" + fault + "}").at("ok") == true);
  };

  Client client(sim.port);
  client.send(read);
  REQUIRE(client.receive());

  inject(R"({"kind":"no_answer","target":"gw001-m0001"})");
  client.send(read);
  CHECK_FALSE(client.receive(milliseconds{400}));
  CHECK_FALSE(client.closed());

  inject(R"({"kind":"bad_checksum","target":"gw001-m0001"})");
  client.send(read);
  CHECK_FALSE(client.receive(milliseconds{400}));
  CHECK(client.saw_discard(ami::dlt645::FrameError::bad_checksum));

  inject(R"({"kind":"garbage","target":"gw001"})");
  const auto bytes_before = client.received_bytes();
  client.send(read);
  CHECK_FALSE(client.receive(milliseconds{400}));
  CHECK(client.received_bytes() > bytes_before);

  inject(R"({"kind":"wrong_address","target":"gw001-m0001"})");
  client.send(read);
  const auto wrong = client.receive();
  REQUIRE(wrong);
  CHECK(wrong->address == address("000000010002"));

  inject(R"({"kind":"late_answer","target":"gw001-m0001","delay_ms":600})");
  const auto sent = steady_clock::now();
  client.send(read);
  CHECK_FALSE(client.receive(milliseconds{300}));  // not yet
  CHECK(client.receive(milliseconds{3000}));        // but it comes
  CHECK(steady_clock::now() - sent >= milliseconds{600});

  inject(R"({"kind":"drop_connections","target":"gw001"})");
  client.send(read);
  CHECK_FALSE(client.receive(milliseconds{2000}));
  CHECK(client.closed());

  inject(R"({"kind":"refuse_connections","target":"gw001"})");
  Client refused(sim.port);  // the kernel accepts; the gateway closes at once
  refused.send(read);
  CHECK_FALSE(refused.receive(milliseconds{2000}));
  CHECK(refused.closed());

  admin(sim.admin_port, R"({"cmd":"clear"})");
  Client again(sim.port);
  again.send(read);
  CHECK(again.receive());

  // Offline for a window of simulated time (speed 1 here), then back.
  const auto now = floor<seconds>(sim.clock.now());
  inject(R"({"kind":"offline","target":"gw001-m0001","from":")" + ami::format_utc(now - seconds{5}) +
         R"(","until":")" + ami::format_utc(now + seconds{2}) + R"("})");
  again.send(read);
  CHECK_FALSE(again.receive(milliseconds{300}));
  while (sim.clock.now() < ami::UtcMillis{now + seconds{2}}) std::this_thread::sleep_for(milliseconds{50});
  again.send(read);
  CHECK(again.receive());

  // A clock jump of one hour shows in the meter's time (04000102, ss mm hh local).
  inject(R"({"kind":"clock_jump","target":"gw001-m0001","seconds":3600})");
  const auto before = sim.clock.now();
  again.send(ami::dlt645::make_read_request(address("000000010001"), 0x04000102));
  const auto time_reply = again.receive();
  const auto after = sim.clock.now();
  REQUIRE(time_reply);
  const auto read_time = ami::dlt645::parse_read_reply(*time_reply);
  REQUIRE(read_time);
  REQUIRE(read_time->value.size() == 3);
  const auto bcd = [](std::uint8_t b) { return (b >> 4) * 10 + (b & 0x0F); };
  const auto shown = hours{bcd(read_time->value[2])} + minutes{bcd(read_time->value[1])} + seconds{bcd(read_time->value[0])};
  const auto local_of = [](ami::UtcMillis t) {
    return floor<seconds>(t.time_since_epoch() + hours{8}) % days{1};
  };
  CHECK(shown >= local_of(before) + hours{1});
  CHECK(shown <= local_of(after) + hours{1});

  const auto counters = admin(sim.admin_port, R"({"cmd":"counters","meter":"gw001-m0001"})");
  CHECK(counters.at("meter").at("faults") == 7);
}

TEST_CASE("a DL/T 645 bus on a pty with 2400 bps wire timing", "[integration][simulator]") {
  const auto pty_dir = ami::test::fresh_temp_dir("simulator_pty_links");
  RunningSim sim("simulator_pty", {"--meters-per-gateway", "2", "--baud", "2400", "--pty-dir", pty_dir.string()});
  const auto link = (pty_dir / "gw001").string();
  for (int i = 0; i < 100 && !std::filesystem::exists(link); ++i) std::this_thread::sleep_for(milliseconds{20});
  REQUIRE(std::filesystem::exists(link));
  CHECK_THAT(ami::test::run_and_capture(concat({meter_sim(), "registry"}, sim.fleet_args)),
             Catch::Contains("serial://" + link + "?baud=2400&parity=E&stop=1"));
  Client serial(link);
  // Two requests queue on the bus: 20 + 24 bytes (with FE preambles) at 11 bits / 2400 bps + 40 ms
  // turnaround = 241 ms each, one after the other.
  const auto sent = steady_clock::now();
  serial.send(ami::dlt645::make_read_request(address("000000010001"), ami::dlt645::kDiForwardActiveTotal));
  serial.send(ami::dlt645::make_read_request(address("000000010002"), ami::dlt645::kDiForwardActiveTotal));
  const auto first = serial.receive(milliseconds{3000});
  const auto second = serial.receive(milliseconds{3000});
  REQUIRE(first);
  REQUIRE(second);
  CHECK(first->address == address("000000010001"));
  CHECK(second->address == address("000000010002"));
  CHECK(steady_clock::now() - sent >= milliseconds{2 * 240});
}

namespace {

// One Modbus TCP read (MBAP + PDU) on a raw socket; the raw reply bytes, empty on timeout or close.
std::vector<std::uint8_t> modbus_tcp_exchange(int fd, std::uint8_t unit, std::uint16_t start, std::uint16_t count,
                                              milliseconds timeout) {
  const std::uint8_t request[] = {0x00, 0x07, 0x00, 0x00, 0x00, 0x06, unit, 0x04,
                                  static_cast<std::uint8_t>(start >> 8), static_cast<std::uint8_t>(start),
                                  static_cast<std::uint8_t>(count >> 8), static_cast<std::uint8_t>(count)};
  REQUIRE(::write(fd, request, sizeof request) == static_cast<ssize_t>(sizeof request));
  std::vector<std::uint8_t> reply;
  const auto deadline = steady_clock::now() + timeout;
  for (;;) {
    const auto left = duration_cast<milliseconds>(deadline - steady_clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return reply;
    std::uint8_t buf[300];
    const auto n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return reply;
    reply.insert(reply.end(), buf, buf + n);
    if (reply.size() >= 6 && reply.size() >= 6u + (std::size_t{reply[4]} << 8 | reply[5])) return reply;
  }
}

}  // namespace

TEST_CASE("Modbus TCP faults show on the wire", "[integration][simulator]") {
  RunningSim sim("simulator_modbus_wire", {"--protocol", "modbus-tcp", "--model", "EM340", "--meters-per-gateway", "2"});
  const int fd = ami::test::connect_tcp(sim.port);
  const auto inject = [&](const std::string& fault) {
    admin(sim.admin_port, R"({"cmd":"clear"})");
    REQUIRE(admin(sim.admin_port, R"({"cmd":"inject","fault":)" + fault + "}").at("ok") == true);
  };
  // EM340 energy: int32 low word first at 0x34, 0.1 kWh.
  auto reply = modbus_tcp_exchange(fd, 1, 0x34, 2, milliseconds{2000});
  REQUIRE(reply.size() == 13);
  CHECK(reply[6] == 1);     // unit
  CHECK(reply[7] == 0x04);  // function
  CHECK(reply[8] == 4);     // byte count

  inject(R"({"kind":"no_answer","target":"gw001-m0001"})");
  CHECK(modbus_tcp_exchange(fd, 1, 0x34, 2, milliseconds{400}).empty());

  inject(R"({"kind":"wrong_address","target":"gw001-m0001"})");
  reply = modbus_tcp_exchange(fd, 1, 0x34, 2, milliseconds{2000});
  REQUIRE(reply.size() == 13);
  CHECK(reply[6] == 2);  // answered as unit 2

  inject(R"({"kind":"garbage","target":"gw001-m0001"})");
  reply = modbus_tcp_exchange(fd, 1, 0x34, 2, milliseconds{400});
  CHECK(reply.size() >= 8);
  CHECK(std::vector<std::uint8_t>(reply.begin(), reply.begin() + 2) != std::vector<std::uint8_t>{0x00, 0x07});

  inject(R"({"kind":"offline","target":"gw001-m0002"})");
  ::close(fd);
  const int fd2 = ami::test::connect_tcp(sim.port);
  reply = modbus_tcp_exchange(fd2, 2, 0x34, 2, milliseconds{2000});
  REQUIRE(reply.size() == 9);
  CHECK(reply[7] == 0x84);  // exception to function 04
  CHECK(reply[8] == 0x0B);
  ::close(fd2);
}
