// Test support: run the project's real executables as child processes.
// Owned by one test; not thread-safe. Failures to start throw std::runtime_error (tests only).
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <sys/types.h>

namespace ami::test {

std::filesystem::path bin_dir();                    // build/<preset>/bin
std::filesystem::path source_dir();
// A fresh, empty directory under the build tree's test-tmp/: `name`.<pid>, private to this process
// (ctest runs test cases in parallel, and two cases may pass the same name). Directories of the
// same name left by processes that are gone are removed.
std::filesystem::path fresh_temp_dir(const std::string& name);
// A TCP port on 127.0.0.1 that was free a moment ago and is reserved for this process: no other
// test process on the machine gets it from here while this one lives (lock files in
// /tmp/ami-test-ports/, stale ones of dead processes reclaimed). Throws when none is found.
unsigned short free_tcp_port();
// The first of `count` consecutive such ports (meter-sim numbers gateways on from a base port).
unsigned short free_tcp_ports(int count);
// Polls until something accepts on 127.0.0.1:port, or the timeout passes.
bool wait_for_port(unsigned short port, std::chrono::milliseconds timeout);
std::string read_file(const std::filesystem::path& path);
std::int64_t unix_ms_now();

class ChildProcess {
 public:
  // argv[0] is a program path; stdout and stderr go to the given files.
  ChildProcess(std::vector<std::string> argv, std::filesystem::path stdout_file, std::filesystem::path stderr_file);
  ~ChildProcess();  // SIGKILL if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] bool running();
  void signal(int sig);
  // Waits for exit; returns the exit code (128+signal when killed), or -1 on timeout.
  int wait(std::chrono::milliseconds timeout);
  // SIGTERM then wait; SIGKILL after the grace period.
  int stop(std::chrono::milliseconds grace = std::chrono::seconds{10});

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
};

// Runs a command to completion and returns its stdout; throws if it exits non-zero.
std::string run_and_capture(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = std::chrono::seconds{60});

}  // namespace ami::test
