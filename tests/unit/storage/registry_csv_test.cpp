// Registry CSV parsing (line-numbered errors), export round trip, all-or-nothing import.
#include <catch2/catch.hpp>

#include <fstream>
#include <stdexcept>

#include "storage/registry.hpp"
#include "storage/registry_csv.hpp"
#include "storage/store_reader.hpp"
#include "storage/store_writer.hpp"
#include "store_test_support.hpp"

using namespace ami;
using namespace ami::storage;
using namespace ami::storage::test;

namespace {

constexpr const char* header =
    "meter_id,protocol,channel,address,model,ct_ratio,pt_ratio,utc_offset_minutes,usage_point,"
    "interval_minutes,enabled,tags\n";

// The single error of parsing `header + row`, which sits on line 2.
RegistryError only_error(const std::string& row) {
  const auto result = parse_registry_csv(std::string(header) + row, "meters.csv");
  CAPTURE(row);
  REQUIRE(result.errors.size() == 1);
  CHECK(result.meters.empty());
  return result.errors[0];
}

}  // namespace

TEST_CASE("a good registry file parses with defaults for absent columns") {
  const std::string text =
      "\xEF\xBB\xBFmeter_id,address,channel,protocol,ct_ratio,tags\r\n"
      "M1,000000000001,tcp://10.0.0.5:8899,dlt645-2007,40,district=north;feeder=F7\r\n"
      "\r\n"
      "M2,7,serial:///dev/ttyUSB0?baud=9600&parity=E&stop=1,modbus-rtu,1,\r\n"
      "\"M3\",8,tcp://gw:502,modbus-tcp,1,\"note=\"\"quoted\"\"\"\r\n";
  const auto result = parse_registry_csv(text, "meters.csv");
  CHECK(result.errors.empty());
  REQUIRE(result.meters.size() == 3);
  const auto& m1 = result.meters[0];
  CHECK(m1.meter_id == "M1");
  CHECK(m1.protocol == "dlt645-2007");
  CHECK(m1.ct_ratio == 40);
  CHECK(m1.pt_ratio == 1);
  CHECK(m1.utc_offset_minutes == 480);
  CHECK(m1.interval_minutes == 15);
  CHECK(m1.enabled);
  CHECK(m1.tags == "district=north;feeder=F7");
  CHECK(result.meters[1].address == "7");
  CHECK(result.meters[1].channel == "serial:///dev/ttyUSB0?baud=9600&parity=E&stop=1");
  CHECK(result.meters[2].meter_id == "M3");
  CHECK(result.meters[2].tags == "note=\"quoted\"");
}

TEST_CASE("quoted fields keep commas, quotes and newlines, line numbers follow physical lines") {
  const std::string text = std::string(header) +
                           "M1,dlt645-2007,tcp://h:1,000000000001,\"multi\nline, model\",1,1,480,"
                           "UP,15,true,note=a\n"
                           "M2,dlt645-2007,tcp://h:1,000000000002,x,0,1,480,UP,15,true,\n";
  const auto result = parse_registry_csv(text, "meters.csv");
  REQUIRE(result.meters.size() == 1);
  CHECK(result.meters[0].model == "multi\nline, model");
  REQUIRE(result.errors.size() == 1);
  CHECK(result.errors[0].line == 4);  // header 1, M1 on 2-3, M2 on 4
  CHECK(result.errors[0].column == "ct_ratio");
}

