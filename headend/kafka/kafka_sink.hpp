// KafkaSink: relays the outbox to a Kafka topic through librdkafka (docs/KAFKA.md).
//
// What it promises: every published interval reaches the topic at least once, in outbox order per
// meter (key = meter id, so one meter stays on one partition), from an idempotent producer with
// acks=all. Each Kafka record's value is an IntervalBatch holding exactly one IntervalReading.
// Delivery reports advance a durable cursor (the store's consumer cursor `kafka:<topic>`) only
// over the contiguous prefix of delivered sequences, so a crash or restart resends exactly the
// tail that was not confirmed (consumers de-duplicate by idempotency key). A failed delivery
// (message timeout after a long broker outage, a fatal idempotence error) makes the sink wait for
// everything in flight, recreate the producer if needed, and resend from the cursor.
//
// Ownership/threads: the sink owns its FeedSource, its librdkafka producer and ONE thread (the
// relay thread) that does every librdkafka call, store read and cursor write; nothing here runs
// on, or blocks, the daemon's io_context. notify(), stats() and stop() may be called from any
// thread; notify() never blocks (call it from StoreWriter::on_committed). Memory is bounded by
// KafkaConfig::max_in_flight records: the sink reads the outbox no faster than Kafka confirms.
//
// Errors: the constructor throws KafkaError when librdkafka rejects the configuration or cannot
// create the producer. At run time, errors (broker down, store busy) are logged, counted in
// stats() and retried; they never escape the relay thread. stop() never throws.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "headend/kafka/feed_source.hpp"
#include "headend/kafka/kafka_config.hpp"
#include "protocols/common/clock.hpp"

namespace ami::kafka {

class KafkaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct KafkaSinkStats {
  std::uint64_t cursor = 0;           // last sequence durably known delivered (contiguous)
  std::uint64_t produced = 0;         // records handed to librdkafka, resends included
  std::uint64_t delivered = 0;        // successful delivery reports, resends included
  std::uint64_t delivery_failures = 0;
  std::uint64_t resend_rounds = 0;    // times the sink rewound to its cursor after a failure
  std::uint64_t producer_restarts = 0;  // producers recreated after a fatal error
  std::uint64_t source_errors = 0;    // store reads / cursor writes that threw
  std::uint64_t in_flight = 0;
  std::string last_error;             // empty when none yet
};

class KafkaSink {
 public:
  // Reads the cursor from `source` (0 when absent) and starts the relay thread.
  // `daemon_id` goes into every IntervalBatch; `clock` stamps published_unix_ms.
  KafkaSink(KafkaConfig config, std::string daemon_id, std::unique_ptr<FeedSource> source, Clock clock);
  ~KafkaSink();  // stop()
  KafkaSink(const KafkaSink&) = delete;
  KafkaSink& operator=(const KafkaSink&) = delete;

  // New outbox rows up to head_sequence are committed: look now instead of at the next poll.
  void notify(std::uint64_t head_sequence);

  // Stops reading the outbox, waits up to flush_timeout_ms for outstanding deliveries, persists
  // the cursor, purges what is left (it will be resent after a restart) and joins the thread.
  // Idempotent.
  void stop();

  [[nodiscard]] KafkaSinkStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ami::kafka
