#include "headend/cli/feed_commands.hpp"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "headend/config/daemon_config.hpp"
#include "headend/feed/feed_client.hpp"
#include "protocols/common/clock.hpp"

namespace ami::cli {
namespace {

namespace v1 = headend::feed::v1;
using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

constexpr milliseconds kIoTimeout{5000};
constexpr milliseconds kReconnectPause{200};

struct TailOptions {
  std::string connect;
  std::string consumer;
  std::string token;
  std::optional<std::uint64_t> from_sequence;
  std::string from_time;
  std::optional<std::uint64_t> max_intervals;
  std::optional<std::int64_t> idle_exit_ms;
};

[[noreturn]] void fail(const std::string& message, int code = 1) {
  std::fprintf(stderr, "headendctl feed tail: %s\n", message.c_str());
  throw CLI::RuntimeError(code);
}

std::string iso(std::int64_t unix_seconds) { return format_utc(UtcSeconds{std::chrono::seconds{unix_seconds}}); }

// Follows the feed; returns normally when --max-intervals were printed or the feed was idle for
// --idle-exit-ms. A lost connection is retried (resuming from the durable cursor) while idle time
// remains; without --idle-exit-ms it is an error.
void run_tail(const TailOptions& o) {
  std::string host;
  std::uint16_t port = 0;
  std::string error;
  if (!daemon::parse_host_port(o.connect, host, port, error)) fail("--connect: " + error, 2);
  std::optional<UtcSeconds> from_time;
  if (!o.from_time.empty()) {
    from_time = parse_utc(o.from_time);
    if (!from_time) fail("--from-time: '" + o.from_time + "' is not an ISO-8601 UTC time such as 2026-01-05T00:00:00Z", 2);
  }
  const std::optional<milliseconds> idle_exit =
      o.idle_exit_ms ? std::optional<milliseconds>(milliseconds{*o.idle_exit_ms}) : std::nullopt;

  std::uint64_t printed = 0;
  auto last_activity = steady::now();
  bool first_subscription = true;
  bool reconnecting = false;  // report a lost connection once, not every retry
  const auto idle_expired = [&] { return idle_exit && steady::now() - last_activity >= *idle_exit; };

  for (;;) {
    feed::FeedClient client(host, port);
    try {
      client.connect(kIoTimeout);
      v1::Subscribe subscribe;
      subscribe.set_consumer(o.consumer);
      subscribe.set_token(o.token);
      // Only the first subscription replays as asked; a reconnect continues from the cursor.
      if (first_subscription && o.from_sequence) {
        subscribe.set_from_sequence(*o.from_sequence);
      } else if (first_subscription && from_time) {
        subscribe.set_from_time_unix(from_time->time_since_epoch().count());
      } else {
        subscribe.set_from_cursor(true);
      }
      const auto subscribed = client.subscribe(subscribe, kIoTimeout);
      first_subscription = false;
      reconnecting = false;
      std::fprintf(stderr, "headendctl feed tail: subscribed to %s as '%s', resuming at sequence %llu (head %llu)\n",
                   client.endpoint().c_str(), o.consumer.c_str(),
                   static_cast<unsigned long long>(subscribed.resume_sequence()),
                   static_cast<unsigned long long>(subscribed.head_sequence()));
      for (;;) {
        if (idle_expired()) return;
        const auto wait = idle_exit ? std::max(milliseconds{1}, std::chrono::duration_cast<milliseconds>(
                                                                    *idle_exit - (steady::now() - last_activity)))
                                    : milliseconds{60'000};
        const auto message = client.next(wait);
        if (!message) continue;
        if (message->has_error())
          fail("server error: " + message->error().message() + " (" + v1::Error::Code_Name(message->error().code()) + ")");
        if (!message->has_batch()) continue;  // heartbeats keep the connection, not the idle timer
        std::uint64_t ack_to = 0;
        for (const auto& interval : message->batch().intervals()) {
          std::cout << interval_to_json(interval).dump() << '\n';
          ack_to = interval.sequence();
          if (o.max_intervals && ++printed >= *o.max_intervals) break;
        }
        std::cout.flush();
        last_activity = steady::now();
        if (ack_to > 0) client.ack(ack_to, kIoTimeout);
        if (o.max_intervals && printed >= *o.max_intervals) return;
      }
    } catch (const feed::FeedClientError& e) {
      if (!idle_exit) fail(e.what());
      const bool refused = std::string_view(e.what()).find("refused the subscription") != std::string_view::npos;
      if (refused) fail(e.what());
      if (idle_expired()) return;
      if (!reconnecting) std::fprintf(stderr, "headendctl feed tail: %s; reconnecting\n", e.what());
      reconnecting = true;
      std::this_thread::sleep_for(kReconnectPause);
    }
  }
}

}  // namespace

nlohmann::json interval_to_json(const v1::IntervalReading& r) {
  nlohmann::json j;
  j["sequence"] = r.sequence();
  j["meter_id"] = r.meter_id();
  j["usage_point"] = r.usage_point();
  j["kind"] = v1::ReadingKind_Name(r.kind());
  j["reading_type_cim"] = r.reading_type_cim();
  j["start"] = iso(r.start_unix());
  j["start_unix"] = r.start_unix();
  j["end"] = iso(r.end_unix());
  j["end_unix"] = r.end_unix();
  j["value_wh"] = r.value_wh();
  j["register_start_wh"] = r.has_register_start_wh() ? nlohmann::json(r.register_start_wh()) : nlohmann::json(nullptr);
  j["register_end_wh"] = r.has_register_end_wh() ? nlohmann::json(r.register_end_wh()) : nlohmann::json(nullptr);
  j["status"] = v1::IntervalStatus_Name(r.status());
  j["quality_codes"] = nlohmann::json::array();
  for (const auto& q : r.quality_codes()) j["quality_codes"].push_back(q);
  j["estimation_method"] = v1::EstimationMethod_Name(r.estimation_method());
  j["version"] = r.version();
  j["idempotency_key"] = r.idempotency_key();
  j["collected"] = format_utc_ms(UtcMillis{milliseconds{r.collected_unix_ms()}});
  j["collected_unix_ms"] = r.collected_unix_ms();
  j["source"] = v1::ReadSource_Name(r.source());
  return j;
}

void add_feed_commands(CLI::App& app) {
  auto* feed = app.add_subcommand("feed", "billing feed tools (docs/FEED.md)");
  feed->require_subcommand(1);
  auto options = std::make_shared<TailOptions>();
  auto* tail = feed->add_subcommand("tail", "follow the feed as a consumer; one JSON line per interval on stdout");
  tail->add_option("--connect", options->connect, "feed server HOST:PORT")->required();
  tail->add_option("--consumer", options->consumer, "consumer name configured in [[feed.consumers]]")->required();
  tail->add_option("--token", options->token, "the consumer's token")->required();
  auto* from_sequence = tail->add_option("--from-sequence", options->from_sequence,
                                         "replay from this sequence (default: after the consumer's cursor)");
  auto* from_time = tail->add_option("--from-time", options->from_time,
                                     "replay intervals collected at or after this UTC time (ISO-8601)");
  from_sequence->excludes(from_time);
  tail->add_option("--max-intervals", options->max_intervals, "exit 0 after printing this many intervals")
      ->check(CLI::PositiveNumber);
  tail->add_option("--idle-exit-ms", options->idle_exit_ms,
                   "exit 0 when no interval arrived for this long (also rides out reconnects)")
      ->check(CLI::PositiveNumber);
  tail->callback([options] { run_tail(*options); });
}

}  // namespace ami::cli
