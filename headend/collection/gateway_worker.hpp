// Drains the read jobs of one channel (gateway), one transaction at a time. Among the jobs whose
// slot (not_before) has come it takes the most urgent: on-demand, then scheduled, then backfill;
// then the oldest boundary; then the earliest slot. With nothing due it sleeps until the next slot.
//
// Each job: up to 1 + retries attempts; between attempts it waits retry_backoff (real time) and it
// starts a retry only while the simulated clock is before the job's retry_deadline (the interval's
// window). Every attempt's outcome is reported. DL/T 645-2007 meters: one load-profile read
// (boundary_read.hpp). DL/T 645-1997 meters: two register reads, 9010 then 9020
// (register_read.hpp), attributed to the boundary when both finished within the meter's
// register_tolerance of it (else `too_late`; an on-demand read reports them as current values);
// a 2007 job with current_registers (a meter without a load profile) the same with 00010000 / 00020000.
// A job whose meter protocol this worker does not collect fails at once as `unsupported`. Many
// workers run as coroutines on one io_context, so a dead gateway costs only its own timeouts.
//
// Store back-pressure: with an intake gate set, a scheduled or backfill job waits for admission
// before it starts (while the store writer lags); on-demand reads and clock commands bypass it.
//
// Threads: everything on the io_context's thread. run() is the worker's one coroutine; stop() makes
// it return after the transaction in flight (queued jobs are dropped and counted in the log).
// on_report is called on the io_context's thread for every finished job and must not block long.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "headend/collection/clock_sync.hpp"
#include "headend/collection/concurrency_limit.hpp"
#include "headend/collection/read_job.hpp"
#include "headend/collection/register_read.hpp"
#include "headend/collection/store_intake_gate.hpp"
#include "headend/collection/tcp_gateway_channel.hpp"
#include "headend/runtime/asio.hpp"
#include "protocols/common/clock.hpp"

namespace ami::collection {

// A channel's queued jobs in run order: among the jobs whose slot (not_before) has come, the most
// urgent priority, then the oldest boundary, then the earliest slot, then first queued. Jobs wait in
// a heap by slot and move to a heap by run order once due: O(log M) per job, no scan of the queue.
// Single-threaded (the owning worker's thread).
class JobQueue {
 public:
  void push(ReadJob job);
  // The next job to run at `now` (nullopt: none due; next_slot() says when one will be).
  std::optional<ReadJob> pop_due(UtcMillis now);
  // The earliest slot among jobs not yet due (nullopt: none waiting).
  [[nodiscard]] std::optional<UtcMillis> next_slot() const;
  [[nodiscard]] std::size_t size() const { return waiting_.size() + due_.size(); }
  [[nodiscard]] bool empty() const { return size() == 0; }
  // Entries the two heaps have allocated room for (memory accounting and tests).
  [[nodiscard]] std::size_t capacity() const { return waiting_.capacity() + due_.capacity(); }

 private:
  struct Entry {
    ReadJob job;
    std::uint64_t sequence = 0;  // FIFO among equal keys
  };
  static bool slot_after(const Entry& a, const Entry& b);  // heap order: the earliest slot on top
  static bool runs_after(const Entry& a, const Entry& b);  // heap order: the next job to run on top

  std::vector<Entry> waiting_;  // heap by (not_before, sequence)
  std::vector<Entry> due_;      // heap by (priority, boundary, not_before, sequence)
  std::uint64_t next_sequence_ = 0;
};

struct RetryPolicy {
  int retries = 2;
  std::chrono::milliseconds backoff{200};
};

class GatewayWorker {
 public:
  GatewayWorker(asio::any_io_executor executor, Clock clock, std::unique_ptr<Dlt645Channel> channel,
                RetryPolicy retry, std::function<void(JobReport)> on_report);

  void enqueue(ReadJob job);
  asio::awaitable<void> run();
  void stop();

  [[nodiscard]] std::size_t queued() const { return queue_.size(); }
  // Password and operator code for clock jobs that set the time (ClockCommand::set_time).
  void set_clock_policy(const ClockPolicy& policy) { clock_policy_ = policy; }
  [[nodiscard]] Dlt645Channel& channel() { return *channel_; }
  // A channel that reaches one meter directly shares the daemon-wide cap on such reads (nullptr:
  // no cap, a gateway's bus serialises itself). Call on the io thread, between jobs.
  void set_concurrency_limit(ConcurrencyLimit* limit) { limit_ = limit; }
  // Scheduled and backfill reads wait for the store to catch up (store_intake_gate.hpp); on-demand
  // reads and clock commands never do: one arriving while the worker waits ends the wait. nullptr:
  // no gate. Call on the io thread before run().
  void set_intake_gate(StoreIntakeGate* gate) { gate_ = gate; }

 private:
  asio::awaitable<void> execute(ReadJob job);
  asio::awaitable<AttemptReport> attempt_load_profile(const ReadJob& job, JobReport& report);
  // 1997 meters, and 2007 meters without a load profile (ReadJob::current_registers).
  asio::awaitable<AttemptReport> attempt_registers(const ReadJob& job, const RegisterReadSpec& spec, JobReport& report);
  static asio::awaitable<void> sleep_real(asio::steady_timer& timer, std::chrono::microseconds duration);

  Clock clock_;
  std::unique_ptr<Dlt645Channel> channel_;
  RetryPolicy retry_;
  std::function<void(JobReport)> on_report_;
  JobQueue queue_;
  asio::steady_timer wake_;         // new job, stop, or the next job's spread slot
  asio::steady_timer retry_timer_;  // backoff between attempts; only stop() cuts it short
  bool stopping_ = false;
  ClockPolicy clock_policy_;
  ConcurrencyLimit* limit_ = nullptr;
  StoreIntakeGate* gate_ = nullptr;
};

}  // namespace ami::collection
