#include "headend/config/daemon_config.hpp"

#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "headend/modbus/map_config.hpp"

namespace ami::daemon {
namespace {

std::string where(const toml::node& node) {
  const auto& src = node.source();
  if (src.begin.line == 0) return {};
  return fmt::format(" (line {})", src.begin.line);
}

// Reads one TOML table, remembering which keys were consumed so unknown ones become errors.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string table_name, const std::string& source)
      : table_(table), name_(std::move(table_name)), source_(source) {}

  [[noreturn]] void fail(std::string_view key, const toml::node* node, std::string_view reason) const {
    throw ConfigError(fmt::format("{}: [{}] {}{}: {}", source_, name_, key, node ? where(*node) : "", reason));
  }

  const toml::node* find(std::string_view key) {
    seen_.insert(std::string(key));
    return table_.get(key);
  }

  void read_int(std::string_view key, int& out, int min, int max) {
    const auto* node = find(key);
    if (!node) return;
    const auto value = node->value<std::int64_t>();
    if (!node->is_integer() || !value) fail(key, node, "must be an integer");
    if (*value < min || *value > max) fail(key, node, fmt::format("must be in {}..{}, got {}", min, max, *value));
    out = static_cast<int>(*value);
  }

  void read_int64(std::string_view key, std::int64_t& out, std::int64_t min, std::int64_t max) {
    const auto* node = find(key);
    if (!node) return;
    const auto value = node->value<std::int64_t>();
    if (!node->is_integer() || !value) fail(key, node, "must be an integer");
    if (*value < min || *value > max) fail(key, node, fmt::format("must be in {}..{}, got {}", min, max, *value));
    out = *value;
  }

  // An integer is accepted where a number is wanted ("spike_factor = 3").
  void read_double(std::string_view key, double& out, double min, double max) {
    const auto* node = find(key);
    if (!node) return;
    if (!node->is_number()) fail(key, node, "must be a number");
    const double value = node->is_integer() ? static_cast<double>(*node->value<std::int64_t>()) : *node->value<double>();
    if (!(value >= min && value <= max)) fail(key, node, fmt::format("must be in {}..{}, got {}", min, max, value));
    out = value;
  }

  void read_bool(std::string_view key, bool& out) {
    const auto* node = find(key);
    if (!node) return;
    if (!node->is_boolean()) fail(key, node, "must be true or false");
    out = *node->value<bool>();
  }

  // Present and a non-empty string, or absent (returns false).
  bool read_string(std::string_view key, std::string& out) {
    const auto* node = find(key);
    if (!node) return false;
    if (!node->is_string()) fail(key, node, "must be a string");
    out = *node->value<std::string>();
    if (out.empty()) fail(key, node, "must not be empty");
    return true;
  }

  void reject_unknown_keys() const {
    for (const auto& [key, node] : table_) {
      if (!seen_.contains(std::string(key.str())))
        throw ConfigError(fmt::format("{}: [{}] {}{}: unknown key", source_, name_, key.str(), where(node)));
    }
  }

