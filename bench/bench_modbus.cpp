// Modbus pure-path micro-benchmarks: value decoding, block decoding, read planning, RTU framing.
// Results and the command that produced them: docs/PERFORMANCE.md.
#include <benchmark/benchmark.h>

#include <bit>
#include <vector>

#include "protocols/modbus/builtin_maps.hpp"
#include "protocols/modbus/decode.hpp"
#include "protocols/modbus/read_plan.hpp"
#include "protocols/modbus/rtu.hpp"

namespace {

using namespace ami::modbus;

void BM_ModbusDecodeF32KwhToWh(benchmark::State& state) {
  const RegisterMap& map = *find_builtin_map("SDM630");
  const Point& energy = map.points.back();
  std::uint16_t regs[2];
  encode_raw(std::bit_cast<std::uint32_t>(12345.678f), ValueType::f32, WordOrder::abcd, regs);
  for (auto _ : state) {
    benchmark::DoNotOptimize(regs);
    benchmark::DoNotOptimize(decode_point(energy, regs));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ModbusDecodeF32KwhToWh);

// One whole SDM630 poll worth of decoding (all blocks of the plan): items = points.
void BM_ModbusDecodeSdm630Plan(benchmark::State& state) {
  const RegisterMap& map = *find_builtin_map("SDM630");
  const ReadPlan plan = plan_reads(map);
  std::vector<std::vector<std::uint16_t>> block_regs;
  for (const auto& b : plan) block_regs.emplace_back(b.count, std::uint16_t{0x4366});
  std::vector<PointReading> out;
  out.reserve(map.points.size());
  for (auto _ : state) {
    out.clear();
    for (std::size_t i = 0; i < plan.size(); ++i) decode_block(map, plan[i], block_regs[i], out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(map.points.size()));
}
BENCHMARK(BM_ModbusDecodeSdm630Plan);

// Planning 125 scattered u16 points (the plan is computed once per model; this bounds start-up).
void BM_ModbusPlan125Points(benchmark::State& state) {
  std::vector<RegisterRange> ranges;
  for (std::uint16_t i = 0; i < 125; ++i)
    ranges.push_back({FunctionCode::read_holding_registers, static_cast<std::uint16_t>((i * 37) % 1000), 1});
  for (auto _ : state) benchmark::DoNotOptimize(plan_reads(ranges, {60, 8}));
}
BENCHMARK(BM_ModbusPlan125Points);

// A full 125-register RTU response through the framer: bytes/s.
void BM_ModbusRtuFrame125Registers(benchmark::State& state) {
  std::vector<std::uint8_t> pdu{0x03, 250};
  pdu.resize(2 + 250, 0x5A);
  std::vector<std::uint8_t> adu;
  append_rtu_frame(1, pdu, adu);
  RtuFramer framer;
  framer.expect(1, 0x03);
  RtuFrame frame;
  for (auto _ : state) {
    framer.feed(adu);
    benchmark::DoNotOptimize(framer.next(frame));
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(adu.size()));
}
BENCHMARK(BM_ModbusRtuFrame125Registers);

}  // namespace
