// ami_load: the end-to-end load harness (issue 10, docs/PERFORMANCE.md "End to end").
//
// One scale point per invocation: meter-sim serves N meters behind G gateways, the headend daemon
// collects K intervals on the accelerated clock while FeedProbe consumes the feed, then the bare
// wire client (bare_wire.hpp) sends the same request frames over the same G connections. A
// baseline daemon with one meter gives the memory the fleet adds. --startup-only registers N
// meters (headendctl meters import, timed on its own) and then measures the daemon's start-up time
// and memory without any reads. Prints a table and writes JSON.
// scripts/load.sh builds the executables and runs the scale points.
//
// Exit codes: 0 measured (whatever the figures), 1 a run failed (message on stderr names the
// process and its log file), 2 bad options.
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/load/bare_wire.hpp"
#include "bench/load/feed_probe.hpp"
#include "bench/load/load_measure.hpp"
#include "headend/collection/boundary_read.hpp"
#include "headend/daemon/records.hpp"
#include "protocols/dlt645/frame.hpp"
#include "protocols/modbus/builtin_maps.hpp"
#include "protocols/modbus/pdu.hpp"
#include "protocols/modbus/read_plan.hpp"
#include "storage/registry_csv.hpp"
#include "storage/sqlite.hpp"
#include "tests/support/process.hpp"

namespace ami::load {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using steady = std::chrono::steady_clock;
using json = nlohmann::json;

constexpr const char* kConsumer = "load";
constexpr const char* kConsumerToken = "load-token";
constexpr int kIntervalMinutes = 15;
constexpr int kFirstBoundaryUnix = 1767572100;  // 2026-01-05T00:15:00Z: any aligned boundary will do

class LoadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct LoadOptions {
  std::filesystem::path bin_dir;
  std::filesystem::path work_dir;
  std::string protocol = "dlt645-2007";
  std::string model;
  int meters = 50;
  int gateways = 2;
  int intervals = 1;
  int baud = 0;
  std::int64_t speed = 0;   // 0: chosen from the fleet size
  int spread_seconds = -1;  // -1: 0 at zero latency (saturate), 60 (the daemon default) with baud timing
  int gap_ms = -1;          // -1: 0 at zero latency, 20 (the daemon default) with baud timing
  int feed_batch_size = 1000;  // the daemon's [feed] default
  int feed_window = 4;
  bool baseline = true;
  bool startup_only = false;
  int bare_rounds = 0;  // 0: as many rounds as intervals
  std::filesystem::path json_path;
  std::filesystem::path perf_path;
  std::vector<std::string> daemon_wrapper;  // argv prefix for the measured daemon (e.g. env LD_PRELOAD=...)
  std::uint16_t base_port = 0;  // 0: probe for free ports
};

struct Fleet {
  int gateways = 1;
  int per_gateway = 1;
  [[nodiscard]] int meters() const { return gateways * per_gateway; }
};

bool is_modbus_protocol(const LoadOptions& o) { return o.protocol.rfind("modbus", 0) == 0; }

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool wait_until(const std::function<bool()>& done, milliseconds timeout, milliseconds poll = milliseconds{20}) {
  const auto deadline = steady::now() + timeout;
  while (!done()) {
    if (steady::now() >= deadline) return false;
    std::this_thread::sleep_for(poll);
  }
  return true;
}

// G consecutive TCP ports on 127.0.0.1 that were free a moment ago.
std::uint16_t free_port_block(int count) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    const auto base = ami::test::free_tcp_port();
    if (static_cast<int>(base) + count >= 65535) continue;
    bool all_free = true;
    for (int i = 1; i < count && all_free; ++i) {
      all_free = ami::test::free_tcp_port() == base + i;
    }
    if (all_free) return base;
  }
  throw LoadError(fmt::format("no block of {} free TCP ports found", count));
}

std::vector<std::string> fleet_args(const LoadOptions& o, const Fleet& fleet, std::uint16_t base_port) {
  std::vector<std::string> args = {"--gateways", std::to_string(fleet.gateways), "--meters-per-gateway",
                                   std::to_string(fleet.per_gateway), "--protocol", o.protocol, "--base-port",
                                   std::to_string(base_port), "--seed", "1"};
  if (!o.model.empty()) args = concat(args, {"--model", o.model});
  return args;
}

struct RunClock {
  UtcMillis sim_start{};
  std::int64_t speed = 1;
  std::int64_t anchor_ms = 0;
  [[nodiscard]] Clock clock() const {
    return Clock::accelerated(sim_start, speed, UtcMillis{milliseconds{anchor_ms}});
  }
  [[nodiscard]] std::vector<std::string> args() const {
    return {"--clock", "accelerated", "--clock-start",
            format_utc(std::chrono::floor<seconds>(sim_start)), "--clock-speed", std::to_string(speed),
            "--clock-anchor", std::to_string(anchor_ms)};
  }
  [[nodiscard]] double interval_real_seconds() const {
    return kIntervalMinutes * 60.0 / static_cast<double>(speed);
  }
};

