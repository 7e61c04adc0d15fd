// The [kafka] config table: defaults, every key, and errors that name the key, its line and why.
#include <catch2/catch.hpp>

#include "headend/kafka/kafka_config.hpp"

using ami::kafka::KafkaConfigError;
using ami::kafka::parse_kafka_config;

namespace {

ami::kafka::KafkaConfig parse(std::string_view text) {
  const auto root = toml::parse(text, std::string_view{"headend.toml"});
  const auto* table = root.get("kafka");
  REQUIRE(table != nullptr);
  REQUIRE(table->is_table());
  return parse_kafka_config(*table->as_table(), "headend.toml");
}

std::string error_of(std::string_view text) {
  try {
    parse(text);
  } catch (const KafkaConfigError& e) {
    return e.what();
  }
  FAIL("no KafkaConfigError for:\n" << text);
  return {};
}

}  // namespace

TEST_CASE("kafka config: an empty table is disabled with defaults", "[kafka][config]") {
  const auto c = parse("[kafka]\n");
  CHECK_FALSE(c.enabled);
  CHECK(c.batch_size == 1000);
  CHECK(c.producer.empty());
}

TEST_CASE("kafka config: every key is read, producer values become librdkafka text", "[kafka][config]") {
  const auto c = parse(R"([kafka]
enabled = true
brokers = "k1:9092,k2:9092"
topic = "ami.intervals.v1"
cursor_name = "kafka:billing"
batch_size = 250
max_in_flight = 5000
poll_interval_ms = 50
cursor_save_interval_ms = 20
flush_timeout_ms = 3000
[kafka.producer]
"linger.ms" = 20
"compression.type" = "lz4"
"enable.idempotence" = true
acks = "all"
)");
  CHECK(c.enabled);
  CHECK(c.brokers == "k1:9092,k2:9092");
  CHECK(c.topic == "ami.intervals.v1");
  CHECK(c.effective_cursor_name() == "kafka:billing");
  CHECK(c.batch_size == 250);
  CHECK(c.max_in_flight == 5000);
  CHECK(c.poll_interval_ms == 50);
  CHECK(c.cursor_save_interval_ms == 20);
  CHECK(c.flush_timeout_ms == 3000);
  using P = std::pair<std::string, std::string>;
  CHECK(c.producer == std::vector<P>{{"acks", "all"}, {"compression.type", "lz4"},
                                     {"enable.idempotence", "true"}, {"linger.ms", "20"}});
}

TEST_CASE("kafka config: the cursor is named after the topic by default", "[kafka][config]") {
  const auto c = parse("[kafka]\nenabled = true\nbrokers = \"k:9092\"\ntopic = \"t1\"\n");
  CHECK(c.effective_cursor_name() == "kafka:t1");
}

TEST_CASE("kafka config: bad input is an error naming the key, its line and the reason", "[kafka][config]") {
  SECTION("enabled without brokers") {
    const auto e = error_of("[kafka]\nenabled = true\ntopic = \"t\"\n");
    CHECK(e.find("headend.toml: [kafka] brokers") != std::string::npos);
    CHECK(e.find("required") != std::string::npos);
  }
  SECTION("enabled without topic") {
    CHECK(error_of("[kafka]\nenabled = true\nbrokers = \"k:9092\"\n").find("[kafka] topic") != std::string::npos);
  }
  SECTION("unknown key") {
    const auto e = error_of("[kafka]\nenabled = false\nbrokerz = \"k:9092\"\n");
    CHECK(e.find("brokerz (line 3): unknown key") != std::string::npos);
  }
  SECTION("wrong type") {
    CHECK(error_of("[kafka]\nenabled = \"yes\"\n").find("enabled (line 2): must be true or false") !=
          std::string::npos);
    CHECK(error_of("[kafka]\nbatch_size = \"10\"\n").find("batch_size (line 2): must be an integer") !=
          std::string::npos);
  }
  SECTION("out of range") {
    CHECK(error_of("[kafka]\nbatch_size = 0\n").find("must be in 1..100000, got 0") != std::string::npos);
  }
  SECTION("illegal topic name") {
    const auto e = error_of("[kafka]\ntopic = \"meter readings\"\n");
    CHECK(e.find("topic (line 2): 'meter readings' is not a Kafka topic name") != std::string::npos);
  }
  SECTION("a producer property librdkafka does not know") {
    const auto e = error_of("[kafka]\n[kafka.producer]\n\"linger.msec\" = 5\n");
    CHECK(e.find("[kafka.producer] linger.msec (line 3): librdkafka rejects it") != std::string::npos);
  }
  SECTION("a producer value librdkafka does not accept") {
    const auto e = error_of("[kafka]\n[kafka.producer]\n\"compression.type\" = \"zip\"\n");
    CHECK(e.find("compression.type (line 3): librdkafka rejects it") != std::string::npos);
  }
  SECTION("settings the sink's guarantees depend on") {
    CHECK(error_of("[kafka]\n[kafka.producer]\n\"enable.idempotence\" = false\n")
              .find("enable.idempotence (line 3): the sink needs the idempotent producer") != std::string::npos);
    CHECK(error_of("[kafka]\n[kafka.producer]\nacks = 1\n").find("acks (line 3): the sink needs acks=all") !=
          std::string::npos);
    CHECK(error_of("[kafka]\n[kafka.producer]\n\"bootstrap.servers\" = \"k:1\"\n")
              .find("set the brokers with [kafka] brokers") != std::string::npos);
    CHECK(error_of("[kafka]\n[kafka.producer]\n\"transactional.id\" = \"x\"\n").find("transactional.id") !=
          std::string::npos);
  }
  SECTION("producer is not a table") {
    CHECK(error_of("[kafka]\nproducer = 5\n").find("producer (line 2): must be a table") != std::string::npos);
  }
  SECTION("producer value of an unusable type") {
    CHECK(error_of("[kafka]\n[kafka.producer]\n\"linger.ms\" = [1, 2]\n")
              .find("linger.ms (line 3): must be a string, integer, float or boolean") != std::string::npos);
  }
}

TEST_CASE("kafka config: topic names follow Kafka's rules", "[kafka][config]") {
  using ami::kafka::is_valid_topic_name;
  CHECK(is_valid_topic_name("ami.intervals_v1-a"));
  CHECK_FALSE(is_valid_topic_name(""));
  CHECK_FALSE(is_valid_topic_name("."));
  CHECK_FALSE(is_valid_topic_name(".."));
  CHECK_FALSE(is_valid_topic_name("a/b"));
  CHECK(is_valid_topic_name(std::string(249, 'a')));
  CHECK_FALSE(is_valid_topic_name(std::string(250, 'a')));
}
