// VEE throughput: intervals derived + validated + estimated per second (docs/PERFORMANCE.md "VEE").
// Items = intervals produced by vee::run(). History: 28 days per channel, as the store keeps it.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <vector>

#include "storage/vee/engine.hpp"
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