// Simulated seconds per real second such that one interval gives the daemon ample real time
// (cycles should not queue up behind each other); with baud timing one bus's cycle sets it.
std::int64_t choose_speed(const LoadOptions& o, const Fleet& fleet) {
  if (o.speed > 0) return o.speed;
  double interval_real_s = 2.0;
  if (o.baud > 0) {
    // ~100 bytes on the wire per transaction at 11 bits per byte, plus the meter's 40 ms turnaround.
    const double per_read_s = 100.0 * 11.0 / o.baud + 0.04 + std::max(o.gap_ms, 0) / 1000.0;
    interval_real_s = std::max(interval_real_s, 2.0 * per_read_s * fleet.per_gateway);
  } else {
    const double assumed_reads_per_s = is_modbus_protocol(o) ? 500.0 : 1000.0;
    interval_real_s = std::max(interval_real_s, fleet.meters() / assumed_reads_per_s);
  }
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(kIntervalMinutes * 60.0 / interval_real_s));
}

// `csv` empty: the registry is already in the store (no [registry] import_csv).
void write_config(const std::filesystem::path& path, const std::filesystem::path& state, const std::filesystem::path& csv,
                  const LoadOptions& o, std::uint16_t feed_port, bool clock_table) {
  std::ofstream out(path);
  // Meter clock reads (once a day per meter, all of them in a fresh daemon's first cycle) are not
  // the read path measured against the bare wire: off where the daemon has the table.
  if (clock_table) out << "[collection.clock]\nenabled = false\n";
  out << "[daemon]\nid = \"load\"\nstate_dir = \"" << state.string() << "\"\nlog_level = \"info\"\n"
      << (csv.empty() ? std::string{} : "[registry]\nimport_csv = \"" + csv.string() + "\"\n")
      << "[collection]\ninterval_minutes = " << kIntervalMinutes << "\nspread_window_seconds = " << o.spread_seconds
      << "\ninter_frame_gap_ms = " << o.gap_ms << "\nresponse_timeout_ms = 1500\nretries = 2\n"
      << "[feed]\nlisten = \"127.0.0.1:" << feed_port << "\"\nbatch_size = " << o.feed_batch_size
      << "\nmax_unacked_batches = " << o.feed_window << "\n"
      << "[[feed.consumers]]\nname = \"" << kConsumer << "\"\ntoken = \"" << kConsumerToken << "\"\n";
  if (is_modbus_protocol(o)) out << "[modbus]\nboundary_tolerance_seconds = 600\n";
}

struct CycleLine {
  std::int64_t boundary_unix = 0;
  int meters_ok = 0;
  int meters = 0;
  int intervals = 0;
};

// Status lines: "2026-01-05T00:15:00Z cycle  4/4 read (100.0%)  retries 0  failed: -  intervals 8  feed head 24".
std::vector<CycleLine> parse_cycle_lines(const std::string& text) {
  std::vector<CycleLine> cycles;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string when, word, ratio;
    if (!(words >> when >> word) || word != "cycle" || !(words >> ratio)) continue;
    const auto t = parse_utc(when);
    if (!t) continue;
    CycleLine c;
    c.boundary_unix = t->time_since_epoch().count();
    std::sscanf(ratio.c_str(), "%d/%d", &c.meters_ok, &c.meters);
    const auto at = line.find(" intervals ");
    if (at != std::string::npos) c.intervals = std::atoi(line.c_str() + at + 11);
    cycles.push_back(c);
  }
  return cycles;
}

// The log line that says the daemon is ready: registry imported, meters loaded, catch-up planned.
bool daemon_ready(const std::filesystem::path& stderr_file) {
  return read_text(stderr_file).find("scheduler: first boundary") != std::string::npos;
}

// ChildProcess execs a path (no PATH search): find `name` on PATH.
std::filesystem::path program_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const auto candidate = std::filesystem::path(dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  throw LoadError(name + " not found on PATH");
}

void require_running(ami::test::ChildProcess& process, const std::string& what, const std::filesystem::path& log) {
  if (!process.running()) throw LoadError(fmt::format("{} exited early; see {}", what, log.string()));
}

// --- bare wire: the daemon's request frames, built from the same registry ---------------------

