// KafkaSink against librdkafka's in-process mock cluster (test.mock.num.brokers): every outbox
// interval reaches the topic keyed by meter id, in outbox order per meter, and broker failures
// (a broker taken down, Produce requests failing, messages timing out) delay delivery but lose
// nothing; a restart resends exactly the undelivered tail.
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <set>

#include "headend/kafka/kafka_sink.hpp"
#include "storage/store_reader.hpp"
#include "storage/store_writer.hpp"
#include "tests/unit/kafka/kafka_test_support.hpp"

using namespace std::chrono_literals;
using ami::kafka::KafkaConfig;
using ami::kafka::KafkaSink;
namespace kt = ami::kafka::test;

namespace {

constexpr auto kDeliveryDeadline = 60s;  // generous: the machine is shared; not a speed check

KafkaConfig sink_config(const kt::MockCluster& cluster, const std::string& topic) {
  KafkaConfig c;
  c.enabled = true;
  c.brokers = cluster.bootstraps();
  c.topic = topic;
  c.batch_size = 500;
  c.max_in_flight = 2000;
  c.poll_interval_ms = 20;
  c.flush_timeout_ms = 2000;
  c.producer = {{"log_level", "3"}, {"retry.backoff.ms", "50"}};
  return c;
}

std::unique_ptr<KafkaSink> start_sink(const KafkaConfig& config, const std::shared_ptr<kt::MemoryOutbox>& outbox) {
  return std::make_unique<KafkaSink>(config, "daemon-a", kt::memory_source(outbox), ami::Clock::real());
}

std::map<std::uint64_t, headend::feed::v1::IntervalReading> expected_by_sequence(kt::MemoryOutbox& outbox) {
  std::lock_guard lock(outbox.mutex);
  std::map<std::uint64_t, headend::feed::v1::IntervalReading> out;
  for (const auto& r : outbox.rows) out.emplace(r.sequence(), r);
  return out;
}

// Checks what a consumer read against the outbox: every record is a one-interval batch from
// daemon-a keyed by its meter, equal to the outbox row; the de-duplicated set of idempotency keys
// equals the outbox exactly; each meter stays on one partition. Returns how often each sequence arrived.
std::map<std::uint64_t, int> check_against_outbox(const std::vector<kt::ConsumedRecord>& records,
                                                  kt::MemoryOutbox& outbox) {
  const auto expected = expected_by_sequence(outbox);
  std::map<std::uint64_t, int> seen;
  std::set<std::string> keys;
  std::map<std::string, std::int32_t> partition_of_meter;
  for (const auto& record : records) {
    REQUIRE(record.batch.intervals_size() == 1);
    const auto& r = record.batch.intervals(0);
    INFO("sequence " << r.sequence() << " meter " << r.meter_id());
    CHECK(record.batch.daemon_id() == "daemon-a");
    CHECK(record.batch.sequence() == r.sequence());
    CHECK(record.key == r.meter_id());
    const auto it = expected.find(r.sequence());
    REQUIRE(it != expected.end());  // no phantom
    CHECK(r.SerializeAsString() == it->second.SerializeAsString());
    const auto [p, inserted] = partition_of_meter.emplace(r.meter_id(), record.partition);
    if (!inserted) CHECK(p->second == record.partition);
    ++seen[r.sequence()];
    keys.insert(r.idempotency_key());
  }
  CHECK(seen.size() == expected.size());  // no loss
  CHECK(keys.size() == expected.size());
  return seen;
}

// Per partition in offset order, each meter's first appearances must have ascending sequences.
void check_order_per_meter(const std::vector<kt::ConsumedRecord>& records) {
  std::map<std::string, std::uint64_t> last_new;
  std::set<std::uint64_t> seen;
  std::map<std::int32_t, std::vector<const kt::ConsumedRecord*>> by_partition;
  for (const auto& record : records) by_partition[record.partition].push_back(&record);
  for (auto& [partition, list] : by_partition) {
    std::sort(list.begin(), list.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
    for (const auto* record : list) {
      const auto& r = record->batch.intervals(0);
      if (!seen.insert(r.sequence()).second) continue;
      INFO("meter " << r.meter_id() << " sequence " << r.sequence() << " partition " << partition);
      CHECK(r.sequence() > last_new[r.meter_id()]);
      last_new[r.meter_id()] = r.sequence();
    }
  }
}

}  // namespace

TEST_CASE("kafka sink: every outbox interval reaches the topic once, keyed and ordered per meter",
          "[kafka][sink]") {
  kt::MockCluster cluster(3);
  cluster.create_topic("intervals", 4, 3);
  auto outbox = std::make_shared<kt::MemoryOutbox>();
  outbox->append(3000, 37);
  const auto config = sink_config(cluster, "intervals");
  auto sink = start_sink(config, outbox);
  REQUIRE(kt::eventually([&] { return sink->stats().cursor == 3000; }, kDeliveryDeadline));
  // More rows after a commit notification are picked up too.
  outbox->append(500, 37);
  sink->notify(outbox->head());
  REQUIRE(kt::eventually([&] { return sink->stats().cursor == 3500; }, kDeliveryDeadline));
  sink->stop();
  const auto stats = sink->stats();
  CHECK(stats.produced == 3500);
  CHECK(stats.delivered == 3500);
  CHECK(stats.delivery_failures == 0);
  CHECK(stats.in_flight == 0);
  CHECK(outbox->cursor("kafka:intervals") == 3500u);

  const auto records = kt::consume_all(cluster.bootstraps(), "intervals", 4, 3500, kDeliveryDeadline);
  CHECK(records.size() == 3500);  // no failure, so no resend: exactly once here
  const auto seen = check_against_outbox(records, *outbox);
  for (const auto& [sequence, count] : seen) CHECK(count == 1);
  check_order_per_meter(records);
  // Keys spread over more than one partition (the meter id is the partitioning key).
  std::set<std::int32_t> partitions;
  for (const auto& r : records) partitions.insert(r.partition);
  CHECK(partitions.size() > 1);
}

TEST_CASE("kafka sink: a broker outage delays delivery, afterwards nothing is lost or reordered",
          "[kafka][sink][failure]") {
  kt::MockCluster cluster(1);
  cluster.create_topic("intervals", 3, 1);
  auto outbox = std::make_shared<kt::MemoryOutbox>();
  outbox->append(1000, 20);
  auto sink = start_sink(sink_config(cluster, "intervals"), outbox);
  REQUIRE(kt::eventually([&] { return sink->stats().cursor == 1000; }, kDeliveryDeadline));

  cluster.set_broker_down(1);
  outbox->append(1000, 20);
  sink->notify(outbox->head());
  // While the only broker is down nothing can be acknowledged, so the cursor must not move.
  REQUIRE(kt::eventually([&] { return sink->stats().produced >= 2000; }, kDeliveryDeadline));
  std::this_thread::sleep_for(1500ms);
  CHECK(sink->stats().cursor == 1000);
  CHECK(outbox->cursor("kafka:intervals") == 1000u);

  cluster.set_broker_up(1);
  REQUIRE(kt::eventually([&] { return sink->stats().cursor == 2000; }, kDeliveryDeadline));
  sink->stop();
  CHECK(outbox->cursor("kafka:intervals") == 2000u);

  const auto records = kt::consume_all(cluster.bootstraps(), "intervals", 3, 2000, kDeliveryDeadline);
  check_against_outbox(records, *outbox);
  check_order_per_meter(records);
}

TEST_CASE("kafka sink: Produce requests failing with retriable errors are retried without loss",
          "[kafka][sink][failure]") {
  kt::MockCluster cluster(3);
  cluster.create_topic("intervals", 4, 3);
  cluster.push_produce_errors({RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                               RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
                               RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT});
  auto outbox = std::make_shared<kt::MemoryOutbox>();
  outbox->append(2000, 50);
  auto sink = start_sink(sink_config(cluster, "intervals"), outbox);
  REQUIRE(kt::eventually([&] { return sink->stats().cursor == 2000; }, kDeliveryDeadline));
  sink->stop();
  const auto records = kt::consume_all(cluster.bootstraps(), "intervals", 4, 2000, kDeliveryDeadline);
  const auto seen = check_against_outbox(records, *outbox);
  // The idempotent producer removes the duplicates its own retries would cause.
  for (const auto& [sequence, count] : seen) CHECK(count == 1);
  check_order_per_meter(records);
}

TEST_CASE("kafka sink: messages that time out in a long outage are resent from the cursor",
          "[kafka][sink][failure]") {
  kt::MockCluster cluster(1);
  cluster.create_topic("intervals", 2, 1);
  auto outbox = std::make_shared<kt::MemoryOutbox>();
  auto config = sink_config(cluster, "intervals");
  config.producer.emplace_back("message.timeout.ms", "700");  // shorter than the outage below
  auto sink = start_sink(config, outbox);
  cluster.set_broker_down(1);
  outbox->append(800, 10);
  sink->notify(outbox->head());
  REQUIRE(kt::eventually([&] { return sink->stats().delivery_failures > 0; }, kDeliveryDeadline));
  CHECK(sink->stats().cursor == 0);
  cluster.set_broker_up(1);
  REQUIRE(kt::eventually([&] { return sink->stats().cursor == 800; }, kDeliveryDeadline));
  sink->stop();
  CHECK(sink->stats().resend_rounds > 0);
  CHECK(outbox->cursor("kafka:intervals") == 800u);
  const auto records = kt::consume_all(cluster.bootstraps(), "intervals", 2, 800, kDeliveryDeadline);
  check_against_outbox(records, *outbox);  // de-duplicated set == outbox exactly
}

TEST_CASE("kafka sink: a restart resends exactly the undelivered tail", "[kafka][sink][restart]") {
  kt::MockCluster cluster(1);
  cluster.create_topic("intervals", 3, 1);
  auto outbox = std::make_shared<kt::MemoryOutbox>();
  auto config = sink_config(cluster, "intervals");
  config.flush_timeout_ms = 300;
  outbox->append(600, 12);
  {
    auto first = start_sink(config, outbox);
    REQUIRE(kt::eventually([&] { return first->stats().cursor == 600; }, kDeliveryDeadline));
  }
  CHECK(outbox->cursor("kafka:intervals") == 600u);

  // Second run: the broker is down, so nothing new is confirmed before the sink stops.
  cluster.set_broker_down(1);
  outbox->append(400, 12);
  {
    auto second = start_sink(config, outbox);
    REQUIRE(kt::eventually([&] { return second->stats().produced == 400; }, kDeliveryDeadline));
    second->stop();
    CHECK(second->stats().cursor == 600);
  }
  CHECK(outbox->cursor("kafka:intervals") == 600u);

  // Third run: resumes after 600 and sends 601..1000 only.
  cluster.set_broker_up(1);
  auto third = start_sink(config, outbox);
  REQUIRE(kt::eventually([&] { return third->stats().cursor == 1000; }, kDeliveryDeadline));
  third->stop();
  CHECK(third->stats().produced == 400);

  const auto records = kt::consume_all(cluster.bootstraps(), "intervals", 3, 1000, kDeliveryDeadline);
  const auto seen = check_against_outbox(records, *outbox);
  for (const auto& [sequence, count] : seen) {
    INFO("sequence " << sequence);
    CHECK(count == 1);
  }
  check_order_per_meter(records);
}

TEST_CASE("kafka sink: store read failures are retried, counted and lose nothing", "[kafka][sink][failure]") {
  kt::MockCluster cluster(1);
  cluster.create_topic("intervals", 2, 1);
  auto outbox = std::make_shared<kt::MemoryOutbox>();
  outbox->append(300, 5);
  outbox->failing_reads = 2;
  auto sink = start_sink(sink_config(cluster, "intervals"), outbox);
  REQUIRE(kt::eventually([&] { return sink->stats().cursor == 300; }, kDeliveryDeadline));
  sink->stop();
  const auto stats = sink->stats();
  CHECK(stats.source_errors == 2);
  CHECK(stats.last_error.find("injected read failure") != std::string::npos);
  const auto records = kt::consume_all(cluster.bootstraps(), "intervals", 2, 300, kDeliveryDeadline);
  check_against_outbox(records, *outbox);
}

TEST_CASE("kafka sink: a configuration librdkafka rejects fails at construction with its reason",
          "[kafka][sink][config]") {
  auto outbox = std::make_shared<kt::MemoryOutbox>();
  KafkaConfig config;
  config.enabled = true;
  config.brokers = "127.0.0.1:1";
  config.topic = "intervals";
  config.producer = {{"max.in.flight.requests.per.connection", "50"}};  // > 5 is illegal with idempotence
  try {
    KafkaSink sink(config, "daemon-a", kt::memory_source(outbox), ami::Clock::real());
    FAIL("the sink accepted an idempotence-breaking setting");
  } catch (const ami::kafka::KafkaError& e) {
    CHECK(std::string(e.what()).find("max.in.flight") != std::string::npos);
  }
  config.producer.clear();
  config.topic = "bad topic";
  CHECK_THROWS_AS(KafkaSink(config, "daemon-a", kt::memory_source(outbox), ami::Clock::real()),
                  ami::kafka::KafkaError);
}

TEST_CASE("kafka sink: relays the real staging store's outbox and keeps its cursor there", "[kafka][sink][store]") {
  const auto dir = std::filesystem::path(AMI_TEST_TMP_DIR) / "kafka_sink_store";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto db = dir / "headend.db";
  {
    ami::storage::StoreOptions options;
    options.path = db;
    ami::storage::StoreWriter writer(options);
    std::vector<ami::storage::MeterRecord> meters(12);
    for (std::size_t i = 0; i < meters.size(); ++i) {
      meters[i].meter_id = "MTR" + std::to_string(500 + i);
      meters[i].protocol = "dlt645-2007";
      meters[i].channel = "tcp://10.0.0.1:8899";
      meters[i].address = std::to_string(100000000500 + i);
      meters[i].usage_point = "UP-" + std::to_string(i);
    }
    writer.import_meters(meters, "test");
    auto boundary = *ami::parse_utc("2026-01-05T00:00:00Z");
    for (int b = 0; b < 5; ++b, boundary += std::chrono::minutes{15}) {
      std::vector<ami::storage::BoundaryRead> reads;
      for (std::size_t i = 0; i < meters.size(); ++i) {
        ami::storage::BoundaryRead read;
        read.meter_id = meters[i].meter_id;
        read.boundary = boundary;
        read.register_wh = 1000 * b + static_cast<std::int64_t>(i);
        read.collected_at = ami::UtcMillis{boundary} + std::chrono::milliseconds{1500};
        reads.push_back(read);
      }
      writer.submit(std::move(reads), {});
    }
    writer.flush();
  }
  ami::storage::StoreReader reader(db);
  const auto outbox = reader.read_feed(0, 1000);
  REQUIRE(outbox.size() == 48);  // 12 meters x 4 closed intervals

  kt::MockCluster cluster(1);
  cluster.create_topic("intervals", 2, 1);
  auto config = sink_config(cluster, "intervals");
  auto sink = std::make_unique<KafkaSink>(config, "daemon-a", ami::kafka::make_store_feed_source(db),
                                          ami::Clock::real());
  REQUIRE(kt::eventually([&] { return sink->stats().cursor == outbox.back().sequence(); }, kDeliveryDeadline));
  sink->stop();
  CHECK(reader.consumer_cursor("kafka:intervals") == outbox.back().sequence());

  const auto records = kt::consume_all(cluster.bootstraps(), "intervals", 2, outbox.size(), kDeliveryDeadline);
  REQUIRE(records.size() == outbox.size());
  std::map<std::uint64_t, std::string> got;
  for (const auto& r : records) {
    CHECK(r.key == r.batch.intervals(0).meter_id());
    got.emplace(r.batch.intervals(0).sequence(), r.batch.intervals(0).SerializeAsString());
  }
  for (const auto& row : outbox) {
    INFO("sequence " << row.sequence());
    REQUIRE(got.count(row.sequence()) == 1);
    CHECK(got.at(row.sequence()) == row.SerializeAsString());
  }
}
