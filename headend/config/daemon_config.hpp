// The daemon's configuration: a TOML file (docs/CONFIG.md) read once at start-up.
//
// load_config() validates everything up front: an unknown table or key, a value of the wrong type
// or out of range is a ConfigError whose message names the file, the key (with its line when known)
// and the reason; the daemon prints it and exits with code 2. Relative paths in the file are
// resolved against the directory of the config file, so a config works whatever the cwd.
// A DaemonConfig is a plain value; any thread may read a const one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "headend/kafka/kafka_config.hpp"
#include "protocols/modbus/register_map.hpp"
#include "storage/vee/config.hpp"

namespace ami::daemon {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct FeedConsumerConfig {
  std::string name;
  std::string token;
};

struct DaemonConfig {
  std::filesystem::path source_file;  // the file this came from ("<memory>" for parse_config text)
  // Deprecated keys that were accepted, one line each naming the file, table and key (the caller
  // shows them: headend prints them on stderr at startup).
  std::vector<std::string> warnings;

  struct Daemon {
    std::string id = "headend-1";
    std::filesystem::path state_dir = "var";  // absolute after loading; the SQLite db lives here
    std::string log_level = "info";           // trace|debug|info|warn|error|critical|off
  } daemon;

  struct Registry {
    std::optional<std::filesystem::path> import_csv;  // absolute after loading
  } registry;

  // Durations ending in _ms are real (wire) time; interval, spread and settle are simulated time
  // (they follow the injected clock). See docs/CONFIG.md for why.
  struct Collection {
    int interval_minutes = 15;
    int spread_window_seconds = 60;
    int settle_seconds = 2;  // reads start this long after the boundary (meter writes its record at B)
    int response_timeout_ms = 1500;
    int retries = 2;  // extra attempts after the first one, within the interval's window
    int retry_backoff_ms = 200;
    int inter_frame_gap_ms = 20;
    int reconnect_backoff_ms = 500;
    int reconnect_backoff_max_ms = 10'000;
    int max_outstanding_cycles = 4;  // the scheduler waits rather than queue more unfinished cycles
    int backfill_days = 3;           // gaps up to this old are read back from meter memory (0: off)
    int load_profile_depth_hours = 24 * 62;  // backfill: older boundaries come from freezes, not the load profile
    bool backfill_from_freezes = true;       // backfill: hourly/daily freezes where the load profile cannot serve
    bool backfill_never_read = false;        // backfill: a meter without an older read is read back to the window
    // [collection.clock] (docs/COLLECTION.md): meter clock reads, skew flags, bounded correction.
    struct ClockSync {
      bool enabled = true;
      int read_every_hours = 24;
      int tolerance_seconds = 60;
      bool correct = true;
      int max_correction_seconds = 300;
      std::string method = "broadcast";  // broadcast (08H) | individual (14H write with password)
      std::string password = "02000000";  // individual: PA P0 P1 P2 as 8 hex digits (level 02)
      std::string operator_code = "00000000";
    } clock;
    int idle_close_seconds = 0;      // close a DL/T 645 connection unused this long, real time (0: never)
    int registry_poll_seconds = 5;   // how often the running daemon looks for registry changes, real time
    int register_tolerance_seconds = 120;  // 1997 register reads count for B when done by B + this
    int direct_tcp_concurrency = 64;  // reads at once over tcp:// channels with one meter each (0: no cap)
    // Scheduled/backfill reads wait while this many store items (reads + attempts) are not yet
    // committed (StoreIntakeGate, docs/COLLECTION.md; 10,000 from the 100k load point); 0: no gate.
    int max_store_backlog = 10'000;
    // [collection.timeouts]: response timeout per protocol; 0 (absent) = response_timeout_ms.
    struct Timeouts {
      int dlt645_2007_ms = 0;
      int dlt645_1997_ms = 0;
      int modbus_ms = 0;  // every Modbus transport
    } timeouts;
    // The response timeout for a registry protocol (dlt645-2007, dlt645-1997, modbus-*).
    [[nodiscard]] int response_timeout_ms_for(std::string_view protocol) const {
      const int specific = protocol == "dlt645-2007"   ? timeouts.dlt645_2007_ms
                           : protocol == "dlt645-1997" ? timeouts.dlt645_1997_ms
                           : protocol.starts_with("modbus") ? timeouts.modbus_ms
                                                            : 0;
      return specific > 0 ? specific : response_timeout_ms;
    }
  } collection;

