#include <catch2/catch.hpp>

#include <algorithm>

#include "protocols/modbus/register_map.hpp"

using namespace ami::modbus;

namespace {

MapSpec valid_spec() {
  MapSpec s;
  s.name = "site-meter";
  s.max_block = 60;
  s.max_gap = 4;
  s.points = {
      PointSpec{"import", 4, 0x48, "f32", "ABCD", "1", "kWh", "forward_active_energy", "plain"},
      PointSpec{"export", 4, 0x4A, "f32", "ABCD", "1", "kWh", "reverse_active_energy", "plain"},
      PointSpec{"volts", 3, 0x10, "u16", "ABCD", "0.1", "V", "voltage_l1", "plain"},
      PointSpec{"total", 3, 0x20, "i64", "CDAB", "1", "Wh", "forward_reactive_energy", "plain"},
  };
  s.points[3].unit = "varh";
  return s;
}

bool has_error(const MapBuildResult& r, const std::string& point, const std::string& field) {
  return std::any_of(r.errors.begin(), r.errors.end(),
                     [&](const MapError& e) { return e.point == point && e.field == field; });
}

std::string all_errors(const MapBuildResult& r) {
  std::string s;
  for (const auto& e : r.errors) s += describe(e) + "\n";
  return s;
}

}  // namespace

TEST_CASE("a valid spec builds with exact canonical factors") {
  const auto result = build_register_map(valid_spec());
  INFO(all_errors(result));
  REQUIRE(result.errors.empty());
  REQUIRE(result.map);
  const RegisterMap& map = *result.map;
  CHECK(map.name == "site-meter");
  CHECK(map.limits.max_block == 60);
  CHECK(map.limits.max_gap == 4);
  REQUIRE(map.points.size() == 4);
  CHECK(map.points[0].function == FunctionCode::read_input_registers);
  CHECK(map.points[0].to_canonical == Ratio{1000, 1});  // kWh -> Wh
  CHECK(map.points[2].function == FunctionCode::read_holding_registers);
  CHECK(map.points[2].to_canonical == Ratio{100, 1});   // 0.1 V -> mV
  CHECK(map.points[3].word_order == WordOrder::cdab);
  CHECK(map.points[3].width() == 4);
}

TEST_CASE("scales parse into exact reduced ratios") {
  struct Row {
    const char* text;
    std::optional<Ratio> expected;
  };
  const Row rows[] = {
      {"1", Ratio{1, 1}},       {"10", Ratio{10, 1}},     {"0.1", Ratio{1, 10}},   {"0.001", Ratio{1, 1000}},
      {"-2.5", Ratio{-5, 2}},   {"1e-3", Ratio{1, 1000}}, {"2.5E2", Ratio{250, 1}}, {"1/10", Ratio{1, 10}},
      {"-6/4", Ratio{-3, 2}},   {".5", Ratio{1, 2}},      {"0", Ratio{0, 1}},       {"", std::nullopt},
      {"abc", std::nullopt},    {"1/0", std::nullopt},    {"1/-2", std::nullopt},   {".", std::nullopt},
      {"1e13", std::nullopt},   {"1.2.3", std::nullopt},  {"0.1x", std::nullopt},   {"1e", std::nullopt},
      {"10000000000000", std::nullopt},
  };
  for (const auto& row : rows) {
    INFO(row.text);
    CHECK(parse_ratio(row.text) == row.expected);
  }
}

TEST_CASE("names parse case-insensitively except units") {
  CHECK(parse_value_type("F32") == ValueType::f32);
  CHECK(parse_value_type("i64") == ValueType::i64);
  CHECK_FALSE(parse_value_type("f64"));
  CHECK(parse_word_order("cdab") == WordOrder::cdab);
  CHECK_FALSE(parse_word_order("ABDC"));
  CHECK(parse_unit("MWh") == Unit::mwh);
  CHECK_FALSE(parse_unit("mwh"));  // MWh and mWh must never be confused
  CHECK(parse_encoding("schneider_four_quadrant_pf") == ValueEncoding::schneider_four_quadrant_pf);
  for (auto t : {ValueType::u16, ValueType::i16, ValueType::u32, ValueType::i32, ValueType::u64, ValueType::i64,
                 ValueType::f32})
    CHECK(parse_value_type(to_string(t)) == t);
  for (auto u : {Unit::wh, Unit::kvarh, Unit::kw, Unit::v, Unit::ma, Unit::hz, Unit::ratio, Unit::percent})
    CHECK(parse_unit(to_string(u)) == u);
}

