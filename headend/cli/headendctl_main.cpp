// headendctl: the operator's CLI. Each subcommand group registers itself (add_<group>_commands);
// a failing command prints to stderr and throws CLI::RuntimeError(code), returned as the exit code.
#include <CLI/CLI.hpp>

#include "headend/cli/feed_commands.hpp"
#include "headend/cli/meters_commands.hpp"
#include "headend/cli/monitor_command.hpp"
#include "headend/cli/read_command.hpp"
#if AMI_HAVE_DLT645_COMMANDS
#include "headend/cli/dlt645_command.hpp"
#endif

int main(int argc, char** argv) {
  CLI::App app{"headendctl: AMI head-end operator tools"};
  app.require_subcommand(1);
  ami::cli::add_feed_commands(app);
  ami::cli::add_meters_commands(app);
  ami::cli::add_monitor_commands(app);  // status, report (docs/MONITORING.md)
  ami::cli::add_read_command(app);      // on-demand read through the daemon's API
#if AMI_HAVE_DLT645_COMMANDS
  ami::cli::add_dlt645_commands(app);
#endif
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return 0;
}
