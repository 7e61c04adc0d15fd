#include "headend/cli/meters_commands.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>

#include "headend/config/daemon_config.hpp"
#include "storage/registry.hpp"
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

// The registry fields a command may set; an option not given leaves the field as it was.
struct MeterFieldOptions : StoreLocation {
  storage::MeterRecord values;
  std::map<std::string, CLI::Option*> given;
  bool disabled = false;
};

void add_field_options(CLI::App& command, MeterFieldOptions& o) {
  auto& v = o.values;
  o.given["protocol"] = command.add_option("--protocol", v.protocol, "dlt645-2007|dlt645-1997|modbus-tcp|modbus-rtu|...");
  o.given["channel"] = command.add_option("--channel", v.channel, "tcp://HOST:PORT or serial:///dev/...?baud=&parity=&stop=");
  o.given["address"] = command.add_option("--address", v.address, "12 DL/T 645 digits or the Modbus unit id");
  o.given["model"] = command.add_option("--model", v.model, "model or register map name");
  o.given["ct_ratio"] = command.add_option("--ct-ratio", v.ct_ratio, "CT ratio");
  o.given["pt_ratio"] = command.add_option("--pt-ratio", v.pt_ratio, "PT ratio");
  o.given["utc_offset_minutes"] = command.add_option("--utc-offset-minutes", v.utc_offset_minutes, "meter clock offset");
  o.given["usage_point"] = command.add_option("--usage-point", v.usage_point, "usage point id");
  o.given["interval_minutes"] = command.add_option("--interval-minutes", v.interval_minutes, "interval length");
  o.given["tags"] = command.add_option("--tags", v.tags, "key=value;key=value");
}

// `base` with every option the operator gave applied.
storage::MeterRecord with_given(storage::MeterRecord base, const MeterFieldOptions& o) {
  const auto set = [&](const char* name) { return o.given.at(name)->count() > 0; };
  const auto& v = o.values;
  if (set("protocol")) base.protocol = v.protocol;
  if (set("channel")) base.channel = v.channel;
  if (set("address")) base.address = v.address;
  if (set("model")) base.model = v.model;
  if (set("ct_ratio")) base.ct_ratio = v.ct_ratio;
  if (set("pt_ratio")) base.pt_ratio = v.pt_ratio;
  if (set("utc_offset_minutes")) base.utc_offset_minutes = v.utc_offset_minutes;
  if (set("usage_point")) base.usage_point = v.usage_point;
  if (set("interval_minutes")) base.interval_minutes = v.interval_minutes;
  if (set("tags")) base.tags = v.tags;
  return base;
}

std::string with_tag(const std::string& tags, const std::string& tag) { return tags.empty() ? tag : tags + ";" + tag; }

std::optional<storage::MeterRecord> find_meter(const std::string& command, const std::filesystem::path& db,
                                               const std::string& meter_id) {
  try {
    return storage::StoreReader(db).meter(meter_id);
  } catch (const std::exception& e) {
    fail(command, db.string() + ": " + e.what(), 1);
  }
}

storage::MeterRecord existing_meter(const std::string& command, const std::filesystem::path& db,
                                    const std::string& meter_id) {
  auto meter = find_meter(command, db, meter_id);
  if (!meter) fail(command, "no meter '" + meter_id + "' in the registry " + db.string(), 2);
  return *meter;
}

// Writes `records` in one all-or-nothing registry transaction (a running daemon picks the change
// up within [collection] registry_poll_seconds), then one audit row saying what the operator did
// (a second transaction: StoreWriter commits audit rows with its next batch).
void write_registry(const std::string& command, const std::filesystem::path& db,
                    const std::vector<storage::MeterRecord>& records, const std::string& action,
                    const std::string& detail) {
  std::string problems;
  for (const auto& m : records) {
    for (const auto& e : storage::validate_meter(m)) problems += "\n  meter '" + m.meter_id + "': " + e.column + ": " + e.reason;
  }
  if (!problems.empty()) fail(command, "nothing written:" + problems, 2);
  try {
    storage::StoreOptions options;
    options.path = db;
    storage::StoreWriter writer(options);
    const std::string actor = "headendctl:meters " + command;
    writer.import_meters(records, actor);
    writer.audit(actor, action, detail);
    writer.flush();
    writer.stop();
  } catch (const std::invalid_argument& e) {
    fail(command, std::string(e.what()) + " (nothing written)", 2);
  } catch (const std::exception& e) {
    fail(command, db.string() + ": " + e.what(), 1);
  }
  std::printf("%s\n", detail.c_str());
}

