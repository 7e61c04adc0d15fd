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
      {"[[feed.consumers]]\nname = \"\"\ntoken = \"t\"\n", "[feed.consumers #1] name (line 2): must not be empty"},
      {"[[feed.consumers]]\nname = \"a\"\ntoken = \"t\"\nrole = \"x\"\n", "[feed.consumers #1] role (line 4): unknown key"},
      {"[[feed.consumers]]\nname = \"a\"\ntoken = \"t\"\n[[feed.consumers]]\nname = \"a\"\ntoken = \"u\"\n",
       "[feed.consumers #2] name (line 5): consumer 'a' is defined twice"},
      {"[status]\nprint_cycle_lines = 1\n", "[status] print_cycle_lines (line 2): must be true or false"},
      {"daemon = 3\n", "test.toml: [daemon] (line 1): must be a table"},
      {"[daemon\n", "test.toml: line 1"},
      {"[modbus]\nworkers = 0\n", "test.toml: [modbus] workers (line 2): must be in 1..64, got 0"},
      {"[modbus]\nthreads = 2\n", "test.toml: [modbus] threads (line 2): unknown key"},
      {"[collection]\nbackfill_days = 63\n", "[collection] backfill_days (line 2): must be in 0..62, got 63"},
      {"[collection]\nbackfill_never_read = 1\n", "[collection] backfill_never_read (line 2): must be true or false"},
      {"[collection]\nload_profile_depth_hours = 1500\n",
       "[collection] load_profile_depth_hours (line 2): must be in 0..1488, got 1500"},
      {"[collection]\nbackfill_days = 2\ncatch_up_hours = 24\n",
       "[collection] catch_up_hours (line 3): deprecated and replaced by backfill_days; give only backfill_days"},
      {"[collection]\ncatch_up_hours = -1\n", "[collection] catch_up_hours (line 2): must be in 0..1488, got -1"},
      {"[kafka]\nenabled = true\nbrokrs = \"k:9092\"\n", "test.toml: [kafka] brokrs (line 3)"},
      {"[collection.timeouts]\ndlt645_1997_ms = 5\n",
       "test.toml: [collection.timeouts] dlt645_1997_ms (line 2): must be in 10..60000, got 5"},
      {"[collection.timeouts]\niec_ms = 500\n", "test.toml: [collection.timeouts] iec_ms (line 2): unknown key"},
      {"[collection]\nregistry_poll_seconds = 0\n", "[collection] registry_poll_seconds (line 2): must be in 1..3600"},
      {"[collection]\nmax_store_backlog = -1\n",
       "[collection] max_store_backlog (line 2): must be in 0..10000000, got -1"},
      {"[collection]\nmax_store_backlog = \"lots\"\n", "[collection] max_store_backlog (line 2): must be an integer"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    const auto message = error_of(c.text);
    CHECK_THAT(message, Catch::Contains(c.expected));
  }
}

