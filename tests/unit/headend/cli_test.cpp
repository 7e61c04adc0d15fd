#include <catch2/catch.hpp>

#include <fstream>
#include <set>
#include <sstream>

#include "headend/cli/feed_commands.hpp"
#include "headend/cli/meters_commands.hpp"
#include "headend/cli/read_command.hpp"
#include "headend/runtime/asio.hpp"
#include "storage/registry.hpp"
#include "storage/registry_csv.hpp"
#include "storage/store_reader.hpp"

namespace {

// Runs `headendctl <args>` in process; returns the exit code app.exit() would give.
int run_cli(std::vector<std::string> args) {
  CLI::App app{"headendctl"};
  app.require_subcommand(1);
  ami::cli::add_meters_commands(app);
  ami::cli::add_feed_commands(app);
  ami::cli::add_read_command(app);
  std::reverse(args.begin(), args.end());  // CLI11 parses a reversed vector
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return e.get_exit_code();
  }
  return 0;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

const char* const kCsv =
    "meter_id,protocol,channel,address,model,ct_ratio,pt_ratio,utc_offset_minutes,usage_point,interval_minutes,"
    "enabled,tags\n"
    "m1,dlt645-2007,tcp://127.0.0.1:9000,000000000001,dlt645-generic,1,1,480,up1,15,true,feeder=F1\n"
    "m2,modbus-tcp,tcp://127.0.0.1:9001,3,SDM630,40,1,480,up2,15,false,\n";

}  // namespace

TEST_CASE("meters import then export round-trips the registry", "[cli]") {
  const auto dir = std::filesystem::path(AMI_TEST_TMP_DIR) / "cli_meters";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "in.csv") << kCsv;
  const auto db = (dir / "state" / "headend.db").string();
  REQUIRE(run_cli({"meters", "import", "--db", db, "--csv", (dir / "in.csv").string()}) == 0);
  REQUIRE(run_cli({"meters", "export", "--db", db, "--output", (dir / "out.csv").string()}) == 0);
  const auto exported = ami::storage::parse_registry_csv(slurp(dir / "out.csv"), "out.csv");
  REQUIRE(exported.ok());
  const auto original = ami::storage::parse_registry_csv(kCsv, "in.csv");
  CHECK(exported.meters == original.meters);
  REQUIRE(run_cli({"meters", "export", "--db", db, "--enabled-only", "--output", (dir / "on.csv").string()}) == 0);
  const auto enabled = ami::storage::parse_registry_csv(slurp(dir / "on.csv"), "on.csv");
  REQUIRE(enabled.meters.size() == 1);
  CHECK(enabled.meters[0].meter_id == "m1");
}

TEST_CASE("meters import of a bad CSV writes nothing and exits 2", "[cli]") {
  const auto dir = std::filesystem::path(AMI_TEST_TMP_DIR) / "cli_meters_bad";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "bad.csv") << "meter_id,protocol,channel,address\nm1,dlt645-2007,tcp://h:1,12x\n";
  const auto db = (dir / "headend.db").string();
  CHECK(run_cli({"meters", "import", "--db", db, "--csv", (dir / "bad.csv").string()}) == 2);
  CHECK_FALSE(std::filesystem::exists(db));
  std::ofstream(dir / "good.csv") << kCsv;
  CHECK(run_cli({"meters", "import", "--csv", (dir / "good.csv").string()}) == 2);  // no --config/--db
}

TEST_CASE("feed tail rejects bad options before connecting", "[cli]") {
  CHECK(run_cli({"feed", "tail", "--connect", "nohost", "--consumer", "c", "--token", "t"}) == 2);
  CHECK(run_cli({"feed", "tail", "--connect", "127.0.0.1:1", "--consumer", "c", "--token", "t", "--from-time",
                 "yesterday"}) == 2);
  CHECK(run_cli({"feed", "tail", "--connect", "127.0.0.1:1", "--consumer", "c", "--token", "t", "--from-sequence",
                 "3", "--from-time", "2026-01-05T00:00:00Z"}) != 0);
}

TEST_CASE("feed tail prints every IntervalReading field, enums by name, times twice", "[cli]") {
  headend::feed::v1::IntervalReading r;
  r.set_sequence(7);
  r.set_meter_id("m1");
  r.set_kind(headend::feed::v1::READING_KIND_REVERSE_ACTIVE_ENERGY);
  r.set_start_unix(1767571200);
  r.set_end_unix(1767572100);
  r.set_value_wh(120);
  r.set_register_end_wh(5000);
  r.set_status(headend::feed::v1::INTERVAL_STATUS_ACTUAL);
  r.add_quality_codes("2.3.4");
  r.set_version(2);
  r.set_collected_unix_ms(1767572105250);
  const auto j = ami::cli::interval_to_json(r);
  CHECK(j.at("kind") == "READING_KIND_REVERSE_ACTIVE_ENERGY");
  CHECK(j.at("status") == "INTERVAL_STATUS_ACTUAL");
  CHECK(j.at("start") == "2026-01-05T00:00:00Z");
  CHECK(j.at("end_unix") == 1767572100);
  CHECK(j.at("register_start_wh").is_null());
  CHECK(j.at("register_end_wh") == 5000);
  CHECK(j.at("collected") == "2026-01-05T00:15:05.250Z");
  CHECK(j.at("quality_codes") == nlohmann::json::array({"2.3.4"}));
  CHECK(j.at("version") == 2);
  CHECK(j.size() == 20);  // the 17 proto fields + ISO twins of start, end and collected
}

