#include "headend/cli/monitor_command.hpp"

#include <cstdio>
#include <fstream>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "headend/config/daemon_config.hpp"
#include "headend/monitor/fleet_view.hpp"
#include "headend/runtime/clock_options.hpp"
#include "storage/kpi.hpp"

namespace ami::cli {

namespace {

struct MonitorCliOptions {
  std::string config;
  std::string db;
  std::string day;
  int utc_offset_minutes = 480;
  int deadline_minutes = 360;
  int grace_seconds = 900;
  int chronic_days = 3;
  bool json = false;
  bool csv = false;
  std::string output;
  ClockSpec clock;
};

[[noreturn]] void fail(int code, const std::string& message) {
  std::fprintf(stderr, "headendctl: %s\n", message.c_str());
  throw CLI::RuntimeError(code);
}

void add_common_options(CLI::App& cmd, MonitorCliOptions& o) {
  auto* config = cmd.add_option("--config", o.config, "daemon TOML config (the store is its state_dir/headend.db)");
  auto* db = cmd.add_option("--db", o.db, "path of the staging store (instead of --config)");
  config->excludes(db);
  cmd.add_option("--utc-offset-minutes", o.utc_offset_minutes,
                 "the fleet's day for 'today' (default: [monitor] of --config, else UTC+8); each meter's day "
                 "follows its registry offset")
      ->check(CLI::Range(-720, 840));
  cmd.add_option("--deadline-minutes", o.deadline_minutes,
                 "on time = stored before the next day's 00:00 + this (default: [monitor] of --config, else 360)")
      ->check(CLI::Range(0, 7 * 1440));
  cmd.add_option("--grace-seconds", o.grace_seconds,
                 "a boundary counts as expected this long after it passed (default: [monitor] of --config, else 900)")
      ->check(CLI::Range(0, 86400));
  add_clock_options(cmd, o.clock);
}

// With --config, the daemon's [monitor] table gives the KPI day, deadline, grace and chronic
// days unless the command line sets them, so the CLI counts exactly what the daemon's API shows.
void apply_config(MonitorCliOptions& o, CLI::App& cmd) {
  if (!o.db.empty()) return;
  if (o.config.empty()) fail(2, "give --config FILE or --db PATH");
  daemon::DaemonConfig config;
  try {
    config = daemon::load_config(o.config);
  } catch (const std::exception& e) {
    fail(2, e.what());
  }
  o.db = config.database_path().string();
  const auto unset = [&cmd](const char* name) {
    const auto* option = cmd.get_option_no_throw(name);
    return option != nullptr && option->count() == 0;
  };
  if (unset("--utc-offset-minutes")) o.utc_offset_minutes = config.monitor.utc_offset_minutes;
  if (unset("--deadline-minutes")) o.deadline_minutes = config.monitor.deadline_minutes;
  if (unset("--grace-seconds")) o.grace_seconds = config.monitor.grace_seconds;
  if (unset("--chronic-days")) o.chronic_days = config.monitor.chronic_days;
}

std::unique_ptr<storage::KpiQueries> open_store(const MonitorCliOptions& o) {
  const std::filesystem::path path = o.db;
  try {
    return std::make_unique<storage::KpiQueries>(path);
  } catch (const std::exception& e) {
    fail(1, std::string("cannot read the staging store: ") + e.what());
  }
}

storage::LocalDay day_of_options(const MonitorCliOptions& o, UtcSeconds now) {
  if (o.day.empty() || o.day == "today") return storage::day_of(now, o.utc_offset_minutes);
  const auto day = storage::parse_day(o.day);
  if (!day) fail(2, "--day must be YYYY-MM-DD or today, got '" + o.day + "'");
  return *day;
}

void write_out(const MonitorCliOptions& o, const std::string& text) {
  if (o.output.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return;
  }
  std::ofstream out(o.output, std::ios::binary);
  out << text;
  if (!out) fail(1, "cannot write " + o.output);
}

void run_status(const MonitorCliOptions& o) {
  const auto clock = resolve_clock(o.clock);
  const auto now = std::chrono::floor<std::chrono::seconds>(clock.now());
  const auto day = day_of_options(o, now);
  const storage::KpiOptions kpi_options{o.utc_offset_minutes, o.deadline_minutes, o.grace_seconds};
  auto store = open_store(o);
  const auto rows = store->meter_days(day, 1, now, kpi_options);
  const auto chronic = store->consecutive_failed_days(day, o.chronic_days, now, kpi_options);
  const auto totals = monitor::totals_of(rows);
  const auto gateways = monitor::group_by(rows, "gateway");
  if (o.json) {
    auto gw = nlohmann::json::array();
    for (const auto& [key, t] : gateways) {
      gw.push_back({{"gateway", key}, {"status", monitor::gateway_status(t)}, {"totals", monitor::to_json(t)}});
    }
    auto failing = nlohmann::json::array();
    for (const auto& r : rows) {
      if (r.failing()) failing.push_back(monitor::to_json(r));
    }
    nlohmann::json body = {{"day", storage::format_day(day)},  {"as_of", format_utc(now)},
                           {"totals", monitor::to_json(totals)}, {"gateways", gw},
                           {"failing_meters", failing}};
    write_out(o, body.dump(2) + "\n");
    return;
  }
  std::string out = fmt::format("Day {} as of {}: {} meter(s), {} complete, {} failing\n", storage::format_day(day),
                                format_utc(now), totals.meters, totals.meters_complete, totals.meters_failing);
  out += fmt::format("Read success: {} (first attempt {}, after retries {}); on time {}\n",
                     monitor::format_percent(totals.ratio(totals.after_backfill)),
                     monitor::format_percent(totals.ratio(totals.first_attempt)),
                     monitor::format_percent(totals.ratio(totals.after_retries)),
                     monitor::format_percent(totals.ratio(totals.on_time)));
  out += fmt::format("Failed boundaries: {} transport, {} meter\n", totals.boundaries_failed_transport,
                     totals.boundaries_failed_meter);
  out += "\nGATEWAY                        STATUS     METERS  FAILING  READ\n";
  for (const auto& [key, t] : gateways) {
    out += fmt::format("{:<30} {:<10} {:>6}  {:>7}  {}\n", key, monitor::gateway_status(t), t.meters,
                       t.meters_failing, monitor::format_percent(t.ratio(t.after_backfill)));
  }
  out += "\nFAILING METERS\n";
  int listed = 0;
  for (const auto& r : rows) {
    if (!r.failing()) continue;
    out += fmt::format("{:<20} {:<30} {:>4}/{:<4} {}{}\n", r.meter_id, r.gateway, r.after_backfill, r.expected,
                       monitor::main_reason(r),
                       r.last_failure ? "  last: " + format_utc(r.last_failure->boundary) + " " + r.last_failure->detail
                                      : std::string{});
    ++listed;
  }
  if (listed == 0) out += "(none)\n";
  int chronic_count = 0;
  for (const auto& c : chronic) chronic_count += c.second >= o.chronic_days ? 1 : 0;
  out += fmt::format("\nChronic ({} consecutive failed days): {}\n", o.chronic_days, chronic_count);
  write_out(o, out);
}

void run_report(const MonitorCliOptions& o) {
  if (o.day.empty()) fail(2, "report needs --day YYYY-MM-DD");
  const auto clock = resolve_clock(o.clock);
  const auto now = std::chrono::floor<std::chrono::seconds>(clock.now());
  const auto day = day_of_options(o, now);
  auto store = open_store(o);
  const auto rows = store->meter_days(day, 1, now, storage::KpiOptions{o.utc_offset_minutes, o.deadline_minutes, o.grace_seconds});
  write_out(o, o.csv ? monitor::report_csv(rows) : monitor::report_text(rows, storage::format_day(day)));
}

}  // namespace

void add_monitor_commands(CLI::App& app) {
  auto options = std::make_shared<MonitorCliOptions>();

  auto* status = app.add_subcommand("status", "today's read success: fleet, gateways, failing meters and why");
  add_common_options(*status, *options);
  status->add_option("--day", options->day, "YYYY-MM-DD or today (default today)");
  status->add_option("--chronic-days", options->chronic_days, "consecutive failed days that make a meter chronic")
      ->check(CLI::Range(1, 31));
  status->add_flag("--json", options->json, "print JSON instead of text");
  status->callback([options, status] {
    apply_config(*options, *status);
    run_status(*options);
  });

  auto* report = app.add_subcommand("report", "the daily read-success report (one line per meter)");
  add_common_options(*report, *options);
  report->add_option("--day", options->day, "YYYY-MM-DD")->required();
  report->add_flag("--csv", options->csv, "CSV for spreadsheets (default: a text table)");
  report->add_option("--output", options->output, "write to this file instead of stdout");
  report->callback([options, report] {
    apply_config(*options, *report);
    run_report(*options);
  });
}

}  // namespace ami::cli
