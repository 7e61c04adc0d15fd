#include <catch2/catch.hpp>

#include <fstream>

#include "headend/config/daemon_config.hpp"

using ami::daemon::ConfigError;
using ami::daemon::DaemonConfig;
using ami::daemon::parse_config;

namespace {

const std::filesystem::path kBase = "/etc/headend";

// The ConfigError message for `text`, or "" when it parses.
std::string error_of(const std::string& text) {
  try {
    parse_config(text, "test.toml", kBase);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("an empty config gives the documented defaults", "[config]") {
  const auto c = parse_config("", "test.toml", kBase);
  CHECK(c.daemon.id == "headend-1");
  CHECK(c.daemon.state_dir == kBase / "var");
  CHECK(c.daemon.log_level == "info");
  CHECK_FALSE(c.registry.import_csv);
  CHECK(c.collection.interval_minutes == 15);
  CHECK(c.collection.spread_window_seconds == 60);
  CHECK(c.collection.retries == 2);
  CHECK(c.feed.listen_host == "127.0.0.1");
  CHECK(c.feed.listen_port == 7700);
  CHECK(c.feed.consumers.empty());
  CHECK(c.status.print_cycle_lines);
  CHECK(c.database_path() == kBase / "var" / "headend.db");
}

TEST_CASE("a full config is read, relative paths resolve against the config's directory", "[config]") {
  const auto c = parse_config(R"(
[daemon]
id = "north"
state_dir = "../state"
log_level = "debug"
[registry]
import_csv = "meters.csv"
[collection]
interval_minutes = 30
spread_window_seconds = 120
response_timeout_ms = 800
retries = 0
retry_backoff_ms = 50
inter_frame_gap_ms = 5
[feed]
listen = "0.0.0.0:7800"
max_unacked_batches = 2
batch_size = 10
[[feed.consumers]]
name = "billing"
token = "t1"
[[feed.consumers]]
name = "mdm"
token = "t2"
[status]
print_cycle_lines = false
)",
                              "test.toml", kBase);
  CHECK(c.daemon.id == "north");
  CHECK(c.daemon.state_dir == "/etc/state");
  CHECK(*c.registry.import_csv == "/etc/headend/meters.csv");
  CHECK(c.collection.interval_minutes == 30);
  CHECK(c.collection.response_timeout_ms == 800);
  CHECK(c.collection.retries == 0);
  CHECK(c.feed.listen_host == "0.0.0.0");
  CHECK(c.feed.listen_port == 7800);
  REQUIRE(c.feed.consumers.size() == 2);
  CHECK(c.feed.consumers[1].name == "mdm");
  CHECK(c.feed.consumers[1].token == "t2");
  CHECK_FALSE(c.status.print_cycle_lines);
}

TEST_CASE("absolute paths are kept", "[config]") {
  const auto c = parse_config("[daemon]\nstate_dir = \"/var/lib/headend\"\n", "test.toml", kBase);
  CHECK(c.daemon.state_dir == "/var/lib/headend");
}

TEST_CASE("each bad config names the file, the key and the reason", "[config]") {
  struct Case {
    const char* text;
    const char* expected;
  };
  const Case cases[] = {
      {"[daemon]\nname = \"x\"\n", "test.toml: [daemon] name (line 2): unknown key"},
      {"[deamon]\nid = \"x\"\n", "test.toml: [deamon] (line 1): unknown table"},
      {"[collection]\nretries = 99\n", "test.toml: [collection] retries (line 2): must be in 0..10, got 99"},
      {"[collection]\nretries = \"two\"\n", "test.toml: [collection] retries (line 2): must be an integer"},
      {"[collection]\ninterval_minutes = 7\n", "[collection] interval_minutes (line 2): 7 does not divide a day"},
      {"[collection]\ninterval_minutes = 5\nspread_window_seconds = 400\n",
       "[collection] spread_window_seconds (line 3): settle_seconds + spread_window_seconds (402 s) must be shorter"},
      {"[daemon]\nlog_level = \"loud\"\n", "[daemon] log_level (line 2): 'loud' is not one of"},
      {"[daemon]\nid = \"\"\n", "[daemon] id (line 2): must not be empty"},
      {"[feed]\nlisten = \"7700\"\n", "[feed] listen (line 2): '7700' is not HOST:PORT"},
      {"[feed]\nlisten = \"127.0.0.1:99999\"\n", "[feed] listen (line 2): '127.0.0.1:99999' has no valid port"},
      {"[feed]\nbatch_size = 0\n", "[feed] batch_size (line 2): must be in 1..10000, got 0"},
      {"[[feed.consumers]]\nname = \"a\"\n", "[feed.consumers #1] token (line 1): is required"},
      {"[[feed.consumers]]\nname = \"a\"\ntoken = \"t\"\nrole = \"x\"\n", "[feed.consumers #1] role (line 4): unknown key"},
      {"[[feed.consumers]]\nname = \"a\"\ntoken = \"t\"\n[[feed.consumers]]\nname = \"a\"\ntoken = \"u\"\n",
       "[feed.consumers #2] name (line 5): consumer 'a' is defined twice"},
      {"[status]\nprint_cycle_lines = 1\n", "[status] print_cycle_lines (line 2): must be true or false"},
      {"daemon = 3\n", "test.toml: [daemon] (line 1): must be a table"},
      {"[daemon\n", "test.toml: line 1"},
      {"[modbus]\nworkers = 0\n", "test.toml: [modbus] workers (line 2): must be in 1..64, got 0"},
      {"[modbus]\nthreads = 2\n", "test.toml: [modbus] threads (line 2): unknown key"},
      {"[collection]\ncatch_up_hours = -1\n", "[collection] catch_up_hours (line 2): must be in 0..1488, got -1"},
      {"[kafka]\nenabled = true\nbrokrs = \"k:9092\"\n", "test.toml: [kafka] brokrs (line 3)"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    const auto message = error_of(c.text);
    CHECK_THAT(message, Catch::Contains(c.expected));
  }
}

TEST_CASE("load_config reads a file and names it in errors", "[config]") {
  const auto dir = std::filesystem::path(AMI_TEST_TMP_DIR) / "config_test";
  std::filesystem::create_directories(dir);
  const auto file = dir / "bad.toml";
  std::ofstream(file) << "[collection]\nretries = -1\n";
  try {
    ami::daemon::load_config(file);
    FAIL("expected a ConfigError");
  } catch (const ConfigError& e) {
    CHECK_THAT(e.what(), Catch::StartsWith(file.string() + ": [collection] retries (line 2)"));
  }
  const auto good = dir / "good.toml";
  std::ofstream(good) << "[daemon]\nstate_dir = \"state\"\n";
  CHECK(ami::daemon::load_config(good).daemon.state_dir == std::filesystem::absolute(dir) / "state");
  CHECK_THROWS_WITH(ami::daemon::load_config(dir / "missing.toml"), Catch::Contains("cannot open the config file"));
}

TEST_CASE("the shipped default config is valid", "[config]") {
  const auto c = ami::daemon::load_config(std::filesystem::path(AMI_SOURCE_DIR) / "config" / "headend.toml");
  CHECK(c.feed.listen_port == 7700);
  CHECK(c.daemon.state_dir == std::filesystem::path(AMI_SOURCE_DIR) / "var" / "demo");
  CHECK_FALSE(c.feed.consumers.empty());
}

TEST_CASE("the [kafka] table is handed to the Kafka sink's parser", "[config]") {
  const auto off = parse_config("", "test.toml", kBase);
  CHECK_FALSE(off.kafka.enabled);
  const auto on = parse_config("[kafka]\nenabled = true\nbrokers = \"k1:9092\"\ntopic = \"ami.intervals.v1\"\n",
                               "test.toml", kBase);
  CHECK(on.kafka.enabled);
  CHECK(on.kafka.topic == "ami.intervals.v1");
  CHECK(on.kafka.effective_cursor_name() == "kafka:ami.intervals.v1");
}
