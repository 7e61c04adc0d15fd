#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>

#include "headend/modbus/map_config.hpp"
#include "headend/modbus/meter_resolver.hpp"
#include "protocols/modbus/builtin_maps.hpp"

using namespace ami::modbus;

namespace {

MapConfigResult load(std::string_view text) {
  const toml::table root = toml::parse(text, std::string_view{"maps.toml"});
  return load_user_maps(*root.get("modbus")->as_table(), "maps.toml");
}

bool has_error(const MapConfigResult& r, std::string_view needle) {
  return std::any_of(r.errors.begin(), r.errors.end(), [&](const std::string& e) { return e.find(needle) != std::string::npos; });
}

std::string all(const MapConfigResult& r) {
  std::string s;
  for (const auto& e : r.errors) s += e + "\n";
  return s;
}

constexpr std::string_view kGood = R"(
[[modbus.maps]]
name = "site-meter"
max_block = 60
max_gap = 4
[[modbus.maps.points]]
function = 4
address = 0x48
type = "f32"
unit = "kWh"
quantity = "forward_active_energy"
[[modbus.maps.points]]
name = "volts"
function = 3
address = 0x10
type = "u16"
scale = 0.1
unit = "V"
quantity = "voltage_l1"
[[modbus.maps.points]]
address = 0x20
type = "i32"
word_order = "CDAB"
scale = "1/100"
unit = "kWh"
quantity = "reverse_active_energy"
)";

}  // namespace

TEST_CASE("a user map from TOML builds with exact scales") {
  const auto r = load(kGood);
  INFO(all(r));
  REQUIRE(r.errors.empty());
  REQUIRE(r.maps.size() == 1);
  const RegisterMap& m = r.maps[0];
  CHECK(m.name == "site-meter");
  CHECK(m.limits.max_block == 60);
  REQUIRE(m.points.size() == 3);
  CHECK(m.points[0].name == "forward_active_energy");  // defaults to the quantity
  CHECK(m.points[0].function == FunctionCode::read_input_registers);
  CHECK(m.points[1].scale == Ratio{1, 10});  // TOML float 0.1 read as exactly 1/10
  CHECK(m.points[1].to_canonical == Ratio{100, 1});
  CHECK(m.points[2].word_order == WordOrder::cdab);
  CHECK(m.points[2].to_canonical == Ratio{10, 1});
  CHECK(find_map(r.maps, "site-meter") == &r.maps[0]);
  CHECK(find_map(r.maps, "sdm630") == find_builtin_map("SDM630"));
  CHECK(find_map(r.maps, "nope") == nullptr);
}

TEST_CASE("bad user maps are rejected naming file, map, point and field") {
  struct Row {
    const char* what;
    std::string from, to;
    const char* expected;
  };
  const Row rows[] = {
      {"unknown type", "type = \"u16\"", "type = \"u12\"",
       "maps.toml: map 'site-meter', point 'volts', field 'type': unknown type 'u12'"},
      {"block over 125", "max_block = 60", "max_block = 126",
       "maps.toml: map 'site-meter', field 'max_block': block of 126 registers is outside 1..125"},
      {"overlap", "function = 3\naddress = 0x10", "function = 4\naddress = 0x49",
       "maps.toml: map 'site-meter', point 'volts', field 'address': registers 73..73 overlap point 'forward_active_energy'"},
      {"address as string", "address = 0x10", "address = \"0x10\"",
       "maps.toml: map 'site-meter', point 'volts', field 'address': must be an integer (line"},
      {"unknown key", "name = \"volts\"", "name = \"volts\"\nregister = 5",
       "maps.toml: map 'site-meter', point 'volts', field 'register': unknown key (line"},
      {"unknown map key", "max_gap = 4", "max_gap = 4\nmax_blocks = 3", "map 'site-meter', field 'max_blocks': unknown key"},
      {"scale of wrong type", "scale = 0.1", "scale = true", "point 'volts', field 'scale': must be a number"},
      {"built-in name", "name = \"site-meter\"", "name = \"SDM630\"", "map 'SDM630', field 'name': clashes with the built-in"},
  };
  for (const auto& row : rows) {
    std::string text(kGood);
    const auto at = text.find(row.from);
    REQUIRE(at != std::string::npos);
    text.replace(at, row.from.size(), row.to);
    const auto r = load(text);
    INFO(row.what << "\n" << all(r));
    CHECK(r.maps.empty());
    CHECK(has_error(r, row.expected));
  }
}

