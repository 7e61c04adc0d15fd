#include "headend/monitor/fleet_view.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace ami::monitor {

namespace {

std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

nlohmann::json tags_json(std::string_view tags) {
  auto out = nlohmann::json::object();
  std::size_t pos = 0;
  while (pos < tags.size()) {
    const auto semi = tags.find(';', pos);
    const auto item = tags.substr(pos, semi == std::string_view::npos ? std::string_view::npos : semi - pos);
    const auto eq = item.find('=');
    if (eq != std::string_view::npos) out[std::string(item.substr(0, eq))] = std::string(item.substr(eq + 1));
    if (semi == std::string_view::npos) break;
    pos = semi + 1;
  }
  return out;
}

nlohmann::json optional_ratio(std::optional<double> r) { return r ? nlohmann::json(*r) : nlohmann::json(nullptr); }

}  // namespace

void Totals::add(const storage::MeterDay& row) {
  ++meters;
  if (row.complete()) ++meters_complete;
  if (row.failing()) ++meters_failing;
  ReadCounts::operator+=(row);
  for (const auto& r : row.reasons) reasons[{r.outcome, r.category}] += r.boundaries;
}

std::optional<double> Totals::ratio(std::int64_t part) const {
  if (expected <= 0) return std::nullopt;
  return static_cast<double>(part) / static_cast<double>(expected);
}

Totals totals_of(const std::vector<storage::MeterDay>& rows) {
  Totals t;
  for (const auto& r : rows) t.add(r);
  return t;
}

bool is_valid_dimension(std::string_view dimension) {
  return dimension == "gateway" || dimension == "model" || dimension == "protocol" ||
         (dimension.size() > 4 && dimension.substr(0, 4) == "tag:");
}

std::map<std::string, Totals> group_by(const std::vector<storage::MeterDay>& rows, std::string_view dimension) {
  if (!is_valid_dimension(dimension)) {
    throw std::invalid_argument("unknown breakdown '" + std::string(dimension) +
                                "' (use gateway, model, protocol or tag:KEY)");
  }
  std::map<std::string, Totals> out;
  for (const auto& r : rows) {
    std::string key;
    if (dimension == "gateway") {
      key = r.gateway;
    } else if (dimension == "model") {
      key = r.model;
    } else if (dimension == "protocol") {
      key = r.protocol;
    } else {
      key = tag_value(r.tags, dimension.substr(4));
    }
    out[key].add(r);
  }
  return out;
}

std::string tag_value(std::string_view tags, std::string_view key) {
  const auto all = tags_json(tags);
  const auto it = all.find(std::string(key));
  return it == all.end() ? std::string{} : it->get<std::string>();
}

std::string_view gateway_status(const Totals& t) {
  if (t.expected == 0 && t.boundaries_attempted == 0) return "idle";
  if (t.meters_failing == 0) return "ok";
  if (t.boundaries_ok == 0 && t.boundaries_failed_meter == 0 && t.boundaries_failed_transport > 0) return "down";
  return "degraded";
}

nlohmann::json to_json(const Totals& t) {
  auto reasons = nlohmann::json::array();
  for (const auto& [key, n] : t.reasons) {
    reasons.push_back({{"outcome", key.first}, {"category", key.second}, {"boundaries", n}});
  }
  return {
      {"meters", t.meters},
      {"meters_complete", t.meters_complete},
      {"meters_failing", t.meters_failing},
      {"intervals_expected", t.expected},
      {"intervals_first_attempt", t.first_attempt},
      {"intervals_after_retries", t.after_retries},
      {"intervals_after_backfill", t.after_backfill},
      {"intervals_on_time", t.on_time},
      {"completeness_first_attempt", optional_ratio(t.ratio(t.first_attempt))},
      {"completeness_after_retries", optional_ratio(t.ratio(t.after_retries))},
      {"completeness_after_backfill", optional_ratio(t.ratio(t.after_backfill))},
      {"on_time_rate", optional_ratio(t.ratio(t.on_time))},
      {"meter_day_complete_rate",
       t.meters > 0 && t.expected > 0
           ? nlohmann::json(static_cast<double>(t.meters_complete) / static_cast<double>(t.meters))
           : nlohmann::json(nullptr)},
      {"boundaries_attempted", t.boundaries_attempted},
      {"boundaries_ok", t.boundaries_ok},
      {"boundaries_failed_transport", t.boundaries_failed_transport},
      {"boundaries_failed_meter", t.boundaries_failed_meter},
      {"attempts", t.attempts},
      {"reasons", reasons},
  };
}

std::string main_reason(const storage::MeterDay& row) {
  if (row.reasons.empty()) {
    return row.expected > 0 && !row.complete() ? std::string("missing intervals") : std::string{};
  }
  return row.reasons.front().outcome + " (" + row.reasons.front().category + ")";
}

