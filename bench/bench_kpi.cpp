// Read-success KPI requests (storage/kpi.hpp) over a store holding one full day of a fleet:
// N meters x 96 intervals (forward channel), one attempt per boundary, 1% of meters with a few
// failed boundaries (meter errors) so reasons and last failures exist.
//   BM_KpiRequest/<meters>: one API-style request (every meter's day row) on a KpiQueries that
//     already answered once, i.e. what the monitor pays per request and per /metrics refresh.
//   BM_KpiColdDay/<meters>: a fresh KpiQueries per iteration (what `headendctl report` pays).
// The filled store is kept in $TMPDIR (ami_bench_kpi_<meters>_v<schema>.db) and reused by later
// runs, because filling 100,000 meters takes minutes. Run: see docs/PERFORMANCE.md "KPI queries".
#include <benchmark/benchmark.h>

#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "storage/kpi.hpp"
#include "storage/schema.hpp"
#include "storage/store_writer.hpp"

namespace {

namespace st = ami::storage;

const st::LocalDay kpi_bench_day = *st::parse_day("2026-01-05");
constexpr int kpi_bench_offset = 480;

std::string kpi_bench_meter_id(std::size_t i) { return fmt::format("K{:06}", i); }

std::filesystem::path kpi_bench_store(std::size_t meters) {
  const auto path = std::filesystem::temp_directory_path() /
                    fmt::format("ami_bench_kpi_{}_v{}.db", meters, st::current_schema_version());
  if (std::filesystem::exists(path)) return path;
  const auto partial = std::filesystem::path(path.string() + ".partial");
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(partial.string() + suffix);
  {
    st::StoreOptions options;
    options.path = partial;
    st::StoreWriter writer(options);
    std::vector<st::MeterRecord> records;
    for (std::size_t i = 0; i < meters; ++i) {
      st::MeterRecord m;
      m.meter_id = kpi_bench_meter_id(i);
      m.protocol = "dlt645-2007";
      m.channel = fmt::format("tcp://10.{}.{}.1:8899", i / 100 / 250, i / 100 % 250);  // 100 meters a gateway
      m.address = fmt::format("{:012}", i + 1);
      m.model = i % 3 == 0 ? "DTSU666" : "dlt645-generic";
      m.usage_point = "UP-" + m.meter_id;
      m.tags = fmt::format("district=D{};feeder=F{}", i % 17, i % 101);
      records.push_back(std::move(m));
    }
    writer.import_meters(records, "bench");
    const auto start = st::day_start_utc(kpi_bench_day, kpi_bench_offset);
    constexpr std::size_t chunk = 1000;
    for (int k = 0; k <= 96; ++k) {
      const auto boundary = start + std::chrono::minutes{15 * k};
      for (std::size_t first = 0; first < meters; first += chunk) {
        std::vector<st::BoundaryRead> reads;
        std::vector<st::AttemptRecord> attempts;
        for (std::size_t i = first; i < std::min(meters, first + chunk); ++i) {
          const bool fails = i % 100 == 7 && k % 24 == 5;  // 1% of meters, 4 boundaries each
          st::AttemptRecord a;
          a.meter_id = kpi_bench_meter_id(i);
          a.channel = records[i].channel;
          a.boundary = boundary;
          a.started_at = ami::UtcMillis{boundary} + std::chrono::milliseconds{1200};
          a.latency_ms = 300;
          a.outcome = fails ? "meter_error" : "ok";
          a.category = fails ? "meter" : "ok";
          a.detail = fails ? "ERR 0x02: no requested data" : "";
          attempts.push_back(std::move(a));
          if (fails) continue;
          st::BoundaryRead r;
          r.meter_id = kpi_bench_meter_id(i);
          r.boundary = boundary;
          r.register_wh = 1'000'000 + 250LL * k;
          r.collected_at = ami::UtcMillis{boundary} + std::chrono::milliseconds{1500};
          reads.push_back(std::move(r));
        }
        writer.submit(std::move(reads), std::move(attempts));
      }
    }
    writer.flush();
  }
  std::filesystem::rename(partial, path);
  for (const char* suffix : {"-wal", "-shm"}) std::filesystem::remove(partial.string() + suffix);
  return path;
}

st::KpiOptions kpi_bench_options() {
  st::KpiOptions o;
  o.utc_offset_minutes = kpi_bench_offset;
  return o;
}

ami::UtcSeconds kpi_bench_as_of() {
  return st::day_start_utc(kpi_bench_day, kpi_bench_offset) + std::chrono::hours{30};
}

void BM_KpiRequest(benchmark::State& state) {
  const auto meters = static_cast<std::size_t>(state.range(0));
  st::KpiQueries kpi(kpi_bench_store(meters));
  std::size_t rows = kpi.meter_days(kpi_bench_day, 1, kpi_bench_as_of(), kpi_bench_options()).size();
  for (auto _ : state) {
    auto result = kpi.meter_days(kpi_bench_day, 1, kpi_bench_as_of(), kpi_bench_options());
    rows = result.size();
    benchmark::DoNotOptimize(result);
  }
  if (rows != meters) state.SkipWithError("wrong number of meter rows");
  state.counters["meters"] = static_cast<double>(meters);
}
BENCHMARK(BM_KpiRequest)->Arg(10'000)->Arg(100'000)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_KpiColdDay(benchmark::State& state) {
  const auto meters = static_cast<std::size_t>(state.range(0));
  const auto path = kpi_bench_store(meters);
  std::size_t rows = 0;
  for (auto _ : state) {
    st::KpiQueries kpi(path);
    auto result = kpi.meter_days(kpi_bench_day, 1, kpi_bench_as_of(), kpi_bench_options());
    rows = result.size();
    benchmark::DoNotOptimize(result);
  }
  if (rows != meters) state.SkipWithError("wrong number of meter rows");
}
BENCHMARK(BM_KpiColdDay)->Arg(10'000)->Arg(100'000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
