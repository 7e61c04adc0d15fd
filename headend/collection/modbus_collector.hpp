// Boundary reads for Modbus meters. Modbus meters keep no load profile, so at boundary B the
// engine reads their energy registers as close after B as the spread window allows and attributes
// the reading to B when it completed within `tolerance` of B (docs/ARCHITECTURE.md: plain register
// reads with a time tolerance). The blocking libmodbus calls run on the Modbus executor's worker
// threads (headend/modbus/executor.hpp: one transaction at a time per gateway or bus); this class
// only waits for slots, awaits results and reports, on the io_context.
//
// Each job: wait for its slot (not_before), then up to 1 + retries attempts with retry backoff,
// a retry only while a new read could still land within the tolerance. A read that completes too
// late is the outcome `too_late` (transport: the link was too slow for the boundary).
// An attempt's started_at / latency_ms are the transaction's own (stamped by the executor's worker
// when it takes the read), not the wait for the gateway behind other meters' reads.
//
// Threads: add_meter() (also again for a meter changed in the registry while running), enqueue(),
// stop() and on_report on the io_context's thread. in_flight() counts job coroutines not yet
// finished (shutdown waits for 0).
// Errors: add_meter() returns false with a reason naming the meter; nothing throws.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "headend/collection/gateway_worker.hpp"
#include "headend/collection/read_job.hpp"
#include "headend/modbus/executor.hpp"
#include "headend/modbus/meter_resolver.hpp"
#include "headend/runtime/asio.hpp"

namespace ami::collection {

// MeterOutcome of a Modbus read -> the engine's Outcome (docs/MODBUS.md's mapping).
Outcome to_outcome(modbus::MeterOutcome outcome);

class ModbusCollector {
 public:
  ModbusCollector(asio::any_io_executor executor, Clock clock, modbus::ExecutorOptions options, RetryPolicy retry,
                  std::chrono::seconds tolerance, std::function<void(JobReport)> on_report);
  ~ModbusCollector();

  bool add_meter(const storage::MeterRecord& meter, const std::vector<modbus::RegisterMap>& user_maps,
                 std::string& error);
  void enqueue(ReadJob job);
  void stop();

  [[nodiscard]] bool knows(const std::string& meter_id) const { return meters_.contains(meter_id); }
  [[nodiscard]] int in_flight() const { return in_flight_; }

 private:
  asio::awaitable<void> execute(ReadJob job, std::shared_ptr<asio::steady_timer> timer);

  asio::any_io_executor io_;
  Clock clock_;
  RetryPolicy retry_;
  std::chrono::seconds tolerance_;
  std::function<void(JobReport)> on_report_;
  std::map<std::string, modbus::ResolvedMeter> meters_;
  std::unique_ptr<modbus::Executor> executor_;
  std::vector<std::weak_ptr<asio::steady_timer>> timers_;  // waiting jobs, cancelled by stop()
  int in_flight_ = 0;
  bool stopping_ = false;
};

}  // namespace ami::collection
