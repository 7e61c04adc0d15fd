// Test support for the billing-feed integration tests: one run = a meter-sim fleet, a headend
// daemon configured with feed consumers, a shared accelerated clock, and consumers that talk to the
// real feed port. Also reads the daemon's store afterwards (the outbox is the ground truth of what
// was published) and the simulator's truth (what the meters really measured).
// Tests only: one FeedRun per test case; failures throw or fail Catch2 assertions.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "feed/v1/feed.pb.h"
#include "protocols/common/clock.hpp"
#include "tests/support/process.hpp"

namespace ami::test::feed {

struct FeedConsumerSpec {
  std::string name;
  std::string token;
};

// (meter, reading type, interval end): one interval, whatever its version.
struct IntervalId {
  std::string meter_id;
  std::string reading_type_cim;
  std::int64_t end_unix = 0;
  auto operator<=>(const IntervalId&) const = default;
};
IntervalId interval_id(const headend::feed::v1::IntervalReading& r);

// What billing keeps after de-duplication: per interval the highest version (re-deliveries of the
// same idempotency key must be identical, checked by the caller through `conflicts`).
struct Deduplicated {
  std::map<IntervalId, headend::feed::v1::IntervalReading> latest;
  std::size_t deliveries = 0;
  std::vector<std::string> conflicts;  // same idempotency key, different content
};
Deduplicated deduplicate(const std::vector<headend::feed::v1::IntervalReading>& received);

class FeedRun {
 public:
  // `extra_config` is appended to the generated headend.toml (e.g. a [kafka] table).
  FeedRun(const std::string& name, std::int64_t clock_speed, const std::string& sim_start, int meters,
          const std::string& extra_config = {});
  ~FeedRun();

  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }
  [[nodiscard]] unsigned short feed_port() const { return feed_port_; }
  [[nodiscard]] const Clock& clock() const { return clock_; }
  [[nodiscard]] std::filesystem::path database() const { return dir_ / "state" / "headend.db"; }
  [[nodiscard]] std::vector<std::string> meter_ids() const;

  void start_simulator();
  // Stops the meters: the daemon's reads fail from now on, so no new interval is committed once
  // the cycles in flight are done. Lets a test take a final outbox head that stays final.
  void stop_simulator();
  // Starts the daemon (a new process each call; logs appended per start index).
  void start_daemon();
  // start_daemon(), then requires the feed port to accept within 10 s.
  void start_daemon_and_wait_for_feed();
  // `times` rounds of: start the daemon, let it live a random 150..max_lifetime ms (start-up,
  // collection, commits, acks), require it is still running, SIGKILL it. The seed is logged.
  void kill_daemon_at_random_moments(int times, std::chrono::milliseconds max_lifetime);
  ChildProcess& daemon() { return *daemon_; }
  bool daemon_running() { return daemon_ && daemon_->running(); }
  void kill_daemon();             // SIGKILL, then reap
  int stop_daemon();              // SIGTERM, graceful
  std::string daemon_log() const;  // stderr of every start so far

  // Sleeps until the simulated clock reaches `t` (fails the test if the daemon dies meanwhile and
  // `require_daemon`).
  void wait_until_sim(UtcMillis t, bool require_daemon = true);

  // Every published interval still in the outbox, ascending sequence (opens the store read-only).
  std::vector<headend::feed::v1::IntervalReading> outbox() const;
  // The simulator's truth for one meter: end_unix -> (forward Wh, reverse Wh).
  std::map<std::int64_t, std::pair<std::int64_t, std::int64_t>> truth(const std::string& meter_id, UtcSeconds from,
                                                                      UtcSeconds to) const;

  static const std::vector<FeedConsumerSpec>& consumers();

 private:
  std::vector<std::string> fleet_args() const;
  std::vector<std::string> clock_args() const;

  std::string name_;
  std::filesystem::path dir_;
  int meters_;
  unsigned short gateway_port_;
  unsigned short feed_port_;
  std::int64_t speed_;
  std::string sim_start_;
  std::int64_t anchor_ms_;
  Clock clock_;
  std::filesystem::path config_;
  std::unique_ptr<ChildProcess> sim_;
  std::unique_ptr<ChildProcess> daemon_;
  int daemon_starts_ = 0;
};

// A billing consumer running on its own thread: connects to the feed port, subscribes from its
// durable cursor, records every interval of every batch, acknowledges each batch after recording
// it, and reconnects (after a short pause) whenever the connection fails, e.g. the daemon died.
class ReconnectingConsumer {
 public:
  ReconnectingConsumer(unsigned short port, FeedConsumerSpec consumer);
  ~ReconnectingConsumer();  // stop()
  void stop();

  std::vector<headend::feed::v1::IntervalReading> received() const;
  [[nodiscard]] std::uint64_t last_acked() const { return last_acked_.load(); }
  [[nodiscard]] std::uint64_t sessions() const { return sessions_.load(); }
  [[nodiscard]] std::uint64_t server_head() const { return server_head_.load(); }

 private:
  void run();

  unsigned short port_;
  FeedConsumerSpec consumer_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> last_acked_{0};
  std::atomic<std::uint64_t> sessions_{0};
  std::atomic<std::uint64_t> server_head_{0};
  mutable std::mutex mutex_;
  std::vector<headend::feed::v1::IntervalReading> received_;
  std::thread thread_;
};

}  // namespace ami::test::feed
