// modbus-load: drives the daemon's Modbus path (Executor -> Link -> read_meter -> normalise) at
// full speed against real gateways, and reports points per second and this process's CPU time
// per 100,000 points. Used for docs/PERFORMANCE.md against `meter-sim serve --protocol modbus-tcp
// --baud 0` (zero latency).
//
//   modbus-load --channel tcp://127.0.0.1:16500 [--channel ...] --units 1-30 --model SDM630
//               --workers 2 --rounds 200 [--protocol modbus-tcp] [--timeout-ms 1000]
//
// Prints one JSON line: points, reads, failures, wall_s, cpu_s, points_per_s, cpu_s_per_100k_points.
#include <sys/resource.h>

#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "headend/modbus/executor.hpp"
#include "headend/modbus/map_config.hpp"

namespace {

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"modbus-load: Modbus read throughput of the head-end's Modbus path"};
  std::vector<std::string> channels;
  std::string protocol = "modbus-tcp";
  std::string units_text = "1-10";
  std::string model = "SDM630";
  std::size_t workers = 2;
  int rounds = 100;
  int timeout_ms = 1000;
  app.add_option("--channel", channels, "gateway channel, e.g. tcp://127.0.0.1:16500 (repeatable)")->required();
  app.add_option("--protocol", protocol, "modbus-tcp | modbus-rtu-over-tcp | modbus-rtu");
  app.add_option("--units", units_text, "unit ids on every channel, FIRST-LAST");
  app.add_option("--model", model, "built-in model");
  app.add_option("--workers", workers, "executor worker threads");
  app.add_option("--rounds", rounds, "reads per meter");
  app.add_option("--timeout-ms", timeout_ms, "response timeout");
  CLI11_PARSE(app, argc, argv);

  const auto dash = units_text.find('-');
  const int first_unit = std::stoi(units_text.substr(0, dash));
  const int last_unit = dash == std::string::npos ? first_unit : std::stoi(units_text.substr(dash + 1));
  const ami::modbus::RegisterMap* map = ami::modbus::find_map({}, model);
  if (map == nullptr || first_unit < 1 || last_unit > 247 || last_unit < first_unit) {
    std::cerr << "modbus-load: unknown model '" << model << "' or bad --units '" << units_text << "'\n";
    return 2;
  }
  std::vector<ami::modbus::ChannelSpec> specs;
  for (const auto& text : channels) {
    std::string error;
    auto spec = ami::modbus::parse_channel(protocol, text, error);
    if (!spec) {
      std::cerr << "modbus-load: " << error << "\n";
      return 2;
    }
    specs.push_back(*spec);
  }

  const long total = static_cast<long>(specs.size()) * (last_unit - first_unit + 1) * rounds;
  std::atomic<long> remaining{total};
  std::atomic<long> points{0};
  std::atomic<long> failures{0};
  std::promise<void> done;
  std::map<std::string, long> failure_kinds;
  std::mutex failure_mutex;

  ami::modbus::ExecutorOptions options;
  options.workers = workers;
  options.max_queued = static_cast<std::size_t>(total) + 1;
  options.link.response_timeout = std::chrono::milliseconds(timeout_ms);
  const double cpu_start = cpu_seconds();
  const auto wall_start = std::chrono::steady_clock::now();
  {
    ami::modbus::Executor executor(options);
    // Round-major order: every meter once, then again; the executor serialises per channel.
    for (int round = 0; round < rounds; ++round) {
      for (int unit = first_unit; unit <= last_unit; ++unit) {
        for (const auto& spec : specs) {
          ami::modbus::MeterRequest request{"", static_cast<std::uint8_t>(unit), map, 1, 1};
          executor.submit(spec, request, [&](ami::modbus::MeterReadResult r) {
            if (r.outcome == ami::modbus::MeterOutcome::ok) {
              points += static_cast<long>(r.readings.size());
            } else {
              ++failures;
              std::lock_guard lock(failure_mutex);
              ++failure_kinds[std::string(to_string(r.outcome)) + ": " + r.detail];
            }
            if (--remaining == 0) done.set_value();
          });
        }
      }
    }
    done.get_future().wait();
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  const double cpu = cpu_seconds() - cpu_start;
  const double pts = static_cast<double>(points.load());
  std::printf(
      "{\"points\": %ld, \"reads\": %ld, \"failures\": %ld, \"wall_s\": %.3f, \"cpu_s\": %.3f, "
      "\"points_per_s\": %.0f, \"cpu_s_per_100k_points\": %.3f, \"workers\": %zu, \"channels\": %zu}\n",
      points.load(), total, failures.load(), wall, cpu, pts / wall, pts > 0 ? cpu / pts * 100000.0 : 0.0, workers,
      specs.size());
  for (const auto& [kind, n] : failure_kinds) std::fprintf(stderr, "failure x%ld: %s\n", n, kind.c_str());
  return failures.load() == 0 ? 0 : 1;
}