nlohmann::json to_json(const storage::MeterDay& row) {
  auto reasons = nlohmann::json::array();
  for (const auto& r : row.reasons) {
    reasons.push_back({{"outcome", r.outcome}, {"category", r.category}, {"boundaries", r.boundaries}});
  }
  nlohmann::json last = nullptr;
  if (row.last_failure) {
    last = {{"boundary", format_utc(row.last_failure->boundary)},
            {"started_at", format_utc_ms(row.last_failure->started_at)},
            {"outcome", row.last_failure->outcome},
            {"category", row.last_failure->category},
            {"detail", row.last_failure->detail}};
  }
  const auto ratio = [&](std::int64_t part) {
    return row.expected > 0 ? nlohmann::json(static_cast<double>(part) / static_cast<double>(row.expected))
                            : nlohmann::json(nullptr);
  };
  return {
      {"day", storage::format_day(row.day)},
      {"meter_id", row.meter_id},
      {"gateway", row.gateway},
      {"model", row.model},
      {"protocol", row.protocol},
      {"tags", tags_json(row.tags)},
      {"utc_offset_minutes", row.utc_offset_minutes},
      {"intervals_expected", row.expected},
      {"intervals_first_attempt", row.first_attempt},
      {"intervals_after_retries", row.after_retries},
      {"intervals_after_backfill", row.after_backfill},
      {"intervals_on_time", row.on_time},
      {"completeness_after_backfill", ratio(row.after_backfill)},
      {"complete", row.complete()},
      {"failing", row.failing()},
      {"boundaries_attempted", row.boundaries_attempted},
      {"boundaries_ok", row.boundaries_ok},
      {"boundaries_failed_transport", row.boundaries_failed_transport},
      {"boundaries_failed_meter", row.boundaries_failed_meter},
      {"attempts", row.attempts},
      {"main_reason", main_reason(row)},
      {"reasons", reasons},
      {"last_failure", last},
  };
}

std::string report_csv(const std::vector<storage::MeterDay>& rows) {
  std::string out(report_csv_header);
  out += '\n';
  for (const auto& r : rows) {
    out += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", storage::format_day(r.day),
                       csv_field(r.meter_id), csv_field(r.gateway), csv_field(r.model), csv_field(r.tags), r.expected,
                       r.first_attempt, r.after_retries, r.after_backfill, r.on_time, r.complete() ? "yes" : "no",
                       r.boundaries_failed_transport, r.boundaries_failed_meter, csv_field(main_reason(r)),
                       csv_field(r.last_failure ? r.last_failure->detail : std::string{}));
  }
  const auto t = totals_of(rows);
  out += fmt::format("{},TOTAL,,,,{},{},{},{},{},{}/{},{},{},,\n", rows.empty() ? "" : storage::format_day(rows[0].day),
                     t.expected, t.first_attempt, t.after_retries, t.after_backfill, t.on_time, t.meters_complete,
                     t.meters, t.boundaries_failed_transport, t.boundaries_failed_meter);
  return out;
}

std::string format_percent(std::optional<double> ratio) {
  return ratio ? fmt::format("{:.1f}%", *ratio * 100.0) : std::string("-");
}

std::string report_text(const std::vector<storage::MeterDay>& rows, std::string_view day) {
  const auto t = totals_of(rows);
  std::string out = fmt::format(
      "Read-success report for {}: {} meter(s), {} complete, {} failing\n"
      "Interval completeness: first attempt {}, after retries {}, after backfill {}; on time {}\n",
      day, t.meters, t.meters_complete, t.meters_failing, format_percent(t.ratio(t.first_attempt)),
      format_percent(t.ratio(t.after_retries)), format_percent(t.ratio(t.after_backfill)),
      format_percent(t.ratio(t.on_time)));
  out += fmt::format("Failed boundaries: {} transport, {} meter\n\n", t.boundaries_failed_transport,
                     t.boundaries_failed_meter);
  std::vector<const storage::MeterDay*> ordered;
  for (const auto& r : rows) ordered.push_back(&r);
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const auto* a, const auto* b) { return a->failing() && !b->failing(); });
  out += fmt::format("{:<20} {:<26} {:>9} {:>9} {:>8}  {}\n", "METER", "GATEWAY", "READ", "COMPLETE", "ON-TIME",
                     "REASON");
  for (const auto* r : ordered) {
    const auto ratio = [&](std::int64_t part) {
      return r->expected > 0 ? std::optional<double>(static_cast<double>(part) / static_cast<double>(r->expected))
                             : std::nullopt;
    };
    out += fmt::format("{:<20} {:<26} {:>4}/{:<4} {:>9} {:>8}  {}\n", r->meter_id, r->gateway, r->after_backfill,
                       r->expected, r->complete() ? "yes" : "NO", format_percent(ratio(r->on_time)), main_reason(*r));
  }
  return out;
}

}  // namespace ami::monitor