TEST_CASE("meters add, update, disable, enable, remove and replace change the registry and are audited", "[cli]") {
  const auto dir = std::filesystem::path(AMI_TEST_TMP_DIR) / "cli_meters_change";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "in.csv") << kCsv;
  const auto db = (dir / "state" / "headend.db").string();
  REQUIRE(run_cli({"meters", "import", "--db", db, "--csv", (dir / "in.csv").string()}) == 0);
  const auto version_before = ami::storage::read_registry_version(db);

  REQUIRE(run_cli({"meters", "add", "m3", "--db", db, "--protocol", "dlt645-1997", "--channel",
                   "serial:///dev/ttyUSB0?baud=1200&parity=E&stop=1", "--address", "000000000003"}) == 0);
  CHECK(run_cli({"meters", "add", "m3", "--db", db, "--protocol", "dlt645-1997", "--channel", "tcp://h:1",
                 "--address", "000000000003"}) == 2);  // exists
  CHECK(run_cli({"meters", "add", "m4", "--db", db, "--protocol", "dlt645-2007", "--channel", "tcp://h:1",
                 "--address", "12"}) == 2);  // a DL/T 645 address has 12 digits
  REQUIRE(run_cli({"meters", "update", "m1", "--db", db, "--ct-ratio", "40", "--tags", "feeder=F2"}) == 0);
  CHECK(run_cli({"meters", "update", "m1", "--db", db}) == 2);  // nothing to change
  CHECK(run_cli({"meters", "update", "nope", "--db", db, "--ct-ratio", "2"}) == 2);
  REQUIRE(run_cli({"meters", "disable", "m3", "--db", db}) == 0);
  REQUIRE(run_cli({"meters", "enable", "m2", "--db", db}) == 0);
  REQUIRE(run_cli({"meters", "remove", "m2", "--db", db}) == 0);
  REQUIRE(run_cli({"meters", "replace", "m1", "--db", db, "--new-meter-id", "m1b", "--new-address", "000000000011"}) ==
          0);

  ami::storage::StoreReader reader(db);
  const auto m1 = reader.meter("m1");
  const auto m1b = reader.meter("m1b");
  const auto m2 = reader.meter("m2");
  const auto m3 = reader.meter("m3");
  REQUIRE(m1);
  REQUIRE(m1b);
  REQUIRE(m2);
  REQUIRE(m3);
  CHECK(m3->protocol == "dlt645-1997");
  CHECK(m3->usage_point == "up-m3");
  CHECK_FALSE(m3->enabled);
  CHECK(m1->ct_ratio == 40);
  CHECK_FALSE(m1->enabled);
  CHECK(m1->tags == "feeder=F2;replaced_by=m1b");
  CHECK(m1b->enabled);
  CHECK(m1b->address == "000000000011");
  CHECK(m1b->usage_point == m1->usage_point);
  CHECK(m1b->channel == m1->channel);
  CHECK(m1b->ct_ratio == 40);
  CHECK(m1b->tags == "feeder=F2;replaces=m1");
  CHECK_FALSE(m2->enabled);
  CHECK(m2->tags == "removed=true");
  CHECK(ami::storage::read_registry_version(db) == version_before + 6);

  std::set<std::string> actions;
  for (const auto& entry : reader.audit_log(100)) actions.insert(entry.action);
  for (const char* action : {"meter_added", "meter_updated", "meter_disabled", "meter_enabled", "meter_removed",
                             "meter_replaced"}) {
    INFO(action);
    CHECK(actions.contains(action));
  }
}

TEST_CASE("read gives up after --timeout-seconds when the daemon accepts but never answers", "[cli]") {
  const auto dir = std::filesystem::path(AMI_TEST_TMP_DIR) / "cli_read_timeout";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  // Listening, never accepting: connect completes (backlog) and the request is written, no reply comes.
  ami::asio::io_context io;
  ami::asio::ip::tcp::acceptor silent(io, {ami::asio::ip::make_address("127.0.0.1"), 0});
  const auto config = dir / "headend.toml";
  std::ofstream(config) << "[daemon]\nstate_dir = \"state\"\n[monitor]\nenabled = true\nlisten = \"127.0.0.1:"
                        << silent.local_endpoint().port() << "\"\napi_token = \"t\"\n";
  const auto started = std::chrono::steady_clock::now();
  CHECK(run_cli({"read", "m1", "--config", config.string(), "--timeout-seconds", "1"}) == 1);
  CHECK(std::chrono::steady_clock::now() - started >= std::chrono::seconds{1});  // it waited, then gave up
}

TEST_CASE("read puts the meter id into the API path percent-encoded", "[cli]") {
  CHECK(ami::cli::percent_encode_segment("gw001-m0001") == "gw001-m0001");
  CHECK(ami::cli::percent_encode_segment("a/b c?d#%") == "a%2Fb%20c%3Fd%23%25");
  CHECK(ami::cli::percent_encode_segment("\xE7\x94\xB5") == "%E7%94%B5");
}
