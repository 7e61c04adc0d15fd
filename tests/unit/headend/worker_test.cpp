#include <catch2/catch.hpp>

#include "headend/collection/gateway_worker.hpp"
#include "headend/collection/modbus_collector.hpp"
#include "headend/collection/register_read.hpp"
#include "headend/collection/scheduler.hpp"
#include "protocols/dlt645/catalogue.hpp"
#include "protocols/dlt645/messages.hpp"
#include "tests/unit/headend/fake_meter.hpp"
#include "tests/unit/headend/run_coroutine.hpp"

using namespace ami;
using namespace ami::collection;
using namespace std::chrono_literals;
using ami::test::ScriptedReply;

namespace {

MeterTarget target(const char* id, const char* digits, std::uint16_t port) {
  std::string error;
  return {id, "dlt645-2007", "tcp://127.0.0.1:" + std::to_string(port), *dlt645::Address::parse(digits, error), 480};
}

ReadJob job_for(const MeterTarget& meter, UtcSeconds boundary, Priority priority, UtcMillis not_before) {
  ReadJob job;
  job.meter = make_meter_ref(meter);
  job.boundary = boundary;
  job.priority = priority;
  job.source = priority == Priority::backfill ? storage::ReadSource::backfill : storage::ReadSource::scheduled;
  job.not_before = not_before;
  job.retry_deadline = not_before + 15min;
  return job;
}

ChannelOptions fast_options() {
  ChannelOptions o;
  o.response_timeout = 100ms;
  o.inter_frame_gap = 0ms;
  return o;
}

// A worker without retries on the gateway at `port`, collecting its reports.
std::unique_ptr<GatewayWorker> worker_on(asio::io_context& io, const Clock& clock, std::uint16_t port,
                                         std::vector<JobReport>& reports) {
  return std::make_unique<GatewayWorker>(
      io.get_executor(), clock,
      std::make_unique<TcpGatewayChannel>(io.get_executor(), "gw", "127.0.0.1", port, fast_options()),
      RetryPolicy{0, 10ms}, [&reports](JobReport r) { reports.push_back(std::move(r)); });
}

// A gateway whose meters answer every load-profile read with two records.
std::unique_ptr<test::FakeMeterGateway> load_profile_gateway(asio::io_context& io) {
  return std::make_unique<test::FakeMeterGateway>(io, [](const dlt645::Frame& request, int) {
    return std::vector<ScriptedReply>{
        {0ms, test::load_profile_reply(request.address, test::requested_start(request), 2)}};
  });
}

}  // namespace

TEST_CASE("worker: a ready backfill read runs before a scheduled read whose slot has not come", "[worker]") {
  asio::io_context io;
  const auto clock = Clock::real();
  const auto now = clock.now();
  const auto boundary = floor_to_interval(std::chrono::floor<std::chrono::seconds>(now), 15min);
  const auto gateway = load_profile_gateway(io);
  std::vector<JobReport> reports;
  const auto worker_ptr = worker_on(io, clock, gateway->port(), reports);
  auto& worker = *worker_ptr;
  const auto a = target("a", "000000000001", gateway->port());
  const auto b = target("b", "000000000002", gateway->port());
  worker.enqueue(job_for(a, boundary, Priority::scheduled, now + 300ms));
  worker.enqueue(job_for(b, boundary - 15min, Priority::backfill, now));
  asio::co_spawn(io, worker.run(), asio::detached);
  REQUIRE(test::run_until(io, [&] { return reports.size() == 2; }, 5s));
  CHECK(reports[0].job.meter->meter_id == "b");
  CHECK(reports[0].ok());
  CHECK(reports[1].job.meter->meter_id == "a");
  CHECK(reports[1].ok());
  worker.stop();
}

