// Writer thread semantics: batching, flush, back-pressure, several submitting threads, failure.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <optional>
#include <future>
#include <thread>

#include "storage/sqlite.hpp"
#include "storage/store_reader.hpp"
#include "storage/store_writer.hpp"
#include "storage/vee/config.hpp"
#include "store_test_support.hpp"

using namespace ami;
using namespace ami::storage;
using namespace ami::storage::test;
using namespace std::chrono_literals;

namespace {

// Holds the writer thread inside its first on_committed call until release() - so submissions
// pile up in the queue and what the writer does with them next is deterministic.
class WriterGate {
 public:
  explicit WriterGate(StoreWriter& writer) {
    writer.on_committed([this](std::uint64_t) {
      if (first_.exchange(false)) {
        entered_.set_value();
        release_future_.wait();
      }
    });
  }
  void wait_until_held() { entered_.get_future().wait(); }
  void release() { release_.set_value(); }

 private:
  std::atomic<bool> first_{true};
  std::promise<void> entered_;
  std::promise<void> release_;
  std::shared_future<void> release_future_{release_.get_future().share()};
};

std::vector<MeterRecord> meters(int count) {
  std::vector<MeterRecord> result;
  for (int i = 0; i < count; ++i) result.push_back(dlt_meter("M" + std::to_string(i)));
  return result;
}

// meta.latest_unsynced_from as stored (-1: latest_reads is complete).
std::optional<std::int64_t> latest_unsynced_from(const TempDb& db) {
  Database raw(db.path(), false, 1000);
  return raw.query_int64("SELECT value FROM meta WHERE key = 'latest_unsynced_from'");
}

// Blocks the writer: imports M0..M(n-1), then publishes one interval for M0 and waits in the gate.
void hold_writer(StoreWriter& writer, WriterGate& gate, int meter_count) {
  writer.import_meters(meters(meter_count), "test");
  writer.submit({read_at("M0", 0, 0), read_at("M0", 15, 1)}, {});
  gate.wait_until_held();
}

}  // namespace

TEST_CASE("submissions queued while the writer is busy are written in one transaction") {
  TempDb db("writer-batching");
  StoreWriter writer(db.options());
  WriterGate gate(writer);
  hold_writer(writer, gate, 30);
  REQUIRE(writer.stats().transactions == 1);

  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&writer, t] {
      for (int i = 1 + t * 9; i < 1 + (t + 1) * 9; ++i) {
        const auto id = "M" + std::to_string(i);
        writer.submit({read_at(id, 0, 100), read_at(id, 15, 100 + i)}, {});
      }
    });
  }
  for (auto& thread : threads) thread.join();
  gate.release();
  writer.flush();

  CHECK(writer.stats().transactions == 2);
  StoreReader reader(db.path());
  CHECK(reader.head_sequence() == 1 + 27);
  for (const auto& reading : reader.read_feed(1, 100)) {
    CHECK(reading.value_wh() == std::stoi(reading.meter_id().substr(1)));
  }
}

TEST_CASE("max_batch_items splits a long queue into several transactions") {
  TempDb db("writer-batch-limit");
  auto options = db.options();
  options.max_batch_items = 10;
  StoreWriter writer(options);
  WriterGate gate(writer);
  hold_writer(writer, gate, 1);
  for (int i = 2; i < 52; ++i) writer.submit({read_at("M0", 15 * i, i)}, {});
  gate.release();
  writer.flush();
  CHECK(writer.stats().transactions == 1 + 5);
  CHECK(writer.stats().reads_stored == 52);
}

TEST_CASE("page_cache_mib below 1 is refused by name and a 1 MiB cap still stores") {
  TempDb db("writer-page-cache");
  auto options = db.options();
  options.page_cache_mib = 0;
  CHECK_THROWS_WITH(StoreWriter(options), Catch::Contains("page_cache_mib must be at least 1, got 0"));
  options.page_cache_mib = 1;
  StoreWriter writer(options);
  writer.import_meters(meters(1), "test");
  for (int i = 0; i < 200; ++i) writer.submit({read_at("M0", 15 * i, i)}, {});
  writer.flush();
  CHECK(writer.stats().reads_stored == 200);
  CHECK(writer.stats().intervals_stored == 199);
}

