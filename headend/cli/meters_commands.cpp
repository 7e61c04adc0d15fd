#include "headend/cli/meters_commands.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include "headend/config/daemon_config.hpp"
#include "storage/registry_csv.hpp"
#include "storage/store_reader.hpp"
#include "storage/store_writer.hpp"

namespace ami::cli {
namespace {

struct StoreLocation {
  std::string config;
  std::string db;
};

[[noreturn]] void fail(const std::string& command, const std::string& message, int code) {
  std::fprintf(stderr, "headendctl meters %s: %s\n", command.c_str(), message.c_str());
  throw CLI::RuntimeError(code);
}

std::filesystem::path database_of(const std::string& command, const StoreLocation& o) {
  if (!o.db.empty()) return o.db;
  if (o.config.empty()) fail(command, "give --config FILE or --db PATH", 2);
  try {
    return daemon::load_config(o.config).database_path();
  } catch (const daemon::ConfigError& e) {
    fail(command, e.what(), 2);
  }
}

void add_store_options(CLI::App& command, StoreLocation& o) {
  auto* config = command.add_option("--config", o.config, "the daemon's TOML config (its state_dir holds the store)");
  auto* db = command.add_option("--db", o.db, "the store's database file instead of --config");
  config->excludes(db);
}

}  // namespace

void add_meters_commands(CLI::App& app) {
  auto* meters = app.add_subcommand("meters", "the meter registry in the staging store");
  meters->require_subcommand(1);

  struct ExportOptions : StoreLocation {
    std::string output;
    bool enabled_only = false;
  };
  auto ex = std::make_shared<ExportOptions>();
  auto* export_cmd = meters->add_subcommand("export", "write the registry as CSV (stdout or --output)");
  add_store_options(*export_cmd, *ex);
  export_cmd->add_option("--output", ex->output, "file to write instead of stdout");
  export_cmd->add_flag("--enabled-only", ex->enabled_only, "only meters with enabled=true");
  export_cmd->callback([ex] {
    const auto db = database_of("export", *ex);
    std::string csv;
    try {
      storage::StoreReader reader(db);
      csv = storage::format_registry_csv(reader.meters(ex->enabled_only));
    } catch (const std::exception& e) {
      fail("export", db.string() + ": " + e.what(), 1);
    }
    if (ex->output.empty()) {
      std::cout << csv;
      return;
    }
    std::ofstream out(ex->output, std::ios::binary);
    if (!(out << csv)) fail("export", ex->output + ": cannot write", 1);
  });

  struct ImportOptions : StoreLocation {
    std::string csv;
    bool dry_run = false;
  };
  auto im = std::make_shared<ImportOptions>();
  auto* import_cmd = meters->add_subcommand("import", "validate a registry CSV and upsert it, all or nothing");
  add_store_options(*import_cmd, *im);
  import_cmd->add_option("--csv", im->csv, "registry CSV file")->required();
  import_cmd->add_flag("--dry-run", im->dry_run, "validate only; write nothing");
  import_cmd->callback([im] {
    const auto parsed = storage::read_registry_csv_file(im->csv);
    if (!parsed.ok()) {
      std::string text = std::to_string(parsed.errors.size()) + " error(s), nothing imported:";
      for (const auto& e : parsed.errors) text += "\n  " + e.to_string();
      fail("import", text, 2);
    }
    if (im->dry_run) {
      std::printf("%s: %zu meter(s) valid (dry run, nothing written)\n", im->csv.c_str(), parsed.meters.size());
      return;
    }
    const auto db = database_of("import", *im);
    try {
      std::filesystem::create_directories(db.parent_path());
      storage::StoreOptions options;
      options.path = db;
      storage::StoreWriter writer(options);
      const auto result = writer.import_meters(parsed.meters, "headendctl:meters import");
      writer.stop();
      std::printf("%s: %zu meter(s): %zu inserted, %zu updated, %zu unchanged\n", im->csv.c_str(),
                  parsed.meters.size(), result.inserted, result.updated, result.unchanged);
    } catch (const std::invalid_argument& e) {
      fail("import", std::string(e.what()) + " (nothing imported)", 2);
    } catch (const std::exception& e) {
      fail("import", db.string() + ": " + e.what(), 1);
    }
  });
}

}  // namespace ami::cli
