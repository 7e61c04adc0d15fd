// Staging store ingest: interval rows derived and committed per second through StoreWriter.
// Each iteration submits one boundary's reads for every meter (in daemon-sized chunks of 1,000,
// optionally with one attempt row per read) and flushes; every read closes one interval, so
// items_processed counts interval rows (each with its raw read and outbox row).
// Run: see docs/PERFORMANCE.md "Storage".
#include <benchmark/benchmark.h>

#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_storage_support.hpp"
#include "storage/sqlite.hpp"
#include "storage/store_reader.hpp"
#include "storage/store_writer.hpp"
#include "storage/vee/config.hpp"

namespace {

using namespace ami;
using namespace ami::storage;

void submit_boundary(StoreWriter& writer, const std::vector<std::string>& ids, UtcSeconds boundary,
                     std::int64_t register_wh, bool with_attempts) {
  constexpr std::size_t chunk = 1000;
  for (std::size_t first = 0; first < ids.size(); first += chunk) {
    std::vector<BoundaryRead> reads;
    std::vector<AttemptRecord> attempts;
    for (std::size_t i = first; i < std::min(ids.size(), first + chunk); ++i) {
      BoundaryRead read;
      read.meter_id = ids[i];
      read.boundary = boundary;
      read.register_wh = register_wh + static_cast<std::int64_t>(i % 97);
      read.collected_at = UtcMillis{boundary} + std::chrono::milliseconds{1500};
      reads.push_back(std::move(read));
      if (with_attempts) {
        AttemptRecord attempt;
        attempt.meter_id = ids[i];
        attempt.channel = "tcp://10.0.0.1:8899";
        attempt.boundary = boundary;
        attempt.started_at = UtcMillis{boundary} + std::chrono::milliseconds{1200};
        attempt.latency_ms = 300;
        attempt.outcome = "ok";
        attempt.category = "ok";
        attempts.push_back(std::move(attempt));
      }
    }
    writer.submit(std::move(reads), std::move(attempts));
  }
}

// Registers MTR100000.. and returns their ids.
std::vector<std::string> import_bench_meters(StoreWriter& writer, std::size_t meter_count) {
  std::vector<std::string> ids;
  std::vector<MeterRecord> meters;
  for (std::size_t i = 0; i < meter_count; ++i) {
    MeterRecord m;
    m.meter_id = "MTR" + std::to_string(100000 + i);
    m.protocol = "dlt645-2007";
    m.channel = "tcp://10.0.0.1:8899";
    m.address = std::to_string(100000000000 + i);
    ids.push_back(m.meter_id);
    meters.push_back(std::move(m));
  }
  writer.import_meters(meters, "bench");
  return ids;
}

void BM_StoreWriterIngest(benchmark::State& state) {
  const auto meter_count = static_cast<std::size_t>(state.range(0));
  const bool with_attempts = state.range(1) != 0;
  const auto path = ami::bench::scratch_db_path("ami_bench_storage");
  ami::bench::remove_scratch_db(path);
  std::int64_t intervals = 0;
  double cpu_seconds = 0;
  {
    StoreOptions options;
    options.path = path;
    StoreWriter writer(options);
    const auto ids = import_bench_meters(writer, meter_count);
    auto boundary = *parse_utc("2026-01-05T00:00:00Z");
    submit_boundary(writer, ids, boundary, 0, false);
    writer.flush();
    std::int64_t register_wh = 0;
    const double cpu_before = ami::bench::process_cpu_seconds();
    for (auto _ : state) {
      boundary += std::chrono::minutes{15};
      register_wh += 250;
      submit_boundary(writer, ids, boundary, register_wh, with_attempts);
      writer.flush();
      intervals += static_cast<std::int64_t>(meter_count);
    }
    cpu_seconds = ami::bench::process_cpu_seconds() - cpu_before;
  }
  ami::bench::remove_scratch_db(path);
  state.SetItemsProcessed(intervals);
  state.counters["intervals_per_s"] =
      benchmark::Counter(static_cast<double>(intervals), benchmark::Counter::kIsRate);
  // What one fully available core would do: the shared CI/dev box is often oversubscribed, so
  // wall-clock rate alone says more about the neighbours than about the store.
  state.counters["intervals_per_cpu_s"] =
      cpu_seconds > 0 ? static_cast<double>(intervals) / cpu_seconds : 0.0;
}

BENCHMARK(BM_StoreWriterIngest)
    ->Args({20000, 0})
    ->Args({20000, 1})
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

// The daemon's write pattern per scheduled read (docs/PERFORMANCE.md "Writer costs per read"): a
// 2-channel DL/T 645 meter's boundary read = 2 BoundaryReads (forward, reverse) + 1 attempt row,
// submitted in the daemon's SubmitBatcher chunks of 1,000 records (333 meters), VEE on in the
// writer (StoreOptions::vee, as the daemon runs it). Arg 1, how the chunks arrive:
//   0 = all at once (the writer takes whatever is queued, up to 100,000 items: a writer that lags);
//   1 = a flush() after each chunk (one transaction per chunk, whatever the writer's batching);
//   2 = one chunk every 10 ms, no flush until the end (the daemon's pace at ~33,000 reads/s: what
//       the writer's own batching, group commit included, makes of it). Each read closes one interval per channel,
// each with its outbox row. Counters: scheduled reads per wall second, CPU microseconds of the
// whole process per scheduled read (writer + submitter), rows written per CPU second.
void submit_scheduled_reads(StoreWriter& writer, const std::vector<std::string>& ids, UtcSeconds boundary,
                            std::int64_t register_wh, int arrival) {
  constexpr std::size_t meters_per_chunk = 333;  // 3 records per meter: ~1,000 records per submit
  for (std::size_t first = 0; first < ids.size(); first += meters_per_chunk) {
    std::vector<BoundaryRead> reads;
    std::vector<AttemptRecord> attempts;
    for (std::size_t i = first; i < std::min(ids.size(), first + meters_per_chunk); ++i) {
      for (const auto channel : {EnergyChannel::forward_active, EnergyChannel::reverse_active}) {
        BoundaryRead read;
        read.meter_id = ids[i];
        read.channel = channel;
        read.boundary = boundary;
        read.register_wh = channel == EnergyChannel::forward_active ? register_wh + static_cast<std::int64_t>(i % 97)
                                                                     : register_wh / 10;
        read.collected_at = UtcMillis{boundary} + std::chrono::milliseconds{1500};
        reads.push_back(std::move(read));
      }
      AttemptRecord attempt;
      attempt.meter_id = ids[i];
      attempt.channel = "tcp://10.0.0." + std::to_string(i % 20) + ":8899";
      attempt.boundary = boundary;
      attempt.started_at = UtcMillis{boundary} + std::chrono::milliseconds{1200};
      attempt.latency_ms = 3;
      attempt.outcome = "ok";
      attempt.category = "ok";
      attempts.push_back(std::move(attempt));
    }
    writer.submit(std::move(reads), std::move(attempts));
    if (arrival == 1) writer.flush();
    if (arrival == 2) std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
}

void BM_StoreWriterPerRead(benchmark::State& state) {
  const auto meter_count = static_cast<std::size_t>(state.range(0));
  const auto arrival = static_cast<int>(state.range(1));
  const auto path = ami::bench::scratch_db_path("ami_bench_storage");
  ami::bench::remove_scratch_db(path);
  std::int64_t scheduled_reads = 0;
  double cpu_seconds = 0;
  {
    StoreOptions options;
    options.path = path;
    options.vee = vee::VeeConfig{};
    StoreWriter writer(options);
    const auto ids = import_bench_meters(writer, meter_count);
    auto boundary = *parse_utc("2026-01-05T00:00:00Z");
    std::int64_t register_wh = 0;
    submit_scheduled_reads(writer, ids, boundary, register_wh, 0);
    writer.flush();
    const double cpu_before = ami::bench::process_cpu_seconds();
    for (auto _ : state) {
      boundary += std::chrono::minutes{15};
      register_wh += 250;
      submit_scheduled_reads(writer, ids, boundary, register_wh, arrival);
      writer.flush();
      scheduled_reads += static_cast<std::int64_t>(meter_count);
    }
    cpu_seconds = ami::bench::process_cpu_seconds() - cpu_before;
  }
  ami::bench::remove_scratch_db(path);
  state.SetItemsProcessed(scheduled_reads);
  state.counters["reads_per_s"] = benchmark::Counter(static_cast<double>(scheduled_reads), benchmark::Counter::kIsRate);
  state.counters["cpu_us_per_read"] = scheduled_reads > 0 ? cpu_seconds * 1e6 / static_cast<double>(scheduled_reads) : 0.0;
  // Per scheduled read: 2 reads + 2 intervals + 2 outbox rows + 1 attempt.
  state.counters["rows_per_cpu_s"] = cpu_seconds > 0 ? 7.0 * static_cast<double>(scheduled_reads) / cpu_seconds : 0.0;
}

BENCHMARK(BM_StoreWriterPerRead)->Args({20000, 0})->Args({20000, 1})->Args({20000, 2})->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();

// Registry import (docs/STORAGE.md "Registry CSV"): `meters` new meters into an empty registry,
// then the same list again (all unchanged), each one StoreWriter::import_meters() call (one
// transaction). Wall time and process CPU time per import; the CSV parse is not included.
void BM_StoreImportMeters(benchmark::State& state) {
  const auto meter_count = static_cast<std::size_t>(state.range(0));
  const auto path = ami::bench::scratch_db_path("ami_bench_import");
  std::vector<MeterRecord> meters;
  for (std::size_t i = 0; i < meter_count; ++i) {
    MeterRecord m;
    m.meter_id = "MTR" + std::to_string(1000000 + i);
    m.protocol = "dlt645-2007";
    m.channel = "tcp://10.0." + std::to_string(i / 8000 % 250) + ".1:8899";
    m.address = std::to_string(100000000000 + i);
    m.usage_point = "UP-" + m.meter_id;
    meters.push_back(std::move(m));
  }
  double fresh_s = 0;
  double again_s = 0;
  double fresh_cpu_s = 0;
  double again_cpu_s = 0;
  for (auto _ : state) {
    ami::bench::remove_scratch_db(path);
    StoreOptions options;
    options.path = path;
    StoreWriter writer(options);
    const auto started = std::chrono::steady_clock::now();
    const double cpu_started = ami::bench::process_cpu_seconds();
    writer.import_meters(meters, "bench");
    const auto fresh_done = std::chrono::steady_clock::now();
    const double cpu_fresh_done = ami::bench::process_cpu_seconds();
    writer.import_meters(meters, "bench");
    const auto again_done = std::chrono::steady_clock::now();
    fresh_cpu_s += cpu_fresh_done - cpu_started;
    again_cpu_s += ami::bench::process_cpu_seconds() - cpu_fresh_done;
    fresh_s += std::chrono::duration<double>(fresh_done - started).count();
    again_s += std::chrono::duration<double>(again_done - fresh_done).count();
  }
  ami::bench::remove_scratch_db(path);
  const auto runs = static_cast<double>(state.iterations());
  state.counters["fresh_import_s"] = fresh_s / runs;
  state.counters["unchanged_import_s"] = again_s / runs;
  state.counters["fresh_import_cpu_s"] = fresh_cpu_s / runs;
  state.counters["unchanged_import_cpu_s"] = again_cpu_s / runs;
}

BENCHMARK(BM_StoreImportMeters)->Arg(200000)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// Disk footprint (docs/STORAGE.md "Size"): `days` of 15-minute boundaries for `meters` meters, each
// read with one attempt row, no pruning; then the file size (WAL checkpointed at close) per
// meter-day, and per table/index from SQLite's dbstat. Time is not the point: one iteration.
void BM_StoreBytesPerMeterDay(benchmark::State& state) {
  const auto meter_count = static_cast<std::size_t>(state.range(0));
  const auto days = state.range(1);
  const auto path = ami::bench::scratch_db_path("ami_bench_storage");
  for (auto _ : state) {
    ami::bench::remove_scratch_db(path);
    {
      StoreOptions options;
      options.path = path;
      StoreWriter writer(options);
      const auto ids = import_bench_meters(writer, meter_count);
      auto boundary = *parse_utc("2026-01-05T00:00:00Z");
      for (std::int64_t k = 0; k <= days * 96; ++k) {
        submit_boundary(writer, ids, boundary, 250 * k, true);
        boundary += std::chrono::minutes{15};
      }
      writer.flush();
    }
    const double meter_days = static_cast<double>(meter_count) * static_cast<double>(days);
    state.counters["bytes_per_meter_day"] = static_cast<double>(std::filesystem::file_size(path)) / meter_days;
    Database db(path, false, 1000);
    try {
      auto query = db.query("SELECT name, sum(pgsize) FROM dbstat GROUP BY name");
      while (query->step()) {
        state.counters["bytes_" + query->column_text(0)] = static_cast<double>(query->column_int64(1)) / meter_days;
      }
    } catch (const SqliteError&) {
      // SQLite built without dbstat: the total above still stands.
    }
  }
  ami::bench::remove_scratch_db(path);
}

BENCHMARK(BM_StoreBytesPerMeterDay)->Args({1000, 2})->Iterations(1)->Unit(benchmark::kMillisecond);

// Per-meter history queries (docs/PERFORMANCE.md "Per-meter queries"): one meter's forward reads
// of 3 days from a store of `meters` meters x 288 boundaries x 2 channels, through
// StoreReader::reads (walks the stored boundaries, seeks the meter at each) and, in the same run,
// the plain range query it replaced (visits every meter's rows in the window). The files are built
// once per size with one INSERT ... SELECT (the writer's derivation is not what is measured).
class MeterHistoryFiles {
 public:
  ~MeterHistoryFiles() {
    for (const auto& [meters, path] : paths_) ami::bench::remove_scratch_db(path);
  }
  const std::filesystem::path& for_meters(std::size_t meter_count) {
    auto& path = paths_[meter_count];
    if (!path.empty()) return path;
    path = ami::bench::scratch_db_path("ami_bench_history_" + std::to_string(meter_count));
    ami::bench::remove_scratch_db(path);
    {
      StoreOptions options;
      options.path = path;
      StoreWriter writer(options);
      import_bench_meters(writer, meter_count);
    }
    Database db(path, false, 10000);
    db.exec("WITH RECURSIVE b(t) AS (SELECT " + std::to_string(first_boundary()) +
            " UNION ALL SELECT t + 900 FROM b WHERE t < " + std::to_string(first_boundary() + 900 * 287) +
            ") INSERT INTO reads (meter_key, channel, boundary, register_wh, collected_at_ms, source, meter_time_ms) "
            "SELECT meter_key, c, t, t - " + std::to_string(first_boundary()) + " + meter_key, t * 1000 + 1500, 1, NULL "
            "FROM b, meters, (SELECT 1 AS c UNION ALL SELECT 2) ORDER BY 3, 1, 2");
    return path;
  }
  static std::int64_t first_boundary() { return parse_utc("2026-01-05T00:00:00Z")->time_since_epoch().count(); }

 private:
  std::map<std::size_t, std::filesystem::path> paths_;
};

MeterHistoryFiles& history_files() {
  static MeterHistoryFiles files;
  return files;
}

void BM_StoreReaderMeterReads(benchmark::State& state) {
  const auto meter_count = static_cast<std::size_t>(state.range(0));
  StoreReader reader(history_files().for_meters(meter_count));
  const UtcSeconds from{std::chrono::seconds{MeterHistoryFiles::first_boundary()}};
  const UtcSeconds to = from + std::chrono::minutes{15 * 287};
  std::size_t meter = 0;
  std::size_t rows = 0;
  for (auto _ : state) {
    const auto reads = reader.reads("MTR" + std::to_string(100000 + meter), EnergyChannel::forward_active, from, to);
    rows += reads.size();
    meter = (meter + 7919) % meter_count;
  }
  if (rows != 288 * static_cast<std::size_t>(state.iterations())) state.SkipWithError("wrong row count");
  state.counters["rows_per_call"] = static_cast<double>(rows) / static_cast<double>(state.iterations());
}

BENCHMARK(BM_StoreReaderMeterReads)->Arg(2000)->Arg(10000)->Unit(benchmark::kMicrosecond);

// The range query StoreReader::reads used before session 6, on the same files.
void BM_MeterReadsRangeScan(benchmark::State& state) {
  const auto meter_count = static_cast<std::size_t>(state.range(0));
  Database db(history_files().for_meters(meter_count), false, 10000);
  const std::int64_t from = MeterHistoryFiles::first_boundary();
  const std::int64_t to = from + 900 * 287;
  std::size_t meter = 0;
  std::size_t rows = 0;
  for (auto _ : state) {
    auto query = db.query(
        "SELECT r.boundary, r.register_wh, r.collected_at_ms, r.source, r.meter_time_ms "
        "FROM reads r JOIN meters m ON m.meter_key = r.meter_key "
        "WHERE m.meter_id = ? AND r.channel = ? AND r.boundary >= ? AND r.boundary <= ? ORDER BY r.boundary");
    query->bind(1, "MTR" + std::to_string(100000 + meter)).bind(2, 1).bind(3, from).bind(4, to);
    while (query->step()) ++rows;
    meter = (meter + 7919) % meter_count;
  }
  if (rows != 288 * static_cast<std::size_t>(state.iterations())) state.SkipWithError("wrong row count");
}

BENCHMARK(BM_MeterReadsRangeScan)->Arg(2000)->Arg(10000)->Unit(benchmark::kMicrosecond);

}  // namespace