TEST_CASE("a bad map is rejected with the map, point and field named") {
  struct Row {
    const char* what;
    void (*mutate)(MapSpec&);
    const char* point;
    const char* field;
  };
  const Row rows[] = {
      {"unknown type", [](MapSpec& s) { s.points[0].type = "f16"; }, "import", "type"},
      {"function 6", [](MapSpec& s) { s.points[1].function = 6; }, "export", "function"},
      {"negative address", [](MapSpec& s) { s.points[2].address = -1; }, "volts", "address"},
      {"address past 65535", [](MapSpec& s) { s.points[2].address = 65536; }, "volts", "address"},
      {"value runs past 65535", [](MapSpec& s) { s.points[3].address = 65533; }, "total", "address"},
      {"overlap", [](MapSpec& s) { s.points[1].address = 0x49; }, "export", "address"},
      {"unknown word order", [](MapSpec& s) { s.points[0].word_order = "AB"; }, "import", "word_order"},
      {"unknown unit", [](MapSpec& s) { s.points[0].unit = "kwh"; }, "import", "unit"},
      {"unit for another quantity", [](MapSpec& s) { s.points[2].unit = "A"; }, "volts", "unit"},
      {"unknown quantity", [](MapSpec& s) { s.points[2].quantity = "volts"; }, "volts", "quantity"},
      {"quantity twice", [](MapSpec& s) { s.points[1].quantity = "forward_active_energy"; }, "export", "quantity"},
      {"zero scale", [](MapSpec& s) { s.points[2].scale = "0"; }, "volts", "scale"},
      {"bad scale", [](MapSpec& s) { s.points[2].scale = "ten"; }, "volts", "scale"},
      {"unknown encoding", [](MapSpec& s) { s.points[2].encoding = "bcd"; }, "volts", "encoding"},
      {"duplicate name", [](MapSpec& s) { s.points[1].name = "import"; }, "import", "name"},
      {"empty point name", [](MapSpec& s) { s.points[1].name = ""; }, "", "name"},
      {"block over 125", [](MapSpec& s) { s.max_block = 126; }, "", "max_block"},
      {"block of zero", [](MapSpec& s) { s.max_block = 0; }, "", "max_block"},
      {"block below widest point", [](MapSpec& s) { s.max_block = 3; }, "", "max_block"},
      {"gap as large as the block", [](MapSpec& s) { s.max_gap = 60; }, "", "max_gap"},
      {"negative gap", [](MapSpec& s) { s.max_gap = -1; }, "", "max_gap"},
      {"no points", [](MapSpec& s) { s.points.clear(); }, "", "points"},
      {"no map name", [](MapSpec& s) { s.name.clear(); }, "", "name"},
  };
  for (const auto& row : rows) {
    MapSpec spec = valid_spec();
    row.mutate(spec);
    const auto result = build_register_map(spec);
    INFO(row.what << "\n" << all_errors(result));
    CHECK_FALSE(result.map);
    CHECK(has_error(result, row.point, row.field));
  }
}

TEST_CASE("every error of a spec is reported, not just the first") {
  MapSpec spec = valid_spec();
  spec.points[0].type = "float";
  spec.points[2].unit = "volt";
  spec.max_block = 200;
  const auto result = build_register_map(spec);
  CHECK(result.errors.size() == 3);
  CHECK(has_error(result, "import", "type"));
  CHECK(has_error(result, "volts", "unit"));
  CHECK(has_error(result, "", "max_block"));
}

TEST_CASE("error descriptions name map, point and field") {
  MapSpec spec = valid_spec();
  spec.points[0].type = "f16";
  const auto result = build_register_map(spec);
  REQUIRE(result.errors.size() == 1);
  const std::string text = describe(result.errors[0]);
  CHECK(text.rfind("map 'site-meter', point 'import', field 'type': unknown type 'f16'", 0) == 0);
  CHECK(text.find("u16") != std::string::npos);

  spec = valid_spec();
  spec.points[1].address = 0x47;  // 0x47..0x48 overlaps import at 0x48..0x49
  const auto overlap = build_register_map(spec);
  REQUIRE(overlap.errors.size() == 1);
  CHECK(describe(overlap.errors[0]).find("overlap point 'export'") != std::string::npos);

  spec = valid_spec();
  spec.max_block = 126;
  const auto block = build_register_map(spec);
  REQUIRE(block.errors.size() == 1);
  CHECK(describe(block.errors[0]) == "map 'site-meter', field 'max_block': block of 126 registers is outside 1..125");
}

TEST_CASE("points of different function codes may share addresses") {
  MapSpec spec = valid_spec();
  spec.points[2].address = 0x48;  // holding 0x48 vs input 0x48
  spec.points[2].function = 3;
  const auto result = build_register_map(spec);
  INFO(all_errors(result));
  CHECK(result.map);
}
