// Fleet views over per-meter-day KPIs (storage/kpi.hpp): totals, breakdowns by gateway, model or
// registry tag, gateway status, the daily report (JSON and CSV). This is what the JSON API, the
// dashboard and `headendctl status|report` show, so they always agree.
//
// Pure functions over values; any thread; nothing throws except group_by() for an unknown
// dimension (std::invalid_argument naming it).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "storage/kpi.hpp"

namespace ami::monitor {

struct Totals : storage::ReadCounts {
  std::int64_t meters = 0;
  std::int64_t meters_complete = 0;
  std::int64_t meters_failing = 0;
  std::map<std::pair<std::string, std::string>, std::int64_t> reasons;  // (outcome, category) -> boundaries

  void add(const storage::MeterDay& row);
  // part / expected; nullopt when nothing was expected yet.
  [[nodiscard]] std::optional<double> ratio(std::int64_t part) const;
};

Totals totals_of(const std::vector<storage::MeterDay>& rows);

// "gateway", "model", "protocol" or "tag:KEY" (e.g. "tag:district"; meters without the tag group
// under ""). Throws std::invalid_argument for anything else.
std::map<std::string, Totals> group_by(const std::vector<storage::MeterDay>& rows, std::string_view dimension);
bool is_valid_dimension(std::string_view dimension);

// Value of `key` in "k=v;k=v" tags; "" when absent.
std::string tag_value(std::string_view tags, std::string_view key);

// ok: every meter complete and no failed boundary; down: nothing read at all and every failure a
// transport one (the gateway, not its meters); degraded otherwise. "idle" when nothing expected.
std::string_view gateway_status(const Totals& totals);

nlohmann::json to_json(const Totals& totals);
nlohmann::json to_json(const storage::MeterDay& row);
// The headline reason of a meter-day ("refused (transport)") or "" when nothing failed.
std::string main_reason(const storage::MeterDay& row);

// The daily read-success report field ops send upward: one line per meter, then a TOTAL line.
inline constexpr std::string_view report_csv_header =
    "day,meter_id,gateway,model,tags,expected,first_attempt,after_retries,after_backfill,on_time,complete,"
    "failed_transport,failed_meter,main_reason,last_failure_detail";
std::string report_csv(const std::vector<storage::MeterDay>& rows);
// Human-readable form of the same report (fixed-width columns, failing meters listed first).
std::string report_text(const std::vector<storage::MeterDay>& rows, std::string_view day);

std::string format_percent(std::optional<double> ratio);  // "98.5%" or "-"

}  // namespace ami::monitor