TEST_CASE("worker: retries a silent meter, reports every attempt, then stops after the limit", "[worker]") {
  asio::io_context io;
  const auto clock = Clock::real();
  const auto now = clock.now();
  const auto boundary = floor_to_interval(std::chrono::floor<std::chrono::seconds>(now), 15min);
  test::FakeMeterGateway gateway(io, [](const dlt645::Frame& request, int n) {
    if (n < 3) return std::vector<ScriptedReply>{};  // two timeouts, then an answer
    return std::vector<ScriptedReply>{{0ms, test::load_profile_reply(request.address, test::requested_start(request), 2)}};
  });
  std::vector<JobReport> reports;
  GatewayWorker worker(io.get_executor(), clock,
                       std::make_unique<TcpGatewayChannel>(io.get_executor(), "gw", "127.0.0.1", gateway.port(),
                                                           fast_options()),
                       RetryPolicy{2, 10ms}, [&](JobReport r) { reports.push_back(std::move(r)); });
  const auto a = target("a", "000000000001", gateway.port());
  worker.enqueue(job_for(a, boundary, Priority::scheduled, now));
  worker.enqueue(job_for(a, boundary + 15min, Priority::scheduled, now));
  asio::co_spawn(io, worker.run(), asio::detached);
  REQUIRE(test::run_until(io, [&] { return reports.size() == 2; }, 5s));
  REQUIRE(reports[0].attempts.size() == 3);
  CHECK(reports[0].attempts[0].outcome == Outcome::timeout);
  CHECK(reports[0].attempts[1].outcome == Outcome::timeout);
  CHECK(reports[0].attempts[2].outcome == Outcome::ok);
  CHECK(reports[0].attempts[2].attempt == 3);
  CHECK(reports[0].ok());
  CHECK(reports[1].attempts.size() == 1);
  worker.stop();
}

TEST_CASE("worker: a refused load-profile read carries the meter's ERR byte on the attempt, an answered one none",
          "[worker]") {
  asio::io_context io;
  const auto clock = Clock::real();
  const auto now = clock.now();
  const auto boundary = floor_to_interval(std::chrono::floor<std::chrono::seconds>(now), 15min);
  // Meter ...01 has no load profile (ERR 02), meter ...02 answers.
  test::FakeMeterGateway gateway(io, [](const dlt645::Frame& request, int) {
    if (request.address.to_string() == "000000000001")
      return std::vector<ScriptedReply>{
          {0ms, dlt645::encode_frame(dlt645::make_abnormal_reply(request.address, dlt645::kFnRead, 0x02), 2)}};
    return std::vector<ScriptedReply>{{0ms, test::load_profile_reply(request.address, test::requested_start(request), 2)}};
  });
  std::vector<JobReport> reports;
  const auto worker_ptr = worker_on(io, clock, gateway.port(), reports);
  auto& worker = *worker_ptr;
  worker.enqueue(job_for(target("a", "000000000001", gateway.port()), boundary, Priority::scheduled, now));
  worker.enqueue(job_for(target("b", "000000000002", gateway.port()), boundary, Priority::scheduled, now));
  asio::co_spawn(io, worker.run(), asio::detached);
  REQUIRE(test::run_until(io, [&] { return reports.size() == 2; }, 5s));
  REQUIRE(reports[0].attempts.size() == 1);
  const auto& refused = reports[0].attempts[0];
  CHECK(refused.outcome == Outcome::meter_error);
  REQUIRE(refused.meter_err.has_value());
  CHECK(*refused.meter_err == 0x02);
  CHECK(refused.detail == "ERR 02: no_requested_data");  // the attempt log's words, unchanged
  CHECK(is_load_profile_refusal(reports[0]));
  CHECK(reports[1].ok());
  CHECK_FALSE(reports[1].attempts[0].meter_err.has_value());
  CHECK_FALSE(is_load_profile_refusal(reports[1]));
  worker.stop();
}

TEST_CASE("worker: a protocol it cannot read fails as unsupported without touching the wire", "[worker]") {
  asio::io_context io;
  const auto clock = Clock::real();
  test::FakeMeterGateway gateway(io, [](const dlt645::Frame&, int) { return std::vector<ScriptedReply>{}; });
  std::vector<JobReport> reports;
  GatewayWorker worker(io.get_executor(), clock,
                       std::make_unique<TcpGatewayChannel>(io.get_executor(), "gw", "127.0.0.1", gateway.port(),
                                                           fast_options()),
                       RetryPolicy{2, 10ms}, [&](JobReport r) { reports.push_back(std::move(r)); });
  auto meter = target("old", "000000000009", gateway.port());
  meter.protocol = "modbus-tcp";  // Modbus goes to the Modbus collector, never to a DL/T 645 channel
  worker.enqueue(job_for(meter, *parse_utc("2026-01-05T00:15:00Z"), Priority::scheduled, clock.now()));
  asio::co_spawn(io, worker.run(), asio::detached);
  REQUIRE(test::run_until(io, [&] { return reports.size() == 1; }, 5s));
  REQUIRE(reports[0].attempts.size() == 1);
  CHECK(reports[0].final_outcome() == Outcome::unsupported);
  CHECK(gateway.requests() == 0);
  worker.stop();
}

