// The real `headend` daemon against python3-pymodbus (a Modbus server nobody here wrote): the
// energy it stores equals what the server served, through scale, word order and CT x PT.
//
// The server's energy steps by a known amount at every simulated 15-minute boundary (it follows
// the same accelerated clock as the daemon), so each stored read and each derived interval has
// one exact expected value. Three meters behind one Modbus TCP gateway:
//   mb-1  unit 1, built-in SDM630 (float32 ABCD kWh), CT 1 x PT 1
//   mb-2  unit 2, a user map over the server's integer copy (u32 CDAB, 0.01 and 0.0001 kWh)
//   mb-3  unit 3, built-in SDM630, CT 2 x PT 3
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <thread>

#include "protocols/common/clock.hpp"
#include "storage/sqlite.hpp"
#include "tests/integration/modbus/pymodbus_server.hpp"
#include "tests/support/process.hpp"

namespace {

constexpr std::int64_t kDaemonSpeed = 600;  // one 15-minute interval per 1.5 s
const char* const kDaemonClockStart = "2026-01-05T00:00:00Z";

struct DaemonMeter {
  int unit;
  std::int64_t ct_pt;
};

const std::map<std::string, DaemonMeter>& daemon_meters() {
  static const std::map<std::string, DaemonMeter> meters{{"mb-1", {1, 1}}, {"mb-2", {2, 1}}, {"mb-3", {3, 6}}};
  return meters;
}

std::int64_t served_wh(const DaemonMeter& m, std::int64_t channel, std::int64_t step) {
  return channel == 1 ? ami::test::pymodbus_import_wh(m.unit, step) : ami::test::pymodbus_export_wh(m.unit, step);
}

}  // namespace

TEST_CASE("headend daemon reads pymodbus meters: stored reads and intervals equal the served energy") {
  const auto dir = ami::test::fresh_temp_dir("modbus-daemon-pymodbus");
  const auto bin = ami::test::bin_dir();
  const auto anchor_ms = ami::test::unix_ms_now() + 1500;
  ami::test::PymodbusServer server("socket", dir, 3, {std::to_string(kDaemonSpeed), std::to_string(anchor_ms)});
  const std::string channel = "tcp://127.0.0.1:" + std::to_string(server.port);

  {
    std::ofstream csv(dir / "meters.csv");
    csv << "meter_id,protocol,channel,address,model,ct_ratio,pt_ratio\n"
        << "mb-1,modbus-tcp," << channel << ",1,SDM630,1,1\n"
        << "mb-2,modbus-tcp," << channel << ",2,sdm630-int-copy,1,1\n"
        << "mb-3,modbus-tcp," << channel << ",3,SDM630,2,3\n";
  }
  const auto config = dir / "headend.toml";
  {
    std::ofstream out(config);
    out << "[daemon]\nid = \"modbus-daemon-test\"\nstate_dir = \"" << (dir / "state").string() << "\"\n"
        << "[registry]\nimport_csv = \"" << (dir / "meters.csv").string() << "\"\n"
        << "[collection]\ninterval_minutes = 15\nspread_window_seconds = 30\nsettle_seconds = 2\n"
        << "response_timeout_ms = 1000\nretries = 1\n"
        << "[feed]\nlisten = \"127.0.0.1:" << ami::test::free_tcp_port() << "\"\n"
        << "[modbus]\nworkers = 2\nboundary_tolerance_seconds = 300\n"
        // The server's integer copy of the energy: low word first, two different scales.
        << "[[modbus.maps]]\nname = \"sdm630-int-copy\"\nmax_block = 8\n"
        << "[[modbus.maps.points]]\nname = \"import\"\nfunction = 3\naddress = 0x10\ntype = \"u32\"\n"
        << "word_order = \"CDAB\"\nscale = 0.01\nunit = \"kWh\"\nquantity = \"forward_active_energy\"\n"
        << "[[modbus.maps.points]]\nname = \"export\"\nfunction = 3\naddress = 0x12\ntype = \"u32\"\n"
        << "word_order = \"CDAB\"\nscale = \"1e-4\"\nunit = \"kWh\"\nquantity = \"reverse_active_energy\"\n";
  }

  const std::vector<std::string> clock{"--clock", "accelerated", "--clock-start", kDaemonClockStart, "--clock-speed",
                                       std::to_string(kDaemonSpeed), "--clock-anchor", std::to_string(anchor_ms)};
  std::vector<std::string> argv{(bin / "headend").string(), "--config", config.string()};
  argv.insert(argv.end(), clock.begin(), clock.end());
  {
    ami::test::ChildProcess daemon(argv, dir / "headend.out", dir / "headend.err");
    // Boundaries 00:00 .. 01:15 simulated: six intervals per meter and channel, about 8 s.
    const auto until_ms = anchor_ms + (75 * 60 + 60) * 1000 / kDaemonSpeed;
    while (ami::test::unix_ms_now() < until_ms) {
      INFO("daemon stderr: " << ami::test::read_file(dir / "headend.err"));
      REQUIRE(daemon.running());
      std::this_thread::sleep_for(std::chrono::milliseconds{100});
    }
    INFO("daemon stderr: " << ami::test::read_file(dir / "headend.err"));
    REQUIRE(daemon.stop() == 0);
  }

  const std::int64_t start_unix = ami::parse_utc(kDaemonClockStart)->time_since_epoch().count();
  auto step_of = [&](std::int64_t boundary_unix) {
    REQUIRE((boundary_unix - start_unix) % 900 == 0);
    return (boundary_unix - start_unix) / 900;
  };
  ami::storage::Database db(dir / "state" / "headend.db", false, 5000);

  std::map<std::string, int> reads_per_meter;
  {
    auto q = db.query(
        "SELECT m.meter_id, r.channel, r.boundary, r.register_wh FROM reads r JOIN meters m USING (meter_key)");
    while (q->step()) {
      const std::string meter_id = q->column_text(0);
      const auto ch = q->column_int64(1);
      const auto boundary = q->column_int64(2);
      INFO(meter_id << " channel " << ch << " boundary " << ami::format_utc(ami::UtcSeconds{std::chrono::seconds{boundary}}));
      REQUIRE(daemon_meters().count(meter_id) == 1);
      // Stored before CT x PT, as read.
      CHECK(q->column_int64(3) == served_wh(daemon_meters().at(meter_id), ch, step_of(boundary)));
      ++reads_per_meter[meter_id];
    }
  }

  std::map<std::string, int> intervals_per_meter;
  {
    auto q = db.query(
        "SELECT m.meter_id, i.channel, i.start_unix, i.end_unix, i.value_wh, i.register_start_wh, i.register_end_wh, "
        "i.status FROM intervals i JOIN meters m USING (meter_key) WHERE i.superseded = 0");
    while (q->step()) {
      const std::string meter_id = q->column_text(0);
      const auto ch = q->column_int64(1);
      const auto start = q->column_int64(2);
      const auto end = q->column_int64(3);
      INFO(meter_id << " channel " << ch << " interval ending "
                    << ami::format_utc(ami::UtcSeconds{std::chrono::seconds{end}}));
      REQUIRE(daemon_meters().count(meter_id) == 1);
      const DaemonMeter& m = daemon_meters().at(meter_id);
      const auto first = served_wh(m, ch, step_of(start));
      const auto last = served_wh(m, ch, step_of(end));
      CHECK(q->column_int64(7) == 1);  // actual
      CHECK(q->column_int64(5) == first);
      CHECK(q->column_int64(6) == last);
      CHECK(q->column_int64(4) == (last - first) * m.ct_pt);  // the store applies CT x PT
      if (ch == 1) ++intervals_per_meter[meter_id];
    }
  }
  for (const auto& [meter_id, m] : daemon_meters()) {
    INFO(meter_id);
    CHECK(reads_per_meter[meter_id] >= 8);      // both channels at 4+ boundaries
    CHECK(intervals_per_meter[meter_id] >= 3);  // consecutive boundaries were read
  }
}

