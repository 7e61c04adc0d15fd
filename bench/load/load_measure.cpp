#include "bench/load/load_measure.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "storage/sqlite.hpp"

namespace ami::load {
namespace {

constexpr int kStatUtimeField = 14;  // 1-based field numbers of /proc/PID/stat (proc(5))
constexpr int kStatStimeField = 15;

std::int64_t status_kib(const std::string& status, std::string_view key) {
  const auto at = status.find(key);
  if (at == std::string::npos) return 0;
  return std::strtoll(status.c_str() + at + key.size(), nullptr, 10);
}

// utime + stime of a /proc stat file (a process's or one thread's), in seconds.
double stat_cpu_seconds(const std::string& path) {
  std::ifstream stat_file(path);
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int n = 3; fields >> field && n <= kStatStimeField; ++n) {
    if (n == kStatUtimeField || n == kStatStimeField) ticks += std::strtod(field.c_str(), nullptr);
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace

ProcessSample sample_process(pid_t pid) {
  ProcessSample sample;
  const auto dir = "/proc/" + std::to_string(pid);
  sample.cpu_seconds = stat_cpu_seconds(dir + "/stat");
  sample.io_thread_cpu_seconds = stat_cpu_seconds(dir + "/task/" + std::to_string(pid) + "/stat");
  std::ifstream status_file(dir + "/status");
  const std::string status((std::istreambuf_iterator<char>(status_file)), std::istreambuf_iterator<char>());
  sample.rss_kib = status_kib(status, "VmRSS:");
  sample.peak_kib = status_kib(status, "VmHWM:");
  return sample;
}

std::string load_average() {
  std::ifstream file("/proc/loadavg");
  std::string one, five, fifteen;
  file >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

Percentiles percentiles(std::vector<double>& values) {
  Percentiles p;
  p.count = values.size();
  if (values.empty()) return p;
  std::sort(values.begin(), values.end());
  const auto rank = [&](double q) {
    const auto index = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
    return values[std::clamp<std::size_t>(index, 1, values.size()) - 1];
  };
  p.p50 = rank(0.50);
  p.p99 = rank(0.99);
  p.max = values.back();
  return p;
}

std::map<std::string, std::int64_t> store_table_bytes(const std::filesystem::path& database) {
  storage::Database db(database, false, 5000);
  std::map<std::string, std::int64_t> bytes;
  auto q = db.query("SELECT name, sum(pgsize) FROM dbstat GROUP BY name");
  while (q->step()) bytes[q->column_text(0)] = q->column_int64(1);
  return bytes;
}

}  // namespace ami::load