  struct Feed {
    std::string listen_host = "127.0.0.1";
    std::uint16_t listen_port = 7700;
    std::vector<FeedConsumerConfig> consumers;
    int max_unacked_batches = 4;
    int batch_size = 1000;
  } feed;

  struct Status {
    bool print_cycle_lines = true;
  } status;

  // [monitor] (docs/MONITORING.md; owned by "monitoring"): the HTTP dashboard, JSON API and
  // /metrics. Off unless the table is present; then on unless enabled = false.
  struct Monitor {
    bool enabled = false;
    std::string listen_host = "127.0.0.1";
    std::uint16_t listen_port = 8080;
    std::string api_token;              // bearer token for POST (on-demand read); empty disables POST
    int utc_offset_minutes = 480;       // which day is "today"; each meter's own day follows its registry offset
    int deadline_minutes = 360;         // on time = stored before D+1 00:00 + this
    int chronic_days = 3;
    int grace_seconds = 900;            // a boundary counts as expected this long after it passed
    int kpi_refresh_ms = 15000;
  } monitor;

  // [modbus]: how Modbus meters are collected; user register maps per docs/MODBUS.md.
  struct Modbus {
    int workers = 4;                       // executor threads running blocking libmodbus calls
    int boundary_tolerance_seconds = 120;  // a register read is attributed to B when it completes within this
    std::vector<modbus::RegisterMap> maps;  // [[modbus.maps]], looked up by the registry's model column
  } modbus;

  // [kafka] (docs/KAFKA.md; parsed by ami::kafka::parse_kafka_config): the optional Kafka sink.
  kafka::KafkaConfig kafka;

  // [vee] (docs/VEE.md "In the daemon"; owned by "vee"): VEE in the store writer's transaction and
  // estimates for meters that stopped answering. Off unless the table is present; then on unless
  // enabled = false. Every VeeConfig knob is a key with the same default.
  struct Vee {
    bool enabled = false;
    storage::vee::VeeConfig rules;
    int silent_after_minutes = 30;  // simulated time: a boundary this old without a read gets an estimate
    // The history pass (spike / high-low / zero-run flags): every this many simulated minutes
    // (0 = off) over the last history_pass_window_hours, in chunks of meters (StoreWriter::run_history_pass).
    int history_pass_minutes = 60;
    int history_pass_window_hours = 24;
    int history_pass_meters_per_chunk = 1000;
  } vee;

  // [storage] (docs/STORAGE.md "Retention"): published rows acknowledged by every consumer, and
  // reads and attempts, are pruned once older than retention_days; checked every prune_every_minutes
  // (simulated time, at cycle ends).
  struct Storage {
    int retention_days = 7;
    int audit_retention_days = 90;
    int prune_every_minutes = 60;
    int page_cache_mib = 64;  // the store writer's SQLite page cache cap
  } storage;

  [[nodiscard]] std::filesystem::path database_path() const { return daemon.state_dir / "headend.db"; }
};

// Reads and validates `file`. Throws ConfigError (also for an unreadable file or a TOML syntax error).
DaemonConfig load_config(const std::filesystem::path& file);
// Same rules over TOML text; relative paths resolve against `base_dir`; messages name `source_name`.
DaemonConfig parse_config(std::string_view toml_text, const std::string& source_name,
                          const std::filesystem::path& base_dir);

// "HOST:PORT" -> host and port; false with `error` filled when malformed.
bool parse_host_port(std::string_view text, std::string& host, std::uint16_t& port, std::string& error);

}  // namespace ami::daemon
