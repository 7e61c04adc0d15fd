// Test helper: runs `promtool check metrics` (Debian package `prometheus`) over an exposition text.
// Tests only; throws std::runtime_error when promtool cannot be started.
#pragma once

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

namespace ami::test {

struct PromtoolResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

inline PromtoolResult promtool_check_metrics(const std::string& exposition) {
  const auto file = std::filesystem::temp_directory_path() /
                    ("ami-promtool-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()) + ".prom");
  std::ofstream(file, std::ios::binary) << exposition;
  const std::string command = "promtool check metrics < '" + file.string() + "' 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run promtool (install the Debian package 'prometheus')");
  PromtoolResult result;
  char buffer[512];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  const int status = ::pclose(pipe);
  std::filesystem::remove(file);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (result.exit_code == 127) throw std::runtime_error("promtool not found (install the Debian package 'prometheus')");
  return result;
}

}  // namespace ami::test
