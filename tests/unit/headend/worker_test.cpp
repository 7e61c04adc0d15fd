#include <catch2/catch.hpp>

#include "headend/collection/gateway_worker.hpp"
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
  job.meter = meter;
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

}  // namespace

TEST_CASE("worker: a ready backfill read runs before a scheduled read whose slot has not come", "[worker]") {
  asio::io_context io;
  const auto clock = Clock::real();
  const auto now = clock.now();
  const auto boundary = floor_to_interval(std::chrono::floor<std::chrono::seconds>(now), 15min);
  test::FakeMeterGateway gateway(io, [](const dlt645::Frame& request, int) {
    return std::vector<ScriptedReply>{
        {0ms, test::load_profile_reply(request.address, test::requested_start(request), 2)}};
  });
  std::vector<JobReport> reports;
  GatewayWorker worker(io.get_executor(), clock,
                       std::make_unique<TcpGatewayChannel>(io.get_executor(), "gw", "127.0.0.1", gateway.port(),
                                                           fast_options()),
                       RetryPolicy{0, 10ms}, [&](JobReport r) { reports.push_back(std::move(r)); });
  const auto a = target("a", "000000000001", gateway.port());
  const auto b = target("b", "000000000002", gateway.port());
  worker.enqueue(job_for(a, boundary, Priority::scheduled, now + 300ms));
  worker.enqueue(job_for(b, boundary - 15min, Priority::backfill, now));
  asio::co_spawn(io, worker.run(), asio::detached);
  REQUIRE(test::run_until(io, [&] { return reports.size() == 2; }, 5s));
  CHECK(reports[0].job.meter.meter_id == "b");
  CHECK(reports[0].ok());
  CHECK(reports[1].job.meter.meter_id == "a");
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
  meter.protocol = "dlt645-1997";
  worker.enqueue(job_for(meter, *parse_utc("2026-01-05T00:15:00Z"), Priority::scheduled, clock.now()));
  asio::co_spawn(io, worker.run(), asio::detached);
  REQUIRE(test::run_until(io, [&] { return reports.size() == 1; }, 5s));
  REQUIRE(reports[0].attempts.size() == 1);
  CHECK(reports[0].final_outcome() == Outcome::unsupported);
  CHECK(gateway.requests() == 0);
  worker.stop();
}
