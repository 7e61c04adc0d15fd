#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "headend/cli/feed_commands.hpp"
#include "headend/cli/meters_commands.hpp"
#include "storage/registry_csv.hpp"

namespace {

// Runs `headendctl <args>` in process; returns the exit code app.exit() would give.
int run_cli(std::vector<std::string> args) {
  CLI::App app{"headendctl"};
  app.require_subcommand(1);
  ami::cli::add_meters_commands(app);
  ami::cli::add_feed_commands(app);
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
