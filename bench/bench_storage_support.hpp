// Helpers shared by the store benchmarks (bench_storage.cpp, bench_vee.cpp): process CPU time and
// a scratch database in $TMPDIR. Header-only; any thread may call them.
#pragma once

#include <time.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace ami::bench {

// CPU seconds of the whole process so far (writer thread + submitting thread): on a shared,
// loaded machine wall time says more about the neighbours than about this code.
inline double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// A database path in the temp directory unique to this process.
inline std::filesystem::path scratch_db_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / (name + "_" + std::to_string(::getpid()) + ".db");
}

// Removes the database and its WAL/SHM companions; missing files are fine.
inline void remove_scratch_db(const std::filesystem::path& path) {
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::error_code ignored;
    std::filesystem::remove(path.string() + suffix, ignored);
  }
}

}  // namespace ami::bench
