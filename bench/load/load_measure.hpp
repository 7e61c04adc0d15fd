// Measuring helpers of the load harness: a process's CPU time and memory from /proc, percentiles,
// the machine's load average, the staging store's size by table (SQLite dbstat).
//
// Threads: any; plain functions. Errors: /proc reads of a process that is gone return zeros (the
// harness samples before it stops the process); store_table_bytes() throws storage::SqliteError.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace ami::load {

struct ProcessSample {
  double cpu_seconds = 0;      // utime + stime (/proc/PID/stat), all threads
  double io_thread_cpu_seconds = 0;  // the main thread's (/proc/PID/task/PID/stat): the daemon's io_context
  std::int64_t rss_kib = 0;    // VmRSS
  std::int64_t peak_kib = 0;   // VmHWM: the resident high-water mark since start
};

ProcessSample sample_process(pid_t pid);

// "1.76 1.23 1.42" (1, 5, 15 minutes).
std::string load_average();

struct Percentiles {
  std::size_t count = 0;
  double p50 = 0;
  double p99 = 0;
  double max = 0;
};

// Nearest-rank percentiles; `values` is sorted in place. count == 0 when empty.
Percentiles percentiles(std::vector<double>& values);

// Bytes per table and index of a SQLite file (dbstat), e.g. {"reads": 81920, "intervals": ...}.
std::map<std::string, std::int64_t> store_table_bytes(const std::filesystem::path& database);

}  // namespace ami::load
