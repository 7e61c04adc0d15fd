#include "headend/collection/clock_sync_exchange.hpp"

namespace ami::collection {
namespace {

struct FieldRead {
  ClockFieldResult field;
  std::int32_t latency_ms = 0;
};

asio::awaitable<FieldRead> read_clock_field(TcpGatewayChannel& channel, const dlt645::Address& address,
                                            std::uint32_t di) {
  FieldRead out;
  auto result = co_await channel.transact(make_clock_read_request(address, di),
                                          [di](const dlt645::Frame& f) { return is_clock_read_reply(di, f); });
  out.latency_ms = result.latency_ms;
  if (result.outcome != Outcome::ok) {
    out.field.outcome = result.outcome;
    out.field.detail = std::move(result.detail);
    co_return out;
  }
  out.field = interpret_clock_reply(di, *result.reply);
  co_return out;
}

asio::awaitable<void> read_meter_clock(TcpGatewayChannel& channel, Clock clock, const ReadJob& job,
                                       AttemptReport& attempt, JobReport& report) {
  const auto& address = job.meter->address;
  auto date = co_await read_clock_field(channel, address, kDiMeterDate);
  attempt.latency_ms = date.latency_ms;
  if (date.field.outcome != Outcome::ok) {
    attempt.outcome = date.field.outcome;
    attempt.detail = "date (04000101): " + date.field.detail;
    co_return;
  }
  auto time = co_await read_clock_field(channel, address, kDiMeterTime);
  const auto received = clock.now();
  attempt.latency_ms += time.latency_ms;
  if (time.field.outcome != Outcome::ok) {
    attempt.outcome = time.field.outcome;
    attempt.detail = "time (04000102): " + time.field.detail;
    co_return;
  }
  if (time.field.value.hour == 0 && time.field.value.minute == 0) {
    date = co_await read_clock_field(channel, address, kDiMeterDate);
    if (date.field.outcome != Outcome::ok) {
      attempt.outcome = date.field.outcome;
      attempt.detail = "date (04000101) after midnight: " + date.field.detail;
      co_return;
    }
  }
  const auto meter_time = meter_clock_utc(date.field.value, time.field.value, job.meter->utc_offset_minutes);
  if (!meter_time) {
    attempt.outcome = Outcome::bad_reply;
    attempt.detail = "meter date/time is not a valid local time";
    co_return;
  }
  attempt.outcome = Outcome::ok;
  // The meter read its clock about half the round trip (request sent -> reply, real ms, so scaled
  // to simulated time) before the reply arrived; the inter-frame gap before sending is not in it.
  report.collected_at = received - std::chrono::milliseconds{time.latency_ms * clock.speed() / 2};
  report.meter_clock = *meter_time;
}

}  // namespace

asio::awaitable<void> run_clock_job(TcpGatewayChannel& channel, Clock clock, const ClockPolicy& policy,
                                    const ReadJob& job, JobReport& report) {
  AttemptReport attempt;
  attempt.started_at = clock.now();
  const auto& meter = *job.meter;
  if (meter.protocol != "dlt645-2007") {
    attempt.outcome = Outcome::unsupported;
    attempt.detail = "clock sync covers dlt645-2007 meters only";
  } else if (job.clock == ClockCommand::read) {
    co_await read_meter_clock(channel, clock, job, attempt, report);
  } else {
    // Stamped for the moment the frame leaves, after the channel's inter-frame gap.
    const auto now = std::chrono::round<std::chrono::seconds>(
        clock.now() + std::chrono::milliseconds{policy.send_delay.count() * clock.speed()});
    std::optional<dlt645::Frame> frame;
    if (job.clock == ClockCommand::broadcast) {
      frame = make_time_broadcast(now, meter.utc_offset_minutes);
    } else {
      frame = make_time_set_request(meter.address, now, meter.utc_offset_minutes, policy);
    }
    if (!frame) {
      attempt.outcome = Outcome::bad_reply;
      attempt.detail = "head-end time outside the years DL/T 645 can carry";
    } else {
      const bool broadcast = job.clock == ClockCommand::broadcast;
      auto result = co_await channel.transact(
          *frame, [broadcast](const dlt645::Frame& f) { return !broadcast && is_write_reply(f); });
      attempt.latency_ms = result.latency_ms;
      attempt.outcome = result.outcome;
      attempt.detail = std::move(result.detail);
      if (broadcast && result.outcome == Outcome::timeout) {
        attempt.outcome = Outcome::ok;  // nobody answers a broadcast
        attempt.detail.clear();
      } else if (result.outcome == Outcome::ok && result.reply->control.abnormal()) {
        attempt.outcome = Outcome::meter_error;
        attempt.detail = "write refused: " + abnormal_reply_detail(*result.reply);
      }
      // The frame left the head-end unless the link failed before sending.
      if (attempt.outcome == Outcome::ok || attempt.outcome == Outcome::meter_error ||
          attempt.outcome == Outcome::timeout)
        report.clock_sent = now;
      report.collected_at = clock.now();
    }
  }
  report.attempts.push_back(std::move(attempt));
}

}  // namespace ami::collection