void add_change_commands(CLI::App* meters) {
  auto add = std::make_shared<MeterFieldOptions>();
  auto* add_cmd = meters->add_subcommand("add", "add one meter (all fields validated like an import row)");
  add_store_options(*add_cmd, *add);
  add_cmd->add_option("meter_id", add->values.meter_id, "the new meter's id")->required();
  add_field_options(*add_cmd, *add);
  for (const char* name : {"protocol", "channel", "address"}) add->given.at(name)->required();
  add_cmd->add_flag("--disabled", add->disabled, "register it without collecting it yet");
  add_cmd->callback([add] {
    const auto db = database_of("add", *add);
    if (find_meter("add", db, add->values.meter_id))
      fail("add", "meter '" + add->values.meter_id + "' already exists (use meters update)", 2);
    storage::MeterRecord meter;
    meter.meter_id = add->values.meter_id;
    meter.usage_point = "up-" + meter.meter_id;
    meter = with_given(meter, *add);
    meter.enabled = !add->disabled;
    write_registry("add", db, {meter}, "meter_added",
                   "meter '" + meter.meter_id + "' added: " + meter.protocol + " " + meter.channel + " address " +
                       meter.address + ", usage point " + meter.usage_point + (meter.enabled ? "" : ", disabled"));
  });

  auto update = std::make_shared<MeterFieldOptions>();
  auto* update_cmd = meters->add_subcommand("update", "change fields of one meter (only the options given)");
  add_store_options(*update_cmd, *update);
  update_cmd->add_option("meter_id", update->values.meter_id, "the meter's id")->required();
  add_field_options(*update_cmd, *update);
  update_cmd->callback([update] {
    const auto db = database_of("update", *update);
    const auto old = existing_meter("update", db, update->values.meter_id);
    const auto meter = with_given(old, *update);
    std::string changes;
    for (const auto& [name, option] : update->given)
      if (option->count() > 0) changes += (changes.empty() ? "" : ", ") + name;
    if (changes.empty()) fail("update", "give at least one field option to change", 2);
    write_registry("update", db, {meter}, "meter_updated", "meter '" + meter.meter_id + "' updated: " + changes);
  });

  struct IdOptions : StoreLocation {
    std::string meter_id;
  };
  // disable, enable, remove: one meter's enabled flag (remove also marks it removed; its readings
  // and intervals stay, billing may still need them, so the registry row is never deleted).
  for (const char* name : {"disable", "enable", "remove"}) {
    auto o = std::make_shared<IdOptions>();
    const std::string command = name;
    const char* help = command == "disable"  ? "stop collecting one meter (kept in the registry)"
                       : command == "enable" ? "collect one meter again"
                                             : "retire one meter: disabled and tagged removed=true, history kept";
    auto* sub = meters->add_subcommand(command, help);
    add_store_options(*sub, *o);
    sub->add_option("meter_id", o->meter_id, "the meter's id")->required();
    sub->callback([o, command] {
      const auto db = database_of(command, *o);
      auto meter = existing_meter(command, db, o->meter_id);
      meter.enabled = command == "enable";
      if (command == "remove") meter.tags = with_tag(meter.tags, "removed=true");
      write_registry(command, db, {meter}, "meter_" + command + "d", "meter '" + meter.meter_id + "' " + command + "d");
    });
  }

  struct ReplaceOptions : StoreLocation {
    std::string old_id;
    std::string new_id;
    std::string new_address;
    std::string new_model;
  };
  auto rp = std::make_shared<ReplaceOptions>();
  auto* replace_cmd = meters->add_subcommand(
      "replace", "meter exchange: a new meter (id, address) takes over the old one's usage point and channel");
  add_store_options(*replace_cmd, *rp);
  replace_cmd->add_option("old_meter_id", rp->old_id, "the meter taken out")->required();
  replace_cmd->add_option("--new-meter-id", rp->new_id, "the meter put in")->required();
  replace_cmd->add_option("--new-address", rp->new_address, "its address (12 digits or Modbus unit id)")->required();
  replace_cmd->add_option("--new-model", rp->new_model, "its model, when it differs");
  replace_cmd->callback([rp] {
    const auto db = database_of("replace", *rp);
    auto old = existing_meter("replace", db, rp->old_id);
    if (find_meter("replace", db, rp->new_id))
      fail("replace", "meter '" + rp->new_id + "' already exists; a replacement needs a new meter id", 2);
    auto fresh = old;
    fresh.meter_id = rp->new_id;
    fresh.address = rp->new_address;
    if (!rp->new_model.empty()) fresh.model = rp->new_model;
    fresh.enabled = true;
    fresh.tags = with_tag(old.tags, "replaces=" + old.meter_id);
    old.enabled = false;
    old.tags = with_tag(old.tags, "replaced_by=" + fresh.meter_id);
    // The audit row is the meter-exchange record VEE reads (docs/OPERATIONS.md "Meter exchange").
    write_registry("replace", db, {old, fresh}, "meter_replaced",
                   "usage point '" + old.usage_point + "': meter '" + old.meter_id + "' (address " + old.address +
                       ") replaced by '" + fresh.meter_id + "' (address " + fresh.address + ")");
  });
}

}  // namespace

void add_meters_commands(CLI::App& app) {
  auto* meters = app.add_subcommand("meters", "the meter registry in the staging store");
  meters->require_subcommand(1);
  add_change_commands(meters);

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