TEST_CASE("the page cache holds about one boundary: a newer boundary's first commit frees the older pages") {
  // Keys are time-major, so older boundaries' pages are cold; without the release the cache
  // grows by a boundary's pages every boundary until its 64 MiB cap.
  TempDb db("writer-page-cache-boundaries");
  StoreWriter writer(db.options());
  constexpr int meter_count = 3000;
  writer.import_meters(meters(meter_count), "test");
  std::vector<int> order(meter_count);
  for (int i = 0; i < meter_count; ++i) order[static_cast<std::size_t>(i)] = (i * 1237) % meter_count;  // arrival != key order
  std::vector<std::uint64_t> cache_after;
  for (int boundary = 0; boundary < 4; ++boundary) {
    for (int chunk = 0; chunk < 10; ++chunk) {
      std::vector<BoundaryRead> reads;
      for (int j = chunk * meter_count / 10; j < (chunk + 1) * meter_count / 10; ++j) {
        const int m = order[static_cast<std::size_t>(j)];
        reads.push_back(read_at("M" + std::to_string(m), 15 * boundary, 1000 * boundary + m));
        reads.push_back(read_at("M" + std::to_string(m), 15 * boundary, 500 * boundary + m, EnergyChannel::reverse_active));
      }
      writer.submit(std::move(reads), {});
      writer.flush();  // one transaction per chunk
    }
    cache_after.push_back(writer.stats().page_cache_bytes);
  }
  REQUIRE(writer.stats().reads_stored == 4 * 2 * meter_count);
  INFO("page cache after each boundary: " << cache_after[0] << " " << cache_after[1] << " " << cache_after[2] << " "
                                          << cache_after[3]);
  CHECK(cache_after[1] > 0);
  // Boundaries 1-3 write the same rows (reads, intervals): the cache stays level instead of adding
  // a boundary's pages each time (without the release: +~50 % per boundary here).
  CHECK(cache_after[3] < cache_after[1] + cache_after[1] / 5);
  CHECK(cache_after[2] < cache_after[1] + cache_after[1] / 5);
}

TEST_CASE("upkeep frees the pages it read: after a history pass the cache is below one boundary's") {
  // The history pass reads a day or more of every meter's rows, pages no batch needs again.
  TempDb db("writer-page-cache-upkeep");
  auto options = db.options();
  options.vee = vee::VeeConfig{};
  StoreWriter writer(options);
  constexpr int meter_count = 2000;
  writer.import_meters(meters(meter_count), "test");
  constexpr int boundaries = 6;
  for (int boundary = 0; boundary < boundaries; ++boundary) {
    for (int half = 0; half < 2; ++half) {  // two commits: the second's pages stay in the cache
      std::vector<BoundaryRead> reads;
      for (int m = half * meter_count / 2; m < (half + 1) * meter_count / 2; ++m)
        reads.push_back(read_at("M" + std::to_string(m), 15 * boundary, 100 * boundary + m));
      writer.submit(std::move(reads), {});
      writer.flush();
    }
  }
  const auto cache_before = writer.stats().page_cache_bytes;
  HistoryPassOptions pass;
  pass.to = at_minutes(15 * (boundaries - 1));
  pass.meters_per_chunk = 500;
  const auto done = writer.run_history_pass(pass);
  REQUIRE(done.chunks == 4);
  INFO("page cache before the pass " << cache_before << ", after " << writer.stats().page_cache_bytes);
  CHECK(cache_before > 0);
  CHECK(writer.stats().page_cache_bytes < cache_before);  // without the release: every boundary's pages
}

TEST_CASE("queued_items counts what is submitted and not yet taken by the writer, and drops to 0 after the commit") {
  TempDb db("writer-queued-items");
  StoreWriter writer(db.options());
  CHECK(writer.queued_items() == 0);
  WriterGate gate(writer);
  hold_writer(writer, gate, 1);
  CHECK(writer.queued_items() == 0);  // the held batch is committed; its callback is what waits
  writer.submit({read_at("M0", 30, 2), read_at("M0", 45, 3)}, {});
  writer.submit({read_at("M0", 60, 4)}, {});
  std::atomic<std::size_t> seen_from_other_thread{0};
  std::thread([&] { seen_from_other_thread = writer.queued_items(); }).join();
  CHECK(seen_from_other_thread == 3);
  gate.release();
  writer.flush();
  CHECK(writer.queued_items() == 0);
  CHECK(writer.stats().reads_stored == 5);
}

