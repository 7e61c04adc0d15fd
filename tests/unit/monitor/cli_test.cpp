#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "headend/cli/monitor_command.hpp"
#include "storage/kpi.hpp"
#include "tests/unit/monitor/fleet_fixture.hpp"

using ami::monitor::test::Behaviour;
using ami::monitor::test::Fleet;
using namespace std::chrono;
namespace st = ami::storage;

namespace {

// `headendctl report` on a store holding one meter whose boundaries 40 and 41 were filled by a
// backfill read at D+1 08:00 local; returns the CSV's line for that meter.
std::string cli_report_line(const std::filesystem::path& config, std::vector<std::string> extra) {
  const auto out = config.parent_path() / "report.csv";
  std::vector<std::string> args{"headendctl", "report", "--day", "2026-01-05", "--csv", "--config",
                                config.string(), "--output", out.string(), "--clock", "accelerated",
                                "--clock-start", "2026-01-06T16:00:00Z"};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  CLI::App app{"headendctl"};
  app.require_subcommand(1);
  ami::cli::add_monitor_commands(app);
  app.parse(static_cast<int>(argv.size()), argv.data());
  std::ifstream in(out);
  std::string line;
  std::getline(in, line);  // header
  std::getline(in, line);
  return line;
}

}  // namespace

TEST_CASE("headendctl report: --config supplies the [monitor] KPI options unless given", "[monitor][cli]") {
  const auto dir = std::filesystem::path(AMI_TEST_TMP_DIR) / "monitor" / ("cli-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "state");
  const auto day_start = st::day_start_utc(*st::parse_day("2026-01-05"), 480);
  {
    Fleet fleet(day_start, 97);
    fleet.backfill_at = ami::UtcMillis{day_start + hours{24 + 8}};
    auto& m = fleet.add("M-bf", "tcp://10.0.0.1:8899", "dlt645-generic", "");
    m.overrides[40] = Behaviour::backfilled;
    m.overrides[41] = Behaviour::backfilled;
    st::StoreWriter writer(ami::monitor::test::store_options(dir / "state" / "headend.db"));
    fleet.write(writer);
  }
  const auto config = dir / "headend.toml";
  std::ofstream(config) << "[daemon]\nid = \"cli-test\"\nstate_dir = \"" << (dir / "state").string()
                        << "\"\n[monitor]\ndeadline_minutes = 600\ngrace_seconds = 0\n";
  // columns: day,meter_id,gateway,model,tags,expected,first_attempt,after_retries,after_backfill,on_time,...
  const auto on_time_of = [](const std::string& line) {
    std::stringstream fields(line);
    std::string field;
    for (int i = 0; i < 10; ++i) std::getline(fields, field, ',');
    return field;
  };
  const auto from_config = cli_report_line(config, {});
  INFO(from_config);
  CHECK(from_config.rfind("2026-01-05,M-bf,", 0) == 0);
  CHECK(on_time_of(from_config) == "96");  // D+1 10:00 deadline: the 08:00 backfill is on time
  const auto from_flag = cli_report_line(config, {"--deadline-minutes", "360"});
  INFO(from_flag);
  CHECK(on_time_of(from_flag) == "93");    // 06:00: the three intervals the backfill filled are late
  std::filesystem::remove_all(dir);
}