TEST_CASE("headend refuses to start with a bad user map, naming the file, map, point and field") {
  const auto dir = ami::test::fresh_temp_dir("modbus-daemon-bad-map");
  struct Case {
    const char* what;
    std::string points;
    std::string max_block;
    std::string expected;
  };
  auto point = [](const char* name, int address, const char* type, const char* unit, const char* quantity) {
    return std::string("[[modbus.maps.points]]\nname = \"") + name + "\"\nfunction = 4\naddress = " +
           std::to_string(address) + "\ntype = \"" + type + "\"\nunit = \"" + unit + "\"\nquantity = \"" + quantity +
           "\"\n";
  };
  const std::string volts = point("volts", 0, "f32", "V", "voltage_l1");
  const std::string energy = point("import", 0x48, "f32", "kWh", "forward_active_energy");
  const Case cases[] = {
      {"unknown type", volts + point("import", 0x48, "f16", "kWh", "forward_active_energy"), "60",
       "map 'site', point 'import', field 'type': unknown type 'f16'"},
      {"overlap", volts + point("amps", 1, "f32", "A", "current_l1") + energy, "60",
       "map 'site', point 'amps', field 'address': registers 1..2 overlap point 'volts'"},
      {"block over 125", volts + energy, "126", "map 'site', field 'max_block': block of 126 registers is outside 1..125"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    const auto config = dir / "headend.toml";
    {
      std::ofstream out(config);
      out << "[daemon]\nstate_dir = \"" << (dir / "state").string() << "\"\n"
          << "[modbus]\n[[modbus.maps]]\nname = \"site\"\nmax_block = " << c.max_block << "\n" << c.points;
    }
    ami::test::ChildProcess check({(ami::test::bin_dir() / "headend").string(), "--config", config.string(),
                                   "--check-config"},
                                  dir / "check.out", dir / "check.err");
    CHECK(check.wait(std::chrono::seconds{20}) == 2);  // bad configuration
    const auto err = ami::test::read_file(dir / "check.err");
    INFO(err);
    CHECK(err.find(config.string() + ": " + c.expected) != std::string::npos);
  }
}
