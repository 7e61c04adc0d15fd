// headend: the AMI head-end daemon. `headend --config FILE [--check-config] [clock options]`.
// Exit codes: 0 clean shutdown (or config OK), 1 runtime failure, 2 bad config/registry/usage,
// 3 other start-up failure (database, feed listen address). Logs go to stderr, status lines to stdout.
#include <cstdio>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "headend/config/daemon_config.hpp"
#include "headend/daemon/daemon.hpp"
#include "headend/runtime/clock_options.hpp"

int main(int argc, char** argv) {
  CLI::App app{"headend: AMI head-end daemon (collects meters, stores readings, publishes the billing feed)"};
  std::string config_path;
  bool check_only = false;
  ami::ClockSpec clock_spec;
  app.add_option("--config", config_path, "TOML configuration file (docs/CONFIG.md)")->required();
  app.add_flag("--check-config", check_only, "validate the configuration, print a summary and exit");
  ami::add_clock_options(app, clock_spec);
  try {
    app.parse(argc, argv);
    ami::daemon::DaemonConfig config;
    try {
      config = ami::daemon::load_config(config_path);
    } catch (const ami::daemon::ConfigError& e) {
      std::fprintf(stderr, "headend: %s\n", e.what());
      throw CLI::RuntimeError(2);
    }
    // Deprecated keys still accepted: said on stderr whatever the log level, --check-config included.
    for (const auto& warning : config.warnings) std::fprintf(stderr, "headend: warning: %s\n", warning.c_str());
    const auto clock = ami::resolve_clock(clock_spec);
    if (check_only) {
      std::printf("%s: OK (daemon %s, state %s, feed %s:%u, %zu consumer(s))\n", config_path.c_str(),
                  config.daemon.id.c_str(), config.daemon.state_dir.string().c_str(), config.feed.listen_host.c_str(),
                  static_cast<unsigned>(config.feed.listen_port), config.feed.consumers.size());
      return 0;
    }
    auto logger = spdlog::stderr_color_mt("headend");
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::from_str(config.daemon.log_level));
    try {
      return ami::daemon::run_daemon(config, clock);
    } catch (const ami::daemon::StartupError& e) {
      std::fprintf(stderr, "headend: %s\n", e.what());
      throw CLI::RuntimeError(e.exit_code());
    }
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
}
