#include <catch2/catch.hpp>

#include <bit>
#include <map>
#include <set>
#include <vector>

#include "protocols/modbus/builtin_maps.hpp"
#include "protocols/modbus/decode.hpp"
#include "protocols/modbus/read_plan.hpp"

using namespace ami::modbus;
using ami::Quantity;

namespace {

// A meter's register space as a simulator would serve it.
class RegisterImage {
 public:
  void set(const RegisterMap& map, Quantity q, std::uint64_t bits) {
    const Point* p = find(map, q);
    REQUIRE(p);
    std::vector<std::uint16_t> regs(p->width());
    encode_raw(bits, p->type, p->word_order, regs);
    for (std::uint16_t i = 0; i < p->width(); ++i) regs_[{p->function, static_cast<std::uint16_t>(p->address + i)}] = regs[i];
  }
  void set_f32(const RegisterMap& map, Quantity q, float v) { set(map, q, std::bit_cast<std::uint32_t>(v)); }
  void set_int(const RegisterMap& map, Quantity q, std::int64_t v) { set(map, q, static_cast<std::uint64_t>(v)); }

  // Reads every block of the plan and decodes it: what the daemon would produce.
  std::map<Quantity, CanonicalValue> read_all(const RegisterMap& map) const {
    std::map<Quantity, CanonicalValue> out;
    std::vector<PointReading> readings;
    for (const ReadBlock& block : plan_reads(map)) {
      std::vector<std::uint16_t> regs(block.count);
      for (std::uint16_t i = 0; i < block.count; ++i) {
        const auto it = regs_.find({block.function, static_cast<std::uint16_t>(block.start + i)});
        regs[i] = it == regs_.end() ? 0 : it->second;
      }
      decode_block(map, block, regs, readings);
    }
    for (const auto& r : readings) out[r.quantity] = r.value;
    return out;
  }

  static const Point* find(const RegisterMap& map, Quantity q) {
    for (const auto& p : map.points)
      if (p.quantity == q) return &p;
    return nullptr;
  }

 private:
  std::map<std::pair<FunctionCode, std::uint16_t>, std::uint16_t> regs_;
};

void check_values(const std::map<Quantity, CanonicalValue>& got, const std::map<Quantity, std::int64_t>& expected) {
  for (const auto& [q, value] : expected) {
    INFO(ami::to_string(q));
    const auto it = got.find(q);
    REQUIRE(it != got.end());
    CHECK(it->second.status == ValueStatus::ok);
    CHECK(it->second.value == value);
  }
}

}  // namespace

TEST_CASE("the six built-in models exist and are found case-insensitively") {
  std::set<std::string> names;
  for (const auto& m : builtin_maps()) names.insert(m.name);
  CHECK(names == std::set<std::string>{"SDM630", "SDM120", "DTSU666", "DDSU666", "iEM3xxx", "EM340"});
  REQUIRE(find_builtin_map("sdm630"));
  CHECK(find_builtin_map("sdm630")->name == "SDM630");
  CHECK(find_builtin_map("IEM3XXX") == find_builtin_map("iEM3xxx"));
  CHECK(find_builtin_map("SDM72") == nullptr);
}

TEST_CASE("every built-in plan covers each point once within its limits") {
  for (const auto& map : builtin_maps()) {
    INFO(map.name);
    const auto plan = plan_reads(map);
    std::vector<int> seen(map.points.size(), 0);
    for (const auto& block : plan) {
      CHECK(block.count <= map.limits.max_block);
      CHECK(block.count <= 125);
      for (auto p : block.points) {
        ++seen[p];
        CHECK(map.points[p].function == block.function);
        CHECK(map.points[p].address >= block.start);
        CHECK(map.points[p].address + map.points[p].width() <= block.start + block.count);
      }
    }
    CHECK(std::all_of(seen.begin(), seen.end(), [](int n) { return n == 1; }));
    CHECK(RegisterImage::find(map, Quantity::forward_active_energy) != nullptr);
  }
}

TEST_CASE("SDM630 plans two input-register reads") {
  const auto plan = plan_reads(*find_builtin_map("SDM630"));
  REQUIRE(plan.size() == 2);
  CHECK(plan[0].function == FunctionCode::read_input_registers);
  CHECK(plan[0].start == 0x00);
  CHECK(plan[0].count == 12);
  CHECK(plan[1].start == 0x34);
  CHECK(plan[1].count == 24);
}

