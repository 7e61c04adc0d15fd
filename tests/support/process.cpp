#include "tests/support/process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace ami::test {

std::filesystem::path bin_dir() { return AMI_BIN_DIR; }
std::filesystem::path source_dir() { return AMI_SOURCE_DIR; }

namespace {

bool process_alive(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

// "<name>.<pid>" -> pid, or -1 when `entry` is not a directory name of that form.
pid_t owner_of(const std::string& entry, const std::string& name) {
  if (entry.size() <= name.size() + 1 || entry.compare(0, name.size(), name) != 0 || entry[name.size()] != '.')
    return -1;
  const auto digits = entry.substr(name.size() + 1);
  if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) return -1;
  return static_cast<pid_t>(std::stol(digits));
}

}  // namespace

std::filesystem::path fresh_temp_dir(const std::string& name) {
  const auto root = std::filesystem::path(AMI_TEST_TMP_DIR);
  std::filesystem::create_directories(root);
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    const auto owner = owner_of(entry.path().filename().string(), name);
    if (owner > 0 && owner != ::getpid() && !process_alive(owner)) {
      std::error_code ignored;  // a parallel test may be removing it too
      std::filesystem::remove_all(entry.path(), ignored);
    }
  }
  auto dir = root / (name + "." + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

namespace {

constexpr unsigned kPortBase = 20000;
constexpr unsigned kPortSpan = 12000;  // below Linux's ephemeral range (32768-60999)

// Takes /tmp/ami-test-ports/<port> for this process unless a live process holds it.
bool reserve_port(unsigned short port) {
  static const std::filesystem::path dir = [] {
    std::filesystem::path d = "/tmp/ami-test-ports";
    std::filesystem::create_directories(d);
    return d;
  }();
  const auto file = dir / std::to_string(port);
  for (int attempt = 0; attempt < 2; ++attempt) {
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0666);
    if (fd >= 0) {
      const auto pid = std::to_string(::getpid());
      const bool written = ::write(fd, pid.data(), pid.size()) == static_cast<ssize_t>(pid.size());
      ::close(fd);
      return written;
    }
    if (errno != EEXIST) return false;
    const auto holder = read_file(file);
    const bool numeric = !holder.empty() && holder.find_first_not_of("0123456789") == std::string::npos;
    // A file being written this instant reads empty: leave it to its writer.
    if (!numeric || holder.size() > 9 || process_alive(static_cast<pid_t>(std::stol(holder)))) return false;
    ::unlink(file.c_str());  // stale: its process is gone
  }
  return false;
}

sockaddr_in loopback(unsigned short port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

bool bindable(unsigned short port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  auto addr = loopback(port);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

unsigned short free_tcp_ports(int count) {
  if (count < 1) throw std::invalid_argument("free_tcp_ports: count must be positive");
  // Each process starts at its own place in the band, so parallel tests rarely probe the same ports.
  static unsigned next = (static_cast<unsigned>(::getpid()) * 37u) % kPortSpan;
  for (int tries = 0; tries < 4000; ++tries) {
    const auto first = next % kPortSpan;
    next = first + static_cast<unsigned>(count);
    if (first + static_cast<unsigned>(count) > kPortSpan) continue;  // wraps: start again at the bottom
    bool all = true;
    for (int i = 0; i < count && all; ++i) {
      const auto port = static_cast<unsigned short>(kPortBase + first + static_cast<unsigned>(i));
      all = reserve_port(port) && bindable(port);
    }
    if (all) return static_cast<unsigned short>(kPortBase + first);
  }
  throw std::runtime_error("no " + std::to_string(count) + " free consecutive TCP port(s) found in " +
                           std::to_string(kPortBase) + ".." + std::to_string(kPortBase + kPortSpan - 1));
}

unsigned short free_tcp_port() { return free_tcp_ports(1); }

bool wait_for_port(unsigned short port, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    auto addr = loopback(port);
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
