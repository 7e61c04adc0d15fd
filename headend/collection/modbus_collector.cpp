#include "headend/collection/modbus_collector.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "headend/modbus/boundary.hpp"

namespace ami::collection {

Outcome to_outcome(modbus::MeterOutcome outcome) {
  switch (outcome) {
    case modbus::MeterOutcome::ok: return Outcome::ok;
    case modbus::MeterOutcome::timeout: return Outcome::timeout;
    case modbus::MeterOutcome::unreachable: return Outcome::unreachable;
    case modbus::MeterOutcome::link_error: return Outcome::connection_lost;
    case modbus::MeterOutcome::meter_error: return Outcome::meter_error;
    case modbus::MeterOutcome::bad_reply: return Outcome::bad_reply;
    case modbus::MeterOutcome::bad_request: return Outcome::unsupported;
    case modbus::MeterOutcome::cancelled: return Outcome::cancelled;
  }
  return Outcome::bad_reply;
}

ModbusCollector::ModbusCollector(asio::any_io_executor executor, Clock clock, modbus::ExecutorOptions options,
                                 RetryPolicy retry, std::chrono::seconds tolerance,
                                 std::function<void(JobReport)> on_report)
    : io_(std::move(executor)),
      clock_(clock),
      retry_(retry),
      tolerance_(tolerance),
      on_report_(std::move(on_report)),
      executor_(std::make_unique<modbus::Executor>(options)) {}

ModbusCollector::~ModbusCollector() = default;

bool ModbusCollector::add_meter(const storage::MeterRecord& meter, const std::vector<modbus::RegisterMap>& user_maps,
                                std::string& error) {
  // apply_ratios = false: the store keeps register_wh before CT x PT and applies it itself.
  auto resolved = modbus::resolve_meter(meter, user_maps, false, error);
  if (!resolved) return false;
  meters_.insert_or_assign(meter.meter_id, std::move(*resolved));
  return true;
}

void ModbusCollector::enqueue(ReadJob job) {
  auto timer = std::make_shared<asio::steady_timer>(io_);
  std::erase_if(timers_, [](const auto& t) { return t.expired(); });
  timers_.push_back(timer);
  ++in_flight_;
  asio::co_spawn(io_, execute(std::move(job), timer), [this](std::exception_ptr e) {
    --in_flight_;
    if (e) spdlog::error("modbus collector: a read job failed unexpectedly");
  });
}

void ModbusCollector::stop() {
  stopping_ = true;
  for (const auto& weak : timers_)
    if (auto timer = weak.lock()) timer->cancel();
}

asio::awaitable<void> ModbusCollector::execute(ReadJob job, std::shared_ptr<asio::steady_timer> timer) {
  boost::system::error_code ec;
  JobReport report;
  const auto meter = meters_.find(job.meter->meter_id);
  const auto latest_useful = UtcMillis{job.boundary} + tolerance_;
  const int max_attempts = 1 + retry_.retries;
  auto now = clock_.now();
  if (job.not_before > now) {
    timer->expires_after(clock_.real_wait(job.not_before - now));
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  for (int attempt = 1; attempt <= max_attempts && !stopping_; ++attempt) {
    AttemptReport a;
    a.attempt = attempt;
    a.started_at = clock_.now();
    if (meter == meters_.end()) {
      a.outcome = Outcome::unsupported;
      a.detail = "no Modbus register map resolved for this meter";
      report.attempts.push_back(std::move(a));
      break;
    }
    const auto result =
        co_await executor_->async_read(meter->second.channel, meter->second.request, asio::use_awaitable);
    // The transaction's own start and duration, not the wait in the gateway's queue before it.
    if (result.started != std::chrono::system_clock::time_point{}) {
      a.started_at = clock_.to_sim(std::chrono::time_point_cast<std::chrono::milliseconds>(result.started));
      a.latency_ms =
          static_cast<std::int32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(result.elapsed).count());
    }
    a.outcome = to_outcome(result.outcome);
    a.detail = result.detail;
    if (result.outcome == modbus::MeterOutcome::ok) {
      const auto collected = clock_.now();
      std::string error;
      const auto reads = modbus::to_boundary_reads(
          result, {job.meter->meter_id, job.boundary, tolerance_, job.source}, collected, error);
      if (reads) {
        RegisterSnapshot snapshot{job.boundary, std::nullopt, std::nullopt};
        for (const auto& r : *reads) {
          if (r.channel == storage::EnergyChannel::forward_active) snapshot.forward_active_wh = r.register_wh;
          if (r.channel == storage::EnergyChannel::reverse_active) snapshot.reverse_active_wh = r.register_wh;
        }
        report.snapshots.push_back(snapshot);
        report.collected_at = collected;
      } else {
        a.outcome = collected > latest_useful ? Outcome::too_late : Outcome::bad_reply;
        a.detail = error;
      }
    }
    const bool done = a.outcome == Outcome::ok || a.outcome == Outcome::unsupported;
    report.attempts.push_back(std::move(a));
    if (done || attempt == max_attempts || stopping_) break;
    if (clock_.now() + std::chrono::duration_cast<std::chrono::milliseconds>(retry_.backoff) >= latest_useful) break;
    timer->expires_after(retry_.backoff);
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (report.attempts.empty()) co_return;  // stopped before the first attempt: nothing happened
  report.job = std::move(job);
  on_report_(std::move(report));
}

}  // namespace ami::collection
