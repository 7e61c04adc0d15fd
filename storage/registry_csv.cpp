#include "storage/registry_csv.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <set>
#include <unordered_map>

#include "storage/registry.hpp"

namespace ami::storage {

namespace {

constexpr std::array<std::string_view, 12> registry_columns{
    "meter_id",    "protocol",   "channel",  "address",
    "model",       "ct_ratio",   "pt_ratio", "utc_offset_minutes",
    "usage_point", "interval_minutes", "enabled", "tags"};
constexpr std::array<std::string_view, 4> required_columns{"meter_id", "protocol", "channel",
                                                           "address"};

struct CsvRow {
  std::size_t line = 0;  // physical line where the row starts
  std::vector<std::string> fields;
};

// Splits RFC 4180 CSV into rows. Stops with an error at an unterminated quote.
class CsvReader {
 public:
  explicit CsvReader(std::string_view text) : text_(text) {}

  // Returns false at the end of input. On a syntax error fills `error` and returns false.
  bool next(CsvRow& row, std::string& error) {
    row.fields.clear();
    if (pos_ >= text_.size()) return false;
    row.line = line_;
    std::string field;
    bool quoted = false;
    bool field_was_quoted = false;
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (quoted) {
        if (c == '"') {
          if (pos_ < text_.size() && text_[pos_] == '"') {
            field += '"';
            ++pos_;
          } else {
            quoted = false;
          }
        } else {
          if (c == '\n') ++line_;
          field += c;
        }
        continue;
      }
      if (c == '"' && field.empty() && !field_was_quoted) {
        quoted = true;
        field_was_quoted = true;
      } else if (c == ',') {
        row.fields.push_back(std::move(field));
        field.clear();
        field_was_quoted = false;
      } else if (c == '\n' || c == '\r') {
        if (c == '\r' && pos_ < text_.size() && text_[pos_] == '\n') ++pos_;
        ++line_;
        row.fields.push_back(std::move(field));
        return true;
      } else {
        field += c;
      }
    }
    if (quoted) {
      error = "unterminated quoted field";
      return false;
    }
    row.fields.push_back(std::move(field));
    return true;
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
};

bool is_blank(const CsvRow& row) { return row.fields.size() == 1 && row.fields[0].empty(); }

template <typename Int>
std::optional<Int> parse_int(std::string_view text) {
  Int value{};
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end) return std::nullopt;
  return value;
}

std::optional<bool> parse_bool(std::string_view text) {
  if (text == "true" || text == "1" || text == "yes") return true;
  if (text == "false" || text == "0" || text == "no") return false;
  return std::nullopt;
}

std::string quote_if_needed(const std::string& field) {
  if (field.find_first_of(",\"\r\n") == std::string::npos) return field;
  std::string out = "\"";
  for (const char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace

std::string RegistryError::to_string() const {
  std::string text = file + ":" + std::to_string(line) + ": ";
  if (!column.empty()) text += "column " + column + ": ";
  return text + reason;
}

RegistryParseResult parse_registry_csv(std::string_view text, std::string_view file_name) {
  RegistryParseResult result;
  const std::string file(file_name);
  auto add_error = [&](std::size_t line, std::string column, std::string reason) {
    result.errors.push_back(RegistryError{file, line, std::move(column), std::move(reason)});
  };

  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 BOM from spreadsheets
  CsvReader reader(text);
  CsvRow row;
  std::string syntax_error;

  // Header.
  bool have_header = false;
  while (reader.next(row, syntax_error)) {
    if (!is_blank(row)) {
      have_header = true;
      break;
    }
  }
  if (!have_header) {
    add_error(row.line == 0 ? 1 : row.line, "",
              syntax_error.empty() ? "missing header row" : syntax_error);
    return result;
  }
  const std::size_t header_line = row.line;
  std::unordered_map<std::string, std::size_t> index;  // column name -> field position
  bool header_ok = true;
  for (std::size_t i = 0; i < row.fields.size(); ++i) {
    const std::string& name = row.fields[i];
    if (std::find(registry_columns.begin(), registry_columns.end(), std::string_view{name}) == registry_columns.end()) {
      add_error(header_line, name, "unknown column '" + name + "'");
      header_ok = false;
    } else if (!index.emplace(name, i).second) {
      add_error(header_line, name, "column '" + name + "' appears twice");
      header_ok = false;
    }
  }
  for (const auto required : required_columns) {
    if (index.count(std::string(required)) == 0) {
      add_error(header_line, std::string(required), "required column is missing");
      header_ok = false;
    }
  }
  if (!header_ok) return result;

  std::unordered_map<std::string, std::size_t> first_line_of_meter;
  while (reader.next(row, syntax_error)) {
    if (is_blank(row)) continue;
    if (row.fields.size() != index.size()) {
      add_error(row.line, "",
                "expected " + std::to_string(index.size()) + " fields, got " +
                    std::to_string(row.fields.size()));
      continue;
    }
    const std::size_t errors_before = result.errors.size();
    auto field = [&](std::string_view name) -> const std::string* {
      const auto it = index.find(std::string(name));
      return it == index.end() ? nullptr : &row.fields[it->second];
    };
    auto integer = [&](std::string_view name, auto& target) {
      using Int = std::remove_reference_t<decltype(target)>;
      const std::string* raw = field(name);
      if (raw == nullptr || raw->empty()) return;  // keep the default
      if (const auto value = parse_int<Int>(*raw)) {
        target = *value;
      } else {
        add_error(row.line, std::string(name), "must be an integer, got '" + *raw + "'");
      }
    };

    MeterRecord meter;
    meter.meter_id = *field("meter_id");
    meter.protocol = *field("protocol");
    meter.channel = *field("channel");
    meter.address = *field("address");
    if (const auto* model = field("model")) meter.model = *model;
    if (const auto* usage_point = field("usage_point")) meter.usage_point = *usage_point;
    if (const auto* tags = field("tags")) meter.tags = *tags;
    integer("ct_ratio", meter.ct_ratio);
    integer("pt_ratio", meter.pt_ratio);
    integer("utc_offset_minutes", meter.utc_offset_minutes);
    integer("interval_minutes", meter.interval_minutes);
    if (const auto* enabled = field("enabled"); enabled != nullptr && !enabled->empty()) {
      if (const auto value = parse_bool(*enabled)) {
        meter.enabled = *value;
      } else {
        add_error(row.line, "enabled", "must be true or false, got '" + *enabled + "'");
      }
    }
    // Field checks only on what parsed, so one bad number is not reported twice.
    for (auto& problem : validate_meter(meter)) {
      const bool already = std::any_of(
          result.errors.begin() + static_cast<std::ptrdiff_t>(errors_before), result.errors.end(),
          [&](const RegistryError& e) { return e.column == problem.column; });
      if (!already) add_error(row.line, std::move(problem.column), std::move(problem.reason));
    }
    if (!meter.meter_id.empty()) {
      const auto [it, inserted] = first_line_of_meter.emplace(meter.meter_id, row.line);
      if (!inserted) {
        add_error(row.line, "meter_id",
                  "duplicate meter_id '" + meter.meter_id + "' (first on line " +
                      std::to_string(it->second) + ")");
      }
    }
    if (result.errors.size() == errors_before) result.meters.push_back(std::move(meter));
  }
  if (!syntax_error.empty()) add_error(row.line, "", syntax_error);
  return result;
}

RegistryParseResult read_registry_csv_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    RegistryParseResult result;
    result.errors.push_back(RegistryError{path.string(), 0, "", "cannot open file"});
    return result;
  }
  // Straight into one string of the file's size: an ostringstream doubles its buffer and str()
  // copies it, ~3x the file at once (the daemon's start-up import of 100k meters: ~30 MB, its peak).
  std::string content;
  std::error_code size_error;
  const auto size = std::filesystem::file_size(path, size_error);
  if (!size_error && size > 0) {
    content.resize(static_cast<std::size_t>(size));
    in.read(content.data(), static_cast<std::streamsize>(content.size()));
    content.resize(static_cast<std::size_t>(in.gcount()));
  }
  if (in) content.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());  // no size, or it grew
  return parse_registry_csv(content, path.string());
}

std::string format_registry_csv(const std::vector<MeterRecord>& meters) {
  std::string out;
  for (std::size_t i = 0; i < registry_columns.size(); ++i) {
    if (i > 0) out += ',';
    out += registry_columns[i];
  }
  out += '\n';
  for (const auto& m : meters) {
    const std::array<std::string, 12> fields{
        m.meter_id, m.protocol, m.channel, m.address, m.model,
        std::to_string(m.ct_ratio), std::to_string(m.pt_ratio),
        std::to_string(m.utc_offset_minutes), m.usage_point,
        std::to_string(m.interval_minutes), m.enabled ? "true" : "false", m.tags};
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (i > 0) out += ',';
      out += quote_if_needed(fields[i]);
    }
    out += '\n';
  }
  return out;
}

}  // namespace ami::storage
