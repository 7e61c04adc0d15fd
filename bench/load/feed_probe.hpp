// The load harness's billing consumer: follows the daemon's feed on its own thread, acknowledges
// every batch at once, and records when each interval arrived relative to the real instant its
// interval ended (the boundary, mapped from simulated to real time through the run's clock).
//
// Threads: start() spawns the consumer thread; arrivals_for() may be called from any thread while
// it runs; stop() joins it. Errors: connection trouble is retried every 200 ms until stop(); the
// last error text is kept (last_error()) so the harness can say why nothing arrived.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "protocols/common/clock.hpp"

namespace ami::load {

class FeedProbe {
 public:
  FeedProbe(std::string host, std::uint16_t port, std::string consumer, std::string token, Clock clock);
  ~FeedProbe();
  FeedProbe(const FeedProbe&) = delete;
  FeedProbe& operator=(const FeedProbe&) = delete;

  void start();
  void stop();

  // Intervals received so far whose end is one of `ends` (unix seconds).
  [[nodiscard]] std::uint64_t received_for(const std::vector<std::int64_t>& ends) const;
  // Interval-to-feed latencies (real ms) of those intervals.
  [[nodiscard]] std::vector<double> latencies_for(const std::vector<std::int64_t>& ends) const;
  [[nodiscard]] std::uint64_t received_total() const { return received_total_.load(); }
  [[nodiscard]] std::string last_error() const;
  // Connections lost or refused (each is retried, resuming from the durable cursor).
  [[nodiscard]] std::uint64_t errors() const { return errors_.load(); }

 private:
  void consume();

  std::string host_;
  std::uint16_t port_;
  std::string consumer_;
  std::string token_;
  Clock clock_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> received_total_{0};
  std::atomic<std::uint64_t> errors_{0};
  mutable std::mutex mutex_;
  std::map<std::int64_t, std::vector<double>> latency_ms_by_end_;  // guarded by mutex_
  std::string last_error_;                                         // guarded by mutex_
  std::thread thread_;
};

}  // namespace ami::load
