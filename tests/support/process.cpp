#include "tests/support/process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace ami::test {

std::filesystem::path bin_dir() { return AMI_BIN_DIR; }
std::filesystem::path source_dir() { return AMI_SOURCE_DIR; }

std::filesystem::path fresh_temp_dir(const std::string& name) {
  auto dir = std::filesystem::path(AMI_TEST_TMP_DIR) / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

unsigned short free_tcp_port() {
  // Ports from the kernel's ephemeral range can be taken again by the time we bind; pick from a
  // band below it and probe instead.
  static std::atomic<unsigned> next{20000u + static_cast<unsigned>(::getpid() % 2000) * 10u};
  for (int tries = 0; tries < 2000; ++tries) {
    const auto port = static_cast<unsigned short>(next.fetch_add(1) % 12000u + 20000u);
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) break;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (ok) return port;
  }
  throw std::runtime_error("no free TCP port found");
}

bool wait_for_port(unsigned short port, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (ok) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  return false;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

ChildProcess::ChildProcess(std::vector<std::string> argv, std::filesystem::path stdout_file,
                           std::filesystem::path stderr_file) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    const int out = ::open(stdout_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out >= 0) ::dup2(out, 1);
    if (err >= 0) ::dup2(err, 2);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exited_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

bool ChildProcess::running() {
  if (exited_) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exited_ = true;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

void ChildProcess::signal(int sig) {
  if (!exited_) ::kill(pid_, sig);
}

int ChildProcess::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  return exit_code_;
}

int ChildProcess::stop(std::chrono::milliseconds grace) {
  signal(SIGTERM);
  const int code = wait(grace);
  if (code != -1) return code;
  signal(SIGKILL);
  return wait(std::chrono::seconds{5});
}

std::string run_and_capture(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  static std::atomic<int> counter{0};
  const auto dir = std::filesystem::path(AMI_TEST_TMP_DIR) / "capture";
  std::filesystem::create_directories(dir);
  const auto base = dir / (std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1)));
  ChildProcess child(argv, base.string() + ".out", base.string() + ".err");
  const int code = child.wait(timeout);
  auto out = read_file(base.string() + ".out");
  if (code != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += a + " ";
    throw std::runtime_error("command failed (" + std::to_string(code) + "): " + cmd + "\n" +
                             read_file(base.string() + ".err"));
  }
  return out;
}

}  // namespace ami::test