std::vector<BareWireConnection> bare_wire_connections(const std::filesystem::path& csv, const LoadOptions& o,
                                                      std::int64_t boundary_unix, int& transactions_per_read) {
  const auto parsed = storage::read_registry_csv_file(csv);
  if (!parsed.ok()) throw LoadError(fmt::format("registry {}: {}", csv.string(), parsed.errors.front().to_string()));
  std::vector<BareWireConnection> connections;
  std::map<std::string, std::size_t> by_channel;
  const auto add_request = [&](const std::string& channel, std::vector<std::uint8_t> frame) {
    auto [it, inserted] = by_channel.try_emplace(channel, connections.size());
    if (inserted) {
      BareWireConnection c;
      const auto host_port = channel.substr(std::string_view("tcp://").size());
      const auto colon = host_port.rfind(':');
      c.host = host_port.substr(0, colon);
      c.port = static_cast<std::uint16_t>(std::stoi(host_port.substr(colon + 1)));
      connections.push_back(std::move(c));
    }
    connections[it->second].requests.push_back(std::move(frame));
  };
  transactions_per_read = 1;
  if (!is_modbus_protocol(o)) {
    std::vector<std::string> skipped;
    for (const auto& t : daemon::to_targets(parsed.meters, skipped)) {
      const collection::BoundaryRequest request{t.address, t.utc_offset_minutes,
                                                UtcSeconds{seconds{boundary_unix}},
                                                std::chrono::minutes{kIntervalMinutes}, 2};
      add_request(t.channel_key, dlt645::encode_frame(collection::make_boundary_request(request)));
    }
    return connections;
  }
  const auto* map = modbus::find_builtin_map(o.model);
  if (map == nullptr) throw LoadError(fmt::format("--model '{}' is not a built-in Modbus map", o.model));
  const auto plan = modbus::plan_reads(*map);
  transactions_per_read = static_cast<int>(plan.size());
  std::uint16_t transaction_id = 0;
  for (const auto& m : parsed.meters) {
    for (const auto& block : plan) {
      // MBAP (transaction, protocol 0, length = unit + PDU) + unit id + read PDU, as libmodbus sends it.
      std::vector<std::uint8_t> frame = {static_cast<std::uint8_t>(transaction_id >> 8U),
                                         static_cast<std::uint8_t>(transaction_id & 0xFFU), 0, 0, 0, 6,
                                         static_cast<std::uint8_t>(std::stoi(m.address))};
      ++transaction_id;
      modbus::append_read_request_pdu(block.function, block.start, block.count, frame);
      add_request(m.channel, std::move(frame));
    }
  }
  return connections;
}

// --- one daemon run ---------------------------------------------------------------------------

struct AttemptFigures {
  std::uint64_t jobs = 0;
  std::uint64_t jobs_ok = 0;
  std::uint64_t attempts = 0;
  double busy_seconds = 0;  // union over cycles of [first attempt start, last attempt end], real time
  std::vector<double> latency_ms;
};

// Scheduled attempts of the measured boundaries, from the store.
AttemptFigures attempt_figures(const std::filesystem::path& database, const std::vector<CycleLine>& cycles,
                               const Clock& clock) {
  AttemptFigures f;
  storage::Database db(database, false, 5000);
  std::vector<std::pair<double, double>> spans;  // real ms since epoch
  for (const auto& c : cycles) {
    std::map<std::string, bool> ok_by_meter;
    double first = 0, last = 0;
    bool any = false;
    auto q = db.query("SELECT meter_id, started_at_ms, latency_ms, outcome FROM attempts "
                      "WHERE boundary = ?1 AND source = 1");
    q->bind(1, c.boundary_unix);
    while (q->step()) {
      const auto started_sim = UtcMillis{milliseconds{q->column_int64(1)}};
      const auto latency = static_cast<double>(q->column_int64(2));
      const double started = static_cast<double>(clock.to_real(started_sim).time_since_epoch().count());
      first = any ? std::min(first, started) : started;
      last = any ? std::max(last, started + latency) : started + latency;
      any = true;
      ++f.attempts;
      f.latency_ms.push_back(latency);
      auto& ok = ok_by_meter[q->column_text(0)];
      ok = ok || q->column_text(3) == "ok";
    }
    f.jobs += ok_by_meter.size();
    for (const auto& [meter, ok] : ok_by_meter) f.jobs_ok += ok ? 1U : 0U;
    if (any) spans.emplace_back(first, last);
  }
  std::sort(spans.begin(), spans.end());
  double covered_until = 0;
  for (const auto& [from, to] : spans) {
    const double start = std::max(from, covered_until);
    if (to > start) f.busy_seconds += (to - start) / 1000.0;
    covered_until = std::max(covered_until, to);
  }
  return f;
}

json percentiles_json(std::vector<double> values) {
  const auto p = percentiles(values);
  if (p.count == 0) return json{{"count", 0}, {"p50", nullptr}, {"p99", nullptr}, {"max", nullptr}};
  return json{{"count", p.count}, {"p50", p.p50}, {"p99", p.p99}, {"max", p.max}};
}

