#include <catch2/catch.hpp>

#include "headend/collection/modbus_collector.hpp"
#include "headend/daemon/records.hpp"
#include "headend/daemon/submit_batcher.hpp"
#include "tests/unit/headend/run_coroutine.hpp"

using namespace ami;
using namespace ami::collection;
using namespace std::chrono_literals;

TEST_CASE("the cycle status line", "[status]") {
  CycleReport r;
  r.boundary = *parse_utc("2026-01-05T00:15:00Z");
  r.meters = 4;
  r.meters_ok = 4;
  r.attempts = 4;
  r.intervals = 8;
  CHECK(daemon::format_cycle_line(r, 24) ==
        "2026-01-05T00:15:00Z cycle  4/4 read (100.0%)  retries 0  failed: -  intervals 8  feed head 24");
  r.meters_ok = 2;
  r.attempts = 8;
  r.intervals = 4;
  r.failed = {{"m3", "tcp://a:1", Outcome::timeout, ""}, {"m4", "tcp://a:1", Outcome::meter_error, "ERR"}};
  CHECK(daemon::format_cycle_line(r, 28) ==
        "2026-01-05T00:15:00Z cycle  2/4 read (50.0%)  retries 4  failed: m3(timeout),m4(meter_error)  intervals 4  "
        "feed head 28");
  r.meters = 12;
  r.failed.clear();
  for (int i = 0; i < 7; ++i) r.failed.push_back({"x" + std::to_string(i), "", Outcome::connection_refused, ""});
  CHECK_THAT(daemon::format_cycle_line(r, 0), Catch::Contains("x4(connection_refused),+2 more"));
}

TEST_CASE("a job report becomes boundary reads and attempt rows", "[status]") {
  JobReport report;
  report.job.meter = make_meter_ref({"m1", "dlt645-2007", "tcp://10.0.0.5:8899", {}, 480});
  report.job.boundary = *parse_utc("2026-01-05T00:15:00Z");
  report.job.source = storage::ReadSource::scheduled;
  report.attempts = {{1, Outcome::timeout, "no reply within 1500 ms", UtcMillis{report.job.boundary} + 3s, 1500},
                     {2, Outcome::ok, "", UtcMillis{report.job.boundary} + 5s, 40}};
  report.snapshots = {{report.job.boundary - 15min, 1000, std::nullopt}, {report.job.boundary, 1230, 20}};
  report.collected_at = UtcMillis{report.job.boundary} + 5040ms;

  std::vector<storage::BoundaryRead> reads;
  std::vector<storage::AttemptRecord> attempts;
  daemon::to_store_records(report, reads, attempts);
  REQUIRE(reads.size() == 3);  // the start record had no reverse register
  CHECK(reads[0].boundary == report.job.boundary - 15min);
  CHECK(reads[0].channel == storage::EnergyChannel::forward_active);
  CHECK(reads[0].register_wh == 1000);
  CHECK(reads[2].channel == storage::EnergyChannel::reverse_active);
  CHECK(reads[2].register_wh == 20);
  CHECK(reads[2].collected_at == report.collected_at);
  REQUIRE(attempts.size() == 2);
  CHECK(attempts[0].outcome == "timeout");
  CHECK(attempts[0].category == "transport");
  CHECK(attempts[0].channel == "tcp://10.0.0.5:8899");
  CHECK(attempts[0].latency_ms == 1500);
  CHECK(attempts[1].attempt == 2);
  CHECK(attempts[1].category == "ok");
}

TEST_CASE("registry rows become targets, disabled meters are left out", "[status]") {
  storage::MeterRecord a;
  a.meter_id = "a";
  a.protocol = "dlt645-2007";
  a.channel = "tcp://127.0.0.1:1";
  a.address = "000000000001";
  auto b = a;
  b.meter_id = "b";
  b.enabled = false;
  auto c = a;
  c.meter_id = "c";
  c.address = "12x";
  std::vector<std::string> skipped;
  const auto targets = daemon::to_targets({a, b, c}, skipped);
  REQUIRE(targets.size() == 1);
  CHECK(targets[0].meter_id == "a");
  CHECK(targets[0].address.to_string() == "000000000001");
  REQUIRE(skipped.size() == 1);
  CHECK_THAT(skipped[0], Catch::Contains("meter c"));
}

TEST_CASE("Modbus outcomes map onto the engine's outcomes and categories", "[status]") {
  CHECK(to_outcome(modbus::MeterOutcome::ok) == Outcome::ok);
  CHECK(to_outcome(modbus::MeterOutcome::timeout) == Outcome::timeout);
  CHECK(to_outcome(modbus::MeterOutcome::link_error) == Outcome::connection_lost);
  CHECK(to_outcome(modbus::MeterOutcome::unreachable) == Outcome::unreachable);
  CHECK(to_outcome(modbus::MeterOutcome::meter_error) == Outcome::meter_error);
  CHECK(to_outcome(modbus::MeterOutcome::bad_request) == Outcome::unsupported);
  CHECK(category_of(to_outcome(modbus::MeterOutcome::bad_reply)) == OutcomeCategory::meter);
  CHECK(category_of(Outcome::too_late) == OutcomeCategory::transport);
  CHECK(to_string(Outcome::too_late) == "too_late");
}