TEST_CASE("queued_items drops and on_taken is called when the writer takes a batch, before that transaction commits") {
  // The store intake gate counts on this: readers refill the queue while a transaction is written.
  TempDb db("writer-queued-taken");
  auto options = db.options();
  options.busy_timeout_ms = 20000;  // the writer waits for the lock held below, does not fail
  StoreWriter writer(options);
  writer.import_meters(meters(1), "test");
  writer.flush();
  const auto stored_before = writer.stats().reads_stored;
  std::atomic<int> taken_calls{0};  // on_taken: the gate's wake-up for exactly this moment
  writer.on_taken([&] { ++taken_calls; });
  std::optional<Database> other(std::in_place, db.path(), false, 1000);
  std::optional<Transaction> lock(std::in_place, *other);  // BEGIN IMMEDIATE: the write lock
  writer.submit({read_at("M0", 0, 2), read_at("M0", 15, 3), read_at("M0", 30, 4)}, {});
  bool taken = false;
  for (int waited = 0; waited < 500 && !taken; ++waited) {
    taken = writer.queued_items() == 0 && taken_calls == 1;
    if (!taken) std::this_thread::sleep_for(10ms);
  }
  CHECK(taken);                                          // out of the queue ...
  CHECK(writer.stats().reads_stored == stored_before);  // ... and not committed: the lock is held
  lock.reset();
  other.reset();
  writer.flush();
  CHECK(writer.stats().reads_stored == stored_before + 3);
  CHECK(writer.queued_items() == 0);
  CHECK(taken_calls == 1);  // once per batch taken; the import task and flush take no items
}

TEST_CASE("submit blocks while the queue is full and resumes when the writer drains it") {
  TempDb db("writer-backpressure");
  auto options = db.options();
  options.max_queued_items = 5;
  StoreWriter writer(options);
  WriterGate gate(writer);
  hold_writer(writer, gate, 1);

  std::atomic<int> submitted{0};
  std::thread producer([&] {
    for (int i = 2; i < 12; ++i) {
      writer.submit({read_at("M0", 15 * i, i)}, {});
      ++submitted;
    }
  });
  for (int waited = 0; submitted < 5 && waited < 1000; ++waited) std::this_thread::sleep_for(10ms);
  REQUIRE(submitted == 5);
  std::this_thread::sleep_for(200ms);
  CHECK(submitted == 5);  // the sixth submit is still waiting for room
  gate.release();
  producer.join();
  writer.flush();
  CHECK(submitted == 10);
  CHECK(writer.stats().reads_stored == 12);
}

