// Drains the read jobs of one channel (gateway), one transaction at a time. Among the jobs whose
// slot (not_before) has come it takes the most urgent: on-demand, then scheduled, then backfill;
// then the oldest boundary; then the earliest slot. With nothing due it sleeps until the next slot.
//
// Each job: up to 1 + retries attempts; between attempts it waits retry_backoff (real time) and it
// starts a retry only while the simulated clock is before the job's retry_deadline (the interval's
// window). Every attempt's outcome is reported. A job whose meter protocol this daemon does not
// collect yet fails at once as `unsupported`. Many workers run as coroutines on one io_context, so
// a dead gateway costs only its own timeouts.
//
// Threads: everything on the io_context's thread. run() is the worker's one coroutine; stop() makes
// it return after the transaction in flight (queued jobs are dropped and counted in the log).
// on_report is called on the io_context's thread for every finished job and must not block long.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "headend/collection/read_job.hpp"
#include "headend/collection/tcp_gateway_channel.hpp"
#include "headend/runtime/asio.hpp"
#include "protocols/common/clock.hpp"

namespace ami::collection {

struct RetryPolicy {
  int retries = 2;
  std::chrono::milliseconds backoff{200};
};

class GatewayWorker {
 public:
  GatewayWorker(asio::any_io_executor executor, Clock clock, std::unique_ptr<TcpGatewayChannel> channel,
                RetryPolicy retry, std::function<void(JobReport)> on_report);

  void enqueue(ReadJob job);
  asio::awaitable<void> run();
  void stop();

  [[nodiscard]] std::size_t queued() const { return queue_.size(); }
  [[nodiscard]] TcpGatewayChannel& channel() { return *channel_; }

 private:
  asio::awaitable<void> execute(ReadJob job);
  static asio::awaitable<void> sleep_real(asio::steady_timer& timer, std::chrono::microseconds duration);

  Clock clock_;
  std::unique_ptr<TcpGatewayChannel> channel_;
  RetryPolicy retry_;
  std::function<void(JobReport)> on_report_;
  std::vector<ReadJob> queue_;
  asio::steady_timer wake_;         // new job, stop, or the next job's spread slot
  asio::steady_timer retry_timer_;  // backoff between attempts; only stop() cuts it short
  bool stopping_ = false;
};

}  // namespace ami::collection
