#include "headend/kafka/kafka_config.hpp"

#include <array>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>

namespace ami::kafka {
namespace {

std::string line_of(const toml::node* node) {
  if (!node || node->source().begin.line == 0) return {};
  return fmt::format(" (line {})", node->source().begin.line);
}

[[noreturn]] void fail(const std::string& source, std::string_view table, std::string_view key,
                       const toml::node* node, std::string_view reason) {
  throw KafkaConfigError(fmt::format("{}: [{}] {}{}: {}", source, table, key, line_of(node), reason));
}

// The scalar keys of [kafka], as data: parsing, range checks and the "known keys" list share it.
struct IntKey {
  std::string_view key;
  int KafkaConfig::*field;
  int min;
  int max;
};
constexpr std::array kIntKeys{
    IntKey{"batch_size", &KafkaConfig::batch_size, 1, 100'000},
    IntKey{"max_in_flight", &KafkaConfig::max_in_flight, 1, 1'000'000},
    IntKey{"poll_interval_ms", &KafkaConfig::poll_interval_ms, 1, 60'000},
    IntKey{"cursor_save_interval_ms", &KafkaConfig::cursor_save_interval_ms, 1, 60'000},
    IntKey{"flush_timeout_ms", &KafkaConfig::flush_timeout_ms, 0, 600'000},
};
struct StringKey {
  std::string_view key;
  std::string KafkaConfig::*field;
};
constexpr std::array kStringKeys{
    StringKey{"brokers", &KafkaConfig::brokers},
    StringKey{"topic", &KafkaConfig::topic},
    StringKey{"cursor_name", &KafkaConfig::cursor_name},
};

std::string known_keys() {
  std::string out = "enabled, producer";
  for (const auto& k : kStringKeys) out += fmt::format(", {}", k.key);
  for (const auto& k : kIntKeys) out += fmt::format(", {}", k.key);
  return out;
}

bool is_known_key(std::string_view key) {
  if (key == "enabled" || key == "producer") return true;
  for (const auto& k : kStringKeys)
    if (k.key == key) return true;
  for (const auto& k : kIntKeys)
    if (k.key == key) return true;
  return false;
}

void read_scalars(const toml::table& kafka, const std::string& source, KafkaConfig& c) {
  for (const auto& [key_node, node] : kafka) {
    if (!is_known_key(key_node.str()))
      fail(source, "kafka", key_node.str(), &node, fmt::format("unknown key (known: {})", known_keys()));
  }
  if (const auto* node = kafka.get("enabled")) {
    if (!node->is_boolean()) fail(source, "kafka", "enabled", node, "must be true or false");
    c.enabled = *node->value<bool>();
  }
  for (const auto& k : kStringKeys) {
    const auto* node = kafka.get(k.key);
    if (!node) continue;
    if (!node->is_string()) fail(source, "kafka", k.key, node, "must be a string");
    c.*k.field = *node->value<std::string>();
    if ((c.*k.field).empty()) fail(source, "kafka", k.key, node, "must not be empty");
  }
  for (const auto& k : kIntKeys) {
    const auto* node = kafka.get(k.key);
    if (!node) continue;
    if (!node->is_integer()) fail(source, "kafka", k.key, node, "must be an integer");
    const auto value = *node->value<std::int64_t>();
    if (value < k.min || value > k.max)
      fail(source, "kafka", k.key, node, fmt::format("must be in {}..{}, got {}", k.min, k.max, value));
    c.*k.field = static_cast<int>(value);
  }
}

// A TOML scalar as the text librdkafka's property parser expects.
std::optional<std::string> property_text(const toml::node& node) {
  if (const auto* s = node.as_string()) return s->get();
  if (const auto* i = node.as_integer()) return std::to_string(i->get());
  if (const auto* b = node.as_boolean()) return std::string(b->get() ? "true" : "false");
  if (const auto* f = node.as_floating_point()) return fmt::format("{}", f->get());
  return std::nullopt;
}

// Properties the sink owns: setting them in [kafka.producer] would break its guarantees or
// duplicate a [kafka] key.
void check_reserved_property(const std::string& key, const std::string& value, const std::string& source,
                             const toml::node& node) {
  auto refuse = [&](std::string_view reason) { fail(source, "kafka.producer", key, &node, reason); };
  if (key == "bootstrap.servers" || key == "metadata.broker.list") refuse("set the brokers with [kafka] brokers");
  if (key == "enable.idempotence" && value != "true")
    refuse("the sink needs the idempotent producer; enable.idempotence may only be true");
  if ((key == "acks" || key == "request.required.acks") && value != "all" && value != "-1")
    refuse("the sink needs acks=all so an acknowledged interval is on every in-sync replica");
  if (key == "transactional.id") refuse("transactions are not used; the sink is idempotent and at-least-once");
}

}  // namespace

bool is_valid_topic_name(std::string_view topic) {
  if (topic.empty() || topic.size() > 249 || topic == "." || topic == "..") return false;
  for (const char c : topic) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

KafkaConfig parse_kafka_config(const toml::table& kafka, const std::string& source_name) {
  KafkaConfig c;
  read_scalars(kafka, source_name, c);
  if (!c.topic.empty() && !is_valid_topic_name(c.topic))
    fail(source_name, "kafka", "topic", kafka.get("topic"),
         fmt::format("'{}' is not a Kafka topic name (1..249 characters of a-z A-Z 0-9 . _ -)", c.topic));
  if (c.enabled && c.brokers.empty()) fail(source_name, "kafka", "brokers", nullptr, "is required when enabled = true");
  if (c.enabled && c.topic.empty()) fail(source_name, "kafka", "topic", nullptr, "is required when enabled = true");

  const auto* node = kafka.get("producer");
  if (!node) return c;
  const auto* table = node->as_table();
  if (!table) fail(source_name, "kafka", "producer", node, "must be a table of librdkafka producer properties");
  // librdkafka validates names and values; a scratch conf is the cheapest way to ask it.
  std::unique_ptr<rd_kafka_conf_t, decltype(&rd_kafka_conf_destroy)> scratch(rd_kafka_conf_new(),
                                                                             &rd_kafka_conf_destroy);
  for (const auto& [key_node, value_node] : *table) {
    const std::string key(key_node.str());
    const auto value = property_text(value_node);
    if (!value) fail(source_name, "kafka.producer", key, &value_node, "must be a string, integer, float or boolean");
    check_reserved_property(key, *value, source_name, value_node);
    std::array<char, 512> error{};
    if (rd_kafka_conf_set(scratch.get(), key.c_str(), value->c_str(), error.data(), error.size()) !=
        RD_KAFKA_CONF_OK)
      fail(source_name, "kafka.producer", key, &value_node, fmt::format("librdkafka rejects it: {}", error.data()));
    c.producer.emplace_back(key, *value);
  }
  return c;
}

}  // namespace ami::kafka
