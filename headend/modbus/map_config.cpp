#include "headend/modbus/map_config.hpp"

#include <charconv>
#include <set>

#include "protocols/modbus/builtin_maps.hpp"

namespace ami::modbus {
namespace {

// "#N", by appending: GCC 12 at -O2 warns (-Wrestrict, a false positive) on `"#" + std::to_string(n)`.
std::string map_ordinal_label(std::size_t n) {
  std::string label(1, '#');
  label += std::to_string(n);
  return label;
}

std::string line_of(const toml::node& node) {
  const auto& src = node.source();
  return src.begin.line == 0 ? std::string{} : " (line " + std::to_string(src.begin.line) + ")";
}

// Collects shape errors for one table, naming map/point/field like MapError does.
class Reader {
 public:
  Reader(const toml::table& table, std::string source, std::string map, std::string point,
         std::vector<std::string>& errors)
      : table_(table), source_(std::move(source)), map_(std::move(map)), point_(std::move(point)), errors_(errors) {}

  void fail(std::string_view field, const toml::node* node, const std::string& message) {
    MapError e{map_, point_, std::string(field), message + (node ? line_of(*node) : std::string{})};
    errors_.push_back(source_ + ": " + describe(e));
  }

  const toml::node* find(std::string_view key) {
    seen_.insert(std::string(key));
    return table_.get(key);
  }

  void read_int(std::string_view key, std::int64_t& out) {
    if (const auto* node = find(key)) {
      if (const auto v = node->value_exact<std::int64_t>())
        out = *v;
      else
        fail(key, node, "must be an integer");
    }
  }

  void read_string(std::string_view key, std::string& out) {
    if (const auto* node = find(key)) {
      if (const auto v = node->value_exact<std::string>())
        out = *v;
      else
        fail(key, node, "must be a string");
    }
  }

  // A number or a string; numbers are written in their shortest exact decimal form.
  void read_scale(std::string_view key, std::string& out) {
    const auto* node = find(key);
    if (!node) return;
    if (const auto s = node->value_exact<std::string>()) {
      out = *s;
    } else if (const auto i = node->value_exact<std::int64_t>()) {
      out = std::to_string(*i);
    } else if (const auto d = node->value_exact<double>()) {
      char buf[64];
      const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, *d);
      out = ec == std::errc{} ? std::string(buf, end) : std::string("?");
    } else {
      fail(key, node, "must be a number or a string such as \"1/10\"");
    }
  }

  void reject_unknown_keys() {
    for (const auto& [key, node] : table_)
      if (!seen_.contains(std::string(key.str()))) fail(key.str(), &node, "unknown key");
  }

 private:
  const toml::table& table_;
  std::string source_;
  std::string map_;
  std::string point_;
  std::vector<std::string>& errors_;
  std::set<std::string, std::less<>> seen_;
};

}  // namespace

MapConfigResult load_user_maps(const toml::table& modbus, std::string_view source_view) {
  const std::string source(source_view);
  MapConfigResult result;
  const toml::node* maps_node = modbus.get("maps");
  if (maps_node == nullptr) return result;
  const toml::array* maps = maps_node->as_array();
  if (maps == nullptr) {
    result.errors.push_back(source + ": [modbus] maps" + line_of(*maps_node) + ": must be an array of tables ([[modbus.maps]])");
    return result;
  }

  std::set<std::string> names;
  std::vector<MapSpec> specs;
  for (std::size_t m = 0; m < maps->size(); ++m) {
    const toml::table* table = maps->get(m)->as_table();
    if (table == nullptr) {
      result.errors.push_back(source + ": [modbus] maps #" + std::to_string(m + 1) + ": must be a table");
      continue;
    }
    MapSpec spec;
    const auto name_node = table->get("name");
    spec.name = name_node && name_node->is_string() ? *name_node->value<std::string>() : map_ordinal_label(m + 1);
    Reader map_reader(*table, source, spec.name, "", result.errors);
    map_reader.read_string("name", spec.name);
    map_reader.read_int("max_block", spec.max_block);
    map_reader.read_int("max_gap", spec.max_gap);
    if (find_builtin_map(spec.name) != nullptr)
      map_reader.fail("name", name_node, "clashes with the built-in model '" + spec.name + "'; choose another name");
    if (!names.insert(spec.name).second) map_reader.fail("name", name_node, "map defined twice");

    const toml::node* points_node = map_reader.find("points");
    const toml::array* points = points_node ? points_node->as_array() : nullptr;
    if (points_node && points == nullptr) map_reader.fail("points", points_node, "must be an array of tables");
    if (points != nullptr) {
      for (std::size_t p = 0; p < points->size(); ++p) {
        const toml::table* pt = points->get(p)->as_table();
        const std::string label = map_ordinal_label(p + 1);
        if (pt == nullptr) {
          map_reader.fail("points", points->get(p), "point " + label + " must be a table");
          continue;
        }
        PointSpec point;
        const auto* pname = pt->get("name");
        const auto* pquantity = pt->get("quantity");
        const std::string shown = pname && pname->is_string()           ? *pname->value<std::string>()
                                  : pquantity && pquantity->is_string() ? *pquantity->value<std::string>()
                                                                        : label;
        Reader r(*pt, source, spec.name, shown, result.errors);
        r.read_string("name", point.name);
        r.read_int("function", point.function);
        r.read_int("address", point.address);
        r.read_string("type", point.type);
        r.read_string("word_order", point.word_order);
        r.read_scale("scale", point.scale);
        r.read_string("unit", point.unit);
        r.read_string("quantity", point.quantity);
        r.read_string("encoding", point.encoding);
        if (point.name.empty()) point.name = point.quantity.empty() ? label : point.quantity;
        r.reject_unknown_keys();
        spec.points.push_back(std::move(point));
      }
    }
    map_reader.reject_unknown_keys();
    specs.push_back(std::move(spec));
  }

  for (const MapSpec& spec : specs) {
    auto built = build_register_map(spec);
    for (const MapError& e : built.errors) result.errors.push_back(source + ": " + describe(e));
    if (built.map) result.maps.push_back(std::move(*built.map));
  }
  if (!result.errors.empty()) result.maps.clear();
  return result;
}

MapConfigResult load_user_maps_file(const std::filesystem::path& file) {
  toml::table root;
  try {
    root = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    return {{}, {file.string() + " (line " + std::to_string(e.source().begin.line) + "): " + std::string(e.description())}};
  }
  const toml::node* modbus = root.get("modbus");
  if (modbus == nullptr) return {};
  if (!modbus->is_table()) return {{}, {file.string() + ": [modbus] must be a table"}};
  return load_user_maps(*modbus->as_table(), file.string());
}

const RegisterMap* find_map(const std::vector<RegisterMap>& user_maps, std::string_view model) {
  for (const RegisterMap& m : user_maps)
    if (m.name == model) return &m;
  return find_builtin_map(model);
}

}  // namespace ami::modbus