TEST_CASE("flush returns only after everything that thread submitted is visible to readers") {
  TempDb db("writer-flush-threads");
  StoreWriter writer(db.options());
  writer.import_meters(meters(8), "test");
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      StoreReader reader(db.path());
      for (int round = 0; round < 20; ++round) {
        std::vector<BoundaryRead> reads;
        for (int m = 2 * t; m < 2 * t + 2; ++m) {
          reads.push_back(read_at("M" + std::to_string(m), 15 * round, 7 * round));
        }
        writer.submit(std::move(reads), {attempt_for("M" + std::to_string(2 * t), 15 * round, 1, "ok", "ok")});
        writer.flush();
        const auto stored = reader.reads("M" + std::to_string(2 * t + 1), EnergyChannel::forward_active,
                                         at_minutes(0), at_minutes(24 * 60));
        if (stored.size() != static_cast<std::size_t>(round + 1)) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(failures == 0);
  StoreReader reader(db.path());
  CHECK(reader.head_sequence() == 8 * 19);
  const auto feed = reader.read_feed(0, 1000);
  REQUIRE(feed.size() == 8 * 19);
  for (std::size_t i = 0; i < feed.size(); ++i) {
    CHECK(feed[i].sequence() == i + 1);
    CHECK(feed[i].value_wh() == 7);
  }
  const auto stats = writer.stats();
  CHECK(stats.reads_stored == 8 * 20);
  CHECK(stats.attempts_stored == 4 * 20);
}

TEST_CASE("a failed transaction puts the writer in the failed state") {
  TempDb db("writer-failure");
  StoreWriter writer(db.options());
  writer.import_meters({dlt_meter("A")}, "test");
  writer.submit({}, {attempt_for("A", 0, 1, "ok", "ok")});
  writer.flush();
  {
    Database other(db.path(), false, 1000);
    other.exec("DROP TABLE attempt_log");
  }
  writer.submit({}, {attempt_for("A", 15, 1, "ok", "ok")});
  CHECK_THROWS_AS(writer.flush(), StoreFailed);
  CHECK_THROWS_WITH(writer.submit({}, {attempt_for("A", 30, 1, "ok", "ok")}),
                    Catch::Contains("attempt_log"));
  CHECK_THROWS_AS(writer.import_meters({dlt_meter("A")}, "test"), StoreFailed);
  writer.stop();
  writer.stop();
}

TEST_CASE("stop flushes the queue, submitting afterwards is refused") {
  TempDb db("writer-stop");
  StoreWriter writer(db.options());
  writer.import_meters({dlt_meter("A")}, "test");
  for (int i = 0; i < 100; ++i) writer.submit({read_at("A", 15 * i, i)}, {});
  writer.stop();
  CHECK_THROWS_AS(writer.submit({read_at("A", 15 * 100, 100)}, {}), StoreFailed);
  StoreReader reader(db.path());
  CHECK(reader.head_sequence() == 99);
}

TEST_CASE("after a crash the next writer recovers the newest reads and keeps deriving") {
  TempDb db("writer-crash");
  {
    StoreWriter writer(db.options());
    writer.import_meters({dlt_meter("A")}, "test");
  }
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Flushes, then dies without stop(): latest_reads is not written back.
    auto* writer = new StoreWriter(db.options());
    writer->submit({read_at("A", 0, 100), read_at("A", 15, 150), read_at("A", 45, 300)}, {});
    writer->flush();
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  CHECK(latest_unsynced_from(db) == at_minutes(0).time_since_epoch().count());
  {
    Database raw(db.path(), false, 1000);
    CHECK(raw.query_int64("SELECT count(*) FROM latest_reads") == 0);
  }

  StoreWriter writer(db.options());
  writer.submit({read_at("A", 60, 320)}, {});  // in order after 45: needs the recovered newest
  writer.submit({read_at("A", 30, 200)}, {});  // out of order: closes [15,30) and [30,45)
  writer.flush();
  StoreReader reader(db.path());
  const auto intervals =
      reader.intervals("A", EnergyChannel::forward_active, at_minutes(0), at_minutes(60));
  REQUIRE(intervals.size() == 4);
  CHECK(intervals[0].value_wh == 50);
  CHECK(intervals[1].value_wh == 50);
  CHECK(intervals[2].value_wh == 100);
  CHECK(intervals[3].value_wh == 20);
}

TEST_CASE("latest_reads is written back at stop and at once when an old read becomes a newest") {
  TempDb db("writer-latest-sync");
  auto unsynced_from = [&] { return latest_unsynced_from(db); };
  {
    StoreWriter writer(db.options());
    writer.import_meters({dlt_meter("A"), dlt_meter("B")}, "test");
    writer.submit({read_at("A", 3 * 24 * 60, 100)}, {});
    writer.flush();
    CHECK(unsynced_from() == at_minutes(3 * 24 * 60).time_since_epoch().count());
    // B's first read is two days older than the newest boundary seen: written back at once.
    writer.submit({read_at("B", 24 * 60, 100)}, {});
    writer.flush();
    CHECK(unsynced_from() == -1);
    writer.submit({read_at("A", 3 * 24 * 60 + 15, 110)}, {});
    writer.flush();
    CHECK(unsynced_from() == at_minutes(3 * 24 * 60 + 15).time_since_epoch().count());
  }
  CHECK(unsynced_from() == -1);
  Database raw(db.path(), false, 1000);
  CHECK(raw.query_int64("SELECT count(*) FROM latest_reads") == 2);
  CHECK(raw.query_int64("SELECT boundary FROM latest_reads WHERE channel = 1 ORDER BY boundary DESC") ==
        at_minutes(3 * 24 * 60 + 15).time_since_epoch().count());
}

TEST_CASE("a second writer on the same file does not hide the first writer's unsynced reads") {
  TempDb db("writer-second-writer");
  auto unsynced_from = [&] { return latest_unsynced_from(db); };
  StoreWriter daemon(db.options());
  daemon.import_meters({dlt_meter("A")}, "test");
  daemon.submit({read_at("A", 0, 100), read_at("A", 15, 150)}, {});
  daemon.flush();
  REQUIRE(unsynced_from() == at_minutes(0).time_since_epoch().count());
  {
    // e.g. a CLI that records something and stops: it writes latest_reads back completely.
    StoreWriter cli(db.options());
    cli.submit({}, {attempt_for("A", 15, 1, "ok", "ok")});
  }
  REQUIRE(unsynced_from() == -1);
  daemon.submit({read_at("A", 30, 170)}, {});
  daemon.flush();
  // The daemon still holds unsynced changes, so the recovery mark must be back.
  CHECK(unsynced_from() == at_minutes(0).time_since_epoch().count());
}

// In-order reads are inserted in groups (BufferedInsert in store_writer.cpp): an out-of-order
// read, a repeat and a conflicting read in the same batch must still see the grouped ones.
TEST_CASE("grouped read inserts are visible to out-of-order, repeated and conflicting reads of the same batch") {
  TempDb db("writer-grouped-reads");
  StoreWriter writer(db.options());
  writer.import_meters(meters(1), "test");
  std::vector<BoundaryRead> batch;
  for (int i = 0; i < 100; ++i) {
    if (i != 50) batch.push_back(read_at("M0", 15 * i, 10 * i));  // more than one group of 64
  }
  batch.push_back(read_at("M0", 15 * 50, 500));  // the gap, filled out of order
  batch.push_back(read_at("M0", 15 * 10, 100));  // identical repeat
  batch.push_back(read_at("M0", 15 * 20, 999));  // conflicts with the stored 200
  writer.submit(std::move(batch), {});
  writer.flush();

  const auto stats = writer.stats();
  CHECK(stats.reads_stored == 100);
  CHECK(stats.reads_duplicate == 1);
  CHECK(stats.reads_conflicting == 1);
  StoreReader reader(db.path());
  const auto feed = reader.read_feed(0, 200);
  std::vector<std::int64_t> ends;
  for (const auto& reading : feed) {
    CHECK(reading.value_wh() == 10);
    ends.push_back(reading.end_unix());
  }
  std::sort(ends.begin(), ends.end());
  std::vector<std::int64_t> expected;
  for (int i = 1; i < 100; ++i) expected.push_back(at_minutes(15 * i).time_since_epoch().count());
  CHECK(ends == expected);  // every interval between the 100 reads, the gap's two included
}

TEST_CASE("an estimate past the newest read is superseded by the in-order read, across restarts and crashes") {
  TempDb db("writer-through");
  const auto estimate_at = [](int end_minutes) {
    IntervalRecord estimate;
    estimate.meter_id = "A";
    estimate.start = at_minutes(end_minutes - 15);
    estimate.end = at_minutes(end_minutes);
    estimate.value_wh = 7;
    estimate.status = IntervalStatus::estimated;
    estimate.quality_codes = {"2.4.4", "2.8.0"};
    estimate.estimation_method = EstimationMethod::linear_interpolation;
    estimate.collected_at = UtcMillis{at_minutes(end_minutes)};
    return estimate;
  };
  {
    StoreWriter writer(db.options());
    writer.import_meters({dlt_meter("A")}, "test");
    writer.submit({read_at("A", 0, 100)}, {});
    writer.submit_intervals({estimate_at(15), estimate_at(30)});
    writer.submit({read_at("A", 15, 150)}, {});  // same session: through known in memory
  }
  {
    StoreWriter writer(db.options());  // through = 30 read back from latest_reads
    writer.submit({read_at("A", 30, 200)}, {});
    writer.submit_intervals({estimate_at(45)});
  }
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // An estimate at 60 committed, then death without stop(): latest_reads does not know it.
    auto* writer = new StoreWriter(db.options());
    writer->submit({read_at("A", 45, 260)}, {});
    writer->submit_intervals({estimate_at(60)});
    writer->flush();
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  {
    StoreWriter writer(db.options());  // recovers through = 60 from the intervals past the mark
    writer.submit({read_at("A", 60, 300), read_at("A", 75, 310)}, {});
    writer.flush();
  }
  StoreReader reader(db.path());
  const auto intervals = reader.intervals("A", EnergyChannel::forward_active, at_minutes(0), at_minutes(75));
  std::map<std::int64_t, IntervalRecord> newest;
  for (const auto& record : intervals) {
    if (!record.superseded) newest[record.end.time_since_epoch().count()] = record;
  }
  REQUIRE(newest.size() == 5);
  const std::vector<std::int64_t> expected{50, 50, 60, 40, 10};
  int i = 0;
  for (const auto& [end, record] : newest) {
    INFO("interval ending " << format_utc(record.end));
    CHECK(record.status == IntervalStatus::actual);
    CHECK(record.value_wh == expected[static_cast<std::size_t>(i)]);
    CHECK(record.version == (i < 4 ? 2U : 1U));
    ++i;
  }
}

TEST_CASE("attempts are stored keyed by meter, and refused for meters not in the registry") {
  TempDb db("writer-attempts");
  StoreWriter writer(db.options());
  writer.import_meters({dlt_meter("A")}, "test");
  auto other_gateway = attempt_for("A", 0, 2, "timeout", "transport");
  other_gateway.channel = "tcp://10.9.9.9:502";
  writer.submit({}, {attempt_for("A", 0, 1, "ok", "ok"), other_gateway, attempt_for("GHOST", 0, 1, "ok", "ok")});
  writer.flush();
  Database raw(db.path(), false, 1000);
  CHECK(raw.query_int64("SELECT count(*) FROM attempt_log") == 2);
  CHECK(raw.query_int64("SELECT count(*) FROM attempt_channels") == 2);
  // The attempts view gives the text columns back.
  auto q = raw.query("SELECT meter_id, channel_key, outcome FROM attempts ORDER BY attempt_id");
  REQUIRE(q->step());
  CHECK(q->column_text(0) == "A");
  CHECK(q->column_text(1) == "tcp://127.0.0.1:8899");
  REQUIRE(q->step());
  CHECK(q->column_text(1) == "tcp://10.9.9.9:502");
  CHECK(q->column_text(2) == "timeout");
  CHECK_FALSE(q->step());
  StoreReader reader(db.path());
  bool audited = false;
  for (const auto& entry : reader.audit_log(20)) {
    audited = audited || (entry.action == "attempt_unknown_meter" && entry.detail.find("GHOST") != std::string::npos);
  }
  CHECK(audited);
}

TEST_CASE("attempt text read back is interned: one copy per distinct text, equal to what was given") {
  const std::string first = "connection_refused";
  const std::string second = "connection_refused";
  const auto a = intern_attempt_text(first);
  const auto b = intern_attempt_text(second);
  CHECK(a == "connection_refused");
  CHECK(a.data() == b.data());  // the same stored copy, not the caller's
  CHECK(a.data() != first.data());
  CHECK(intern_attempt_text("timeout").data() != a.data());
}

TEST_CASE("attempts go in as grouped inserts with their text columns, in submission order") {
  TempDb db("writer-attempts-grouped");
  StoreWriter writer(db.options());
  writer.import_meters(meters(3), "test");
  // 130 attempts: two full 64-row groups and a remainder inserted row by row.
  std::vector<AttemptRecord> attempts;
  for (int i = 0; i < 130; ++i) {
    auto a = attempt_for("M" + std::to_string(i % 3), 15 * (i / 3), 1 + i % 2, i % 5 == 0 ? "timeout" : "ok",
                         i % 5 == 0 ? "transport" : "ok");
    a.detail = "detail '" + std::to_string(i) + "', \"quoted\"";
    attempts.push_back(a);
  }
  writer.submit({}, attempts);
  writer.flush();
  CHECK(writer.stats().attempts_stored == 130);
  Database raw(db.path(), false, 1000);
  auto q = raw.query("SELECT meter_id, boundary, attempt, outcome, category, detail FROM attempts ORDER BY attempt_id");
  for (const auto& expected : attempts) {
    REQUIRE(q->step());
    CHECK(q->column_text(0) == expected.meter_id);
    CHECK(q->column_int64(1) == expected.boundary.time_since_epoch().count());
    CHECK(q->column_int64(2) == expected.attempt);
    CHECK(q->column_text(3) == expected.outcome);
    CHECK(q->column_text(4) == expected.category);
    CHECK(q->column_text(5) == expected.detail);
  }
  CHECK_FALSE(q->step());
}

TEST_CASE("bulk import: counts, values and audit across lookup chunks, and a bad row anywhere writes nothing") {
  TempDb db("writer-bulk-import");
  StoreWriter writer(db.options());
  // 1,203 meters: more than two 500-id look-ups and many 64-row upserts, with remainders.
  auto fleet = meters(1203);
  const auto first = writer.import_meters(fleet, "ops");
  CHECK(first.inserted == 1203);
  CHECK(first.updated == 0);
  CHECK(first.unchanged == 0);

  // Every 7th meter changed, 50 new ones, the rest as stored.
  std::size_t changed = 0;
  for (std::size_t i = 0; i < fleet.size(); i += 7, ++changed) fleet[i].ct_ratio = 40 + static_cast<std::int64_t>(i);
  for (int i = 0; i < 50; ++i) fleet.push_back(dlt_meter("NEW" + std::to_string(i)));
  const auto second = writer.import_meters(fleet, "ops");
  CHECK(second.inserted == 50);
  CHECK(second.updated == changed);
  CHECK(second.unchanged == 1203 - changed);
  StoreReader reader(db.path());
  auto stored = reader.meters(false);
  REQUIRE(stored.size() == fleet.size());
  std::map<std::string, MeterRecord> by_id;
  for (auto& m : stored) by_id.emplace(m.meter_id, m);
  for (const auto& m : fleet) {
    REQUIRE(by_id.count(m.meter_id) == 1);
    CHECK(by_id.at(m.meter_id) == m);
  }
  Database raw(db.path(), false, 1000);
  CHECK(raw.query_int64("SELECT count(*) FROM audit_log WHERE action = 'meter_updated'") ==
        static_cast<std::int64_t>(changed));
  CHECK(raw.query_int64("SELECT count(*) FROM audit_log WHERE action = 'registry_import'") == 2);

  // One bad row far into the file (in the third look-up chunk): nothing of this import is written.
  auto third = fleet;
  for (auto& m : third) m.enabled = false;
  third.push_back(dlt_meter("LATE"));
  third[1100].address = "not-an-address";
  CHECK_THROWS_WITH(writer.import_meters(third, "ops"),
                    Catch::Contains("meter '" + third[1100].meter_id + "': column address"));
  CHECK(reader.meters(true).size() == fleet.size());  // all still enabled
  CHECK_FALSE(reader.meter("LATE"));
  CHECK(raw.query_int64("SELECT count(*) FROM audit_log WHERE action = 'registry_import'") == 2);
}

TEST_CASE("the writer's meter look-up memo follows registry changes, within a writer and across a restart") {
  TempDb db("writer-meter-memo");
  {
    StoreWriter writer(db.options());
    writer.import_meters({dlt_meter("A"), dlt_meter("B")}, "test");
    writer.submit({read_at("A", 0, 100), read_at("A", 0, 10, EnergyChannel::reverse_active), read_at("B", 0, 100),
                   read_at("A", 15, 110), read_at("A", 15, 11, EnergyChannel::reverse_active), read_at("B", 15, 110)},
                  {});
    writer.flush();
    // A's CT changes between batches: the next intervals use it (the memo held A's old entry).
    writer.import_meters({dlt_meter("A", 5)}, "test");
    writer.submit({read_at("A", 30, 120), read_at("A", 30, 12, EnergyChannel::reverse_active)}, {});
    writer.flush();
  }
  {
    // A new writer (fresh memo) with another CT change before its first batch.
    StoreWriter writer(db.options());
    writer.import_meters({dlt_meter("A", 7)}, "test");
    writer.submit({read_at("A", 45, 130), read_at("B", 30, 120)}, {});
    writer.flush();
  }
  StoreReader reader(db.path());
  std::map<std::pair<std::string, std::int64_t>, std::int64_t> value_at;  // (meter, end) of forward -> Wh
  for (const auto& reading : reader.read_feed(0, 100)) {
    if (reading.reading_type_cim() != reading_type_cim(EnergyChannel::forward_active, 15)) continue;
    value_at[{reading.meter_id(), reading.end_unix()}] = reading.value_wh();
  }
  const auto end = [](int minutes) { return at_minutes(minutes).time_since_epoch().count(); };
  CHECK(value_at.at({"A", end(15)}) == 10);
  CHECK(value_at.at({"A", end(30)}) == 50);   // 10 Wh x CT 5
  CHECK(value_at.at({"A", end(45)}) == 70);   // 10 Wh x CT 7, after the restart
  CHECK(value_at.at({"B", end(15)}) == 10);
  CHECK(value_at.at({"B", end(30)}) == 10);
}

TEST_CASE("the writer's meter index follows a registry change: added, disabled and re-enabled meters by id and key") {
  TempDb db("writer-meter-index");
  auto options = db.options();
  options.vee = vee::VeeConfig{};  // silent estimates find meters by key
  StoreWriter writer(options);
  writer.import_meters({dlt_meter("A"), dlt_meter("B", 2)}, "test");
  writer.submit({read_at("A", 0, 100), read_at("B", 0, 100), read_at("C", 0, 100)}, {});
  writer.submit({read_at("A", 15, 110), read_at("B", 15, 110), read_at("C", 15, 110)}, {});
  writer.flush();
  CHECK(writer.stats().reads_unknown_meter == 2);  // C is not registered yet

  // C joins, A's CT changes and B is removed (disabled) while the writer runs.
  auto b_removed = dlt_meter("B", 2);
  b_removed.enabled = false;
  writer.import_meters({dlt_meter("A", 3), b_removed, dlt_meter("C")}, "test");
  writer.submit({read_at("A", 30, 120), read_at("C", 30, 120), read_at("C", 45, 130)}, {});
  writer.flush();
  CHECK(writer.stats().reads_unknown_meter == 2);
  // B is silent after minute 15, A after 30 and C after 45, but B is disabled: A and C are estimated.
  CHECK(writer.estimate_silent(at_minutes(60)).channels == 2);

  // B comes back with the same id (and key) and a new CT.
  writer.import_meters({dlt_meter("B", 4)}, "test");
  writer.submit({read_at("B", 75, 130)}, {});
  writer.flush();
  CHECK(writer.estimate_silent(at_minutes(90)).channels == 3);  // A, B and C are all behind

  StoreReader reader(db.path());
  const auto newest_value = [&](const std::string& id, int minutes) {
    std::int64_t value = -1;
    std::int64_t version = -1;
    for (const auto& record :
         reader.intervals(id, EnergyChannel::forward_active, at_minutes(0), at_minutes(minutes + 1))) {
      if (record.end == at_minutes(minutes) && static_cast<std::int64_t>(record.version) > version) {
        version = static_cast<std::int64_t>(record.version);
        value = record.value_wh;
      }
    }
    return value;
  };
  CHECK(newest_value("A", 15) == 10);
  CHECK(newest_value("A", 30) == 30);   // 10 Wh x CT 3 after the change
  CHECK(newest_value("B", 15) == 20);   // 10 Wh x CT 2
  CHECK(newest_value("B", 75) == 20);   // 20 Wh over (15, 75] spread at CT 4: 5 Wh x 4 per interval
  CHECK(newest_value("C", 45) == 10);   // from C's first stored read (minute 30) on
  CHECK(newest_value("C", 30) == -1);   // its reads before registration were dropped
  CHECK(newest_value("B", 90) > 0);     // estimated after B was re-enabled
}

TEST_CASE("group commit: an idle writer gathers small submissions, flush and a full gather end the wait") {
  TempDb db("writer-group-commit");
  SECTION("flush() commits what was gathered at once, in one transaction") {
    auto options = db.options();
    options.gather_delay = std::chrono::minutes{10};  // only flush() can end this gather in time
    options.gather_items = 1000000;
    StoreWriter writer(options);
    writer.import_meters(meters(3), "test");
    const auto before = writer.stats().transactions;
    writer.submit({read_at("M0", 0, 1)}, {});
    writer.submit({read_at("M1", 0, 1)}, {});
    writer.submit({read_at("M2", 0, 1)}, {attempt_for("M2", 0, 1, "ok", "ok")});
    writer.flush();
    CHECK(writer.stats().transactions == before + 1);
    CHECK(writer.stats().reads_stored == 3);
  }
  SECTION("gather_items queued items end the gather without a flush") {
    auto options = db.options();
    options.gather_delay = std::chrono::minutes{10};
    options.gather_items = 3;
    StoreWriter writer(options);
    writer.import_meters(meters(1), "test");
    std::promise<void> committed;
    std::atomic<bool> first{true};
    writer.on_committed([&](std::uint64_t) {
      if (first.exchange(false)) committed.set_value();
    });
    writer.submit({read_at("M0", 0, 1)}, {});
    writer.submit({read_at("M0", 15, 2), read_at("M0", 30, 3)}, {});
    // Liveness, not speed: without the item bound this would wait the full 10 minutes.
    CHECK(committed.get_future().wait_for(60s) == std::future_status::ready);
    writer.flush();
    CHECK(writer.stats().intervals_stored == 2);
  }
}