 private:
  const toml::table& table_;
  std::string name_;
  const std::string& source_;
  std::set<std::string, std::less<>> seen_;
};

const toml::table& sub_table(const toml::table& root, std::string_view name, const std::string& source) {
  static const toml::table empty;
  const auto* node = root.get(name);
  if (!node) return empty;
  if (!node->is_table()) throw ConfigError(fmt::format("{}: [{}]{}: must be a table", source, name, where(*node)));
  return *node->as_table();
}

std::filesystem::path resolve(const std::filesystem::path& base_dir, const std::string& text) {
  std::filesystem::path p(text);
  if (p.is_relative()) p = base_dir / p;
  return p.lexically_normal();
}

void read_daemon(const toml::table& t, DaemonConfig& c, const std::string& source, const std::filesystem::path& base) {
  TableReader r(t, "daemon", source);
  r.read_string("id", c.daemon.id);
  std::string state_dir = c.daemon.state_dir.string();
  r.read_string("state_dir", state_dir);
  c.daemon.state_dir = resolve(base, state_dir);
  if (r.read_string("log_level", c.daemon.log_level)) {
    static const std::set<std::string, std::less<>> levels{"trace", "debug", "info", "warn",
                                                           "error", "critical", "off"};
    if (!levels.contains(c.daemon.log_level))
      r.fail("log_level", t.get("log_level"),
             fmt::format("'{}' is not one of trace, debug, info, warn, error, critical, off", c.daemon.log_level));
  }
  r.reject_unknown_keys();
}

void read_registry(const toml::table& t, DaemonConfig& c, const std::string& source,
                   const std::filesystem::path& base) {
  TableReader r(t, "registry", source);
  std::string csv;
  if (r.read_string("import_csv", csv)) c.registry.import_csv = resolve(base, csv);
  r.reject_unknown_keys();
}

// [collection.clock]: meter clock sync (docs/COLLECTION.md).
void read_collection_clock(const toml::table& t, DaemonConfig::Collection::ClockSync& k, const std::string& source) {
  TableReader r(t, "collection.clock", source);
  r.read_bool("enabled", k.enabled);
  r.read_int("read_every_hours", k.read_every_hours, 1, 24 * 31);
  r.read_int("tolerance_seconds", k.tolerance_seconds, 1, 86'400);
  r.read_bool("correct", k.correct);
  r.read_int("max_correction_seconds", k.max_correction_seconds, 1, 86'400);
  if (k.max_correction_seconds < k.tolerance_seconds)
    r.fail("max_correction_seconds", t.get("max_correction_seconds"), "must not be smaller than tolerance_seconds");
  if (r.read_string("method", k.method) && k.method != "broadcast" && k.method != "individual")
    r.fail("method", t.get("method"), fmt::format("'{}' is not broadcast or individual", k.method));
  for (const auto key : {"password", "operator_code"}) {
    auto& out = std::string_view(key) == "password" ? k.password : k.operator_code;
    if (r.read_string(key, out) &&
        (out.size() != 8 || out.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos))
      r.fail(key, t.get(key), fmt::format("'{}' is not 8 hex digits", out));
  }
  r.reject_unknown_keys();
}

void read_collection(const toml::table& t, DaemonConfig& c, const std::string& source) {
  TableReader r(t, "collection", source);
  auto& k = c.collection;
  r.read_int("interval_minutes", k.interval_minutes, 1, 1440);
  if (1440 % k.interval_minutes != 0)
    r.fail("interval_minutes", t.get("interval_minutes"),
           fmt::format("{} does not divide a day (1440 minutes)", k.interval_minutes));
  r.read_int("spread_window_seconds", k.spread_window_seconds, 0, 86'400);
  r.read_int("settle_seconds", k.settle_seconds, 0, 3600);
  if (k.settle_seconds + k.spread_window_seconds >= k.interval_minutes * 60)
    r.fail("spread_window_seconds", t.get("spread_window_seconds"),
           fmt::format("settle_seconds + spread_window_seconds ({} s) must be shorter than the interval ({} s)",
                       k.settle_seconds + k.spread_window_seconds, k.interval_minutes * 60));
  r.read_int("response_timeout_ms", k.response_timeout_ms, 10, 60'000);
  r.read_int("retries", k.retries, 0, 10);
  r.read_int("retry_backoff_ms", k.retry_backoff_ms, 0, 60'000);
  r.read_int("inter_frame_gap_ms", k.inter_frame_gap_ms, 0, 5'000);
  r.read_int("reconnect_backoff_ms", k.reconnect_backoff_ms, 10, 600'000);
  r.read_int("reconnect_backoff_max_ms", k.reconnect_backoff_max_ms, 10, 3'600'000);
  if (k.reconnect_backoff_max_ms < k.reconnect_backoff_ms)
    r.fail("reconnect_backoff_max_ms", t.get("reconnect_backoff_max_ms"),
           "must not be smaller than reconnect_backoff_ms");
  r.read_int("max_outstanding_cycles", k.max_outstanding_cycles, 1, 96);
  r.read_int("backfill_days", k.backfill_days, 0, 62);
  // catch_up_hours (before backfill, 4fb8f95): still accepted so an old config starts; hours -> days, rounded up.
  int catch_up_hours = -1;
  r.read_int("catch_up_hours", catch_up_hours, 0, 62 * 24);
  if (catch_up_hours >= 0) {
    if (t.get("backfill_days"))
      r.fail("catch_up_hours", t.get("catch_up_hours"),
             "deprecated and replaced by backfill_days; give only backfill_days");
    k.backfill_days = (catch_up_hours + 23) / 24;
    c.warnings.push_back(fmt::format("{}: [collection] catch_up_hours{} is deprecated: read as backfill_days = {} "
                                     "(hours rounded up to days); replace it with backfill_days",
                                     source, where(*t.get("catch_up_hours")), k.backfill_days));
  }
  r.read_int("load_profile_depth_hours", k.load_profile_depth_hours, 0, 24 * 62);
  r.read_bool("backfill_from_freezes", k.backfill_from_freezes);
  r.read_bool("backfill_never_read", k.backfill_never_read);
  if (r.find("clock")) read_collection_clock(sub_table(t, "clock", source), k.clock, source);
  r.read_int("idle_close_seconds", k.idle_close_seconds, 0, 86'400);
  r.read_int("registry_poll_seconds", k.registry_poll_seconds, 1, 3600);
  r.read_int("register_tolerance_seconds", k.register_tolerance_seconds, 1, 3600);
  r.read_int("direct_tcp_concurrency", k.direct_tcp_concurrency, 0, 100'000);
  r.read_int("max_store_backlog", k.max_store_backlog, 0, 10'000'000);
  if (r.find("timeouts")) {
    TableReader tr(sub_table(t, "timeouts", source), "collection.timeouts", source);
    tr.read_int("dlt645_2007_ms", k.timeouts.dlt645_2007_ms, 10, 60'000);
    tr.read_int("dlt645_1997_ms", k.timeouts.dlt645_1997_ms, 10, 60'000);
    tr.read_int("modbus_ms", k.timeouts.modbus_ms, 10, 60'000);
    tr.reject_unknown_keys();
  }
  r.reject_unknown_keys();
}

void read_feed(const toml::table& t, DaemonConfig& c, const std::string& source) {
  TableReader r(t, "feed", source);
  std::string listen;
  if (r.read_string("listen", listen)) {
    std::string error;
    if (!parse_host_port(listen, c.feed.listen_host, c.feed.listen_port, error))
      r.fail("listen", t.get("listen"), error);
  }
  r.read_int("max_unacked_batches", c.feed.max_unacked_batches, 1, 1024);
  r.read_int("batch_size", c.feed.batch_size, 1, 10'000);
  if (const auto* node = r.find("consumers")) {
    const auto* array = node->as_array();
    if (!array) r.fail("consumers", node, "must be an array of tables ([[feed.consumers]])");
    std::set<std::string, std::less<>> names;
    for (std::size_t i = 0; i < array->size(); ++i) {
      const auto& element = *array->get(i);
      const std::string table_name = fmt::format("feed.consumers #{}", i + 1);
      if (!element.is_table())
        throw ConfigError(fmt::format("{}: [{}]{}: must be a table", source, table_name, where(element)));
      TableReader cr(*element.as_table(), table_name, source);
      FeedConsumerConfig consumer;
      if (!cr.read_string("name", consumer.name)) cr.fail("name", &element, "is required");
      if (consumer.name.empty()) cr.fail("name", element.as_table()->get("name"), "must not be empty");
      if (!cr.read_string("token", consumer.token)) cr.fail("token", &element, "is required");
      if (!names.insert(consumer.name).second)
        cr.fail("name", element.as_table()->get("name"), fmt::format("consumer '{}' is defined twice", consumer.name));
      cr.reject_unknown_keys();
      c.feed.consumers.push_back(std::move(consumer));
    }
  }
  r.reject_unknown_keys();
}

void read_status(const toml::table& t, DaemonConfig& c, const std::string& source) {
  TableReader r(t, "status", source);
  r.read_bool("print_cycle_lines", c.status.print_cycle_lines);
  r.reject_unknown_keys();
}

// [monitor] (owned by "monitoring", docs/MONITORING.md).
void read_monitor(const toml::table& root, DaemonConfig& c, const std::string& source) {
  if (!root.contains("monitor")) return;
  const auto& t = sub_table(root, "monitor", source);
  TableReader r(t, "monitor", source);
  c.monitor.enabled = true;
  r.read_bool("enabled", c.monitor.enabled);
  std::string listen;
  if (r.read_string("listen", listen)) {
    std::string error;
    if (!parse_host_port(listen, c.monitor.listen_host, c.monitor.listen_port, error))
      r.fail("listen", t.get("listen"), error);
  }
  r.read_string("api_token", c.monitor.api_token);
  r.read_int("utc_offset_minutes", c.monitor.utc_offset_minutes, -720, 840);
  r.read_int("deadline_minutes", c.monitor.deadline_minutes, 0, 7 * 1440);
  r.read_int("chronic_days", c.monitor.chronic_days, 1, 31);
  r.read_int("grace_seconds", c.monitor.grace_seconds, 0, 86400);
  r.read_int("kpi_refresh_ms", c.monitor.kpi_refresh_ms, 0, 3'600'000);
  r.reject_unknown_keys();
}

void read_modbus(const toml::table& t, DaemonConfig& c, const std::string& source) {
  TableReader r(t, "modbus", source);
  r.read_int("workers", c.modbus.workers, 1, 64);
  r.read_int("boundary_tolerance_seconds", c.modbus.boundary_tolerance_seconds, 1, 3600);
  if (r.find("maps")) {
    auto loaded = modbus::load_user_maps(t, source);
    if (!loaded.errors.empty()) {
      std::string text = loaded.errors.front();
      for (std::size_t i = 1; i < loaded.errors.size(); ++i) text += "\n" + loaded.errors[i];
      throw ConfigError(text);
    }
    c.modbus.maps = std::move(loaded.maps);
  }
  r.reject_unknown_keys();
}

// [vee] (owned by "vee", docs/VEE.md "In the daemon"): every VeeConfig knob under its own name,
// durations with their unit in the key.
void read_vee(const toml::table& root, DaemonConfig& c, const std::string& source) {
  if (!root.contains("vee")) return;
  const auto& t = sub_table(root, "vee", source);
  TableReader r(t, "vee", source);
  auto& v = c.vee.rules;
  c.vee.enabled = true;
  r.read_bool("enabled", c.vee.enabled);
  const auto read_seconds = [&r](std::string_view key, std::chrono::seconds& out, int min, int max) {
    int value = static_cast<int>(out.count());
    r.read_int(key, value, min, max);
    out = std::chrono::seconds{value};
  };
  r.read_bool("check_time_tolerance", v.check_time_tolerance);
  read_seconds("read_time_tolerance_seconds", v.read_time_tolerance, 0, 86'400);
  read_seconds("meter_clock_tolerance_seconds", v.meter_clock_tolerance, 0, 86'400);
  read_seconds("clock_jump_threshold_seconds", v.clock_jump_threshold, 1, 86'400);
  r.read_bool("check_duplicates", v.check_duplicates);
  r.read_bool("check_reverse", v.check_reverse);
  r.read_bool("reject_outlier_reads", v.reject_outlier_reads);
  r.read_int64("max_register_wh_per_interval", v.max_register_wh_per_interval, 1, 1'000'000'000);
  r.read_bool("check_spike", v.check_spike);
  r.read_double("spike_factor", v.spike_factor, 1.0, 1000.0);
  r.read_int64("spike_min_excess_wh", v.spike_min_excess_wh, 0, 1'000'000'000);
  r.read_bool("check_high_low", v.check_high_low);
  r.read_int("history_days", v.history_days, 1, 366);
  r.read_int("min_history_days", v.min_history_days, 1, 366);
  if (v.min_history_days > v.history_days)
    r.fail("min_history_days", t.get("min_history_days"),
           fmt::format("must not exceed history_days ({}), got {}", v.history_days, v.min_history_days));
  r.read_double("high_factor", v.high_factor, 1.0, 1000.0);
  if (!(v.high_factor > 1.0)) r.fail("high_factor", t.get("high_factor"), "must be greater than 1");
  r.read_int64("high_min_excess_wh", v.high_min_excess_wh, 0, 1'000'000'000);
  r.read_double("low_factor", v.low_factor, 0.0, 0.999);
  r.read_int64("low_min_mean_wh", v.low_min_mean_wh, 0, 1'000'000'000);
  r.read_bool("high_low_on_reverse_channel", v.high_low_on_reverse_channel);
  r.read_bool("check_consecutive_zeros", v.check_consecutive_zeros);
  r.read_int("zero_run_intervals", v.zero_run_intervals, 1, 10'000);
  r.read_bool("zeros_on_reverse_channel", v.zeros_on_reverse_channel);
  r.read_bool("check_sum", v.check_sum);
  r.read_bool("flag_clock_set", v.flag_clock_set);
  r.read_bool("flag_power_down", v.flag_power_down);
  r.read_bool("estimate_gaps", v.estimate_gaps);
  r.read_bool("prorate_by_shape", v.prorate_by_shape);
  int linear_minutes = static_cast<int>(std::chrono::duration_cast<std::chrono::minutes>(v.linear_max_gap).count());
  r.read_int("linear_max_gap_minutes", linear_minutes, 0, 7 * 1440);
  v.linear_max_gap = std::chrono::minutes{linear_minutes};
  r.read_int("like_days", v.like_days, 1, 366);
  r.read_int("max_unanchored_intervals", v.max_unanchored_intervals, 0, 100'000);
  r.read_int("silent_after_minutes", c.vee.silent_after_minutes, 1, 7 * 1440);
  r.read_int("history_pass_minutes", c.vee.history_pass_minutes, 0, 7 * 1440);
  r.read_int("history_pass_window_hours", c.vee.history_pass_window_hours, 1, 31 * 24);
  r.read_int("history_pass_meters_per_chunk", c.vee.history_pass_meters_per_chunk, 1, 1'000'000);
  r.reject_unknown_keys();
  if (const auto problem = storage::vee::validate(v)) throw ConfigError(fmt::format("{}: [vee]: {}", source, *problem));
}

// [storage] (owned by "vee", docs/STORAGE.md "Retention").
void read_storage(const toml::table& t, DaemonConfig& c, const std::string& source) {
  TableReader r(t, "storage", source);
  r.read_int("retention_days", c.storage.retention_days, 1, 3660);
  r.read_int("audit_retention_days", c.storage.audit_retention_days, 1, 3660);
  r.read_int("prune_every_minutes", c.storage.prune_every_minutes, 1, 7 * 1440);
  r.read_int("page_cache_mib", c.storage.page_cache_mib, 1, 16384);
  r.reject_unknown_keys();
}

}  // namespace

bool parse_host_port(std::string_view text, std::string& host, std::uint16_t& port, std::string& error) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    error = fmt::format("'{}' is not HOST:PORT (e.g. 127.0.0.1:7700)", text);
    return false;
  }
  const auto port_text = text.substr(colon + 1);
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() || value > 65535) {
    error = fmt::format("'{}' has no valid port 0..65535 after the colon", text);
    return false;
  }
  host = std::string(text.substr(0, colon));
  port = static_cast<std::uint16_t>(value);
  return true;
}

DaemonConfig parse_config(std::string_view toml_text, const std::string& source_name,
                          const std::filesystem::path& base_dir) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    throw ConfigError(fmt::format("{}: line {}, column {}: {}", source_name, e.source().begin.line,
                                  e.source().begin.column, e.description()));
  }
  static const std::set<std::string, std::less<>> tables{"daemon", "registry", "collection", "feed", "status",
                                                         "monitor", "kafka", "modbus", "vee", "storage"};
  for (const auto& [key, node] : root) {
    if (!tables.contains(key.str()))
      throw ConfigError(fmt::format("{}: [{}]{}: unknown table (known: daemon, registry, collection, feed, status, monitor, kafka, modbus, vee, storage)",
                                    source_name, key.str(), where(node)));
  }
  DaemonConfig c;
  c.source_file = source_name;
  read_daemon(sub_table(root, "daemon", source_name), c, source_name, base_dir);
  read_registry(sub_table(root, "registry", source_name), c, source_name, base_dir);
  read_collection(sub_table(root, "collection", source_name), c, source_name);
  read_feed(sub_table(root, "feed", source_name), c, source_name);
  read_status(sub_table(root, "status", source_name), c, source_name);
  read_monitor(root, c, source_name);
  read_modbus(sub_table(root, "modbus", source_name), c, source_name);
  read_vee(root, c, source_name);
  read_storage(sub_table(root, "storage", source_name), c, source_name);
  try {
    c.kafka = kafka::parse_kafka_config(sub_table(root, "kafka", source_name), source_name);
  } catch (const kafka::KafkaConfigError& e) {
    throw ConfigError(e.what());
  }
  return c;
}

DaemonConfig load_config(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ConfigError(fmt::format("{}: cannot open the config file", file.string()));
  std::stringstream text;
  text << in.rdbuf();
  const auto base = std::filesystem::absolute(file).parent_path();
  auto config = parse_config(text.str(), file.string(), base);
  config.source_file = file;
  return config;
}

}  // namespace ami::daemon
