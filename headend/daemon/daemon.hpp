// The headend daemon: wires the staging store, the collection engine (scheduler + one worker per
// gateway) and the embedded feed server onto one io_context, and runs until SIGINT/SIGTERM.
//
// Start-up: creates state_dir, opens the store (migrations), imports [registry] import_csv when
// configured (all-or-nothing), loads the enabled meters, binds the feed listener. Any failure there
// throws StartupError before anything runs. Shutdown (first signal): stop scheduling, let each
// gateway finish its transaction in flight, flush the store, close the feed server, return 0.
//
// Threads: run() blocks the calling thread, which runs the io_context (scheduler, channels, feed
// server). The store writer has its own thread; cycle status lines are printed from one helper
// thread (it waits for the store to commit the cycle first, which must not block the io_context).
#pragma once

#include <stdexcept>

#include "headend/config/daemon_config.hpp"
#include "protocols/common/clock.hpp"

namespace ami::daemon {

class StartupError : public std::runtime_error {
 public:
  StartupError(const std::string& message, int exit_code) : std::runtime_error(message), exit_code_(exit_code) {}
  [[nodiscard]] int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

// Exit codes: 0 clean shutdown, 1 runtime failure (store failed, listener lost), 2 bad config or
// registry (StartupError), 3 other start-up failure (database, feed listen address).
int run_daemon(const DaemonConfig& config, const Clock& clock);

}  // namespace ami::daemon
