#include "protocols/modbus/read_plan.hpp"

#include <algorithm>
#include <numeric>

namespace ami::modbus {
namespace {

std::uint32_t end_of(const RegisterRange& r) { return std::uint32_t{r.address} + r.width; }

// A block covering exactly the given points (indices in address order).
ReadBlock block_of(FunctionCode function, std::vector<std::uint32_t> points, std::span<const RegisterRange> ranges) {
  std::uint32_t start = ranges[points.front()].address;
  std::uint32_t end = 0;
  for (std::uint32_t p : points) {
    start = std::min<std::uint32_t>(start, ranges[p].address);
    end = std::max(end, end_of(ranges[p]));
  }
  return ReadBlock{function, static_cast<std::uint16_t>(start), static_cast<std::uint16_t>(end - start),
                   std::move(points)};
}

}  // namespace

ReadPlan plan_reads(std::span<const RegisterRange> ranges, PlanLimits limits) {
  std::vector<std::uint32_t> order(ranges.size());
  std::iota(order.begin(), order.end(), std::uint32_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    return std::pair(ranges[a].function, ranges[a].address) < std::pair(ranges[b].function, ranges[b].address);
  });

  ReadPlan plan;
  std::vector<std::uint32_t> current;
  std::uint32_t start = 0, end = 0;
  auto close = [&] {
    if (current.empty()) return;
    const FunctionCode function = ranges[current.front()].function;  // before current is moved from
    plan.push_back(block_of(function, std::move(current), ranges));
    current.clear();
  };
  for (std::uint32_t index : order) {
    const RegisterRange& r = ranges[index];
    if (!current.empty()) {
      const bool same_function = ranges[current.front()].function == r.function;
      const std::uint32_t gap = r.address > end ? r.address - end : 0;
      const std::uint32_t new_end = std::max(end, end_of(r));
      if (same_function && gap <= limits.max_gap && new_end - start <= limits.max_block) {
        current.push_back(index);
        end = new_end;
        continue;
      }
      close();
    }
    current.push_back(index);
    start = r.address;
    end = end_of(r);
  }
  close();
  return plan;
}

std::vector<RegisterRange> register_ranges(const RegisterMap& map) {
  std::vector<RegisterRange> ranges;
  ranges.reserve(map.points.size());
  for (const Point& p : map.points) ranges.push_back(RegisterRange{p.function, p.address, p.width()});
  return ranges;
}

ReadPlan plan_reads(const RegisterMap& map) {
  const auto ranges = register_ranges(map);
  return plan_reads(ranges, map.limits);
}

std::optional<SplitBlocks> split_block(const ReadBlock& block, std::span<const RegisterRange> ranges) {
  const std::size_t n = block.points.size();
  if (n < 2) return std::nullopt;
  // Cut where the larger half is smallest; ties go to the earliest cut.
  std::size_t best_cut = 1;
  std::uint32_t best_size = UINT32_MAX;
  for (std::size_t cut = 1; cut < n; ++cut) {
    std::uint32_t first_end = 0;
    for (std::size_t i = 0; i < cut; ++i) first_end = std::max(first_end, end_of(ranges[block.points[i]]));
    const std::uint32_t second_start = ranges[block.points[cut]].address;
    const std::uint32_t first_size = first_end - block.start;
    const std::uint32_t second_size = std::uint32_t{block.start} + block.count - second_start;
    const std::uint32_t larger = std::max(first_size, second_size);
    if (larger < best_size) {
      best_size = larger;
      best_cut = cut;
    }
  }
  const auto cut_at = block.points.begin() + static_cast<std::ptrdiff_t>(best_cut);
  return SplitBlocks{block_of(block.function, {block.points.begin(), cut_at}, ranges),
                     block_of(block.function, {cut_at, block.points.end()}, ranges)};
}

bool split_block_in_plan(ReadPlan& plan, std::size_t index, std::span<const RegisterRange> ranges) {
  if (index >= plan.size()) return false;
  auto halves = split_block(plan[index], ranges);
  if (!halves) return false;
  plan[index] = std::move(halves->first);
  plan.insert(plan.begin() + static_cast<std::ptrdiff_t>(index) + 1, std::move(halves->second));
  return true;
}

}  // namespace ami::modbus
