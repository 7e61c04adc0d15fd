// The daemon's Kafka sink end to end: meter-sim -> headend (with [kafka] enabled) -> librdkafka's
// mock cluster running in this test process (its brokers listen on 127.0.0.1, so the daemon
// process reaches them like real ones). The daemon is killed with SIGKILL at random moments and a
// broker is taken down for a while; afterwards the topic, de-duplicated by idempotency key, equals
// the daemon's outbox exactly, every record keyed by its meter.
#include <catch2/catch.hpp>

#include "storage/store_reader.hpp"
#include "tests/integration/feed/feed_run.hpp"
#include "tests/unit/kafka/kafka_test_support.hpp"

using namespace std::chrono;
using ami::test::feed::deduplicate;
using ami::test::feed::FeedRun;
namespace kt = ami::kafka::test;
namespace v1 = headend::feed::v1;

TEST_CASE("kafka end to end: the daemon relays its outbox across kill -9 and a broker outage, nothing lost",
          "[integration][feed][kafka]") {
  const std::string topic = "ami.intervals.v1";
  constexpr int kPartitions = 4;
  kt::MockCluster cluster(3);
  cluster.create_topic(topic, kPartitions, 3);
  const auto kafka_config = "[kafka]\nenabled = true\nbrokers = \"" + cluster.bootstraps() + "\"\ntopic = \"" + topic +
                            "\"\n[kafka.producer]\n\"linger.ms\" = 5\n";
  FeedRun run("feed_kafka_e2e", 1200, "2026-01-05T00:00:00Z", 4, kafka_config);
  run.start_simulator();

  run.kill_daemon_at_random_moments(8, milliseconds{1500});
  run.start_daemon_and_wait_for_feed();
  run.wait_until_sim(run.clock().now() + minutes{20});
  cluster.set_broker_down(2);  // partitions it leads cannot take records until it is back
  run.wait_until_sim(run.clock().now() + minutes{30});
  cluster.set_broker_up(2);
  run.wait_until_sim(run.clock().now() + minutes{20});
  run.stop_simulator();  // freeze the outbox (see the crash test)
  run.wait_until_sim(run.clock().now() + minutes{30});

  const auto cursor_name = "kafka:" + topic;
  const auto head = run.outbox().back().sequence();
  const bool caught_up = [&] {
    const auto deadline = steady_clock::now() + seconds{60};
    while (steady_clock::now() < deadline) {
      ami::storage::StoreReader reader(run.database());
      if (reader.consumer_cursor(cursor_name).value_or(0) >= head) return true;
      std::this_thread::sleep_for(milliseconds{100});
    }
    return false;
  }();
  REQUIRE(caught_up);
  CHECK(run.stop_daemon() == 0);

  const auto outbox = run.outbox();
  REQUIRE(outbox.back().sequence() == head);
  const auto records = kt::consume_all(cluster.bootstraps(), topic, kPartitions, outbox.size(), seconds{60});
  std::vector<v1::IntervalReading> received;
  std::map<std::string, std::int32_t> partition_of_meter;
  for (const auto& record : records) {
    REQUIRE(record.batch.intervals_size() == 1);
    const auto& r = record.batch.intervals(0);
    CHECK(record.key == r.meter_id());
    CHECK(record.batch.daemon_id() == "feed_kafka_e2e");
    const auto [it, inserted] = partition_of_meter.emplace(r.meter_id(), record.partition);
    if (!inserted) CHECK(it->second == record.partition);
    received.push_back(r);
  }
  const auto expected = deduplicate(outbox);
  const auto got = deduplicate(received);
  CHECK(got.conflicts.empty());
  CHECK(got.latest.size() == expected.latest.size());
  for (const auto& [id, r] : expected.latest) {
    INFO(r.idempotency_key());
    const auto it = got.latest.find(id);
    REQUIRE(it != got.latest.end());
    CHECK(it->second.version() == r.version());
    CHECK(it->second.value_wh() == r.value_wh());
  }
  for (const auto& [id, r] : got.latest) {
    INFO(r.idempotency_key());
    CHECK(expected.latest.count(id) == 1);
  }
}
