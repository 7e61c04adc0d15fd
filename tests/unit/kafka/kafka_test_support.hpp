// Test support for the Kafka sink: librdkafka's in-process mock cluster, a consumer that reads a
// topic back from the beginning, and an in-memory outbox (FeedSource) the tests fill and inspect.
// Tests only: failures throw std::runtime_error; not thread-safe except where noted.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "feed/v1/feed.pb.h"
#include "headend/kafka/feed_source.hpp"

namespace ami::kafka::test {

// A mock cluster created through `test.mock.num.brokers` on an owner handle that lives as long as
// this object, so producers and consumers can come and go (a sink restart) against the same data.
class MockCluster {
 public:
  explicit MockCluster(int brokers);
  ~MockCluster();
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  [[nodiscard]] const std::string& bootstraps() const { return bootstraps_; }
  [[nodiscard]] rd_kafka_mock_cluster_t* handle() const { return mock_; }
  void create_topic(const std::string& topic, int partitions, int replication_factor);
  void set_broker_down(int broker_id);
  void set_broker_up(int broker_id);
  // The next `errors.size()` Produce requests fail with these error codes, in order.
  void push_produce_errors(const std::vector<rd_kafka_resp_err_t>& errors);

 private:
  rd_kafka_t* owner_ = nullptr;
  rd_kafka_mock_cluster_t* mock_ = nullptr;
  std::string bootstraps_;
};

struct ConsumedRecord {
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::string key;
  headend::feed::v1::IntervalBatch batch;
};

// Reads every partition of `topic` from the beginning until `min_records` arrived (or the
// timeout passed) and no new record arrives for `quiet`. Records are in offset order per partition.
std::vector<ConsumedRecord> consume_all(const std::string& bootstraps, const std::string& topic, int partitions,
                                        std::size_t min_records, std::chrono::milliseconds timeout,
                                        std::chrono::milliseconds quiet = std::chrono::milliseconds{500});

// The outbox and cursors, shared between a test and the (possibly several, one after the other)
// sinks it starts. Thread-safe: the sink's relay thread reads while the test appends.
struct MemoryOutbox {
  std::mutex mutex;
  std::vector<headend::feed::v1::IntervalReading> rows;  // ascending sequence
  std::map<std::string, std::uint64_t> cursors;
  int failing_reads = 0;  // the next N read_feed calls throw (a busy/failing store)

  // Appends `count` intervals, meters cycling over `meters`, sequences continuing from the last.
  void append(int count, int meters);
  std::optional<std::uint64_t> cursor(const std::string& name);
  std::uint64_t head();
};

std::unique_ptr<FeedSource> memory_source(std::shared_ptr<MemoryOutbox> outbox);

// Polls `done` every 10 ms until it is true or `timeout` passes; returns its last value.
template <typename Predicate>
bool eventually(Predicate done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  return true;
}

}  // namespace ami::kafka::test
