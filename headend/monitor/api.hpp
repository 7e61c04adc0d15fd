// The monitoring JSON API (docs/MONITORING.md "JSON API"): fleet summary, gateways, breakdowns,
// meters (filter failing), one meter's attempts, intervals and flags, chronic failures, the daily
// report, and the on-demand read (POST, bearer token).
//
// Ownership/threads: MonitorApi owns its read connections to the staging store (opened at the
// first request) and serialises its handlers with a mutex, so the Router may call them from any
// thread. The on-demand callback is invoked from a handler thread; it must hand the read to the
// daemon's io_context itself and call `done` exactly once, from any thread.
// Errors: bad parameters -> HttpError 400 naming the parameter; unknown meter -> 404; the store
// unreachable -> the router's generic 500 (details logged only).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "headend/http/router.hpp"
#include "protocols/common/clock.hpp"
#include "storage/kpi.hpp"

namespace ami::storage {
class StoreReader;
}

namespace ami::monitor {

struct ApiOptions {
  storage::KpiOptions kpi;
  int chronic_days = 3;   // a meter failing this many consecutive days is chronic
  int history_days = 7;   // the summary's day-by-day history
  std::chrono::seconds on_demand_timeout{60};  // real time to wait for an on-demand read
};

struct OnDemandResult {
  bool ok = false;
  std::string outcome;   // e.g. ok, timeout, unknown_meter, busy
  std::string category;  // ok | transport | meter | rejected
  std::string detail;
  int attempts = 0;
  std::optional<std::int64_t> forward_wh;  // register values read, when ok
  std::optional<std::int64_t> reverse_wh;
  std::string boundary;  // UTC boundary the read was for
};

using OnDemandRead = std::function<void(const std::string& meter_id, std::function<void(OnDemandResult)> done)>;

class MonitorApi {
 public:
  MonitorApi(std::filesystem::path database, Clock clock, ApiOptions options);
  ~MonitorApi();
  MonitorApi(const MonitorApi&) = delete;
  MonitorApi& operator=(const MonitorApi&) = delete;

  // Adds every /api/v1 route. Call once, before the server starts.
  void register_routes(http::Router& router);
  // Without one, POST /api/v1/meters/{id}/read answers 503.
  void set_on_demand(OnDemandRead read) { on_demand_ = std::move(read); }

  // The rows behind the API (also used for the KPI gauges): every enabled meter on `day`.
  std::vector<storage::MeterDay> meter_days(storage::LocalDay day);
  [[nodiscard]] storage::LocalDay today() const;
  // Runs f(KpiQueries&) under the API's lock: the Monitor's gauges share the API's incremental
  // KPI rollup instead of keeping a second one.
  template <class F>
  decltype(auto) with_kpi(F&& f) {
    const std::lock_guard lock(mutex_);
    return f(kpi());
  }
  [[nodiscard]] const ApiOptions& options() const { return options_; }

 private:
  http::Response summary(const http::RequestContext& ctx);
  http::Response gateways(const http::RequestContext& ctx);
  http::Response breakdown(const http::RequestContext& ctx);
  http::Response meters(const http::RequestContext& ctx);
  http::Response meter(const http::RequestContext& ctx);
  http::Response attempts(const http::RequestContext& ctx);
  http::Response intervals(const http::RequestContext& ctx);
  http::Response chronic(const http::RequestContext& ctx);
  http::Response report(const http::RequestContext& ctx);
  http::Response read_now(const http::RequestContext& ctx);

  storage::LocalDay day_param(const http::RequestContext& ctx) const;
  storage::KpiQueries& kpi();        // mutex_ held
  storage::StoreReader& reader();    // mutex_ held
  void require_meter(const std::string& meter_id);  // 404 unless registered; mutex_ held

  std::filesystem::path database_;
  Clock clock_;
  ApiOptions options_;
  OnDemandRead on_demand_;
  std::mutex mutex_;
  std::unique_ptr<storage::KpiQueries> kpi_;
  std::unique_ptr<storage::StoreReader> reader_;
};

}  // namespace ami::monitor