namespace {

// A 1997 meter's 81H reply carrying `wh` under `di` (XXXXXX.XX kWh, the catalogue's layout).
std::vector<std::uint8_t> register_reply_1997(const dlt645::Address& address, std::uint16_t di, std::int64_t wh) {
  const auto* item = dlt645::find_data_item(dlt645::Edition::v1997, di);
  std::vector<std::uint8_t> value(item->fields[0].bytes);
  REQUIRE(dlt645::encode_number(item->fields[0], wh / 10, value));
  return dlt645::encode_frame(dlt645::make_read_reply(dlt645::Edition::v1997, address, di, value), 4);
}

std::uint16_t requested_di_1997(const dlt645::Frame& request) {
  return static_cast<std::uint16_t>(dlt645::read_di(dlt645::Edition::v1997, request.data));
}

}  // namespace

TEST_CASE("worker: a 1997 meter is read as 9010 + 9020 at the boundary, a late 9010 never becomes 9020",
          "[worker]") {
  asio::io_context io;
  const auto clock = Clock::real();
  const auto now = clock.now();
  const auto boundary = std::chrono::floor<std::chrono::seconds>(now) - 1s;
  auto meter = target("old", "000000000009", 0);
  meter.protocol = "dlt645-1997";
  // 9010 is answered at once AND again 40 ms later (a duplicated, late reply); 9020 after 80 ms.
  test::FakeMeterGateway gateway(io, [&](const dlt645::Frame& request, int) {
    const auto di = requested_di_1997(request);
    if (di == kDi1997ForwardActiveTotal)
      return std::vector<ScriptedReply>{{0ms, register_reply_1997(request.address, di, 123'450)},
                                        {40ms, register_reply_1997(request.address, di, 123'450)}};
    return std::vector<ScriptedReply>{{80ms, register_reply_1997(request.address, di, 6'780)}};
  });
  meter.channel_key = "tcp://127.0.0.1:" + std::to_string(gateway.port());
  auto options = fast_options();
  options.response_timeout = 500ms;
  std::vector<JobReport> reports;
  GatewayWorker worker(io.get_executor(), clock,
                       std::make_unique<TcpGatewayChannel>(io.get_executor(), "gw", "127.0.0.1", gateway.port(),
                                                           options),
                       RetryPolicy{0, 10ms}, [&](JobReport r) { reports.push_back(std::move(r)); });
  worker.enqueue(job_for(meter, boundary, Priority::scheduled, now));
  asio::co_spawn(io, worker.run(), asio::detached);
  REQUIRE(test::run_until(io, [&] { return reports.size() == 1; }, 5s));
  INFO(reports[0].attempts.back().detail);
  REQUIRE(reports[0].ok());
  REQUIRE(reports[0].snapshots.size() == 1);
  CHECK(reports[0].snapshots[0].boundary == boundary);
  CHECK(reports[0].snapshots[0].forward_active_wh == 123'450);
  CHECK(reports[0].snapshots[0].reverse_active_wh == 6'780);
  CHECK(worker.channel().counters().dropped_replies == 1);  // the late 9010 duplicate
  CHECK(gateway.requests() == 2);
  worker.stop();
}

TEST_CASE("worker: a 1997 register read finishing beyond the tolerance is too_late, not a boundary reading",
          "[worker]") {
  asio::io_context io;
  const auto clock = Clock::real();
  const auto now = clock.now();
  const auto boundary = std::chrono::floor<std::chrono::seconds>(now) - 10s;
  auto meter = target("old", "000000000009", 0);
  meter.protocol = "dlt645-1997";
  meter.register_tolerance = 5s;
  test::FakeMeterGateway gateway(io, [&](const dlt645::Frame& request, int) {
    return std::vector<ScriptedReply>{{0ms, register_reply_1997(request.address, requested_di_1997(request), 10)}};
  });
  std::vector<JobReport> reports;
  GatewayWorker worker(io.get_executor(), clock,
                       std::make_unique<TcpGatewayChannel>(io.get_executor(), "gw", "127.0.0.1", gateway.port(),
                                                           fast_options()),
                       RetryPolicy{2, 10ms}, [&](JobReport r) { reports.push_back(std::move(r)); });
  worker.enqueue(job_for(meter, boundary, Priority::scheduled, now));
  auto on_demand = job_for(meter, boundary, Priority::on_demand, now);
  on_demand.source = storage::ReadSource::on_demand;
  worker.enqueue(on_demand);
  asio::co_spawn(io, worker.run(), asio::detached);
  REQUIRE(test::run_until(io, [&] { return reports.size() == 2; }, 5s));
  // The on-demand read runs first and reports the registers as current values, not at B.
  CHECK(reports[0].job.source == storage::ReadSource::on_demand);
  CHECK(reports[0].ok());
  CHECK(reports[0].snapshots.empty());
  REQUIRE(reports[0].current);
  CHECK(reports[0].current->forward_active_wh == 10);
  CHECK(reports[1].final_outcome() == Outcome::too_late);
  CHECK(reports[1].attempts.size() == 1);  // a retry could only be later still
  CHECK(reports[1].snapshots.empty());
  worker.stop();
}

TEST_CASE("concurrency limit: at most N slots held, waiters served in order as slots free", "[worker]") {
  asio::io_context io;
  ConcurrencyLimit limit(2);
  std::vector<int> order;
  int held_max = 0;
  auto job = [&](int id) -> asio::awaitable<void> {
    auto slot = co_await limit.acquire();
    held_max = std::max(held_max, static_cast<int>(limit.in_use()));
    order.push_back(id);
    asio::steady_timer hold(io, 20ms);
    boost::system::error_code ec;
    co_await hold.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  };
  for (int id = 0; id < 5; ++id) asio::co_spawn(io, job(id), asio::detached);
  REQUIRE(test::run_until(io, [&] { return order.size() == 5 && limit.in_use() == 0; }, 5s));
  CHECK(held_max == 2);
  CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
  CHECK(limit.waiting() == 0);
  ConcurrencyLimit unlimited(0);
  int ran = 0;
  auto take = [&]() -> asio::awaitable<void> {  // named: the coroutine refers to this closure
    auto slot = co_await unlimited.acquire();
    ++ran;
  };
  for (int id = 0; id < 3; ++id) asio::co_spawn(io, take(), asio::detached);
  REQUIRE(test::run_until(io, [&] { return ran == 3; }, 5s));
}

TEST_CASE("job queue: due jobs by priority, then boundary, then slot; ties in queue order", "[worker][queue]") {
  const auto b0 = *parse_utc("2026-01-05T00:15:00Z");
  const auto t0 = UtcMillis{b0} + 2s;
  const auto meter = [](const char* id) { return target(id, "000000000001", 1); };
  JobQueue queue;
  queue.push(job_for(meter("backfill"), b0 - 15min, Priority::backfill, t0));
  queue.push(job_for(meter("later-boundary"), b0 + 15min, Priority::scheduled, t0));
  queue.push(job_for(meter("later-slot"), b0, Priority::scheduled, t0 + 5ms));
  queue.push(job_for(meter("tie-1"), b0, Priority::scheduled, t0));
  queue.push(job_for(meter("tie-2"), b0, Priority::scheduled, t0));
  queue.push(job_for(meter("on-demand"), b0 + 15min, Priority::on_demand, t0 + 10ms));
  queue.push(job_for(meter("tie-3"), b0, Priority::scheduled, t0));
  REQUIRE(queue.size() == 7);
  std::vector<std::string> order;
  while (auto job = queue.pop_due(t0 + 1h)) order.push_back(job->meter->meter_id);
  CHECK(order == std::vector<std::string>{"on-demand", "tie-1", "tie-2", "tie-3", "later-slot", "later-boundary",
                                          "backfill"});
  CHECK(queue.empty());
}

TEST_CASE("job queue: a job whose slot has not come waits, and the queue says when it is due", "[worker][queue]") {
  const auto b0 = *parse_utc("2026-01-05T00:15:00Z");
  const auto t0 = UtcMillis{b0} + 2s;
  JobQueue queue;
  CHECK_FALSE(queue.next_slot());
  queue.push(job_for(target("scheduled", "000000000001", 1), b0, Priority::scheduled, t0 + 30s));
  queue.push(job_for(target("on-demand", "000000000002", 1), b0, Priority::on_demand, t0 + 10s));
  queue.push(job_for(target("backfill", "000000000003", 1), b0 - 15min, Priority::backfill, t0));
  CHECK(queue.next_slot() == t0);
  // Only the backfill read is due: it runs although more urgent reads are queued.
  auto job = queue.pop_due(t0);
  REQUIRE(job);
  CHECK(job->meter->meter_id == "backfill");
  CHECK_FALSE(queue.pop_due(t0 + 9s));
  CHECK(queue.next_slot() == t0 + 10s);
  job = queue.pop_due(t0 + 40s);  // both due now: the on-demand read first
  REQUIRE(job);
  CHECK(job->meter->meter_id == "on-demand");
  CHECK_FALSE(queue.next_slot());  // the scheduled read is due, no longer waiting
  job = queue.pop_due(t0 + 40s);
  REQUIRE(job);
  CHECK(job->meter->meter_id == "scheduled");
  CHECK(queue.empty());
}

TEST_CASE("modbus collector: an attempt is stamped when its transaction starts, after the wait behind its gateway",
          "[worker][modbus]") {
  asio::io_context io;
  // A gateway that accepts connections (the kernel completes them) and never answers.
  asio::ip::tcp::acceptor silent(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = silent.local_endpoint().port();
  modbus::ExecutorOptions options;
  options.workers = 1;
  options.link.response_timeout = 150ms;
  options.link.connect_timeout = 1000ms;
  std::vector<JobReport> reports;
  const auto clock = Clock::real();
  ModbusCollector collector(io.get_executor(), clock, options, RetryPolicy{0, 10ms}, 60s,
                            [&](JobReport r) { reports.push_back(std::move(r)); });
  const auto queued_at = clock.now();
  const auto boundary = floor_to_interval(std::chrono::floor<std::chrono::seconds>(queued_at), 15min);
  for (const char* id : {"u1", "u2"}) {
    storage::MeterRecord m;
    m.meter_id = id;
    m.protocol = "modbus-tcp";
    m.channel = "tcp://127.0.0.1:" + std::to_string(port);
    m.address = id[1] == '1' ? "1" : "2";
    m.model = "SDM630";
    std::string error;
    REQUIRE(collector.add_meter(m, {}, error));
    ReadJob job;
    job.meter = make_meter_ref({id, "modbus-tcp", m.channel, {}, 480});
    job.boundary = boundary;
    job.not_before = queued_at;
    job.retry_deadline = queued_at + 15min;
    collector.enqueue(std::move(job));
  }
  REQUIRE(test::run_until(io, [&] { return reports.size() == 2; }, 10000ms));
  REQUIRE(reports[0].attempts.size() == 1);
  REQUIRE(reports[1].attempts.size() == 1);
  const auto& first = reports[0].attempts[0];
  const auto& second = reports[1].attempts[0];
  CHECK(first.outcome == Outcome::timeout);
  CHECK(second.outcome == Outcome::timeout);
  // One transaction at a time per gateway: the second read started when the first had ended, and
  // its latency is its own timeout, not the first read's time on the wire as well.
  CHECK(first.started_at >= queued_at);
  CHECK(second.started_at >= first.started_at + std::chrono::milliseconds{first.latency_ms} - 2ms);
  CHECK(second.latency_ms >= 150);
  collector.stop();
}

TEST_CASE("job queue: a whole cycle queued at once drains in order, and the queue works again after it emptied",
          "[worker][queue]") {
  // More jobs than the queue keeps capacity for once empty (it frees both heaps then).
  const auto b0 = *parse_utc("2026-01-05T00:15:00Z");
  const auto t0 = UtcMillis{b0} + 2s;
  constexpr int kMeters = 300;
  std::vector<MeterTarget> meters;
  for (int i = 0; i < kMeters; ++i) meters.push_back(target(("m" + std::to_string(i)).c_str(), "000000000001", 1));
  for (int round = 0; round < 2; ++round) {
    const auto boundary = b0 + 15min * round;
    JobQueue queue;
    for (const auto& m : meters) queue.push(job_for(m, boundary, Priority::scheduled, t0 + 15min * round));
    REQUIRE(queue.size() == kMeters);
    CHECK_FALSE(queue.pop_due(t0 + 15min * round - 1ms));  // none due yet
    auto first = queue.pop_due(t0 + 15min * round);
    REQUIRE(first);
    CHECK(first->meter->meter_id == "m0");
    // The whole cycle came due at once: the due heap holds it in about its size (the waiting heap,
    // emptied, is freed), not in the doubled capacity its growth left (512 for 300).
    CHECK(queue.capacity() <= kMeters + kMeters / 8);
    // An operator's read queued while the cycle runs overtakes the rest of it.
    queue.push(job_for(target("on-demand", "000000000002", 1), boundary, Priority::on_demand, t0 + 15min * round));
    std::vector<std::string> order;
    while (auto job = queue.pop_due(t0 + 15min * round + 1s)) order.push_back(job->meter->meter_id);
    REQUIRE(order.size() == kMeters);
    CHECK(order.front() == "on-demand");
    for (int i = 1; i < kMeters; ++i) CHECK(order[static_cast<std::size_t>(i)] == "m" + std::to_string(i));
    CHECK(queue.empty());
    CHECK_FALSE(queue.next_slot());
    // Emptied: a later job queues and runs as before.
    queue.push(job_for(meters[7], boundary + 15min, Priority::scheduled, t0 + 15min * (round + 1)));
    CHECK(queue.next_slot() == t0 + 15min * (round + 1));
    const auto later = queue.pop_due(t0 + 15min * (round + 1));
    REQUIRE(later);
    CHECK(later->meter->meter_id == "m7");
  }
}

TEST_CASE("worker: a held store intake gate delays a scheduled read but not an on-demand read", "[worker][gate]") {
  asio::io_context io;
  const auto clock = Clock::real();
  const auto now = clock.now();
  const auto boundary = floor_to_interval(std::chrono::floor<std::chrono::seconds>(now), 15min);
  const auto gateway = load_profile_gateway(io);
  std::size_t backlog = 100;
  StoreIntakeGate gate(io.get_executor(), 10, [&] { return backlog; }, 10s);
  std::vector<JobReport> reports;
  const auto worker_ptr = worker_on(io, clock, gateway->port(), reports);
  auto& worker = *worker_ptr;
  worker.set_intake_gate(&gate);
  const auto a = target("a", "000000000001", gateway->port());
  const auto b = target("b", "000000000002", gateway->port());
  worker.enqueue(job_for(a, boundary, Priority::scheduled, now));
  asio::co_spawn(io, worker.run(), asio::detached);
  REQUIRE(test::run_until(io, [&] { return gate.waiting() == 1; }, 2s));
  CHECK_FALSE(test::run_until(io, [&] { return !reports.empty(); }, 200ms));  // held: the store lags

  auto on_demand = job_for(b, boundary, Priority::on_demand, now);
  on_demand.source = storage::ReadSource::on_demand;
  worker.enqueue(std::move(on_demand));  // the worker stops waiting and reads it at once
  REQUIRE(test::run_until(io, [&] { return reports.size() == 1; }, 5s));
  CHECK(reports[0].job.meter->meter_id == "b");
  CHECK(reports[0].ok());
  REQUIRE(test::run_until(io, [&] { return gate.waiting() == 1; }, 2s));  // the scheduled read asks again
  CHECK(reports.size() == 1);

  backlog = 0;  // the writer caught up
  gate.on_progress();
  REQUIRE(test::run_until(io, [&] { return reports.size() == 2; }, 5s));
  CHECK(reports[1].job.meter->meter_id == "a");
  CHECK(reports[1].ok());
  worker.stop();
}

TEST_CASE("worker: stop ends a wait at the store intake gate at once", "[worker][gate]") {
  asio::io_context io;
  const auto clock = Clock::real();
  const auto now = clock.now();
  const auto boundary = floor_to_interval(std::chrono::floor<std::chrono::seconds>(now), 15min);
  StoreIntakeGate gate(io.get_executor(), 10, [] { return std::size_t{100}; }, 10s);
  std::vector<JobReport> reports;
  const auto worker_ptr = worker_on(io, clock, 1, reports);
  auto& worker = *worker_ptr;
  worker.set_intake_gate(&gate);
  worker.enqueue(job_for(target("a", "000000000001", 1), boundary, Priority::scheduled, now));
  bool finished = false;
  asio::co_spawn(io, worker.run(), [&](std::exception_ptr) { finished = true; });
  REQUIRE(test::run_until(io, [&] { return gate.waiting() == 1; }, 2s));
  worker.stop();
  REQUIRE(test::run_until(io, [&] { return finished; }, 1s));
  CHECK(reports.empty());  // the held read never started
  CHECK(gate.waiting() == 0);
}