TEST_CASE("each kind of bad row is reported with its line and column") {
  const std::string good_tail = ",dlt645-generic,1,1,480,UP,15,true,";
  SECTION("unknown protocol") {
    const auto e = only_error("M1,iec62056,tcp://h:1,000000000001" + good_tail);
    CHECK(e.line == 2);
    CHECK(e.column == "protocol");
    CHECK(e.to_string().rfind("meters.csv:2: column protocol: unknown protocol 'iec62056'", 0) == 0);
  }
  SECTION("bad channel") {
    CHECK(only_error("M1,dlt645-2007,udp://h:1,000000000001" + good_tail).column == "channel");
    CHECK(only_error("M1,dlt645-2007,tcp://h:0,000000000001" + good_tail).column == "channel");
    CHECK(only_error("M1,dlt645-2007,serial:///dev/ttyS0?parity=X,000000000001" + good_tail).column ==
          "channel");
    CHECK(only_error("M1,modbus-rtu,tcp://h:502,1" + good_tail).column == "channel");
  }
  SECTION("bad address") {
    const auto e = only_error("M1,dlt645-2007,tcp://h:1,12345" + good_tail);
    CHECK(e.column == "address");
    CHECK(e.reason.find("12 decimal digits") != std::string::npos);
    CHECK(only_error("M1,modbus-tcp,tcp://h:502,248" + good_tail).column == "address");
    CHECK(only_error("M1,modbus-tcp,tcp://h:502,0" + good_tail).column == "address");
  }
  SECTION("ratios below 1 and non-integers") {
    CHECK(only_error("M1,dlt645-2007,tcp://h:1,000000000001,x,0,1,480,UP,15,true,").column ==
          "ct_ratio");
    CHECK(only_error("M1,dlt645-2007,tcp://h:1,000000000001,x,1,-5,480,UP,15,true,").column ==
          "pt_ratio");
    const auto e = only_error("M1,dlt645-2007,tcp://h:1,000000000001,x,1.5,1,480,UP,15,true,");
    CHECK(e.column == "ct_ratio");
    CHECK(e.reason.find("'1.5'") != std::string::npos);
  }
  SECTION("interval that does not divide a day, offset out of range, bad bool, bad tags") {
    CHECK(only_error("M1,dlt645-2007,tcp://h:1,000000000001,x,1,1,480,UP,7,true,").column ==
          "interval_minutes");
    CHECK(only_error("M1,dlt645-2007,tcp://h:1,000000000001,x,1,1,900,UP,15,true,").column ==
          "utc_offset_minutes");
    CHECK(only_error("M1,dlt645-2007,tcp://h:1,000000000001,x,1,1,480,UP,15,maybe,").column ==
          "enabled");
    CHECK(only_error("M1,dlt645-2007,tcp://h:1,000000000001,x,1,1,480,UP,15,true,district").column ==
          "tags");
  }
  SECTION("empty meter_id and wrong field count") {
    CHECK(only_error(",dlt645-2007,tcp://h:1,000000000001" + good_tail).column == "meter_id");
    const auto e = only_error("M1,dlt645-2007,tcp://h:1");
    CHECK(e.column.empty());
    CHECK(e.reason == "expected 12 fields, got 3");
  }
  SECTION("duplicate meter_id names the first line") {
    const auto result = parse_registry_csv(std::string(header) + "M1,dlt645-2007,tcp://h:1,000000000001" +
                                               good_tail + "\nM1,dlt645-2007,tcp://h:1,000000000002" +
                                               good_tail + "\n",
                                           "meters.csv");
    REQUIRE(result.errors.size() == 1);
    CHECK(result.errors[0].line == 3);
    CHECK(result.errors[0].reason.find("first on line 2") != std::string::npos);
  }
  SECTION("unterminated quote") {
    const auto result = parse_registry_csv(std::string(header) + "\"M1,dlt645-2007", "meters.csv");
    REQUIRE_FALSE(result.ok());
    CHECK(result.errors.back().reason == "unterminated quoted field");
    CHECK(result.errors.back().line == 2);
  }
}

TEST_CASE("header problems are reported on the header line") {
  auto result = parse_registry_csv("meter_id,protocol,channel,address,colour\n", "m.csv");
  REQUIRE(result.errors.size() == 1);
  CHECK(result.errors[0].line == 1);
  CHECK(result.errors[0].reason == "unknown column 'colour'");

  result = parse_registry_csv("meter_id,protocol,channel,address,meter_id\n", "m.csv");
  REQUIRE(result.errors.size() == 1);
  CHECK(result.errors[0].reason.find("appears twice") != std::string::npos);

  result = parse_registry_csv("\n\nmeter_id,protocol,channel\n", "m.csv");
  REQUIRE(result.errors.size() == 1);
  CHECK(result.errors[0].line == 3);
  CHECK(result.errors[0].column == "address");

  result = parse_registry_csv("", "m.csv");
  REQUIRE(result.errors.size() == 1);
  CHECK(result.errors[0].reason == "missing header row");

  result = read_registry_csv_file("/nonexistent/meters.csv");
  REQUIRE(result.errors.size() == 1);
  CHECK(result.errors[0].to_string() == "/nonexistent/meters.csv:0: cannot open file");
}

TEST_CASE("export then parse gives the same meters") {
  auto a = dlt_meter("A", 40, 100);
  a.model = "model, with \"quotes\"";
  a.tags = "district=north";
  auto b = dlt_meter("B");
  b.protocol = "modbus-rtu";
  b.channel = "serial:///dev/ttyUSB1?baud=9600&parity=N&stop=1&data=8";
  b.address = "17";
  b.enabled = false;
  b.interval_minutes = 30;
  b.utc_offset_minutes = -300;
  const auto text = format_registry_csv({a, b});
  const auto parsed = parse_registry_csv(text, "export.csv");
  CHECK(parsed.errors.empty());
  REQUIRE(parsed.meters.size() == 2);
  CHECK(parsed.meters[0] == a);
  CHECK(parsed.meters[1] == b);
}

