#include "simulators/fleet_file.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <toml++/toml.h>

namespace ami::sim {
namespace {

class TableReader {
 public:
  TableReader(const toml::table& table, std::string where) : table_(table), where_(std::move(where)) {}

  void allow_only(std::initializer_list<std::string_view> keys) const {
    for (const auto& [key, value] : table_)
      if (std::find(keys.begin(), keys.end(), key.str()) == keys.end())
        fail(fmt::format("unknown key '{}'", key.str()));
  }
  template <typename T>
  std::optional<T> get(std::string_view key) const {
    const auto* node = table_.get(key);
    if (node == nullptr) return std::nullopt;
    if constexpr (std::is_same_v<T, std::string>) {
      if (const auto v = node->value<std::string>()) return *v;
      fail(fmt::format("'{}' must be a string", key));
    } else if constexpr (std::is_same_v<T, double>) {
      if (const auto v = node->value<double>()) return *v;
      fail(fmt::format("'{}' must be a number", key));
    } else {
      if (node->is_integer()) return static_cast<T>(*node->value<std::int64_t>());
      fail(fmt::format("'{}' must be an integer", key));
    }
    return std::nullopt;
  }
  [[noreturn]] void fail(const std::string& what) const { throw std::invalid_argument(where_ + ": " + what); }
  [[nodiscard]] const std::string& where() const { return where_; }

 private:
  const toml::table& table_;
  std::string where_;
};

template <typename F>
void each_table(const toml::table& root, std::string_view key, const std::string& source, F&& f) {
  const auto* node = root.get(key);
  if (node == nullptr) return;
  const auto* array = node->as_array();
  if (array == nullptr) throw std::invalid_argument(fmt::format("{}: '{}' must be an array of tables ([[{}]])", source, key, key));
  std::size_t n = 0;
  for (const auto& element : *array) {
    ++n;
    const auto* table = element.as_table();
    if (table == nullptr) throw std::invalid_argument(fmt::format("{}: [[{}]] #{} is not a table", source, key, n));
    f(TableReader(*table, fmt::format("{}: [[{}]] #{}", source, key, n)));
  }
}

}  // namespace

FleetFile parse_fleet_toml(std::string_view text, std::string_view source_name) {
  const std::string source(source_name);
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    std::ostringstream where;
    where << e.source().begin;
    throw std::invalid_argument(fmt::format("{}: {} at {}", source, e.description(), where.str()));
  }
  FleetFile file;
  auto& spec = file.spec;
  const TableReader top(root, source);
  top.allow_only({"seed", "listen", "utc_offset_minutes", "dial_wh", "gateway", "meter", "fault"});
  spec.seed = top.get<std::uint64_t>("seed").value_or(spec.seed);
  spec.listen = top.get<std::string>("listen").value_or(spec.listen);
  spec.utc_offset_minutes = top.get<int>("utc_offset_minutes").value_or(spec.utc_offset_minutes);
  spec.dial_modulus_wh = top.get<std::int64_t>("dial_wh").value_or(0);

  spec.groups.clear();
  each_table(root, "gateway", source, [&](const TableReader& t) {
    t.allow_only({"count", "meters", "protocol", "model", "base_port", "baud", "pty_dir"});
    GatewayGroupSpec g;
    g.count = t.get<int>("count").value_or(1);
    g.meters_per_gateway = t.get<int>("meters").value_or(1);
    g.protocol = t.get<std::string>("protocol").value_or(g.protocol);
    g.model = t.get<std::string>("model").value_or("");
    g.base_port = t.get<int>("base_port").value_or(0);
    g.baud = t.get<int>("baud").value_or(0);
    g.pty_dir = t.get<std::string>("pty_dir").value_or("");
    spec.groups.push_back(g);
  });
  if (spec.groups.empty()) throw std::invalid_argument(source + ": no [[gateway]] tables");

  each_table(root, "meter", source, [&](const TableReader& t) {
    t.allow_only({"id", "initial_wh", "dial_wh", "clock_drift_ppm", "load_profile_hours", "replaced_at", "new_address",
                  "new_unit_id"});
    MeterOverride o;
    const auto id = t.get<std::string>("id");
    if (!id) t.fail("'id' is required");
    o.id = *id;
    o.initial_wh = t.get<std::int64_t>("initial_wh");
    o.dial_modulus_wh = t.get<std::int64_t>("dial_wh");
    o.clock_drift_ppm = t.get<std::int64_t>("clock_drift_ppm");
    o.load_profile_hours = t.get<int>("load_profile_hours");
    if (o.load_profile_hours && (*o.load_profile_hours < 0 || *o.load_profile_hours > 24 * 62))
      t.fail(fmt::format("'load_profile_hours' must be 0 (no load profile) .. {} (62 days), got {}", 24 * 62,
                         *o.load_profile_hours));
    if (const auto at = t.get<std::string>("replaced_at")) {
      const auto when = parse_utc(*at);
      if (!when) t.fail(fmt::format("'replaced_at' is not a UTC time: '{}'", *at));
      Replacement r;
      r.at = *when;
      const auto address = t.get<std::string>("new_address");
      if (!address) t.fail("'new_address' is required with 'replaced_at'");
      std::string error;
      const auto parsed = dlt645::Address::parse(*address, error);
      if (!parsed || !parsed->is_concrete()) t.fail(fmt::format("'new_address' '{}': {}", *address, error.empty() ? "not 12 digits" : error));
      r.new_address = *parsed;
      r.new_unit_id = t.get<int>("new_unit_id").value_or(0);
      if (r.new_unit_id < 0 || r.new_unit_id > 247) t.fail("'new_unit_id' must be 0 (keep) or 1..247");
      o.replacement = r;
    }
    spec.overrides.push_back(o);
  });

  each_table(root, "fault", source, [&](const TableReader& t) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& key : {"kind", "target", "from", "until"})
      if (const auto v = t.get<std::string>(key)) j[key] = *v;
    if (const auto v = t.get<double>("rate")) j["rate"] = *v;
    for (const auto& key : {"delay_ms", "seconds", "wh"})
      if (const auto v = t.get<std::int64_t>(key)) j[key] = *v;
    t.allow_only({"kind", "target", "from", "until", "rate", "delay_ms", "seconds", "wh"});
    try {
      file.faults.push_back(parse_fault_rule(j));
    } catch (const std::invalid_argument& e) {
      t.fail(e.what());
    }
  });
  return file;
}

FleetFile parse_fleet_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument("--fleet: cannot read '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_fleet_toml(text.str(), path);
}

}  // namespace ami::sim
