#include "headend/kafka/kafka_sink.hpp"

#include <algorithm>
#include <array>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

namespace ami::kafka {
namespace {

using Clock_ = std::chrono::steady_clock;
constexpr std::int32_t kAnyPartition = -1;  // RD_KAFKA_PARTITION_UA without its C cast
constexpr int kCopyPayload = 0x2;           // RD_KAFKA_MSG_F_COPY
constexpr std::chrono::milliseconds kErrorBackoff{500};
constexpr int kPollWhileInFlightMs = 20;

struct ProducerDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct TopicDeleter {
  void operator()(rd_kafka_topic_t* rkt) const { rd_kafka_topic_destroy(rkt); }
};
struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};

void* sequence_to_opaque(std::uint64_t sequence) {
  return reinterpret_cast<void*>(static_cast<std::uintptr_t>(sequence));
}
std::uint64_t opaque_to_sequence(void* opaque) { return reinterpret_cast<std::uintptr_t>(opaque); }

// librdkafka's syslog levels onto spdlog's.
spdlog::level::level_enum log_level(int syslog_level) {
  if (syslog_level <= 3) return spdlog::level::err;
  if (syslog_level == 4) return spdlog::level::warn;
  if (syslog_level <= 6) return spdlog::level::info;
  return spdlog::level::debug;
}

void log_callback(const rd_kafka_t*, int level, const char* facility, const char* message) {
  spdlog::log(log_level(level), "kafka: {}: {}", facility, message);
}

}  // namespace

struct KafkaSink::Impl {
  // One produced record waiting for (or having got) its delivery report, in production order.
  struct Pending {
    std::uint64_t sequence = 0;
    bool reported = false;
    bool ok = false;
  };

  KafkaConfig config;
  std::string daemon_id;
  std::string cursor_name;
  std::unique_ptr<FeedSource> source;
  ami::Clock clock;

  // Relay-thread state (touched only by the relay thread and librdkafka callbacks it serves).
  std::unique_ptr<rd_kafka_t, ProducerDeleter> producer;
  std::unique_ptr<rd_kafka_topic_t, TopicDeleter> topic;
  std::deque<Pending> pending;
  std::uint64_t produced_up_to = 0;  // highest sequence handed to librdkafka since the last rewind
  std::uint64_t cursor = 0;          // contiguous delivered prefix
  std::uint64_t saved_cursor = 0;
  bool cursor_loaded = false;
  bool rewind_needed = false;
  bool fatal = false;
  bool shutting_down = false;  // purged records at shutdown are expected, not worth a log line each
  Clock_::time_point last_save = Clock_::now();
  std::string serialized;  // reused encode buffer
  headend::feed::v1::IntervalBatch batch;

  // Shared with other threads.
  mutable std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  bool notified = false;
  KafkaSinkStats stats;
  std::thread thread;

  Impl(KafkaConfig c, std::string id, std::unique_ptr<FeedSource> s, ami::Clock clk)
      : config(std::move(c)),
        daemon_id(std::move(id)),
        cursor_name(config.effective_cursor_name()),
        source(std::move(s)),
        clock(clk) {}

  void record_error(const std::string& message, std::uint64_t KafkaSinkStats::*counter) {
    spdlog::warn("kafka sink [{}]: {}", config.topic, message);
    std::lock_guard lock(mutex);
    stats.last_error = message;
    if (counter) ++(stats.*counter);
  }

