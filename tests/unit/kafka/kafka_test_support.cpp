#include "tests/unit/kafka/kafka_test_support.hpp"

#include <array>
#include <stdexcept>
#include <thread>

namespace ami::kafka::test {
namespace {

constexpr std::int16_t kProduceApiKey = 0;  // Kafka protocol ApiKey of Produce requests
constexpr std::int64_t kOffsetBeginning = -2;

void set_or_throw(rd_kafka_conf_t* conf, const char* key, const std::string& value) {
  std::array<char, 512> error{};
  if (rd_kafka_conf_set(conf, key, value.c_str(), error.data(), error.size()) != RD_KAFKA_CONF_OK)
    throw std::runtime_error(std::string("test kafka conf ") + key + ": " + error.data());
}

rd_kafka_t* new_handle(rd_kafka_type_t type, rd_kafka_conf_t* conf) {
  std::array<char, 512> error{};
  rd_kafka_t* rk = rd_kafka_new(type, conf, error.data(), error.size());
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("test kafka handle: ") + error.data());
  }
  return rk;
}

class MemorySource final : public FeedSource {
 public:
  explicit MemorySource(std::shared_ptr<MemoryOutbox> outbox) : outbox_(std::move(outbox)) {}

  std::vector<headend::feed::v1::IntervalReading> read_feed(std::uint64_t after_sequence,
                                                            std::size_t limit) override {
    std::lock_guard lock(outbox_->mutex);
    if (outbox_->failing_reads > 0) {
      --outbox_->failing_reads;
      throw std::runtime_error("memory outbox: injected read failure");
    }
    std::vector<headend::feed::v1::IntervalReading> out;
    for (const auto& row : outbox_->rows) {
      if (out.size() >= limit) break;
      if (row.sequence() > after_sequence) out.push_back(row);
    }
    return out;
  }
  std::optional<std::uint64_t> cursor(const std::string& name) override { return outbox_->cursor(name); }
  void set_cursor(const std::string& name, std::uint64_t sequence) override {
    std::lock_guard lock(outbox_->mutex);
    outbox_->cursors[name] = sequence;
  }

 private:
  std::shared_ptr<MemoryOutbox> outbox_;
};

}  // namespace

MockCluster::MockCluster(int brokers) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set_or_throw(conf, "test.mock.num.brokers", std::to_string(brokers));
  set_or_throw(conf, "log_level", "3");
  owner_ = new_handle(RD_KAFKA_PRODUCER, conf);
  mock_ = rd_kafka_handle_mock_cluster(owner_);
  if (!mock_) throw std::runtime_error("test.mock.num.brokers did not create a mock cluster");
  bootstraps_ = rd_kafka_mock_cluster_bootstraps(mock_);
}

MockCluster::~MockCluster() { rd_kafka_destroy(owner_); }

void MockCluster::create_topic(const std::string& topic, int partitions, int replication_factor) {
  const auto err = rd_kafka_mock_topic_create(mock_, topic.c_str(), partitions, replication_factor);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    throw std::runtime_error("mock topic create: " + std::string(rd_kafka_err2str(err)));
}

void MockCluster::set_broker_down(int broker_id) { rd_kafka_mock_broker_set_down(mock_, broker_id); }
void MockCluster::set_broker_up(int broker_id) { rd_kafka_mock_broker_set_up(mock_, broker_id); }

void MockCluster::push_produce_errors(const std::vector<rd_kafka_resp_err_t>& errors) {
  rd_kafka_mock_push_request_errors_array(mock_, kProduceApiKey, errors.size(), errors.data());
}

