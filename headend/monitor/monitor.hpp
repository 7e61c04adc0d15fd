// Monitor: the daemon's field-ops monitoring in one object (docs/MONITORING.md). It owns the
// metrics registry and the standard head-end metrics, the JSON API, the dashboard routes and the
// HTTP server (GET /, /assets/*, /metrics, /healthz, /api/v1/*).
//
// How the daemon uses it (see docs/MONITORING.md "Wiring into the daemon"):
//   Monitor monitor(io, clock, database_path, options);   // after the store exists
//   monitor.start();                                       // binds; throws std::system_error
//   monitor.record_attempts(attempts);                     // after each finished read job
//   monitor.set_store_stats(...), set_feed_source(...), queue_depth() ... (optional)
//   monitor.stop();                                        // at shutdown, on the io thread
//
// Ownership/threads: the Monitor must outlive io.run(). HTTP connections run on `io`; request
// handlers (SQLite queries, /metrics rendering) run on the Monitor's own small thread pool, so
// they never block meter channels. record_attempts() and the metric families are thread-safe
// (atomics). Callbacks given to set_store_stats()/set_feed_lag() run on a handler thread at
// scrape time and must be thread-safe.
// Errors: start() throws std::system_error naming the listen address; scrape-time failures of
// the KPI queries are logged and leave the previous gauge values.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "headend/http/router.hpp"
#include "headend/http/server.hpp"
#include "headend/monitor/api.hpp"
#include "headend/monitor/metrics.hpp"
#include "headend/runtime/asio.hpp"
#include "protocols/common/clock.hpp"
#include "storage/kpi.hpp"
#include "storage/store_reader.hpp"
#include "storage/store_writer.hpp"

namespace ami::monitor {

struct MonitorOptions {
  http::ServerOptions http;         // listen address (127.0.0.1 by default) and limits
  std::string api_token;            // bearer token for POST routes; empty disables them
  ApiOptions api;
  std::chrono::milliseconds kpi_refresh{15000};  // KPI gauges are recomputed at most this often
  std::vector<std::string> tag_breakdowns{"district", "feeder"};  // registry tags exported as labels
  std::size_t handler_threads = 2;
};

class Monitor {
 public:
  Monitor(asio::io_context& io, Clock clock, std::filesystem::path database, MonitorOptions options);
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  void start();
  void stop();
  [[nodiscard]] std::uint16_t port() const { return server_->port(); }

  // Hot path (any thread): counts each attempt by gateway, outcome and category and observes
  // its latency.
  void record_attempts(const std::vector<storage::AttemptRecord>& attempts);

  // Wiring for optional sources (call before start()).
  void set_on_demand(OnDemandRead read) { api_.set_on_demand(std::move(read)); }
  void set_store_stats(std::function<storage::WriterStats()> stats) { store_stats_ = std::move(stats); }
  // Per-gateway job queue depth, set by the daemon from its own thread.
  Family<Gauge>& queue_depth() { return *queue_depth_; }

  MetricsRegistry& metrics() { return metrics_; }
  MonitorApi& api() { return api_; }

 private:
  void register_metrics();
  void register_routes();
  void refresh_kpi_gauges();  // on a handler thread, from the collect hook

  Clock clock_;
  std::filesystem::path database_;
  MonitorOptions options_;
  MetricsRegistry metrics_;
  MonitorApi api_;
  http::Router router_;
  asio::thread_pool pool_;
  std::unique_ptr<http::HttpServer> server_;
  std::function<storage::WriterStats()> store_stats_;

  Family<Counter>* attempts_ = nullptr;
  Family<Histogram>* latency_ = nullptr;
  Family<Gauge>* queue_depth_ = nullptr;
  Family<Counter>* store_counters_ = nullptr;
  Family<Gauge>* store_page_cache_ = nullptr;
  Family<Gauge>* feed_head_ = nullptr;
  Family<Gauge>* feed_lag_ = nullptr;
  Family<Gauge>* store_lag_ = nullptr;
  Family<Gauge>* vee_flags_ = nullptr;
  Family<Gauge>* meters_ = nullptr;
  Family<Gauge>* completeness_ = nullptr;
  Family<Gauge>* on_time_ = nullptr;
  Family<Gauge>* failed_boundaries_ = nullptr;
  Family<Gauge>* failure_reasons_ = nullptr;
  Family<Gauge>* gateways_ = nullptr;
  Family<Gauge>* gateway_completeness_ = nullptr;
  Family<Gauge>* gateway_up_ = nullptr;
  Family<Gauge>* group_completeness_ = nullptr;
  Family<Gauge>* chronic_ = nullptr;
  Family<Gauge>* kpi_age_ = nullptr;
  Family<Histogram>* kpi_duration_ = nullptr;
  Family<Counter>* kpi_errors_ = nullptr;

  std::mutex refresh_mutex_;  // guards the members below
  std::unique_ptr<storage::StoreReader> reader_;
  std::chrono::steady_clock::time_point last_refresh_{};
  bool refreshed_once_ = false;
};

}  // namespace ami::monitor