struct PointPlan {
  Fleet fleet;
  int intervals = 1;
  bool bare = false;
  bool startup_only = false;
  std::filesystem::path perf_path;
  std::filesystem::path dir;
  std::vector<std::string> daemon_wrapper;
};

json run_point(const LoadOptions& o, const PointPlan& plan) {
  std::filesystem::remove_all(plan.dir);
  std::filesystem::create_directories(plan.dir);
  const auto bin = o.bin_dir;
  const int meters = plan.fleet.meters();
  const auto base_port = o.base_port != 0 ? o.base_port : free_port_block(plan.fleet.gateways);
  const auto feed_port = ami::test::free_tcp_port();
  const auto csv = plan.dir / "meters.csv";
  {
    ami::test::ChildProcess registry(concat({(bin / "meter-sim").string(), "registry"}, fleet_args(o, plan.fleet, base_port)),
                                     csv, plan.dir / "registry.err");
    if (registry.wait(milliseconds{600'000}) != 0)
      throw LoadError("meter-sim registry failed; see " + (plan.dir / "registry.err").string());
  }
  const auto config = plan.dir / "headend.toml";
  const auto database = plan.dir / "state" / "headend.db";
  // Start-up only: the registry goes in first with headendctl (timed apart), so the daemon's start
  // is measured on its own; otherwise the daemon imports the CSV as it starts.
  std::optional<double> import_s;
  if (plan.startup_only) {
    std::filesystem::create_directories(plan.dir / "state");
    const auto import_started = steady::now();
    ami::test::ChildProcess import({(bin / "headendctl").string(), "meters", "import", "--db", database.string(),
                                    "--csv", csv.string()},
                                   plan.dir / "import.out", plan.dir / "import.err");
    if (import.wait(milliseconds{600'000}) != 0)
      throw LoadError("headendctl meters import failed; see " + (plan.dir / "import.err").string());
    import_s = std::chrono::duration<double>(steady::now() - import_started).count();
  }
  const auto config_csv = plan.startup_only ? std::filesystem::path{} : csv;
  write_config(config, plan.dir / "state", config_csv, o, feed_port, true);
  {
    ami::test::ChildProcess check({(bin / "headend").string(), "--config", config.string(), "--check-config"},
                                  plan.dir / "check.out", plan.dir / "check.err");
    if (check.wait(milliseconds{600'000}) != 0) write_config(config, plan.dir / "state", config_csv, o, feed_port, false);
  }

  // The anchor leaves the simulator time to start (before it, simulated time just reads earlier).
  RunClock run_clock;
  run_clock.anchor_ms = ami::test::unix_ms_now() + (plan.startup_only ? 1000 : 1000 + meters / 20);
  if (plan.startup_only) {
    run_clock.speed = 1;  // the first boundary stays 15 minutes away: no reads
    run_clock.sim_start = UtcMillis{seconds{kFirstBoundaryUnix + 1}};
  } else {
    run_clock.speed = choose_speed(o, plan.fleet);
    // Aim the first boundary at the moment the daemon should be ready (import ~50 us per meter).
    const auto expected_ready_ms = 1500 + meters / 20;
    run_clock.sim_start = std::chrono::floor<seconds>(UtcMillis{seconds{kFirstBoundaryUnix}} -
                                                      milliseconds{expected_ready_ms * run_clock.speed});
  }
  const auto clock = run_clock.clock();

  json result = {{"meters", meters},
                 {"gateways", plan.fleet.gateways},
                 {"meters_per_gateway", plan.fleet.per_gateway},
                 {"protocol", o.protocol},
                 {"model", o.model},
                 {"baud", o.baud},
                 {"clock_speed", run_clock.speed},
                 {"interval_real_seconds", run_clock.interval_real_seconds()},
                 {"spread_window_seconds", o.spread_seconds},
                 {"inter_frame_gap_ms", o.gap_ms},
                 {"feed_batch_size", o.feed_batch_size},
                 {"load_average_before", load_average()}};

  std::optional<ami::test::ChildProcess> sim;
  if (!plan.startup_only) {
    sim.emplace(concat(concat({(bin / "meter-sim").string(), "serve"}, fleet_args(o, plan.fleet, base_port)),
                       concat(run_clock.args(), {"--baud", std::to_string(o.baud)})),
                plan.dir / "meter-sim.out", plan.dir / "meter-sim.err");
    if (!wait_until([&] { return read_text(plan.dir / "meter-sim.out").find("fleet:") != std::string::npos; },
                    milliseconds{120'000}))
      throw LoadError("meter-sim did not start; see " + (plan.dir / "meter-sim.err").string());
  }

  const auto daemon_out = plan.dir / "headend.out";
  const auto daemon_err = plan.dir / "headend.err";
  const auto started = steady::now();
  ami::test::ChildProcess daemon(
      concat(plan.daemon_wrapper, concat({(bin / "headend").string(), "--config", config.string()}, run_clock.args())),
      daemon_out, daemon_err);
  if (!wait_until(
          [&] {
            require_running(daemon, "headend", daemon_err);
            return daemon_ready(daemon_err);
          },
          milliseconds{600'000}, milliseconds{10}))
    throw LoadError("headend not ready after 600 s; see " + daemon_err.string());
  const double startup_s = std::chrono::duration<double>(steady::now() - started).count();
  const auto at_ready = sample_process(daemon.pid());
  const auto sim_at_ready = sim ? sample_process(sim->pid()) : ProcessSample{};
  result["startup_seconds"] = startup_s;
  result["rss_kib_at_ready"] = at_ready.rss_kib;

  if (plan.startup_only) {
    if (import_s) result["import_seconds"] = *import_s;
    result["peak_kib"] = at_ready.peak_kib;
    result["cpu_seconds_to_ready"] = at_ready.cpu_seconds;
    daemon.stop(seconds{60});
    result["load_average_after"] = load_average();
    return result;
  }

  FeedProbe probe("127.0.0.1", feed_port, kConsumer, kConsumerToken, clock);
  probe.start();
  std::optional<ami::test::ChildProcess> perf;
  if (!plan.perf_path.empty()) {
    perf.emplace(std::vector<std::string>{program_on_path("perf").string(), "record", "-F", "499", "-g", "-p", std::to_string(daemon.pid()), "-o",
                                          plan.perf_path.string()},
                 plan.dir / "perf.out", plan.dir / "perf.err");
  }

  // K cycle lines on the daemon's stdout (printed after the store committed each cycle).
  const auto cycle_timeout = milliseconds{static_cast<std::int64_t>(
      (plan.intervals + 3) * run_clock.interval_real_seconds() * 1000 + meters * 5 + 60'000)};
  std::vector<CycleLine> cycles;
  if (!wait_until(
          [&] {
            require_running(daemon, "headend", daemon_err);
            cycles = parse_cycle_lines(read_text(daemon_out));
            return static_cast<int>(cycles.size()) >= plan.intervals;
          },
          cycle_timeout, milliseconds{50}))
    throw LoadError(fmt::format("headend printed {} of {} cycle lines in time; see {}", cycles.size(), plan.intervals,
                                daemon_out.string()));
  cycles.resize(static_cast<std::size_t>(plan.intervals));
  std::vector<std::int64_t> ends;
  std::uint64_t expected_intervals = 0;
  for (const auto& c : cycles) {
    ends.push_back(c.boundary_unix);
    expected_intervals += static_cast<std::uint64_t>(c.intervals);
  }
  const bool all_arrived = wait_until([&] { return probe.received_for(ends) >= expected_intervals; },
                                      milliseconds{60'000 + meters}, milliseconds{20});
  const auto at_end = sample_process(daemon.pid());
  const auto sim_at_end = sim ? sample_process(sim->pid()) : ProcessSample{};
  if (perf) {
    perf->signal(SIGINT);
    perf->wait(milliseconds{120'000});
  }
  probe.stop();
  result["load_average_after"] = load_average();
  result["feed_complete"] = all_arrived;
  result["feed_consumer_errors"] = probe.errors();
  if (probe.errors() > 0) result["feed_consumer_last_error"] = probe.last_error();
  const int stopped = daemon.stop(seconds{120});
  if (stopped != 0) throw LoadError(fmt::format("headend exited {} on SIGTERM; see {}", stopped, daemon_err.string()));

  const auto attempts = attempt_figures(database, cycles, clock);
  const double cpu = at_end.cpu_seconds - at_ready.cpu_seconds;
  const double io_cpu = at_end.io_thread_cpu_seconds - at_ready.io_thread_cpu_seconds;
  result["cycles"] = json::array();
  for (const auto& c : cycles)
    result["cycles"].push_back({{"boundary", format_utc(UtcSeconds{seconds{c.boundary_unix}})},
                                {"meters_ok", c.meters_ok},
                                {"meters", c.meters},
                                {"intervals", c.intervals}});
  result["reads_scheduled"] = static_cast<std::uint64_t>(meters) * static_cast<std::uint64_t>(plan.intervals);
  result["reads_ok"] = attempts.jobs_ok;
  result["attempts"] = attempts.attempts;
  result["read_success"] =
      static_cast<double>(attempts.jobs_ok) / static_cast<double>(meters * static_cast<std::int64_t>(plan.intervals));
  result["busy_seconds"] = attempts.busy_seconds;
  const double reads_per_s =
      attempts.busy_seconds > 0 ? static_cast<double>(attempts.jobs_ok) / attempts.busy_seconds : 0.0;
  result["reads_per_second"] = reads_per_s;
  result["daemon_cpu_seconds"] = cpu;
  result["cpu_seconds_per_1000_reads"] =
      attempts.jobs_ok > 0 ? cpu * 1000.0 / static_cast<double>(attempts.jobs_ok) : 0.0;
  result["io_thread_cpu_seconds"] = io_cpu;  // the daemon's main thread runs its io_context
  result["io_thread_cpu_seconds_per_1000_reads"] =
      attempts.jobs_ok > 0 ? io_cpu * 1000.0 / static_cast<double>(attempts.jobs_ok) : 0.0;
  // The simulator's share of the same span: what each reply costs the shared cores (the budget
  // arithmetic under "bare_wire" uses it).
  result["simulator_cpu_us_per_read"] =
      attempts.jobs_ok > 0 ? (sim_at_end.cpu_seconds - sim_at_ready.cpu_seconds) * 1e6 /
                                 static_cast<double>(attempts.jobs_ok)
                           : 0.0;
  result["rss_kib_at_end"] = at_end.rss_kib;
  result["peak_kib"] = at_end.peak_kib;
  result["transaction_latency_ms"] = percentiles_json(attempts.latency_ms);
  result["intervals_expected"] = expected_intervals;
  result["intervals_received"] = probe.received_for(ends);
  result["interval_to_feed_ms"] = percentiles_json(probe.latencies_for(ends));

  const auto tables = store_table_bytes(database);
  std::int64_t total = 0, registry = 0;
  for (const auto& [name, bytes] : tables) {
    total += bytes;
    if (name == "meters" || name.rfind("sqlite_autoindex_meters", 0) == 0 || name == "sqlite_schema") registry += bytes;
  }
  const double meter_days = meters * plan.intervals * kIntervalMinutes / 1440.0;
  result["sqlite_bytes"] = total;
  result["sqlite_registry_bytes"] = registry;
  result["sqlite_tables"] = tables;
  result["sqlite_bytes_per_meter_day"] = static_cast<double>(total - registry) / meter_days;

  if (plan.bare) {
    BareWireOptions bare_options;
    bare_options.framing = is_modbus_protocol(o) ? WireFraming::modbus_tcp : WireFraming::dlt645;
    bare_options.rounds = o.bare_rounds > 0 ? o.bare_rounds : plan.intervals;
    bare_options.gap = milliseconds{o.gap_ms};
    int transactions_per_read = 1;
    const auto connections = bare_wire_connections(csv, o, cycles.front().boundary_unix, transactions_per_read);
    const auto sim_before = sim ? sample_process(sim->pid()) : ProcessSample{};
    const auto self_before = sample_process(getpid());
    const auto bare = run_bare_wire(connections, bare_options);
    const auto sim_after = sim ? sample_process(sim->pid()) : ProcessSample{};
    const auto self_after = sample_process(getpid());
    std::vector<double> latency_ms;
    for (const auto us : bare.latency_us) latency_ms.push_back(us / 1000.0);
    const double bare_reads = static_cast<double>(bare.replies) / transactions_per_read;
    const double bare_rate = bare.seconds > 0 ? bare_reads / bare.seconds : 0.0;
    result["bare_wire"] = {{"connections", connections.size()},
                           {"transactions", bare.transactions},
                           {"replies", bare.replies},
                           {"transactions_per_read", transactions_per_read},
                           {"seconds", bare.seconds},
                           {"reads_per_second", bare_rate},
                           {"transaction_latency_ms", percentiles_json(latency_ms)}};
    if (bare_reads > 0) {
      // CPU per read on each side of the bare wire (the harness process is the bare client: its
      // FeedProbe is stopped by now).
      const double sim_us = (sim_after.cpu_seconds - sim_before.cpu_seconds) * 1e6 / bare_reads;
      const double client_us = (self_after.cpu_seconds - self_before.cpu_seconds) * 1e6 / bare_reads;
      result["bare_wire"]["simulator_cpu_us_per_read"] = sim_us;
      result["bare_wire"]["client_cpu_us_per_read"] = client_us;
      // What 60 % of the bare wire leaves the daemon, if the cores were the only limit: all of
      // them at 0.6 x the bare rate, minus the simulator's cost per reply.
      const double cores = std::max(1U, std::thread::hardware_concurrency());
      if (bare_rate > 0)
        result["daemon_cpu_budget_us_per_read_at_60pct"] = cores * 1e6 / (0.6 * bare_rate) - sim_us;
    }
    result["ratio_to_bare_wire"] = bare_rate > 0 ? reads_per_s / bare_rate : 0.0;
  }
  if (sim) sim->stop(seconds{30});
  return result;
}

// --- output -----------------------------------------------------------------------------------

std::string figure(const json& value, const char* format = "{:.3g}") {
  if (value.is_null()) return "-";
  if (value.is_number_float()) return fmt::format(fmt::runtime(format), value.get<double>());
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

void print_table(const json& report) {
  const auto& run = report["run"];
  std::vector<std::pair<std::string, std::string>> rows;
  const auto add = [&](std::string name, std::string value) { rows.emplace_back(std::move(name), std::move(value)); };
  add("fleet", fmt::format("{} meters, {} gateways, {}", figure(run["meters"]), figure(run["gateways"]),
                           figure(run["protocol"])));
  add("load average before / after", figure(run["load_average_before"]) + " / " + figure(run["load_average_after"]));
  add("daemon start (s)", figure(run["startup_seconds"], "{:.2f}"));
  if (run.contains("import_seconds")) add("registry import before start (s)", figure(run["import_seconds"], "{:.2f}"));
  if (run.contains("reads_ok")) {
    add("clock speed (interval real s)", fmt::format("{} ({:.2f})", figure(run["clock_speed"]),
                                                     run["interval_real_seconds"].get<double>()));
    add("read success", fmt::format("{:.2f}% ({}/{})", 100.0 * run["read_success"].get<double>(),
                                    figure(run["reads_ok"]), figure(run["reads_scheduled"])));
    add("reads/s", figure(run["reads_per_second"], "{:.0f}"));
    if (run.contains("bare_wire"))
      add("bare wire reads/s (daemon ratio)", fmt::format("{:.0f} ({:.0f}%)",
                                                          run["bare_wire"]["reads_per_second"].get<double>(),
                                                          100.0 * run["ratio_to_bare_wire"].get<double>()));
    add("daemon CPU s per 1,000 reads", figure(run["cpu_seconds_per_1000_reads"], "{:.3f}"));
    if (run.contains("io_thread_cpu_seconds_per_1000_reads"))
      add("  of which the io thread", figure(run["io_thread_cpu_seconds_per_1000_reads"], "{:.3f}"));
    if (run.contains("daemon_cpu_budget_us_per_read_at_60pct"))
      add("  budget at 60% of the bare wire (us per read)",
          figure(run["daemon_cpu_budget_us_per_read_at_60pct"], "{:.1f}"));
    if (run.contains("simulator_cpu_us_per_read") && run.contains("bare_wire") &&
        run["bare_wire"].contains("simulator_cpu_us_per_read"))
      add("simulator CPU us per read (daemon run / bare wire)",
          figure(run["simulator_cpu_us_per_read"], "{:.1f}") + " / " +
              figure(run["bare_wire"]["simulator_cpu_us_per_read"], "{:.1f}"));
    add("transaction latency p50 / p99 (ms)", figure(run["transaction_latency_ms"]["p50"]) + " / " +
                                                  figure(run["transaction_latency_ms"]["p99"]));
    add("interval-to-feed p50 / p99 / max (ms)", figure(run["interval_to_feed_ms"]["p50"], "{:.0f}") + " / " +
                                                     figure(run["interval_to_feed_ms"]["p99"], "{:.0f}") + " / " +
                                                     figure(run["interval_to_feed_ms"]["max"], "{:.0f}"));
    add("intervals received / expected (consumer reconnects)",
        fmt::format("{} / {} ({})", figure(run["intervals_received"]), figure(run["intervals_expected"]),
                    figure(run["feed_consumer_errors"])));
    add("SQLite bytes per meter-day", figure(run["sqlite_bytes_per_meter_day"], "{:.0f}"));
  }
  add("daemon peak RSS (KiB)", figure(run["peak_kib"]));
  if (report.contains("bytes_per_meter")) add("memory per meter beyond baseline (B)", figure(report["bytes_per_meter"], "{:.0f}"));
  std::size_t width = 0;
  for (const auto& [name, value] : rows) width = std::max(width, name.size());
  std::cout << fmt::format("| {:<{}} | value |\n|{:-<{}}|---|\n", "figure", width, "", width + 2);
  for (const auto& [name, value] : rows) std::cout << fmt::format("| {:<{}} | {} |\n", name, width, value);
}

int run(const LoadOptions& o) {
  const Fleet fleet{o.gateways, o.meters / o.gateways};
  json report;
  report["command"] = "ami_load";
  report["run"] = run_point(o, PointPlan{fleet, o.intervals, !o.startup_only, o.startup_only, o.perf_path,
                                         o.work_dir / "run", o.daemon_wrapper});
  if (o.baseline) {
    // The same daemon with one meter: what the fleet adds is the difference.
    report["baseline"] = run_point(o, PointPlan{Fleet{1, 1}, 1, false, o.startup_only, {}, o.work_dir / "baseline", {}});
    const auto fleet_kib = report["run"]["peak_kib"].get<std::int64_t>();
    const auto base_kib = report["baseline"]["peak_kib"].get<std::int64_t>();
    report["bytes_per_meter"] =
        fleet.meters() > 1 ? static_cast<double>(fleet_kib - base_kib) * 1024.0 / (fleet.meters() - 1) : 0.0;
  }
  print_table(report);
  if (!o.json_path.empty()) std::ofstream(o.json_path) << report.dump(2) << '\n';
  return 0;
}

}  // namespace
}  // namespace ami::load

int main(int argc, char** argv) {
  ami::load::LoadOptions o;
  CLI::App app{"ami_load: end-to-end load harness (meter-sim + headend + feed consumer + bare wire)"};
  app.add_option("--bin", o.bin_dir, "directory with meter-sim and headend")->required()->check(CLI::ExistingDirectory);
  app.add_option("--work", o.work_dir, "scratch directory (emptied per run)")->required();
  app.add_option("--protocol", o.protocol, "dlt645-2007 or modbus-tcp")->check(CLI::IsMember({"dlt645-2007", "modbus-tcp"}));
  app.add_option("--model", o.model, "Modbus map (default SDM630)");
  app.add_option("--meters", o.meters, "meters in total (a multiple of --gateways)")->check(CLI::Range(1, 10'000'000));
  app.add_option("--gateways", o.gateways, "gateways (one TCP connection each)")->check(CLI::Range(1, 2000));
  app.add_option("--intervals", o.intervals, "cycles to measure")->check(CLI::Range(1, 96));
  app.add_option("--baud", o.baud, "simulator wire timing (0 = zero latency)")->check(CLI::Range(0, 115200));
  app.add_option("--speed", o.speed, "clock speed (0 = from the fleet size)")->check(CLI::Range(0, 1'000'000));
  app.add_option("--spread-seconds", o.spread_seconds, "daemon spread window (-1 = 0 at zero latency, else 60)");
  app.add_option("--gap-ms", o.gap_ms, "daemon inter-frame gap (-1 = 0 at zero latency, else 20)");
  app.add_option("--feed-batch-size", o.feed_batch_size, "daemon [feed] batch_size")->check(CLI::Range(1, 10000));
  app.add_option("--feed-window", o.feed_window, "daemon [feed] max_unacked_batches")->check(CLI::Range(1, 1024));
  app.add_option("--bare-rounds", o.bare_rounds, "bare-wire rounds over the fleet (0 = --intervals)");
  app.add_flag("!--no-baseline", o.baseline, "skip the one-meter baseline daemon");
  app.add_flag("--startup-only", o.startup_only, "register the meters, measure start-up time and memory, no reads");
  app.add_option("--json", o.json_path, "write the report as JSON here");
  app.add_option("--perf", o.perf_path, "perf record the daemon during the measured cycles into this file");
  std::string wrapper;
  app.add_option("--daemon-wrapper", wrapper,
                 "words put before the measured daemon's command, split at spaces; the first is an absolute path "
                 "that execs the daemon (its pid is sampled), e.g. \"/usr/bin/env LD_PRELOAD=... \"");
  app.add_option("--base-port", o.base_port, "first gateway port (0 = find free ports)");
  CLI11_PARSE(app, argc, argv);
  {
    std::istringstream words(wrapper);
    for (std::string word; words >> word;) o.daemon_wrapper.push_back(word);
  }
  if (o.meters % o.gateways != 0) {
    std::fprintf(stderr, "ami_load: --meters %d is not a multiple of --gateways %d\n", o.meters, o.gateways);
    return 2;
  }
  const bool modbus = ami::load::is_modbus_protocol(o);
  const int per_gateway = o.meters / o.gateways;
  if (per_gateway > (modbus ? 247 : 9999)) {
    std::fprintf(stderr, "ami_load: %d meters per gateway is more than a %s bus takes (%d)\n", per_gateway,
                 o.protocol.c_str(), modbus ? 247 : 9999);
    return 2;
  }
  if (modbus && o.model.empty()) o.model = "SDM630";
  // The daemon resolves config paths against the config file's directory: hand it absolute ones.
  o.work_dir = std::filesystem::absolute(o.work_dir);
  o.bin_dir = std::filesystem::absolute(o.bin_dir);
  if (o.spread_seconds < 0) o.spread_seconds = o.baud > 0 ? 60 : 0;
  if (o.gap_ms < 0) o.gap_ms = o.baud > 0 ? 20 : 0;
  try {
    return ami::load::run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ami_load: %s\n", e.what());
    return 1;
  }
}
