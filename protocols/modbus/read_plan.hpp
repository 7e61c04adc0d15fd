// Read planning: which block reads fetch a set of points.
//
// plan_reads() merges points of the same function code into blocks, in address order, as long as
// the unused registers between two neighbours are at most max_gap and the block stays within
// max_block registers. It is computed once per model (a session keeps the plan per model) and
// table-tested in tests/unit/protocols_modbus/read_plan_test.cpp.
//
// A meter that answers exception 0x02 (illegal data address) for a block usually refuses one of the
// gap registers or the block length: split_block() cuts the block in two at the point boundary
// that balances the halves (each half shrunk to its own points, so the gap between them is no
// longer read); the caller retries both halves and may keep the split in the model's plan
// (split_block_in_plan()). A one-point block cannot be split: that point is unsupported.
//
// Pure functions over plain data; any thread may call; nothing throws (except std::bad_alloc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "protocols/modbus/register_map.hpp"

namespace ami::modbus {

// The registers one point occupies.
struct RegisterRange {
  FunctionCode function = FunctionCode::read_holding_registers;
  std::uint16_t address = 0;
  std::uint16_t width = 1;
  friend bool operator==(const RegisterRange&, const RegisterRange&) = default;
};

struct ReadBlock {
  FunctionCode function = FunctionCode::read_holding_registers;
  std::uint16_t start = 0;
  std::uint16_t count = 0;
  std::vector<std::uint32_t> points;  // indices into the planned ranges / map points, by address
  friend bool operator==(const ReadBlock&, const ReadBlock&) = default;
};

using ReadPlan = std::vector<ReadBlock>;

// Blocks ordered by (function, start). A point wider than max_block gets a block of its own width
// (validated maps never have one). Overlapping points are tolerated and share a block.
ReadPlan plan_reads(std::span<const RegisterRange> ranges, PlanLimits limits);

std::vector<RegisterRange> register_ranges(const RegisterMap& map);
ReadPlan plan_reads(const RegisterMap& map);

struct SplitBlocks {
  ReadBlock first;
  ReadBlock second;
};
// std::nullopt when the block holds fewer than two points.
std::optional<SplitBlocks> split_block(const ReadBlock& block, std::span<const RegisterRange> ranges);

// Replaces plan[index] with its two halves, in place. False (plan unchanged) when it cannot split.
bool split_block_in_plan(ReadPlan& plan, std::size_t index, std::span<const RegisterRange> ranges);

}  // namespace ami::modbus
