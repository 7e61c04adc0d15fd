#include "headend/monitor/api.hpp"

#include <future>

#include "headend/monitor/fleet_view.hpp"
#include "storage/store_reader.hpp"

namespace ami::monitor {

namespace {

namespace bh = boost::beast::http;
using http::HttpError;
using http::RequestContext;
using http::Response;
using nlohmann::json;

json meter_record_json(const storage::MeterRecord& m) {
  return {{"meter_id", m.meter_id},     {"protocol", m.protocol},
          {"channel", m.channel},       {"address", m.address},
          {"model", m.model},           {"ct_ratio", m.ct_ratio},
          {"pt_ratio", m.pt_ratio},     {"utc_offset_minutes", m.utc_offset_minutes},
          {"usage_point", m.usage_point}, {"interval_minutes", m.interval_minutes},
          {"enabled", m.enabled},       {"tags", m.tags}};
}

bool flag_param(const RequestContext& ctx, std::string_view name) {
  const auto v = ctx.query_value(name);
  if (!v) return false;
  if (*v == "true" || *v == "1" || v->empty()) return true;
  if (*v == "false" || *v == "0") return false;
  throw HttpError(bh::status::bad_request, "bad_parameter",
                  "query parameter '" + std::string(name) + "' must be true or false");
}

}  // namespace

MonitorApi::MonitorApi(std::filesystem::path database, Clock clock, ApiOptions options)
    : database_(std::move(database)), clock_(clock), options_(options) {}

MonitorApi::~MonitorApi() = default;

storage::KpiQueries& MonitorApi::kpi() {
  if (!kpi_) kpi_ = std::make_unique<storage::KpiQueries>(database_);
  return *kpi_;
}

storage::StoreReader& MonitorApi::reader() {
  if (!reader_) reader_ = std::make_unique<storage::StoreReader>(database_);
  return *reader_;
}

storage::LocalDay MonitorApi::today() const {
  return storage::day_of(std::chrono::floor<std::chrono::seconds>(clock_.now()), options_.kpi.utc_offset_minutes);
}

storage::LocalDay MonitorApi::day_param(const RequestContext& ctx) const {
  const auto text = ctx.query_value("day");
  if (!text || *text == "today") return today();
  const auto day = storage::parse_day(*text);
  if (!day) {
    throw HttpError(bh::status::bad_request, "bad_parameter",
                    "query parameter 'day' must be YYYY-MM-DD or today, got '" + text->substr(0, 40) + "'");
  }
  return *day;
}

std::vector<storage::MeterDay> MonitorApi::meter_days(storage::LocalDay day) {
  const std::lock_guard lock(mutex_);
  return kpi().meter_days(day, 1, std::chrono::floor<std::chrono::seconds>(clock_.now()), options_.kpi);
}

void MonitorApi::require_meter(const std::string& meter_id) {
  if (!reader().meter(meter_id)) {
    throw HttpError(bh::status::not_found, "unknown_meter", "no meter '" + meter_id.substr(0, 80) + "' in the registry");
  }
}

void MonitorApi::register_routes(http::Router& router) {
  const auto route = [&](bh::verb verb, const char* pattern, Response (MonitorApi::*handler)(const RequestContext&),
                         http::Access access = http::Access::open) {
    router.add(verb, pattern, [this, handler](const RequestContext& ctx) { return (this->*handler)(ctx); }, access);
  };
  route(bh::verb::get, "/api/v1/summary", &MonitorApi::summary);
  route(bh::verb::get, "/api/v1/gateways", &MonitorApi::gateways);
  route(bh::verb::get, "/api/v1/breakdown", &MonitorApi::breakdown);
  route(bh::verb::get, "/api/v1/meters", &MonitorApi::meters);
  route(bh::verb::get, "/api/v1/meters/{meter_id}", &MonitorApi::meter);
  route(bh::verb::get, "/api/v1/meters/{meter_id}/attempts", &MonitorApi::attempts);
  route(bh::verb::get, "/api/v1/meters/{meter_id}/intervals", &MonitorApi::intervals);
  route(bh::verb::get, "/api/v1/chronic", &MonitorApi::chronic);
  route(bh::verb::get, "/api/v1/report", &MonitorApi::report);
  route(bh::verb::post, "/api/v1/meters/{meter_id}/read", &MonitorApi::read_now, http::Access::bearer_token);
}

Response MonitorApi::summary(const RequestContext& ctx) {
  const auto day = day_param(ctx);
  const auto now = std::chrono::floor<std::chrono::seconds>(clock_.now());
  const std::lock_guard lock(mutex_);
  const int n = std::max(options_.history_days, 1);
  const auto first = day - std::chrono::days{n - 1};
  const auto rows = kpi().meter_days(first, n, now, options_.kpi);
  auto history = json::array();
  std::vector<storage::MeterDay> today_rows;
  for (int k = 0; k < n; ++k) {
    std::vector<storage::MeterDay> of_day;
    for (const auto& r : rows) {
      if (r.day == first + std::chrono::days{k}) of_day.push_back(r);
    }
    const auto t = totals_of(of_day);
    auto entry = to_json(t);
    entry.erase("reasons");
    entry["day"] = storage::format_day(first + std::chrono::days{k});
    history.push_back(std::move(entry));
    if (k == n - 1) today_rows = std::move(of_day);
  }
  std::map<std::string, int> gateway_states;
  for (const auto& [gw, t] : group_by(today_rows, "gateway")) ++gateway_states[std::string(gateway_status(t))];
  const auto chronic = kpi().consecutive_failed_days(day, options_.chronic_days, now, options_.kpi);
  const auto chronic_count = std::count_if(chronic.begin(), chronic.end(), [&](const auto& c) {
    return c.second >= options_.chronic_days;
  });
  return http::json_response(bh::status::ok, {{"day", storage::format_day(day)},
                                              {"as_of", format_utc(now)},
                                              {"utc_offset_minutes", options_.kpi.utc_offset_minutes},
                                              {"totals", to_json(totals_of(today_rows))},
                                              {"gateways", gateway_states},
                                              {"chronic_meters", chronic_count},
                                              {"chronic_days", options_.chronic_days},
                                              {"history", history}});
}

Response MonitorApi::gateways(const RequestContext& ctx) {
  const auto day = day_param(ctx);
  const auto rows = meter_days(day);
  auto list = json::array();
  for (const auto& [gw, t] : group_by(rows, "gateway")) {
    list.push_back({{"gateway", gw}, {"status", gateway_status(t)}, {"totals", to_json(t)}});
  }
  return http::json_response(bh::status::ok, {{"day", storage::format_day(day)}, {"gateways", list}});
}

Response MonitorApi::breakdown(const RequestContext& ctx) {
  const auto by = ctx.query_value("by").value_or("gateway");
  if (!is_valid_dimension(by)) {
    throw HttpError(bh::status::bad_request, "bad_parameter",
                    "query parameter 'by' must be gateway, model, protocol or tag:KEY, got '" + by.substr(0, 40) + "'");
  }
  const auto day = day_param(ctx);
  const auto rows = meter_days(day);
  auto groups = json::array();
  for (const auto& [key, t] : group_by(rows, by)) groups.push_back({{"key", key}, {"totals", to_json(t)}});
  return http::json_response(bh::status::ok, {{"day", storage::format_day(day)}, {"by", by}, {"groups", groups}});
}

Response MonitorApi::meters(const RequestContext& ctx) {
  const auto day = day_param(ctx);
  const bool failing_only = flag_param(ctx, "failing");
  const auto gateway = ctx.query_value("gateway");
  const auto model = ctx.query_value("model");
  const auto tag = ctx.query_value("tag");  // key=value
  std::string tag_key;
  std::string tag_wanted;
  if (tag) {
    const auto eq = tag->find('=');
    if (eq == std::string::npos || eq == 0) {
      throw HttpError(bh::status::bad_request, "bad_parameter", "query parameter 'tag' must be KEY=VALUE");
    }
    tag_key = tag->substr(0, eq);
    tag_wanted = tag->substr(eq + 1);
  }
  const auto limit = ctx.query_int("limit", 1000, 1, 100000);
  const auto rows = meter_days(day);
  auto list = json::array();
  std::int64_t matched = 0;
  for (const auto& r : rows) {
    if (failing_only && !r.failing()) continue;
    if (gateway && r.gateway != *gateway) continue;
    if (model && r.model != *model) continue;
    if (tag && tag_value(r.tags, tag_key) != tag_wanted) continue;
    if (++matched <= limit) list.push_back(to_json(r));
  }
  return http::json_response(bh::status::ok,
                             {{"day", storage::format_day(day)}, {"matched", matched}, {"meters", list}});
}

Response MonitorApi::meter(const RequestContext& ctx) {
  const auto& id = ctx.param("meter_id");
  const auto day = day_param(ctx);
  std::optional<storage::MeterRecord> record;
  {
    const std::lock_guard lock(mutex_);
    record = reader().meter(id);
  }
  if (!record) {
    throw HttpError(bh::status::not_found, "unknown_meter", "no meter '" + id.substr(0, 80) + "' in the registry");
  }
  json day_json = nullptr;
  for (const auto& r : meter_days(day)) {
    if (r.meter_id == id) day_json = to_json(r);
  }
  return http::json_response(bh::status::ok, {{"meter", meter_record_json(*record)}, {"kpi", day_json}});
}

Response MonitorApi::attempts(const RequestContext& ctx) {
  const auto& id = ctx.param("meter_id");
  const auto limit = ctx.query_int("limit", 100, 1, 5000);
  const auto hours = ctx.query_int("hours", 48, 1, 24 * 31);
  const auto since = std::chrono::floor<std::chrono::seconds>(clock_.now()) - std::chrono::hours{hours};
  const std::lock_guard lock(mutex_);
  require_meter(id);
  auto list = json::array();
  for (const auto& a : kpi().recent_attempts(id, since, static_cast<std::size_t>(limit))) {
    list.push_back({{"boundary", format_utc(a.boundary)},
                    {"started_at", format_utc_ms(a.started_at)},
                    {"attempt", a.attempt},
                    {"outcome", a.outcome},
                    {"category", a.category},
                    {"detail", a.detail},
                    {"latency_ms", a.latency_ms},
                    {"gateway", a.channel},
                    {"source", storage::to_string(a.source)}});
  }
  return http::json_response(bh::status::ok, {{"meter_id", id}, {"attempts", list}});
}

Response MonitorApi::intervals(const RequestContext& ctx) {
  const auto& id = ctx.param("meter_id");
  const auto day = day_param(ctx);
  const std::lock_guard lock(mutex_);
  const auto record = reader().meter(id);
  if (!record) {
    throw HttpError(bh::status::not_found, "unknown_meter", "no meter '" + id.substr(0, 80) + "' in the registry");
  }
  // The meter's own day (its registry offset), as its KPI row counts it.
  const auto from = storage::day_start_utc(day, record->utc_offset_minutes);
  const auto to = from + std::chrono::days{1};
  auto list = json::array();
  for (const auto channel : {storage::EnergyChannel::forward_active, storage::EnergyChannel::reverse_active}) {
    for (const auto& iv : reader().intervals(id, channel, from, to)) {
      if (iv.superseded) continue;
      list.push_back({{"channel", storage::to_string(iv.channel)},
                      {"start", format_utc(iv.start)},
                      {"end", format_utc(iv.end)},
                      {"value_wh", iv.value_wh},
                      {"status", storage::to_string(iv.status)},
                      {"quality_codes", iv.quality_codes},
                      {"version", iv.version},
                      {"source", storage::to_string(iv.source)},
                      {"collected_at", format_utc_ms(iv.collected_at)}});
    }
  }
  return http::json_response(bh::status::ok, {{"meter_id", id},
                                              {"day", storage::format_day(day)},
                                              {"utc_offset_minutes", record->utc_offset_minutes},
                                              {"intervals", list}});
}

Response MonitorApi::chronic(const RequestContext& ctx) {
  const auto day = day_param(ctx);
  const auto days = ctx.query_int("days", options_.chronic_days, 1, 31);
  const auto now = std::chrono::floor<std::chrono::seconds>(clock_.now());
  const std::lock_guard lock(mutex_);
  auto list = json::array();
  for (const auto& [meter, n] : kpi().consecutive_failed_days(day, static_cast<int>(days), now, options_.kpi)) {
    if (n >= days) list.push_back({{"meter_id", meter}, {"failed_days", n}});
  }
  return http::json_response(bh::status::ok, {{"day", storage::format_day(day)}, {"days", days}, {"meters", list}});
}

Response MonitorApi::report(const RequestContext& ctx) {
  const auto day = day_param(ctx);
  const auto format = ctx.query_value("format").value_or("json");
  const auto rows = meter_days(day);
  if (format == "csv") {
    auto res = http::text_response(bh::status::ok, report_csv(rows), "text/csv; charset=utf-8");
    res.set(bh::field::content_disposition, "attachment; filename=\"read-success-" + storage::format_day(day) + ".csv\"");
    return res;
  }
  if (format != "json") {
    throw HttpError(bh::status::bad_request, "bad_parameter", "query parameter 'format' must be json or csv");
  }
  auto list = json::array();
  for (const auto& r : rows) list.push_back(to_json(r));
  return http::json_response(bh::status::ok,
                             {{"day", storage::format_day(day)}, {"totals", to_json(totals_of(rows))}, {"meters", list}});
}

Response MonitorApi::read_now(const RequestContext& ctx) {
  const auto& id = ctx.param("meter_id");
  (void)ctx.json_body();  // reserved for options; must still be well-formed when given
  {
    const std::lock_guard lock(mutex_);
    require_meter(id);
  }
  if (!on_demand_) {
    throw HttpError(bh::status::service_unavailable, "unavailable", "on-demand reads are not available in this process");
  }
  auto promise = std::make_shared<std::promise<OnDemandResult>>();
  auto future = promise->get_future();
  on_demand_(id, [promise](OnDemandResult result) { promise->set_value(std::move(result)); });
  if (future.wait_for(options_.on_demand_timeout) != std::future_status::ready) {
    throw HttpError(bh::status::gateway_timeout, "timeout", "the on-demand read did not finish in time");
  }
  const auto r = future.get();
  json body = {{"meter_id", id},        {"ok", r.ok},           {"outcome", r.outcome},
               {"category", r.category}, {"detail", r.detail},   {"attempts", r.attempts},
               {"boundary", r.boundary}, {"forward_wh", nullptr}, {"reverse_wh", nullptr}};
  if (r.forward_wh) body["forward_wh"] = *r.forward_wh;
  if (r.reverse_wh) body["reverse_wh"] = *r.reverse_wh;
  const auto status = r.category == "rejected" ? bh::status::conflict : bh::status::ok;
  return http::json_response(status, body);
}

}  // namespace ami::monitor
