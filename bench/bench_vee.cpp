// VEE throughput: intervals derived + validated + estimated per second (docs/PERFORMANCE.md "VEE").
// Items = intervals produced by vee::run(). History: 28 days per channel, as the store keeps it.
// BM_IngestWithVee (further down) measures the whole batched ingest through the real store.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "bench/bench_storage_support.hpp"
#include "storage/store_writer.hpp"
#include "storage/vee/engine.hpp"
#include "storage/vee/store_adapter.hpp"
#include "storage/vee/versioning.hpp"

namespace {

using namespace std::chrono_literals;
namespace vee = ami::storage::vee;

const ami::UtcSeconds start{std::chrono::seconds{1767571200}};

std::int64_t usage_at(std::int64_t k) {
  const auto slot = ((k % 96) + 96) % 96;
  return (slot >= 68 && slot < 88 ? 300 : slot >= 28 ? 150 : 60) + (k * 7919) % 23;
}

std::vector<vee::Interval> history(int days) {
  std::vector<vee::Interval> out;
  for (std::int64_t k = -days * 96 + 1; k <= 0; ++k) {
    vee::Interval iv;
    iv.end = start + 15min * k;
    iv.value_wh = usage_at(k);
    out.push_back(iv);
  }
  return out;
}

// One channel's batch: `reads` consecutive boundaries from 0, every `gap_every`-th missing.
vee::RunInput batch(const std::vector<vee::Interval>& hist, std::int64_t reads, std::int64_t gap_every) {
  vee::RunInput in;
  in.spec.meter_id = "000000000001";
  in.history = hist;
  in.from = start;
  in.to = start + 15min * reads;
  std::int64_t reg = 123'456'000;
  for (std::int64_t k = 0; k <= reads; ++k) {
    if (k > 0) reg += usage_at(k);
    if (gap_every > 0 && k % gap_every == gap_every - 1) continue;
    vee::RegisterRead r;
    r.boundary = start + 15min * k;
    r.register_wh = reg;
    r.taken_at = std::chrono::time_point_cast<std::chrono::milliseconds>(r.boundary) + 3s;
    in.reads.push_back(r);
  }
  return in;
}

// A day of reads per channel in one call (backfill-sized batches).
void BM_vee_day_batch(benchmark::State& state) {
  const auto hist = history(28);
  const auto in = batch(hist, 96, state.range(0));
  const vee::VeeConfig config;
  std::int64_t intervals = 0;
  for (auto _ : state) {
    auto result = vee::run(in, config);
    intervals += static_cast<std::int64_t>(result.intervals.size());
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(intervals);
}
BENCHMARK(BM_vee_day_batch)->Arg(0)->Arg(10);

// The live case: each boundary brings one new read per channel; VEE runs over it with history,
// then plans the writes against what is stored.
void BM_vee_one_boundary(benchmark::State& state) {
  const auto hist = history(28);
  auto in = batch(hist, 1, 0);
  in.from = start;
  const vee::VeeConfig config;
  std::int64_t intervals = 0;
  for (auto _ : state) {
    auto result = vee::run(in, config);
    auto writes = vee::plan_writes({}, result.intervals);
    intervals += static_cast<std::int64_t>(writes.size());
    benchmark::DoNotOptimize(writes);
  }
  state.SetItemsProcessed(intervals);
}
BENCHMARK(BM_vee_one_boundary);

}  // namespace

// ---- ingest with VEE, batched, through the real store ----
// Each iteration is one day of 15-minute reads for every meter (forward channel), 1 in 100
// boundaries missing: the reads go to a StoreWriter in daemon-sized chunks (the store derives
// and publishes the intervals), then flush (fsync). Items = interval rows stored.
// Arg 1 = 0: VEE runs in the caller over each meter's day with the previous day as context (held
// in memory, no store queries) and its estimates go back through submit_intervals().
// Arg 1 = 1: VEE runs inside the writer's transaction (StoreOptions::vee, writer_hook.hpp).
namespace {

void BM_IngestWithVee(benchmark::State& state) {
  using ami::storage::BoundaryRead;
  const auto meter_count = static_cast<std::size_t>(state.range(0));
  const bool in_writer = state.range(1) != 0;
  const auto path = ami::bench::scratch_db_path("ami_bench_vee");
  ami::bench::remove_scratch_db(path);
  std::int64_t rows = 0;
  double cpu_seconds = 0;
  {
    ami::storage::StoreOptions options;
    options.path = path;
    if (in_writer) options.vee = vee::VeeConfig{};
    ami::storage::StoreWriter writer(options);
    std::vector<ami::storage::MeterRecord> meters(meter_count);
    for (std::size_t i = 0; i < meter_count; ++i) {
      meters[i].meter_id = "bench" + std::to_string(100000 + i);
      meters[i].protocol = "dlt645-2007";
      meters[i].channel = "tcp://10.0.0.1:8899";
      meters[i].address = std::to_string(100000000000ULL + i);
      meters[i].model = "dlt645-generic";
    }
    writer.import_meters(meters, "bench");
    std::vector<std::int64_t> registers(meter_count, 1'000'000);
    std::vector<std::vector<vee::Interval>> previous_day(meter_count);
    std::vector<std::optional<vee::RegisterRead>> last_read(meter_count);
    const vee::VeeConfig config;
    std::int64_t day = 0;
    for (auto _ : state) {
      const double cpu_before = ami::bench::process_cpu_seconds();
      const auto day_start = start + std::chrono::days{day};
      std::vector<std::vector<vee::RegisterRead>> day_reads(meter_count);
      std::vector<BoundaryRead> chunk;
      for (std::int64_t k = 1; k <= 96; ++k) {
        for (std::size_t i = 0; i < meter_count; ++i) {
          registers[i] += usage_at(k + static_cast<std::int64_t>(i));
          if ((k * 31 + static_cast<std::int64_t>(i)) % 100 == 0) continue;  // missed read
          BoundaryRead read;
          read.meter_id = meters[i].meter_id;
          read.boundary = day_start + 15min * k;
          read.register_wh = registers[i];
          read.collected_at = std::chrono::time_point_cast<std::chrono::milliseconds>(read.boundary) + 2s;
          day_reads[i].push_back(vee::register_read(read));
          chunk.push_back(std::move(read));
          if (chunk.size() == 1000) {
            writer.submit(std::move(chunk), {});
            chunk.clear();
          }
        }
      }
      writer.submit(std::move(chunk), {});
      std::vector<ami::storage::IntervalRecord> estimates;
      // In the writer: the store derives what adjacent reads give and its VEE estimates the gaps,
      // 96 interval rows per meter and day in all.
      if (in_writer) rows += 96 * static_cast<std::int64_t>(meter_count);
      for (std::size_t i = 0; !in_writer && i < meter_count; ++i) {
        vee::RunInput in;
        in.spec = vee::channel_spec(meters[i], ami::storage::EnergyChannel::forward_active);
        const auto spec = in.spec;
        if (last_read[i]) in.reads.push_back(*last_read[i]);
        in.reads.insert(in.reads.end(), day_reads[i].begin(), day_reads[i].end());
        in.history = previous_day[i];
        in.from = day_start;
        in.to = day_start + std::chrono::days{1};
        if (!day_reads[i].empty()) last_read[i] = day_reads[i].back();
        auto result = vee::run(std::move(in), config);
        for (const auto& iv : result.intervals) {
          if (!iv.is_actual()) estimates.push_back(vee::record_from_interval(iv, spec));
        }
        rows += static_cast<std::int64_t>(result.intervals.size());
        previous_day[i] = std::move(result.intervals);
      }
      writer.submit_intervals(std::move(estimates));
      writer.flush();
      cpu_seconds += ami::bench::process_cpu_seconds() - cpu_before;
      ++day;
    }
  }
  ami::bench::remove_scratch_db(path);
  state.SetItemsProcessed(rows);
  state.counters["rows_per_cpu_second"] = static_cast<double>(rows) / cpu_seconds;
}
BENCHMARK(BM_IngestWithVee)->Args({2000, 0})->Args({2000, 1})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