TEST_CASE("import is all-or-nothing and upserts by meter_id") {
  TempDb db("registry-import");
  StoreWriter writer(db.options());
  auto first = writer.import_meters({dlt_meter("A"), dlt_meter("B")}, "ops");
  CHECK(first.inserted == 2);

  auto changed = dlt_meter("A", 5);
  auto bad = dlt_meter("C");
  bad.address = "xyz";
  CHECK_THROWS_WITH(writer.import_meters({changed, dlt_meter("D"), bad}, "ops"),
                    Catch::Contains("meter 'C': column address"));
  CHECK_THROWS_WITH(writer.import_meters({dlt_meter("E"), dlt_meter("E")}, "ops"),
                    Catch::Contains("duplicate"));
  StoreReader reader(db.path());
  auto stored = reader.meters(false);
  REQUIRE(stored.size() == 2);  // neither D nor E written
  CHECK(stored[0].ct_ratio == 1);

  auto disabled = dlt_meter("B");
  disabled.enabled = false;
  const auto second = writer.import_meters({changed, disabled, dlt_meter("D")}, "ops");
  CHECK(second.inserted == 1);
  CHECK(second.updated == 2);
  CHECK(writer.import_meters({changed}, "ops").unchanged == 1);
  stored = reader.meters(false);
  REQUIRE(stored.size() == 3);
  CHECK(stored[0] == changed);
  CHECK(reader.meters(true).size() == 2);
  // Row by row: the enabled rows in meter_id order, as meters(true) gives them; a visitor's
  // exception ends the walk, reaches the caller, and leaves the reader usable.
  std::vector<MeterRecord> visited;
  reader.for_each_meter(true, [&](MeterRecord&& row) { visited.push_back(std::move(row)); });
  CHECK(visited == reader.meters(true));
  int seen = 0;
  CHECK_THROWS_WITH(reader.for_each_meter(false,
                                          [&](MeterRecord&&) {
                                            ++seen;
                                            throw std::runtime_error("visitor stops");
                                          }),
                    "visitor stops");
  CHECK(seen == 1);
  CHECK(reader.meters(false).size() == 3);
  const auto audit = reader.audit_log(1);
  REQUIRE(audit.size() == 1);
  CHECK(audit[0].actor == "ops");
  CHECK(audit[0].action == "registry_import");

  // Derivation picks up the new CT at once.
  writer.submit({read_at("A", 0, 10), read_at("A", 15, 12)}, {});
  writer.flush();
  const auto feed = reader.read_feed(0, 1);
  REQUIRE(feed.size() == 1);
  CHECK(feed[0].value_wh() == 10);
}

TEST_CASE("validate_meter accepts every documented protocol") {
  auto m = dlt_meter("X");
  for (const char* protocol : {"dlt645-2007", "dlt645-1997"}) {
    m.protocol = protocol;
    CHECK(validate_meter(m).empty());
  }
  m.address = "1";
  m.channel = "tcp://gw:502";
  for (const char* protocol : {"modbus-tcp", "modbus-rtu-over-tcp"}) {
    m.protocol = protocol;
    CHECK(validate_meter(m).empty());
  }
  m.protocol = "modbus-rtu";
  m.channel = "serial:///dev/ttyUSB0";
  CHECK(validate_meter(m).empty());
}

TEST_CASE("a registry file is read whole, as parsing its text gives") {
  std::vector<MeterRecord> meters;
  for (int i = 0; i < 3000; ++i) meters.push_back(dlt_meter("gw" + std::to_string(i / 100) + "-m" + std::to_string(i)));
  const auto text = format_registry_csv(meters);
  REQUIRE(text.size() > 64 * 1024);  // larger than any stream buffer
  const auto path = std::filesystem::path(AMI_TEST_TMP_DIR) / "storage" /
                    ("registry-read-whole-" + std::to_string(::getpid()) + ".csv");
  std::filesystem::create_directories(path.parent_path());
  {
    std::ofstream out(path, std::ios::binary);
    out << text;
  }
  const auto from_file = read_registry_csv_file(path);
  std::filesystem::remove(path);
  REQUIRE(from_file.errors.empty());
  CHECK(from_file.meters == parse_registry_csv(text, "m.csv").meters);
  CHECK(from_file.meters.size() == 3000);
  CHECK(from_file.meters.back().meter_id == "gw29-m2999");
}