namespace {

struct BatchSink {
  std::vector<std::pair<std::size_t, std::size_t>> batches;  // (reads, attempts) per sink call
  std::vector<std::string> meters;                          // read meter ids in sink order
  daemon::SubmitBatcher::Sink sink() {
    return [this](std::vector<storage::BoundaryRead> reads, std::vector<storage::AttemptRecord> attempts) {
      batches.emplace_back(reads.size(), attempts.size());
      for (const auto& r : reads) meters.push_back(r.meter_id);
    };
  }
};

std::vector<storage::BoundaryRead> one_read(const char* meter_id) {
  storage::BoundaryRead r;
  r.meter_id = meter_id;
  return {r};
}

std::vector<storage::AttemptRecord> one_attempt(const char* meter_id) {
  storage::AttemptRecord a;
  a.meter_id = meter_id;
  return {a};
}

}  // namespace

TEST_CASE("submit batcher: a batch goes to the writer once it holds max_records", "[status][batch]") {
  asio::io_context io;
  BatchSink out;
  daemon::SubmitBatcher batcher(io.get_executor(), {4, 1h}, out.sink(), [](const std::exception&) {});
  batcher.add(one_read("a"), one_attempt("a"));
  CHECK(out.batches.empty());
  CHECK(batcher.pending() == 2);
  batcher.add(one_read("b"), one_attempt("b"));
  REQUIRE(out.batches.size() == 1);
  CHECK(out.batches[0] == std::pair<std::size_t, std::size_t>{2, 2});
  CHECK(out.meters == std::vector<std::string>{"a", "b"});
  CHECK(batcher.pending() == 0);
  batcher.add({}, one_attempt("c"));  // a failed read: an attempt row only
  CHECK(out.batches.size() == 1);
  CHECK(batcher.pending() == 1);
}

TEST_CASE("submit batcher: the caller's vectors come back empty and keep their capacity for the next job",
          "[status][batch]") {
  asio::io_context io;
  BatchSink out;
  daemon::SubmitBatcher batcher(io.get_executor(), {3, 1h}, out.sink(), [](const std::exception&) {});
  auto reads = one_read("a");
  auto attempts = one_attempt("a");
  reads.push_back(reads.front());
  batcher.add(reads, attempts);
  CHECK(reads.empty());
  CHECK(attempts.empty());
  CHECK(reads.capacity() >= 2);
  CHECK(batcher.pending() == 0);
  REQUIRE(out.batches.size() == 1);  // 2 reads + 1 attempt reached max_records
  CHECK(out.meters == std::vector<std::string>{"a", "a"});
  reads.push_back(one_read("b").front());  // the same vectors, refilled for the next job
  batcher.add(reads, attempts);
  CHECK(batcher.pending() == 1);
  batcher.flush();
  CHECK(out.meters == std::vector<std::string>{"a", "a", "b"});
}

TEST_CASE("submit batcher: a partial batch goes to the writer after max_delay", "[status][batch]") {
  asio::io_context io;
  BatchSink out;
  daemon::SubmitBatcher batcher(io.get_executor(), {1000, 20ms}, out.sink(), [](const std::exception&) {});
  batcher.add(one_read("a"), one_attempt("a"));
  batcher.add(one_read("b"), one_attempt("b"));
  CHECK(out.batches.empty());  // never synchronously below max_records
  REQUIRE(test::run_until(io, [&] { return !out.batches.empty(); }, 5000ms));
  CHECK(out.batches == std::vector<std::pair<std::size_t, std::size_t>>{{2, 2}});
  CHECK(batcher.pending() == 0);
  batcher.add(one_read("c"), one_attempt("c"));  // the next batch has its own timer
  REQUIRE(test::run_until(io, [&] { return out.batches.size() == 2; }, 5000ms));
  CHECK(out.meters == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("submit batcher: flush() at shutdown hands over what is pending, once", "[status][batch]") {
  asio::io_context io;
  BatchSink out;
  daemon::SubmitBatcher batcher(io.get_executor(), {1000, 1h}, out.sink(), [](const std::exception&) {});
  batcher.flush();  // nothing pending: no empty batch
  CHECK(out.batches.empty());
  batcher.add(one_read("a"), one_attempt("a"));
  batcher.add({}, one_attempt("b"));
  batcher.flush();
  CHECK(out.batches == std::vector<std::pair<std::size_t, std::size_t>>{{1, 2}});
  batcher.flush();
  CHECK(out.batches.size() == 1);
}

TEST_CASE("submit batcher: a writer failure in a timed batch is reported, not thrown into the io loop",
          "[status][batch]") {
  asio::io_context io;
  std::string error;
  daemon::SubmitBatcher batcher(
      io.get_executor(), {1000, 1ms},
      [](std::vector<storage::BoundaryRead>, std::vector<storage::AttemptRecord>) {
        throw std::runtime_error("store failed");
      },
      [&](const std::exception& e) { error = e.what(); });
  batcher.add(one_read("a"), {});
  REQUIRE(test::run_until(io, [&] { return !error.empty(); }, 5000ms));
  CHECK(error == "store failed");
}
