#include <catch2/catch.hpp>

#include <sstream>
#include <string>
#include <vector>

#include "protocols/modbus/read_plan.hpp"

using namespace ami::modbus;

namespace {

constexpr auto H = FunctionCode::read_holding_registers;
constexpr auto I = FunctionCode::read_input_registers;

// "fc:start+count[points]" per block, so tables read like the plan.
std::string render(const ReadPlan& plan) {
  std::ostringstream out;
  for (const auto& b : plan) {
    out << static_cast<int>(b.function) << ':' << b.start << '+' << b.count << '[';
    for (std::size_t i = 0; i < b.points.size(); ++i) out << (i ? "," : "") << b.points[i];
    out << "] ";
  }
  return out.str();
}

}  // namespace

TEST_CASE("plan_reads merges neighbours within max_gap and max_block") {
  struct Row {
    const char* what;
    std::vector<RegisterRange> ranges;
    PlanLimits limits;
    const char* expected;
  };
  const Row rows[] = {
      {"empty", {}, {125, 0}, ""},
      {"one point", {{H, 5, 2}}, {125, 0}, "3:5+2[0] "},
      {"adjacent merge with no gap allowed", {{H, 0, 2}, {H, 2, 2}}, {125, 0}, "3:0+4[0,1] "},
      {"gap of one splits at max_gap 0", {{H, 0, 2}, {H, 3, 2}}, {125, 0}, "3:0+2[0] 3:3+2[1] "},
      {"gap of one merges at max_gap 1", {{H, 0, 2}, {H, 3, 2}}, {125, 1}, "3:0+5[0,1] "},
      {"unsorted input is planned in address order", {{H, 10, 1}, {H, 0, 1}, {H, 5, 1}}, {125, 4},
       "3:0+11[1,2,0] "},
      {"max_block cuts a run", {{H, 0, 2}, {H, 2, 2}, {H, 4, 2}, {H, 6, 2}}, {4, 0}, "3:0+4[0,1] 3:4+4[2,3] "},
      {"block exactly at max_block", {{H, 0, 2}, {H, 3, 2}}, {5, 1}, "3:0+5[0,1] "},
      {"one register over max_block", {{H, 0, 2}, {H, 4, 2}}, {5, 2}, "3:0+2[0] 3:4+2[1] "},
      {"function codes never share a block", {{I, 0, 2}, {H, 2, 2}}, {125, 10}, "3:2+2[1] 4:0+2[0] "},
      {"point wider than max_block gets its own block", {{H, 0, 4}, {H, 4, 1}}, {2, 0}, "3:0+4[0] 3:4+1[1] "},
      {"overlapping points share a block", {{H, 0, 4}, {H, 2, 2}}, {125, 0}, "3:0+4[0,1] "},
      {"top of the address space", {{H, 65533, 2}, {H, 65535, 1}}, {125, 0}, "3:65533+3[0,1] "},
      {"protocol limit", {{H, 0, 2}, {H, 123, 2}, {H, 125, 2}}, {125, 121}, "3:0+125[0,1] 3:125+2[2] "},
  };
  for (const auto& row : rows) {
    INFO(row.what);
    CHECK(render(plan_reads(row.ranges, row.limits)) == row.expected);
  }
}

TEST_CASE("split_block cuts at the point boundary that balances the halves") {
  struct Row {
    const char* what;
    std::vector<RegisterRange> ranges;
    const char* first;
    const char* second;
  };
  const Row rows[] = {
      {"two points", {{H, 0, 2}, {H, 10, 2}}, "3:0+2[0] ", "3:10+2[1] "},
      {"four even points", {{H, 0, 2}, {H, 2, 2}, {H, 4, 2}, {H, 6, 2}}, "3:0+4[0,1] ", "3:4+4[2,3] "},
      {"one wide point at the end", {{H, 0, 1}, {H, 1, 1}, {H, 2, 1}, {H, 20, 4}}, "3:0+3[0,1,2] ", "3:20+4[3] "},
      {"gap between halves is dropped", {{H, 0, 2}, {H, 8, 2}, {H, 10, 2}}, "3:0+2[0] ", "3:8+4[1,2] "},
  };
  for (const auto& row : rows) {
    INFO(row.what);
    const auto plan = plan_reads(row.ranges, {125, 125 - 1});
    REQUIRE(plan.size() == 1);
    const auto halves = split_block(plan[0], row.ranges);
    REQUIRE(halves);
    CHECK(render({halves->first}) == row.first);
    CHECK(render({halves->second}) == row.second);
  }
}

TEST_CASE("a one-point block cannot be split") {
  const std::vector<RegisterRange> ranges{{H, 7, 2}};
  const auto plan = plan_reads(ranges, {125, 0});
  REQUIRE(plan.size() == 1);
  CHECK_FALSE(split_block(plan[0], ranges));
  ReadPlan copy = plan;
  CHECK_FALSE(split_block_in_plan(copy, 0, ranges));
  CHECK(copy == plan);
  CHECK_FALSE(split_block_in_plan(copy, 5, ranges));
}

TEST_CASE("repeated 0x02 splits isolate the refused point") {
  // Points 0..5, and the meter refuses any block that includes register 9 (point 3).
  const std::vector<RegisterRange> ranges{{H, 0, 2}, {H, 2, 2}, {H, 5, 2}, {H, 9, 1}, {H, 10, 2}, {H, 14, 2}};
  ReadPlan plan = plan_reads(ranges, {40, 4});
  REQUIRE(plan.size() == 1);
  auto refused = [](const ReadBlock& b) { return b.start <= 9 && 9 < b.start + b.count; };
  int splits = 0;
  for (std::size_t i = 0; i < plan.size();) {
    if (refused(plan[i]) && split_block_in_plan(plan, i, ranges)) {
      ++splits;
      continue;  // retry the first half at the same index
    }
    ++i;
  }
  CHECK(splits <= 4);
  std::size_t covered = 0;
  for (const auto& block : plan) {
    covered += block.points.size();
    if (refused(block)) {
      CHECK(block.points == std::vector<std::uint32_t>{3});
    }
  }
  CHECK(covered == ranges.size());
}

TEST_CASE("plan_reads over a map uses the map's limits") {
  RegisterMap map;
  map.limits = {10, 2};
  for (int a : {0, 2, 6, 8, 20}) {
    Point p;
    p.address = static_cast<std::uint16_t>(a);
    p.type = ValueType::f32;
    map.points.push_back(p);
  }
  CHECK(render(plan_reads(map)) == "3:0+10[0,1,2,3] 3:20+2[4] ");
}
