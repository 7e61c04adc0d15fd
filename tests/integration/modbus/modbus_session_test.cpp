// Modbus sessions against real peers: python3-pymodbus (Modbus TCP, RTU over TCP, and RTU over a
// socat pty bridged to it) for values, and a scripted gateway (fake_gateway.hpp) for faults.
#include <catch2/catch.hpp>

#include <bit>
#include <filesystem>
#include <atomic>
#include <future>
#include <map>
#include <thread>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <unistd.h>

#include "headend/modbus/executor.hpp"
#include "headend/modbus/session.hpp"
#include "protocols/modbus/builtin_maps.hpp"
#include "protocols/modbus/decode.hpp"
#include "tests/integration/modbus/fake_gateway.hpp"
#include "tests/integration/modbus/pymodbus_server.hpp"
#include "tests/support/process.hpp"

using namespace std::chrono_literals;
using namespace ami::modbus;
using ami::Quantity;
using ami::test::ChildProcess;
using ami::test::PymodbusServer;

namespace {

const RegisterMap& sdm630() { return *find_builtin_map("SDM630"); }

// The values pymodbus_sdm630_server.py serves for unit u, in canonical units (our own copy of the
// script's formulas; rounding per docs/MODBUS.md).
std::map<Quantity, std::int64_t> expected_sdm630(int u) {
  return {
      {Quantity::voltage_l1, (230 + u) * 1000},
      {Quantity::voltage_l2, 231'500},
      {Quantity::voltage_l3, 229'250},
      {Quantity::current_l1, 5000 + 250 * u},
      {Quantity::current_l2, 500},
      {Quantity::current_l3, 0},
      {Quantity::active_power, 1'500'000LL * u},
      {Quantity::power_factor, 875},
      {Quantity::frequency, 50'000},
      {Quantity::forward_active_energy, ami::test::pymodbus_import_wh(u, 0)},
      {Quantity::reverse_active_energy, ami::test::pymodbus_export_wh(u, 0)},
  };
}

void check_readings(const MeterReadResult& r, const std::map<Quantity, std::int64_t>& expected) {
  INFO(to_string(r.outcome) << ": " << r.detail);
  REQUIRE(r.outcome == MeterOutcome::ok);
  CHECK(r.unavailable.empty());
  std::map<Quantity, std::int64_t> got;
  for (const auto& reading : r.readings) got[reading.quantity] = reading.value;
  for (const auto& [q, value] : expected) {
    INFO(ami::to_string(q));
    REQUIRE(got.count(q) == 1);
    CHECK(got[q] == value);
  }
}

ChannelSpec channel(const std::string& protocol, const std::string& text) {
  std::string error;
  auto spec = parse_channel(protocol, text, error);
  INFO(error);
  REQUIRE(spec);
  return *spec;
}

MeterRequest request(int unit, std::int64_t ct = 1, std::int64_t pt = 1) {
  return MeterRequest{"meter-" + std::to_string(unit), static_cast<std::uint8_t>(unit), &sdm630(), ct, pt};
}

// Generous for a loaded CI machine; the late replies below come well after them.
LinkOptions fast_timeouts() { return LinkOptions{1000ms, 2000ms}; }

std::map<std::uint16_t, std::uint16_t> sdm630_image(float energy_kwh) {
  std::map<std::uint16_t, std::uint16_t> regs;
  for (const Point& p : sdm630().points) {
    const float value = p.quantity == Quantity::forward_active_energy ? energy_kwh : 1.0f;
    std::uint16_t words[2];
    encode_raw(std::bit_cast<std::uint32_t>(value), p.type, p.word_order, words);
    regs[p.address] = words[0];
    regs[static_cast<std::uint16_t>(p.address + 1)] = words[1];
  }
  return regs;
}

std::int64_t energy_of(const MeterReadResult& r) {
  for (const auto& reading : r.readings)
    if (reading.quantity == Quantity::forward_active_energy) return reading.value;
  return -1;
}

}  // namespace

TEST_CASE("pymodbus over Modbus TCP: three SDM630 units behind one gateway, read from a coroutine") {
  const auto dir = ami::test::fresh_temp_dir("modbus-pymodbus-tcp");
  PymodbusServer server("socket", dir);
  Executor executor(ExecutorOptions{2, 1000, fast_timeouts()});
  const ChannelSpec ch = channel("modbus-tcp", "tcp://127.0.0.1:" + std::to_string(server.port));

  ami::asio::io_context io;
  std::vector<MeterReadResult> results;
  std::vector<bool> on_io_thread;
  ami::asio::co_spawn(
      io,
      [&]() -> ami::asio::awaitable<void> {
        for (int unit = 1; unit <= 3; ++unit) {
          auto r = co_await executor.async_read(ch, request(unit, unit == 3 ? 2 : 1, unit == 3 ? 3 : 1),
                                                ami::asio::use_awaitable);
          on_io_thread.push_back(io.get_executor().running_in_this_thread());
          results.push_back(std::move(r));
        }
      },
      ami::asio::detached);
  io.run();

  REQUIRE(results.size() == 3);
  CHECK(std::all_of(on_io_thread.begin(), on_io_thread.end(), [](bool b) { return b; }));
  check_readings(results[0], expected_sdm630(1));
  check_readings(results[1], expected_sdm630(2));
  // Unit 3 sits behind CT 2 and PT 3: energy and power x6, current x2, voltage x3.
  auto with_ratios = expected_sdm630(3);
  for (auto& [q, v] : with_ratios) {
    const auto scaled = ami::apply_transformer_ratios(q, v, 2, 3);
    REQUIRE(scaled);
    v = *scaled;
  }
  CHECK(with_ratios[Quantity::forward_active_energy] == 3'001'500 * 6);
  check_readings(results[2], with_ratios);
  CHECK(results[0].transactions == 2);  // SDM630: two block reads
}

TEST_CASE("pymodbus RTU over TCP through our RTU framer") {
  const auto dir = ami::test::fresh_temp_dir("modbus-pymodbus-rtu-tcp");
  PymodbusServer server("rtu", dir);
  PlanCache plans;
  const auto link = make_link(channel("modbus-rtu-over-tcp", "tcp://127.0.0.1:" + std::to_string(server.port)),
                              fast_timeouts());
  for (int unit = 1; unit <= 3; ++unit) {
    INFO("unit " << unit);
    check_readings(read_meter(*link, request(unit), plans), expected_sdm630(unit));
  }
  CHECK(link->connects() == 1);
}

TEST_CASE("RTU over a socat pty pair bridged to pymodbus, with libmodbus RTU") {
  const auto dir = ami::test::fresh_temp_dir("modbus-pymodbus-pty");
  PymodbusServer server("rtu", dir);
  const auto tty = dir / "ttyMODBUS";
  ChildProcess socat({"/usr/bin/socat", "pty,raw,echo=0,link=" + tty.string(),
                      "tcp:127.0.0.1:" + std::to_string(server.port)},
                     dir / "socat.out", dir / "socat.err");
  for (int i = 0; i < 100 && !std::filesystem::exists(tty); ++i) std::this_thread::sleep_for(50ms);
  REQUIRE(std::filesystem::exists(tty));

  PlanCache plans;
  const auto link = make_link(channel("modbus-rtu", "serial://" + tty.string() + "?baud=9600&parity=N&stop=1"),
                              LinkOptions{1000ms, 1000ms});
  for (int unit = 1; unit <= 2; ++unit) {
    INFO("unit " << unit);
    check_readings(read_meter(*link, request(unit), plans), expected_sdm630(unit));
  }
}

TEST_CASE("a meter that times out once is read on the next try, and its neighbours are unaffected") {
  std::map<std::uint8_t, ami::test::FakeUnit> units;
  units[1].input_registers = sdm630_image(100.0f);
  units[2].input_registers = sdm630_image(200.0f);
  units[2].silent_first_n = 1;  // its first reply comes 2.5 s late
  ami::test::FakeGateway gateway(std::move(units));
  PlanCache plans;
  const auto link = make_link(channel("modbus-tcp", "tcp://127.0.0.1:" + std::to_string(gateway.port())),
                              fast_timeouts());

  CHECK(energy_of(read_meter(*link, request(1), plans)) == 100'000);
  const auto first = read_meter(*link, request(2), plans);
  CHECK(first.outcome == MeterOutcome::timeout);
  CHECK_FALSE(link->connected());  // closed after the timeout, so the late reply cannot be misread
  // The neighbour right after, on the same gateway: correct values, not unit 2's late reply.
  const auto neighbour = read_meter(*link, request(1), plans);
  CHECK(neighbour.outcome == MeterOutcome::ok);
  CHECK(energy_of(neighbour) == 100'000);
  const auto retry = read_meter(*link, request(2), plans);
  CHECK(retry.outcome == MeterOutcome::ok);
  CHECK(energy_of(retry) == 200'000);
  CHECK(link->connects() == 2);
}

TEST_CASE("gateway exceptions mean the meter is unreachable, not that the link is broken") {
  std::map<std::uint8_t, ami::test::FakeUnit> units;
  units[1].input_registers = sdm630_image(5.5f);
  units[3].exception = 0x0B;
  units[4].exception = 0x0A;
  units[5].exception = 0x06;
  units[6].exception = 0x04;
  ami::test::FakeGateway gateway(std::move(units));
  PlanCache plans;
  const auto link = make_link(channel("modbus-tcp", "tcp://127.0.0.1:" + std::to_string(gateway.port())),
                              fast_timeouts());
  for (int unit : {3, 4, 5}) {
    const auto r = read_meter(*link, request(unit), plans);
    INFO("unit " << unit << ": " << r.detail);
    CHECK(r.outcome == MeterOutcome::unreachable);
    CHECK(r.transactions == 1);  // the rest of the plan is not tried
  }
  CHECK(read_meter(*link, request(6), plans).outcome == MeterOutcome::meter_error);
  CHECK(energy_of(read_meter(*link, request(1), plans)) == 5'500);
  CHECK(link->connected());
  CHECK(link->connects() == 1);
}

TEST_CASE("exception 0x02 splits a block, the meter is still read, and the split is kept") {
  std::map<std::uint8_t, ami::test::FakeUnit> units;
  units[7].input_registers = sdm630_image(42.0f);
  units[7].refused_register = 0x40;  // a gap register inside the SDM630 block 0x34..0x4B
  ami::test::FakeGateway gateway(std::move(units));
  PlanCache plans;
  const auto link = make_link(channel("modbus-tcp", "tcp://127.0.0.1:" + std::to_string(gateway.port())),
                              fast_timeouts());

  const auto first = read_meter(*link, request(7), plans);
  INFO(first.detail);
  CHECK(first.outcome == MeterOutcome::ok);
  CHECK(first.readings.size() == sdm630().points.size());
  CHECK(energy_of(first) == 42'000);
  CHECK(plans.splits() >= 1);
  const auto plan_size = plans.plan_for(sdm630())->size();
  CHECK(plan_size > 2);

  const int before = gateway.requests(7);
  const auto second = read_meter(*link, request(7), plans);
  CHECK(second.outcome == MeterOutcome::ok);
  CHECK(second.transactions == static_cast<int>(plan_size));  // no 0x02 round trips any more
  CHECK(gateway.requests(7) - before == static_cast<int>(plan_size));
}

TEST_CASE("executor: one transaction at a time per gateway, gateways in parallel, results complete") {
  std::map<std::uint8_t, ami::test::FakeUnit> units;
  for (std::uint8_t u = 1; u <= 10; ++u) units[u].input_registers = sdm630_image(static_cast<float>(u));
  ami::test::FakeGateway a(units, 3ms);
  ami::test::FakeGateway b(units, 3ms);
  Executor executor(ExecutorOptions{4, 1000, fast_timeouts()});
  const ChannelSpec ca = channel("modbus-tcp", "tcp://127.0.0.1:" + std::to_string(a.port()));
  const ChannelSpec cb = channel("modbus-tcp", "tcp://127.0.0.1:" + std::to_string(b.port()));

  std::mutex mutex;
  std::map<std::string, std::int64_t> energy;
  std::atomic<int> remaining{40};
  std::promise<void> all_done;
  for (int round = 0; round < 2; ++round) {
    for (int u = 1; u <= 10; ++u) {
      for (const ChannelSpec* ch : {&ca, &cb}) {
        const std::string id = ch->key() + "/" + std::to_string(u) + "/" + std::to_string(round);
        executor.submit(*ch, request(u), [&, id](MeterReadResult r) {
          {
            std::lock_guard lock(mutex);
            energy[id] = r.outcome == MeterOutcome::ok ? energy_of(r) : -1;
          }
          if (--remaining == 0) all_done.set_value();
        });
      }
    }
  }
  all_done.get_future().wait();
  CHECK(a.max_in_progress() == 1);
  CHECK(b.max_in_progress() == 1);
  CHECK(a.connections_accepted() == 1);
  CHECK(executor.channels() == 2);
  REQUIRE(energy.size() == 40);
  for (const auto& [id, wh] : energy) {
    INFO(id);
    const int unit = std::stoi(id.substr(id.find('/', 6) + 1));
    CHECK(wh == unit * 1000);
  }
}

TEST_CASE("executor completes queued jobs as cancelled when it stops") {
  std::map<std::uint8_t, ami::test::FakeUnit> units;
  units[1].input_registers = sdm630_image(1.0f);
  ami::test::FakeGateway gateway(units, 20ms);
  const ChannelSpec ch = channel("modbus-tcp", "tcp://127.0.0.1:" + std::to_string(gateway.port()));
  std::atomic<int> ok{0}, cancelled{0};
  {
    Executor executor(ExecutorOptions{1, 1000, fast_timeouts()});
    for (int i = 0; i < 20; ++i)
      executor.submit(ch, request(1), [&](MeterReadResult r) {
        if (r.outcome == MeterOutcome::ok) ++ok;
        if (r.outcome == MeterOutcome::cancelled) ++cancelled;
      });
    // Stop once the first read is done: the rest (20 ms each at the gateway) are still queued.
    for (int i = 0; i < 500 && ok == 0; ++i) std::this_thread::sleep_for(10ms);
  }
  CHECK(ok + cancelled == 20);
  CHECK(ok >= 1);
  CHECK(cancelled >= 1);
}

TEST_CASE("channel specs name what is wrong") {
  std::string error;
  auto tcp = parse_channel("modbus-tcp", "tcp://gw.example:1502", error);
  REQUIRE(tcp);
  CHECK(tcp->host == "gw.example");
  CHECK(tcp->port == 1502);
  CHECK(tcp->key() == "tcp://gw.example:1502");
  auto serial = parse_channel("modbus-rtu", "serial:///dev/ttyUSB0?baud=2400&parity=E&stop=1", error);
  REQUIRE(serial);
  CHECK(serial->device == "/dev/ttyUSB0");
  CHECK(serial->baud == 2400);
  CHECK(serial->parity == 'E');
  CHECK(parse_channel("modbus-rtu-over-tcp", "tcp://10.0.0.1:4001", error)->transport == Transport::rtu_over_tcp);

  CHECK_FALSE(parse_channel("modbus-tcp", "serial:///dev/ttyS0", error));
  CHECK(error.find("tcp://HOST:PORT") != std::string::npos);
  CHECK_FALSE(parse_channel("modbus-tcp", "tcp://host:99999", error));
  CHECK(error.find("99999") != std::string::npos);
  CHECK_FALSE(parse_channel("modbus-rtu", "serial:///dev/ttyS0?parity=X", error));
  CHECK(error.find("parity") != std::string::npos);
  CHECK_FALSE(parse_channel("modbus-rtu", "serial:///dev/ttyS0?speed=9600", error));
  CHECK(error.find("speed") != std::string::npos);
  CHECK_FALSE(parse_channel("dlt645-2007", "tcp://h:1", error));
}

TEST_CASE("executor keeps at most max_open_links connections, closing the least recently used") {
  std::map<std::uint8_t, ami::test::FakeUnit> units;
  units[1].input_registers = sdm630_image(3.0f);
  ami::test::FakeGateway g1(units), g2(units), g3(units);
  ExecutorOptions options{1, 100, fast_timeouts()};
  options.max_open_links = 2;
  Executor executor(options);
  auto read = [&](const ami::test::FakeGateway& g) {
    std::promise<MeterReadResult> promise;
    executor.submit(channel("modbus-tcp", "tcp://127.0.0.1:" + std::to_string(g.port())), request(1),
                    [&](MeterReadResult r) { promise.set_value(std::move(r)); });
    return promise.get_future().get();
  };
  CHECK(energy_of(read(g1)) == 3000);
  CHECK(energy_of(read(g2)) == 3000);
  CHECK(executor.links_closed_idle() == 0);
  CHECK(energy_of(read(g3)) == 3000);  // g1 is the least recently used: closed
  CHECK(executor.links_closed_idle() == 1);
  CHECK(energy_of(read(g2)) == 3000);  // still open
  CHECK(g2.connections_accepted() == 1);
  CHECK(energy_of(read(g1)) == 3000);  // reconnects; g3 is now the least recently used
  CHECK(g1.connections_accepted() == 2);
  CHECK(executor.links_closed_idle() == 2);
}

TEST_CASE("unit_switch_pause leaves silence before a request to another unit only") {
  std::map<std::uint8_t, ami::test::FakeUnit> units;
  units[1].input_registers = sdm630_image(1.0f);
  units[2].input_registers = sdm630_image(2.0f);
  ami::test::FakeGateway gateway(std::move(units));
  PlanCache plans;
  LinkOptions options = fast_timeouts();
  options.unit_switch_pause = 150ms;
  const auto link = make_link(channel("modbus-tcp", "tcp://127.0.0.1:" + std::to_string(gateway.port())), options);
  CHECK(energy_of(read_meter(*link, request(1), plans)) == 1000);
  const auto start = std::chrono::steady_clock::now();
  CHECK(energy_of(read_meter(*link, request(2), plans)) == 2000);  // one switch 1 -> 2 (then 2 -> 2)
  const auto switched = std::chrono::steady_clock::now() - start;
  CHECK(switched >= 150ms);  // a lower bound the pause guarantees; no upper bound is asserted
}

TEST_CASE("a TCP link refuses to hand libmodbus a descriptor at or above FD_SETSIZE, and reads once one is free") {
  std::map<std::uint8_t, ami::test::FakeUnit> units;
  units[1].input_registers = sdm630_image(8.0f);
  ami::test::FakeGateway gateway(std::move(units));
  // Room above FD_SETSIZE, so that the next socket really lands there (as in a big daemon).
  rlimit limit{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &limit) == 0);
  constexpr rlim_t wanted = 2 * FD_SETSIZE;
  if (limit.rlim_cur < wanted) {
    limit.rlim_cur = std::min(wanted, limit.rlim_max);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &limit) == 0);
  }
  INFO("RLIMIT_NOFILE hard limit " << limit.rlim_max << ": this process can never hold a descriptor >= FD_SETSIZE");
  REQUIRE(limit.rlim_cur > FD_SETSIZE + 16);

  // Occupy every free descriptor below FD_SETSIZE.
  std::vector<int> fillers;
  while (true) {
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) FAIL("open /dev/null: " << std::system_category().message(errno));
    fillers.push_back(fd);
    if (fd >= FD_SETSIZE - 1) break;
  }
  PlanCache plans;
  const auto link = make_link(channel("modbus-tcp", "tcp://127.0.0.1:" + std::to_string(gateway.port())),
                              fast_timeouts());
  const auto refused = read_meter(*link, request(1), plans);  // libmodbus would abort the process here
  const int accepted_while_full = gateway.connections_accepted();
  for (const int fd : fillers) ::close(fd);
  INFO(refused.detail);
  CHECK(refused.outcome == MeterOutcome::link_error);
  CHECK(refused.detail.find("FD_SETSIZE") != std::string::npos);
  CHECK_FALSE(link->connected());
  CHECK(accepted_while_full == 0);

  const auto later = read_meter(*link, request(1), plans);
  INFO(later.detail);
  CHECK(later.outcome == MeterOutcome::ok);
  CHECK(energy_of(later) == 8'000);
}

TEST_CASE("executor: a meter timing out once is read on its next job, its queued neighbours and other gateways are unaffected") {
  std::map<std::uint8_t, ami::test::FakeUnit> units;
  for (std::uint8_t u = 1; u <= 3; ++u) units[u].input_registers = sdm630_image(100.0f * u);
  auto late_units = units;
  late_units[2].silent_first_n = 1;  // its first reply comes 2.5 s late, after the 1 s timeout
  ami::test::FakeGateway late_gateway(std::move(late_units));
  ami::test::FakeGateway other_gateway(std::move(units));
  Executor executor(ExecutorOptions{2, 100, fast_timeouts()});
  const ChannelSpec late_ch = channel("modbus-tcp", "tcp://127.0.0.1:" + std::to_string(late_gateway.port()));
  const ChannelSpec other_ch = channel("modbus-tcp", "tcp://127.0.0.1:" + std::to_string(other_gateway.port()));

  struct Done {
    std::string job;
    MeterOutcome outcome;
    std::int64_t energy;
  };
  std::mutex mutex;
  std::vector<Done> finished;  // in completion order
  std::promise<void> all_done;
  const std::vector<std::pair<const ChannelSpec*, int>> jobs{
      {&late_ch, 1}, {&late_ch, 2}, {&late_ch, 3}, {&late_ch, 2}, {&other_ch, 1}, {&other_ch, 2}, {&other_ch, 3}};
  std::atomic<std::size_t> remaining{jobs.size()};
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const auto [ch, unit] = jobs[i];
    const std::string name = (ch == &late_ch ? "late/" : "other/") + std::to_string(unit) + "#" + std::to_string(i);
    executor.submit(*ch, request(unit), [&, name](MeterReadResult r) {
      {
        std::lock_guard lock(mutex);
        finished.push_back({name, r.outcome, energy_of(r)});
      }
      if (--remaining == 0) all_done.set_value();
    });
  }
  all_done.get_future().wait();

  std::map<std::string, Done> by_job;
  std::size_t timeout_at = 0;
  for (std::size_t i = 0; i < finished.size(); ++i) {
    by_job.emplace(finished[i].job, finished[i]);
    if (finished[i].job == "late/2#1") timeout_at = i;
  }
  REQUIRE(by_job.size() == jobs.size());
  CHECK(by_job.at("late/2#1").outcome == MeterOutcome::timeout);
  // The next try of the same meter, on a fresh connection, reads its own values.
  CHECK(by_job.at("late/2#3").outcome == MeterOutcome::ok);
  CHECK(by_job.at("late/2#3").energy == 200'000);
  // Its neighbours on the gateway, before and right after it: their own values, not its late reply.
  CHECK(by_job.at("late/1#0").energy == 100'000);
  CHECK(by_job.at("late/3#2").outcome == MeterOutcome::ok);
  CHECK(by_job.at("late/3#2").energy == 300'000);
  // The other gateway went on while this one waited for the timeout.
  for (int u = 1; u <= 3; ++u) {
    const auto& d = by_job.at("other/" + std::to_string(u) + "#" + std::to_string(3 + u));
    INFO(d.job);
    CHECK(d.energy == 100'000 * u);
  }
  std::size_t other_before_timeout = 0;
  for (std::size_t i = 0; i < timeout_at; ++i) other_before_timeout += finished[i].job.starts_with("other/") ? 1U : 0U;
  CHECK(other_before_timeout == 3);
  CHECK(late_gateway.max_in_progress() == 1);
  CHECK(late_gateway.connections_accepted() == 2);  // one reconnect, after the timeout
}