std::vector<ConsumedRecord> consume_all(const std::string& bootstraps, const std::string& topic, int partitions,
                                        std::size_t min_records, std::chrono::milliseconds timeout,
                                        std::chrono::milliseconds quiet) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set_or_throw(conf, "bootstrap.servers", bootstraps);
  set_or_throw(conf, "group.id", "sink-test-reader");
  set_or_throw(conf, "enable.auto.commit", "false");
  set_or_throw(conf, "log_level", "3");
  rd_kafka_t* rk = new_handle(RD_KAFKA_CONSUMER, conf);
  std::unique_ptr<rd_kafka_t, decltype(&rd_kafka_destroy)> consumer(rk, &rd_kafka_destroy);

  rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(assignment, topic.c_str(), p)->offset = kOffsetBeginning;
  const auto assign_err = rd_kafka_assign(rk, assignment);
  rd_kafka_topic_partition_list_destroy(assignment);
  if (assign_err != RD_KAFKA_RESP_ERR_NO_ERROR)
    throw std::runtime_error("consumer assign: " + std::string(rd_kafka_err2str(assign_err)));

  std::vector<ConsumedRecord> out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto last_record = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < deadline) {
    if (out.size() >= min_records && std::chrono::steady_clock::now() - last_record > quiet) break;
    rd_kafka_message_t* message = rd_kafka_consumer_poll(rk, 50);
    if (!message) continue;
    std::unique_ptr<rd_kafka_message_t, decltype(&rd_kafka_message_destroy)> guard(message,
                                                                                   &rd_kafka_message_destroy);
    if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;  // transient (broker down): keep reading
    ConsumedRecord record;
    record.partition = message->partition;
    record.offset = message->offset;
    record.key.assign(static_cast<const char*>(message->key), message->key_len);
    if (!record.batch.ParseFromArray(message->payload, static_cast<int>(message->len)))
      throw std::runtime_error("consumed a record that is not an IntervalBatch");
    out.push_back(std::move(record));
    last_record = std::chrono::steady_clock::now();
  }
  rd_kafka_consumer_close(rk);
  return out;
}

void MemoryOutbox::append(int count, int meters) {
  std::lock_guard lock(mutex);
  std::uint64_t sequence = rows.empty() ? 0 : rows.back().sequence();
  for (int i = 0; i < count; ++i) {
    ++sequence;
    headend::feed::v1::IntervalReading r;
    r.set_sequence(sequence);
    const auto meter = static_cast<int>(sequence % static_cast<std::uint64_t>(meters));
    r.set_meter_id("MTR" + std::to_string(100000 + meter));
    r.set_usage_point("UP-" + std::to_string(meter));
    r.set_kind(headend::feed::v1::READING_KIND_FORWARD_ACTIVE_ENERGY);
    r.set_reading_type_cim("0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0");
    const auto end = 1767571200 + static_cast<std::int64_t>(sequence / static_cast<std::uint64_t>(meters) + 1) * 900;
    r.set_start_unix(end - 900);
    r.set_end_unix(end);
    r.set_value_wh(static_cast<std::int64_t>(sequence % 997));
    r.set_status(headend::feed::v1::INTERVAL_STATUS_ACTUAL);
    r.set_version(1);
    r.set_idempotency_key(r.meter_id() + "|" + r.reading_type_cim() + "|" + std::to_string(end) + "|1");
    r.set_collected_unix_ms(end * 1000 + 1500);
    r.set_source(headend::feed::v1::READ_SOURCE_SCHEDULED);
    rows.push_back(std::move(r));
  }
}

std::optional<std::uint64_t> MemoryOutbox::cursor(const std::string& name) {
  std::lock_guard lock(mutex);
  const auto it = cursors.find(name);
  if (it == cursors.end()) return std::nullopt;
  return it->second;
}

std::uint64_t MemoryOutbox::head() {
  std::lock_guard lock(mutex);
  return rows.empty() ? 0 : rows.back().sequence();
}

std::unique_ptr<FeedSource> memory_source(std::shared_ptr<MemoryOutbox> outbox) {
  return std::make_unique<MemorySource>(std::move(outbox));
}

}  // namespace ami::kafka::test