TEST_CASE("a map defined twice is an error") {
  std::string text(kGood);
  text += "\n[[modbus.maps]]\nname = \"site-meter\"\n[[modbus.maps.points]]\naddress = 1\ntype = \"u16\"\nunit = \"Hz\"\nquantity = \"frequency\"\n";
  const auto r = load(text);
  CHECK(has_error(r, "map 'site-meter', field 'name': map defined twice"));
}

TEST_CASE("files: parse errors carry the line, a missing [modbus] table means no maps") {
  const auto dir = std::filesystem::path(AMI_TEST_TMP_DIR) / "unit-headend-modbus";
  std::filesystem::create_directories(dir);
  {
    std::ofstream(dir / "good.toml") << kGood;
    std::ofstream(dir / "broken.toml") << "[modbus\nname = 1\n";
    std::ofstream(dir / "none.toml") << "[daemon]\nid = \"x\"\n";
  }
  const auto good = load_user_maps_file(dir / "good.toml");
  CHECK(good.errors.empty());
  CHECK(good.maps.size() == 1);
  const auto broken = load_user_maps_file(dir / "broken.toml");
  REQUIRE(broken.errors.size() == 1);
  CHECK(broken.errors[0].find("broken.toml (line 1)") != std::string::npos);
  const auto none = load_user_maps_file(dir / "none.toml");
  CHECK(none.errors.empty());
  CHECK(none.maps.empty());
}

TEST_CASE("registry rows resolve to a channel and a request, or an error naming the column") {
  const auto user = load(kGood);
  REQUIRE(user.errors.empty());
  ami::storage::MeterRecord m;
  m.meter_id = "M1";
  m.protocol = "modbus-tcp";
  m.channel = "tcp://10.0.0.5:502";
  m.address = "17";
  m.model = "site-meter";
  m.ct_ratio = 40;
  m.pt_ratio = 100;
  std::string error;
  auto r = resolve_meter(m, user.maps, true, error);
  INFO(error);
  REQUIRE(r);
  CHECK(r->channel.key() == "tcp://10.0.0.5:502");
  CHECK(r->request.unit == 17);
  CHECK(r->request.map == &user.maps[0]);
  CHECK(r->request.ct_ratio == 40);
  auto raw = resolve_meter(m, user.maps, false, error);
  REQUIRE(raw);
  CHECK(raw->request.ct_ratio == 1);
  CHECK(raw->request.pt_ratio == 1);

  struct Row {
    void (*mutate)(ami::storage::MeterRecord&);
    const char* expected;
  };
  const Row rows[] = {
      {[](ami::storage::MeterRecord& x) { x.address = "0"; }, "meter M1: address: '0' is not a Modbus unit id"},
      {[](ami::storage::MeterRecord& x) { x.address = "12a"; }, "meter M1: address: '12a'"},
      {[](ami::storage::MeterRecord& x) { x.model = "SDM72"; }, "meter M1: model: 'SDM72' is neither"},
      {[](ami::storage::MeterRecord& x) { x.channel = "serial:///dev/ttyS0"; }, "meter M1: protocol/channel:"},
      {[](ami::storage::MeterRecord& x) { x.ct_ratio = 0; }, "meter M1: ct_ratio/pt_ratio"},
  };
  for (const auto& row : rows) {
    auto bad = m;
    row.mutate(bad);
    CHECK_FALSE(resolve_meter(bad, user.maps, true, error));
    CHECK(error.rfind(row.expected, 0) == 0);
  }
  m.model = "dtsu666";
  CHECK(resolve_meter(m, user.maps, true, error)->request.map->name == "DTSU666");
}

TEST_CASE("a map or point without a name is called by its position in errors") {
  const auto r = load(R"(
[modbus]
maps = [ { max_block = 60 }, { name = "second", points = [ 5 ] } ]
)");
  INFO(all(r));
  CHECK(has_error(r, "map '#1', field 'points': map has no points"));
  CHECK(has_error(r, "point #1 must be a table"));
}