  void create_producer() {
    std::unique_ptr<rd_kafka_conf_t, ConfDeleter> conf(rd_kafka_conf_new());
    std::array<char, 512> error{};
    auto set = [&](const std::string& key, const std::string& value) {
      if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), error.data(), error.size()) != RD_KAFKA_CONF_OK)
        throw KafkaError(fmt::format("kafka producer property {}={}: {}", key, value, error.data()));
    };
    // Defaults the operator may override through [kafka.producer]:
    set("partitioner", "murmur2_random");  // same key -> partition mapping as the Java client
    set("message.timeout.ms", "0");        // retry forever: an outage delays, never reorders or drops
    set("linger.ms", "5");
    for (const auto& [key, value] : config.producer) set(key, value);
    // What the sink's guarantees rest on (parse_kafka_config refuses contradicting settings):
    set("bootstrap.servers", config.brokers);
    set("enable.idempotence", "true");
    set("acks", "all");
    rd_kafka_conf_set_opaque(conf.get(), this);
    rd_kafka_conf_set_dr_msg_cb(conf.get(), &Impl::on_delivery);
    rd_kafka_conf_set_error_cb(conf.get(), &Impl::on_error);
    rd_kafka_conf_set_log_cb(conf.get(), &log_callback);

    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), error.data(), error.size());
    if (!rk) throw KafkaError(fmt::format("cannot create the Kafka producer: {}", error.data()));
    conf.release();  // owned by rk now
    producer.reset(rk);
    topic.reset(rd_kafka_topic_new(rk, config.topic.c_str(), nullptr));
    if (!topic) {
      throw KafkaError(fmt::format("cannot create Kafka topic handle '{}': {}", config.topic,
                                   rd_kafka_err2str(rd_kafka_last_error())));
    }
  }

  // Delivery report, served by rd_kafka_poll/flush on the relay thread.
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    const auto sequence = opaque_to_sequence(message->_private);
    const bool ok = message->err == RD_KAFKA_RESP_ERR_NO_ERROR;
    auto it = std::lower_bound(self->pending.begin(), self->pending.end(), sequence,
                               [](const Pending& p, std::uint64_t s) { return p.sequence < s; });
    if (it != self->pending.end() && it->sequence == sequence) {
      it->reported = true;
      it->ok = ok;
    }
    {
      std::lock_guard lock(self->mutex);
      --self->stats.in_flight;
      if (ok) ++self->stats.delivered;
    }
    if (!ok) {
      const auto text = fmt::format("delivery of sequence {} failed: {}", sequence, rd_kafka_err2str(message->err));
      // One log line per failure round: the records behind the first one fail for the same reason.
      if (!self->rewind_needed && !self->shutting_down) spdlog::warn("kafka sink [{}]: {}", self->config.topic, text);
      self->rewind_needed = true;
      std::lock_guard lock(self->mutex);
      self->stats.last_error = text;
      ++self->stats.delivery_failures;
    }
  }

  // librdkafka's error callback: informational unless fatal (then the producer must be replaced).
  static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      std::array<char, 512> text{};
      const auto code = rd_kafka_fatal_error(rk, text.data(), text.size());
      self->fatal = true;
      self->record_error(fmt::format("fatal producer error {}: {}", rd_kafka_err2name(code), text.data()), nullptr);
      return;
    }
    // librdkafka logs these itself (log_callback); keep the latest for stats().
    std::lock_guard lock(self->mutex);
    self->stats.last_error = fmt::format("{}: {}", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)), reason);
  }

  std::uint64_t in_flight() const {
    std::lock_guard lock(mutex);
    return stats.in_flight;
  }

  bool should_stop() const {
    std::lock_guard lock(mutex);
    return stopping;
  }

  void advance_cursor() {
    while (!pending.empty() && pending.front().reported && pending.front().ok) {
      cursor = pending.front().sequence;
      pending.pop_front();
    }
    std::lock_guard lock(mutex);
    stats.cursor = cursor;
  }

  void save_cursor(bool force) {
    if (cursor == saved_cursor) return;
    const auto now = Clock_::now();
    if (!force && now - last_save < std::chrono::milliseconds{config.cursor_save_interval_ms}) return;
    source->set_cursor(cursor_name, cursor);
    saved_cursor = cursor;
    last_save = now;
  }

  // Waits for every outstanding delivery report (failed or not), then restarts production right
  // after the delivered prefix. Records delivered after a failed one are sent again: consumers
  // de-duplicate, and nothing is skipped.
  void rewind_when_drained() {
    if (in_flight() != 0) return;
    advance_cursor();
    pending.clear();
    produced_up_to = cursor;
    rewind_needed = false;
    std::lock_guard lock(mutex);
    ++stats.resend_rounds;
  }

  void replace_producer() {
    spdlog::warn("kafka sink [{}]: replacing the producer after a fatal error; resending from sequence {}",
                 config.topic, cursor + 1);
    rd_kafka_purge(producer.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(producer.get(), 1000);  // serves the purge's delivery reports
    while (rd_kafka_poll(producer.get(), 0) > 0) {
    }
    topic.reset();
    producer.reset();
    {
      std::lock_guard lock(mutex);
      stats.in_flight = 0;
      ++stats.producer_restarts;
    }
    fatal = false;
    rewind_needed = true;
    create_producer();
    rewind_when_drained();
  }

  // Hands one record to librdkafka; false when its queue is full (try again after polling).
  bool produce(const headend::feed::v1::IntervalReading& reading) {
    batch.Clear();
    batch.set_daemon_id(daemon_id);
    batch.set_sequence(reading.sequence());
    batch.set_published_unix_ms(clock.now().time_since_epoch().count());
    *batch.add_intervals() = reading;
    batch.SerializeToString(&serialized);
    // The record is reported before produce() returns only on error, so book it first.
    pending.push_back(Pending{reading.sequence(), false, false});
    {
      std::lock_guard lock(mutex);
      ++stats.in_flight;
    }
    const auto& key = reading.meter_id();
    if (rd_kafka_produce(topic.get(), kAnyPartition, kCopyPayload, serialized.data(), serialized.size(), key.data(),
                         key.size(), sequence_to_opaque(reading.sequence())) == 0) {
      produced_up_to = reading.sequence();
      std::lock_guard lock(mutex);
      ++stats.produced;
      return true;
    }
    pending.pop_back();
    {
      std::lock_guard lock(mutex);
      --stats.in_flight;
    }
    const auto err = rd_kafka_last_error();
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) return false;
    throw KafkaError(fmt::format("producing sequence {} failed: {}", reading.sequence(), rd_kafka_err2str(err)));
  }

  // One round: serve reports, move the cursor, produce what the window allows. Returns whether
  // there may be more to do right away.
  bool step() {
    if (!cursor_loaded) {
      cursor = source->cursor(cursor_name).value_or(0);
      saved_cursor = cursor;
      produced_up_to = cursor;
      cursor_loaded = true;
      spdlog::info("kafka sink [{}]: resuming after sequence {} (cursor {})", config.topic, cursor, cursor_name);
    }
    rd_kafka_poll(producer.get(), 0);
    if (fatal) replace_producer();
    if (rewind_needed) rewind_when_drained();
    advance_cursor();
    save_cursor(false);
    if (rewind_needed) return false;
    const auto flying = in_flight();
    const auto window = static_cast<std::uint64_t>(config.max_in_flight);
    if (flying >= window) return false;
    const auto limit = std::min<std::uint64_t>(static_cast<std::uint64_t>(config.batch_size), window - flying);
    const auto rows = source->read_feed(produced_up_to, static_cast<std::size_t>(limit));
    for (const auto& row : rows) {
      if (!produce(row)) return false;
    }
    return rows.size() == limit;
  }

  void idle_wait(bool busy) {
    if (in_flight() > 0) {
      rd_kafka_poll(producer.get(), busy ? 0 : kPollWhileInFlightMs);
      if (!busy) save_cursor(true);
      return;
    }
    if (busy) return;
    save_cursor(true);
    std::unique_lock lock(mutex);
    wake.wait_for(lock, std::chrono::milliseconds{config.poll_interval_ms}, [&] { return stopping || notified; });
    notified = false;
  }

  void run() {
    while (!should_stop()) {
      try {
        idle_wait(step());
      } catch (const std::exception& e) {
        record_error(e.what(), &KafkaSinkStats::source_errors);
        std::unique_lock lock(mutex);
        wake.wait_for(lock, kErrorBackoff, [&] { return stopping; });
      }
    }
    shut_down();
  }

  void shut_down() noexcept {
    try {
      rd_kafka_flush(producer.get(), config.flush_timeout_ms);
      shutting_down = true;
      rd_kafka_purge(producer.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      rd_kafka_flush(producer.get(), 1000);  // serve the purged records' reports
      advance_cursor();
      if (cursor_loaded) save_cursor(true);
      spdlog::info("kafka sink [{}]: stopped; delivered up to sequence {}, {} unconfirmed record(s) left for the next "
                   "start", config.topic, cursor, pending.size());
    } catch (const std::exception& e) {
      record_error(fmt::format("on stop: {}", e.what()), &KafkaSinkStats::source_errors);
    }
    topic.reset();
    producer.reset();
  }
};

KafkaSink::KafkaSink(KafkaConfig config, std::string daemon_id, std::unique_ptr<FeedSource> source, Clock clock)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(daemon_id), std::move(source), clock)) {
  if (!impl_->source) throw KafkaError("kafka sink: no feed source");
  if (!is_valid_topic_name(impl_->config.topic))
    throw KafkaError(fmt::format("kafka sink: '{}' is not a Kafka topic name", impl_->config.topic));
  if (impl_->config.brokers.empty()) throw KafkaError("kafka sink: no brokers configured");
  impl_->create_producer();
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

KafkaSink::~KafkaSink() { stop(); }

void KafkaSink::notify(std::uint64_t) {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->notified = true;
  }
  impl_->wake.notify_one();
}

void KafkaSink::stop() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_one();
  if (impl_->thread.joinable()) impl_->thread.join();
}

KafkaSinkStats KafkaSink::stats() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stats;
}

}  // namespace ami::kafka
