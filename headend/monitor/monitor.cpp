#include "headend/monitor/monitor.hpp"

#include <spdlog/spdlog.h>

#include "headend/monitor/fleet_view.hpp"
#include "headend/monitor/web_assets.hpp"

namespace ami::monitor {

namespace {

namespace bh = boost::beast::http;

const WebAsset* find_asset(std::string_view name) {
  for (const auto& a : web_assets()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

http::Response asset_response(const WebAsset& asset) {
  auto res = http::text_response(bh::status::ok, std::string(asset.body), asset.content_type);
  res.set(bh::field::cache_control, "no-cache");
  return res;
}

}  // namespace

Monitor::Monitor(asio::io_context& io, Clock clock, std::filesystem::path database, MonitorOptions options)
    : clock_(clock),
      database_(std::move(database)),
      options_(std::move(options)),
      api_(database_, clock_, options_.api),
      pool_(std::max<std::size_t>(options_.handler_threads, 1)) {
  register_metrics();
  register_routes();
  server_ = std::make_unique<http::HttpServer>(io, pool_.get_executor(), router_, options_.http);
}

Monitor::~Monitor() {
  pool_.stop();
  pool_.join();
}

void Monitor::start() { server_->start(); }

void Monitor::stop() { server_->stop(); }

void Monitor::register_metrics() {
  attempts_ = &metrics_.counter("ami_read_attempts_total",
                                "Read attempts by gateway, outcome and category (ok, transport, meter); retries "
                                "count as attempts.",
                                {"gateway", "outcome", "category"});
  latency_ = &metrics_.histogram("ami_read_transaction_seconds",
                                 "Duration of one read transaction (request to usable reply or failure).",
                                 {"gateway"}, {0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10});
  queue_depth_ = &metrics_.gauge("ami_channel_queue_depth", "Read jobs waiting per gateway/channel.", {"gateway"});
  store_counters_ = &metrics_.counter("ami_store_rows_total",
                                      "Rows committed by the staging store writer since start, by kind.", {"kind"});
  store_page_cache_ = &metrics_.gauge("ami_store_page_cache_bytes",
                                      "The store writer's SQLite page cache after its last commit (memory).");
  feed_head_ = &metrics_.gauge("ami_feed_head_sequence", "Newest feed (outbox) sequence committed.");
  feed_lag_ = &metrics_.gauge("ami_feed_consumer_lag_sequences",
                              "Feed sequences committed but not yet acknowledged, per consumer.", {"consumer"});
  store_lag_ = &metrics_.gauge("ami_store_lag_seconds",
                               "Head-end time since the newest published interval was collected (storage lag).");
  vee_flags_ = &metrics_.gauge("ami_vee_flagged_intervals",
                               "Current intervals of today carrying an IEC 61968-9 quality code, by code.", {"code"});
  meters_ = &metrics_.gauge("ami_kpi_meters", "Enabled meters today by state (total, complete, failing).", {"state"});
  completeness_ = &metrics_.gauge(
      "ami_kpi_interval_completeness_ratio",
      "Today's intervals received / expected so far, by stage (first_attempt, after_retries, after_backfill).",
      {"stage"});
  on_time_ = &metrics_.gauge("ami_kpi_on_time_ratio", "Today's intervals stored before the deadline / expected.");
  failed_boundaries_ = &metrics_.gauge("ami_kpi_failed_boundaries",
                                       "Today's meter boundaries with no successful read, by category "
                                       "(transport vs meter).",
                                       {"category"});
  failure_reasons_ = &metrics_.gauge("ami_kpi_failure_reasons",
                                     "Today's failed meter boundaries by the outcome of their last attempt.",
                                     {"outcome", "category"});
  gateways_ = &metrics_.gauge("ami_kpi_gateways", "Gateways/channels today by status (ok, degraded, down, idle).",
                              {"status"});
  gateway_completeness_ = &metrics_.gauge("ami_kpi_gateway_completeness_ratio",
                                          "Today's interval completeness after backfill per gateway.", {"gateway"});
  gateway_up_ = &metrics_.gauge("ami_kpi_gateway_up",
                                "1 unless the gateway is down today (nothing read, only transport failures).",
                                {"gateway"});
  group_completeness_ = &metrics_.gauge(
      "ami_kpi_group_completeness_ratio",
      "Today's interval completeness after backfill per meter model and per registry tag (dimension=model or "
      "tag:KEY).",
      {"dimension", "key"});
  chronic_ = &metrics_.gauge("ami_kpi_chronic_meters", "Meters failing the configured number of consecutive days.");
  kpi_age_ = &metrics_.gauge("ami_kpi_refresh_timestamp_seconds", "Unix time of the last KPI gauge refresh.");
  kpi_duration_ = &metrics_.histogram("ami_kpi_refresh_seconds",
                                      "Duration of one KPI gauge refresh (catch-up of the KPI rollup plus gauges).",
                                      {}, {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5});
  kpi_errors_ = &metrics_.counter("ami_kpi_refresh_errors_total", "KPI gauge refreshes that failed (see the log).");

  for (const auto* state : {"total", "complete", "failing"}) meters_->with({state});
  for (const auto* stage : {"first_attempt", "after_retries", "after_backfill"}) completeness_->with({stage});
  for (const auto* category : {"transport", "meter"}) failed_boundaries_->with({category});
  for (const auto* status : {"ok", "degraded", "down", "idle"}) gateways_->with({status});

  metrics_.on_collect([this] { refresh_kpi_gauges(); });
}

void Monitor::record_attempts(const std::vector<storage::AttemptRecord>& attempts) {
  for (const auto& a : attempts) {
    attempts_->with({a.channel, a.outcome, a.category}).inc();
    latency_->with({a.channel}).observe(static_cast<double>(a.latency_ms) / 1000.0);
  }
}

void Monitor::refresh_kpi_gauges() {
  const std::lock_guard lock(refresh_mutex_);
  if (store_stats_) {
    const auto s = store_stats_();
    store_counters_->with({"reads"}).advance_to(s.reads_stored);
    store_counters_->with({"attempts"}).advance_to(s.attempts_stored);
    store_counters_->with({"intervals"}).advance_to(s.intervals_stored);
    store_counters_->with({"intervals_suspect"}).advance_to(s.intervals_suspect);
    store_counters_->with({"transactions"}).advance_to(s.transactions);
    store_page_cache_->get().set(static_cast<double>(s.page_cache_bytes));
  }
  const auto steady_now = std::chrono::steady_clock::now();
  if (refreshed_once_ && steady_now - last_refresh_ < options_.kpi_refresh) return;
  try {
    if (!reader_) reader_ = std::make_unique<storage::StoreReader>(database_);
    const auto now = std::chrono::floor<std::chrono::seconds>(clock_.now());
    const auto& kpi_options = options_.api.kpi;
    const auto today = storage::day_of(now, kpi_options.utc_offset_minutes);
    // The API's rollup: catches up on what was committed since the last request, then reads memory.
    std::vector<storage::MeterDay> rows;
    std::vector<std::pair<std::string, int>> chronic;
    std::vector<storage::QualityCodeCount> flags;
    std::optional<UtcMillis> newest;
    api_.with_kpi([&](storage::KpiQueries& kpi) {
      rows = kpi.meter_days(today, 1, now, kpi_options);
      chronic = kpi.consecutive_failed_days(today, options_.api.chronic_days, now, kpi_options);
      flags = kpi.quality_code_counts(storage::day_start_utc(today, kpi_options.utc_offset_minutes), now);
      newest = kpi.newest_interval_collected_at();
    });
    const auto t = totals_of(rows);
    const auto set_ratio = [](Gauge& g, std::optional<double> r) { g.set(r.value_or(1.0)); };
    meters_->with({"total"}).set(static_cast<double>(t.meters));
    meters_->with({"complete"}).set(static_cast<double>(t.meters_complete));
    meters_->with({"failing"}).set(static_cast<double>(t.meters_failing));
    set_ratio(completeness_->with({"first_attempt"}), t.ratio(t.first_attempt));
    set_ratio(completeness_->with({"after_retries"}), t.ratio(t.after_retries));
    set_ratio(completeness_->with({"after_backfill"}), t.ratio(t.after_backfill));
    set_ratio(on_time_->get(), t.ratio(t.on_time));
    failed_boundaries_->with({"transport"}).set(static_cast<double>(t.boundaries_failed_transport));
    failed_boundaries_->with({"meter"}).set(static_cast<double>(t.boundaries_failed_meter));
    // Counts of today: a reason or flag that went away must read 0, not its last value.
    failure_reasons_->for_each([](Gauge& g) { g.set(0); });
    vee_flags_->for_each([](Gauge& g) { g.set(0); });
    for (const auto& [key, n] : t.reasons) failure_reasons_->with({key.first, key.second}).set(static_cast<double>(n));

    std::map<std::string, int> statuses{{"ok", 0}, {"degraded", 0}, {"down", 0}, {"idle", 0}};
    for (const auto& [gw, g] : group_by(rows, "gateway")) {
      const auto status = gateway_status(g);
      ++statuses[std::string(status)];
      set_ratio(gateway_completeness_->with({gw}), g.ratio(g.after_backfill));
      gateway_up_->with({gw}).set(status == "down" ? 0.0 : 1.0);
    }
    for (const auto& [status, n] : statuses) gateways_->with({status}).set(n);
    std::vector<std::string> dimensions{"model"};
    for (const auto& tag : options_.tag_breakdowns) dimensions.push_back("tag:" + tag);
    for (const auto& dimension : dimensions) {
      for (const auto& [key, g] : group_by(rows, dimension)) {
        set_ratio(group_completeness_->with({dimension, key}), g.ratio(g.after_backfill));
      }
    }
    chronic_->get().set(static_cast<double>(std::count_if(
        chronic.begin(), chronic.end(), [&](const auto& c) { return c.second >= options_.api.chronic_days; })));

    for (const auto& q : flags) vee_flags_->with({q.code}).set(static_cast<double>(q.intervals));
    const auto head = reader_->head_sequence();
    feed_head_->get().set(static_cast<double>(head));
    for (const auto& [consumer, acked] : reader_->consumer_cursors()) {
      feed_lag_->with({consumer}).set(static_cast<double>(head >= acked ? head - acked : 0));
    }
    store_lag_->get().set(newest ? std::chrono::duration<double>(clock_.now() - *newest).count() : 0.0);
    kpi_age_->get().set(static_cast<double>(now.time_since_epoch().count()));
    kpi_duration_->get().observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - steady_now).count());
    last_refresh_ = steady_now;
    refreshed_once_ = true;
  } catch (const std::exception& e) {
    kpi_errors_->get().inc();
    spdlog::warn("monitor: KPI refresh failed: {}", e.what());
  }
}

void Monitor::register_routes() {
  router_.set_bearer_token(options_.api_token);
  api_.register_routes(router_);
  router_.add(bh::verb::get, "/metrics", [this](const http::RequestContext&) {
    return http::text_response(bh::status::ok, metrics_.render(), MetricsRegistry::content_type);
  });
  router_.add(bh::verb::get, "/healthz", [](const http::RequestContext&) {
    return http::json_response(bh::status::ok, {{"status", "ok"}});
  });
  router_.add(bh::verb::get, "/", [](const http::RequestContext&) {
    const auto* index = find_asset("index.html");
    if (index == nullptr) throw std::logic_error("dashboard index.html was not embedded");
    return asset_response(*index);
  });
  router_.add(bh::verb::get, "/assets/{name}", [](const http::RequestContext& ctx) {
    const auto* asset = find_asset(ctx.param("name"));
    if (asset == nullptr || asset->name == "index.html") {
      throw http::HttpError(bh::status::not_found, "not_found", "no such asset");
    }
    return asset_response(*asset);
  });
}

}  // namespace ami::monitor