TEST_CASE("per-protocol response timeouts default to response_timeout_ms", "[config]") {
  const auto defaults = parse_config("[collection]\nresponse_timeout_ms = 900\n", "test.toml", kBase);
  CHECK(defaults.collection.response_timeout_ms_for("dlt645-2007") == 900);
  CHECK(defaults.collection.response_timeout_ms_for("dlt645-1997") == 900);
  CHECK(defaults.collection.response_timeout_ms_for("modbus-rtu") == 900);
  CHECK(defaults.collection.idle_close_seconds == 0);
  CHECK(defaults.collection.registry_poll_seconds == 5);
  CHECK(defaults.collection.register_tolerance_seconds == 120);
  const auto set = parse_config(
      "[collection]\nidle_close_seconds = 300\n[collection.timeouts]\ndlt645_1997_ms = 3000\nmodbus_ms = 700\n",
      "test.toml", kBase);
  CHECK(set.collection.response_timeout_ms_for("dlt645-2007") == 1500);
  CHECK(set.collection.response_timeout_ms_for("dlt645-1997") == 3000);
  CHECK(set.collection.response_timeout_ms_for("modbus-tcp") == 700);
  CHECK(set.collection.idle_close_seconds == 300);
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

// [vee] and [storage] (owned by "vee"; docs/VEE.md "In the daemon", docs/STORAGE.md "Retention").
TEST_CASE("[vee] is off unless present, every knob is read with the VeeConfig defaults", "[config][vee]") {
  const auto none = parse_config("", "test.toml", kBase);
  CHECK_FALSE(none.vee.enabled);
  CHECK(none.storage.retention_days == 7);
  CHECK(none.storage.audit_retention_days == 90);
  CHECK(none.storage.prune_every_minutes == 60);
  CHECK(none.storage.page_cache_mib == 64);

  const auto defaults = parse_config("[vee]\n", "test.toml", kBase);
  CHECK(defaults.vee.enabled);
  CHECK(defaults.vee.silent_after_minutes == 30);
  CHECK(defaults.vee.history_pass_minutes == 60);
  CHECK(defaults.vee.history_pass_window_hours == 24);
  CHECK(defaults.vee.history_pass_meters_per_chunk == 1000);
  const ami::storage::vee::VeeConfig reference;
  CHECK(defaults.vee.rules.spike_factor == reference.spike_factor);
  CHECK(defaults.vee.rules.linear_max_gap == reference.linear_max_gap);
  CHECK(defaults.vee.rules.max_unanchored_intervals == reference.max_unanchored_intervals);

  const auto c = parse_config(R"toml(
[vee]
enabled = true
check_time_tolerance = false
read_time_tolerance_seconds = 30
meter_clock_tolerance_seconds = 600
clock_jump_threshold_seconds = 90
check_duplicates = false
check_reverse = false
reject_outlier_reads = false
max_register_wh_per_interval = 80000
check_spike = false
spike_factor = 4
spike_min_excess_wh = 3000
check_high_low = false
history_days = 21
min_history_days = 10
high_factor = 6.5
high_min_excess_wh = 2500
low_factor = 0.1
low_min_mean_wh = 700
high_low_on_reverse_channel = true
check_consecutive_zeros = false
zero_run_intervals = 24
zeros_on_reverse_channel = true
check_sum = false
flag_clock_set = false
flag_power_down = false
estimate_gaps = false
prorate_by_shape = false
linear_max_gap_minutes = 60
like_days = 3
max_unanchored_intervals = 48
silent_after_minutes = 45
history_pass_minutes = 0
history_pass_window_hours = 48
history_pass_meters_per_chunk = 250
[storage]
retention_days = 3
audit_retention_days = 30
prune_every_minutes = 15
page_cache_mib = 24
)toml",
                              "test.toml", kBase);
  const auto& v = c.vee.rules;
  CHECK(c.vee.enabled);
  CHECK_FALSE(v.check_time_tolerance);
  CHECK(v.read_time_tolerance == std::chrono::seconds{30});
  CHECK(v.meter_clock_tolerance == std::chrono::seconds{600});
  CHECK(v.clock_jump_threshold == std::chrono::seconds{90});
  CHECK_FALSE(v.check_duplicates);
  CHECK_FALSE(v.check_reverse);
  CHECK_FALSE(v.reject_outlier_reads);
  CHECK(v.max_register_wh_per_interval == 80'000);
  CHECK_FALSE(v.check_spike);
  CHECK(v.spike_factor == 4.0);
  CHECK(v.spike_min_excess_wh == 3'000);
  CHECK_FALSE(v.check_high_low);
  CHECK(v.history_days == 21);
  CHECK(v.min_history_days == 10);
  CHECK(v.high_factor == 6.5);
  CHECK(v.high_min_excess_wh == 2'500);
  CHECK(v.low_factor == 0.1);
  CHECK(v.low_min_mean_wh == 700);
  CHECK(v.high_low_on_reverse_channel);
  CHECK_FALSE(v.check_consecutive_zeros);
  CHECK(v.zero_run_intervals == 24);
  CHECK(v.zeros_on_reverse_channel);
  CHECK_FALSE(v.check_sum);
  CHECK_FALSE(v.flag_clock_set);
  CHECK_FALSE(v.flag_power_down);
  CHECK_FALSE(v.estimate_gaps);
  CHECK_FALSE(v.prorate_by_shape);
  CHECK(v.linear_max_gap == std::chrono::minutes{60});
  CHECK(v.like_days == 3);
  CHECK(v.max_unanchored_intervals == 48);
  CHECK(c.vee.silent_after_minutes == 45);
  CHECK(c.vee.history_pass_minutes == 0);
  CHECK(c.vee.history_pass_window_hours == 48);
  CHECK(c.vee.history_pass_meters_per_chunk == 250);
  CHECK(c.storage.retention_days == 3);
  CHECK(c.storage.audit_retention_days == 30);
  CHECK(c.storage.prune_every_minutes == 15);
  CHECK(c.storage.page_cache_mib == 24);
  CHECK_FALSE(parse_config("[vee]\nenabled = false\n", "test.toml", kBase).vee.enabled);
}

TEST_CASE("bad [vee] and [storage] values name the key", "[config][vee]") {
  const std::pair<const char*, const char*> cases[] = {
      {"[vee]\nspike_factr = 3\n", "test.toml: [vee] spike_factr (line 2): unknown key"},
      {"[vee]\nspike_factor = 0.5\n", "test.toml: [vee] spike_factor (line 2): must be in 1..1000, got 0.5"},
      {"[vee]\nspike_factor = \"high\"\n", "test.toml: [vee] spike_factor (line 2): must be a number"},
      {"[vee]\nhigh_factor = 1\n", "test.toml: [vee] high_factor (line 2): must be greater than 1"},
      {"[vee]\nhistory_days = 5\nmin_history_days = 6\n",
       "test.toml: [vee] min_history_days (line 3): must not exceed history_days (5), got 6"},
      {"[vee]\nmax_register_wh_per_interval = 0\n", "[vee] max_register_wh_per_interval (line 2): must be in 1.."},
      {"[vee]\ncheck_spike = 1\n", "[vee] check_spike (line 2): must be true or false"},
      {"[vee]\nsilent_after_minutes = 0\n", "[vee] silent_after_minutes (line 2): must be in 1..10080, got 0"},
      {"[storage]\nretention_days = 0\n", "test.toml: [storage] retention_days (line 2): must be in 1..3660, got 0"},
      {"[storage]\npage_cache_mib = 0\n", "test.toml: [storage] page_cache_mib (line 2): must be in 1..16384, got 0"},
      {"[storage]\nkeep_days = 3\n", "test.toml: [storage] keep_days (line 2): unknown key"},
  };
  for (const auto& [text, expected] : cases) {
    INFO(text);
    CHECK_THAT(error_of(text), Catch::Matchers::Contains(expected));
  }
}

TEST_CASE("deprecated [collection] catch_up_hours is read as backfill_days rounded up, with a warning",
          "[config]") {
  auto c = parse_config("[collection]\ncatch_up_hours = 25\n", "old.toml", kBase);
  CHECK(c.collection.backfill_days == 2);
  REQUIRE(c.warnings.size() == 1);
  CHECK(c.warnings[0].find("old.toml: [collection] catch_up_hours (line 2) is deprecated") != std::string::npos);
  CHECK(c.warnings[0].find("backfill_days = 2") != std::string::npos);
  c = parse_config("[collection]\ncatch_up_hours = 24\n", "old.toml", kBase);
  CHECK(c.collection.backfill_days == 1);
  c = parse_config("[collection]\ncatch_up_hours = 0\n", "old.toml", kBase);
  CHECK(c.collection.backfill_days == 0);
  CHECK(parse_config("[collection]\nbackfill_days = 5\n", "new.toml", kBase).warnings.empty());
}

TEST_CASE("[collection] max_store_backlog defaults to 10000, 0 turns the gate off", "[config]") {
  CHECK(parse_config("", "test.toml", kBase).collection.max_store_backlog == 10'000);
  CHECK(parse_config("[collection]\nmax_store_backlog = 0\n", "test.toml", kBase).collection.max_store_backlog == 0);
  CHECK(parse_config("[collection]\nmax_store_backlog = 5000\n", "test.toml", kBase).collection.max_store_backlog ==
        5000);
}

TEST_CASE("[collection] backfill_never_read is off unless set", "[config]") {
  CHECK_FALSE(parse_config("[collection]\nbackfill_days = 5\n", "test.toml", kBase).collection.backfill_never_read);
  CHECK(parse_config("[collection]\nbackfill_never_read = true\n", "test.toml", kBase).collection.backfill_never_read);
}
