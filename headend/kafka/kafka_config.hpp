// The [kafka] table of the daemon config (docs/KAFKA.md): where the Kafka sink publishes and how.
//
// parse_kafka_config() is called by the daemon's config loader (headend/config) with the [kafka]
// table, so the whole file is still validated up front. It checks every key (unknown keys, wrong
// types, out-of-range numbers, an illegal topic name) and hands each [kafka.producer] entry to
// librdkafka's own property parser, so a misspelt or invalid producer setting is reported at
// start-up, not when the first message is sent.
//
// Errors: KafkaConfigError, whose message names the source, the key (with its line) and the reason
// in the same form as the daemon's ConfigError ("<file>: [kafka] topic (line 12): ..."); the daemon
// rethrows it as its ConfigError. A KafkaConfig is a plain value; any thread may read a const one.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <toml++/toml.h>

namespace ami::kafka {

class KafkaConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct KafkaConfig {
  bool enabled = false;
  std::string brokers;  // bootstrap.servers, "host:port[,host:port...]"
  std::string topic;
  // Durable cursor name in the store's consumer cursors; "kafka:<topic>" when not set.
  std::string cursor_name;
  int batch_size = 1000;           // outbox rows read per store query
  int max_in_flight = 50'000;      // produced but not yet delivery-reported; bounds memory
  int poll_interval_ms = 200;      // idle re-check of the outbox when no commit notification came
  int cursor_save_interval_ms = 100;  // how often the delivered cursor is persisted while busy
  int flush_timeout_ms = 10'000;   // on stop: how long to wait for outstanding deliveries
  // Extra librdkafka producer properties, ordered by name, values as text. The sink always sets
  // enable.idempotence=true and acks=all; these may not contradict them (checked).
  std::vector<std::pair<std::string, std::string>> producer;

  [[nodiscard]] std::string effective_cursor_name() const {
    return cursor_name.empty() ? "kafka:" + topic : cursor_name;
  }
};

// Parses the [kafka] table. `source_name` is the config file's name for messages.
KafkaConfig parse_kafka_config(const toml::table& kafka, const std::string& source_name);

// Kafka's legal topic names: 1..249 characters of [a-zA-Z0-9._-], not "." or "..".
bool is_valid_topic_name(std::string_view topic);

}  // namespace ami::kafka
