// Builders shared by the VEE unit tests: register read series on a 15-minute grid.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "storage/vee/engine.hpp"

namespace ami::storage::vee::test {

using namespace std::chrono_literals;

// 2026-01-05T00:00:00Z, a Monday.
inline UtcSeconds t0() { return UtcSeconds{std::chrono::seconds{1767571200}}; }
inline UtcSeconds at_interval(std::int64_t k) { return t0() + std::chrono::minutes{15} * k; }

inline ChannelSpec spec(std::int64_t multiplier = 1) {
  ChannelSpec s;
  s.meter_id = "000000000001";
  s.multiplier = multiplier;
  return s;
}

inline RegisterRead snapshot_read(std::int64_t k, std::int64_t register_wh) {
  RegisterRead r;
  r.boundary = at_interval(k);
  r.register_wh = register_wh;
  r.taken_at = std::chrono::time_point_cast<std::chrono::milliseconds>(r.boundary) + 2s;
  return r;
}

// Reads at boundaries 0..values.size()-1 with the given register values.
inline std::vector<RegisterRead> reads_of(const std::vector<std::int64_t>& registers) {
  std::vector<RegisterRead> reads;
  for (std::size_t k = 0; k < registers.size(); ++k) {
    reads.push_back(snapshot_read(static_cast<std::int64_t>(k), registers[k]));
  }
  return reads;
}

// Registers for consumption values: register(0) = start, register(k) = start + sum of first k.
inline std::vector<std::int64_t> registers_for(std::int64_t start, const std::vector<std::int64_t>& usage) {
  std::vector<std::int64_t> regs{start};
  for (const auto u : usage) regs.push_back(regs.back() + u);
  return regs;
}

// An actual interval ending at boundary k (for history).
inline Interval actual(std::int64_t k, std::int64_t value_wh, Flags flags = 0) {
  Interval iv;
  iv.end = at_interval(k);
  iv.value_wh = value_wh;
  iv.flags = flags;
  return iv;
}

// `days` days of history ending at boundary 0, each day repeating `day_shape` (96 values).
inline std::vector<Interval> history_days(int days, const std::vector<std::int64_t>& day_shape) {
  std::vector<Interval> history;
  const auto n = static_cast<std::int64_t>(day_shape.size());
  for (std::int64_t k = -days * n + 1; k <= 0; ++k) {
    history.push_back(actual(k, day_shape[static_cast<std::size_t>(((k % n) + n) % n)]));
  }
  return history;
}

inline RunInput input_for(std::vector<RegisterRead> reads, std::int64_t to_k, std::int64_t from_k = 0) {
  RunInput in;
  in.spec = spec();
  in.reads = std::move(reads);
  in.from = at_interval(from_k);
  in.to = at_interval(to_k);
  return in;
}

inline std::vector<std::int64_t> values_of(const std::vector<Interval>& intervals) {
  std::vector<std::int64_t> v;
  for (const auto& iv : intervals) v.push_back(iv.value_wh);
  return v;
}

}  // namespace ami::storage::vee::test