TEST_CASE("SDM630 registers become canonical readings") {
  const RegisterMap& map = *find_builtin_map("SDM630");
  RegisterImage image;
  image.set_f32(map, Quantity::voltage_l1, 230.5f);
  image.set_f32(map, Quantity::voltage_l3, 229.25f);
  image.set_f32(map, Quantity::current_l2, 5.25f);
  image.set_f32(map, Quantity::active_power, -1234.5f);
  image.set_f32(map, Quantity::power_factor, -0.875f);
  image.set_f32(map, Quantity::frequency, 50.0f);
  image.set_f32(map, Quantity::forward_active_energy, 12345.678f);
  image.set_f32(map, Quantity::reverse_active_energy, 0.0625f);
  check_values(image.read_all(map), {{Quantity::voltage_l1, 230500},
                                     {Quantity::voltage_l3, 229250},
                                     {Quantity::current_l2, 5250},
                                     {Quantity::active_power, -1234500},
                                     {Quantity::power_factor, -875},
                                     {Quantity::frequency, 50000},
                                     {Quantity::forward_active_energy, 12345678},
                                     {Quantity::reverse_active_energy, 63}});
}

TEST_CASE("DTSU666 pre-scaled floats become canonical readings") {
  const RegisterMap& map = *find_builtin_map("DTSU666");
  RegisterImage image;
  image.set_f32(map, Quantity::voltage_l2, 2305.0f);       // x0.1 V
  image.set_f32(map, Quantity::current_l1, 5250.0f);       // x0.001 A
  image.set_f32(map, Quantity::active_power, 12345.0f);    // x0.1 W
  image.set_f32(map, Quantity::power_factor, 875.0f);      // x0.001
  image.set_f32(map, Quantity::frequency, 4998.0f);        // x0.01 Hz
  image.set_f32(map, Quantity::forward_active_energy, 1234.5f);
  check_values(image.read_all(map), {{Quantity::voltage_l2, 230500},
                                     {Quantity::current_l1, 5250},
                                     {Quantity::active_power, 1234500},
                                     {Quantity::power_factor, 875},
                                     {Quantity::frequency, 49980},
                                     {Quantity::forward_active_energy, 1234500}});
}

TEST_CASE("EM340 word-swapped integers become canonical readings") {
  const RegisterMap& map = *find_builtin_map("EM340");
  RegisterImage image;
  image.set_int(map, Quantity::voltage_l1, 2305);             // 0.1 V
  image.set_int(map, Quantity::current_l3, 5250);             // mA
  image.set_int(map, Quantity::active_power, -12345);         // 0.1 W
  image.set_int(map, Quantity::power_factor, -875);           // i16 x0.001
  image.set_int(map, Quantity::frequency, 500);               // i16 x0.1 Hz
  image.set_int(map, Quantity::forward_active_energy, 123456);  // 0.1 kWh
  image.set_int(map, Quantity::reverse_active_energy, 7);
  check_values(image.read_all(map), {{Quantity::voltage_l1, 230500},
                                     {Quantity::current_l3, 5250},
                                     {Quantity::active_power, -1234500},
                                     {Quantity::power_factor, -875},
                                     {Quantity::frequency, 50000},
                                     {Quantity::forward_active_energy, 12345600},
                                     {Quantity::reverse_active_energy, 700}});
}

TEST_CASE("iEM3xxx int64 Wh energy and four-quadrant power factor") {
  const RegisterMap& map = *find_builtin_map("iEM3xxx");
  RegisterImage image;
  image.set_int(map, Quantity::forward_active_energy, 98'765'432'109);
  image.set_int(map, Quantity::reverse_active_energy, 0);
  image.set_f32(map, Quantity::power_factor, -1.25f);  // quadrant encoding of PF -0.75
  image.set_f32(map, Quantity::active_power, 12.5f);    // kW
  image.set_f32(map, Quantity::voltage_l1, 231.0f);
  check_values(image.read_all(map), {{Quantity::forward_active_energy, 98'765'432'109},
                                     {Quantity::reverse_active_energy, 0},
                                     {Quantity::power_factor, -750},
                                     {Quantity::active_power, 12'500'000},
                                     {Quantity::voltage_l1, 231000}});
}

TEST_CASE("single-phase models give phase 1 only") {
  for (const char* model : {"SDM120", "DDSU666"}) {
    INFO(model);
    const RegisterMap& map = *find_builtin_map(model);
    CHECK(RegisterImage::find(map, Quantity::voltage_l1));
    CHECK_FALSE(RegisterImage::find(map, Quantity::voltage_l2));
    RegisterImage image;
    image.set_f32(map, Quantity::forward_active_energy, 42.125f);
    image.set_f32(map, Quantity::voltage_l1, 220.0f);
    check_values(image.read_all(map), {{Quantity::forward_active_energy, 42125}, {Quantity::voltage_l1, 220000}});
  }
}
