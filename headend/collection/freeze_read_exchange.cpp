#include "headend/collection/freeze_read_exchange.hpp"

#include <fmt/format.h>

#include "headend/collection/freeze_read.hpp"

namespace ami::collection {
namespace {

// A freeze taken between two reads of one attempt moves "n back" by one; more than this many
// restarts in one attempt means the meter's freeze numbering is not what this code expects.
constexpr int kFreezeReadPasses = 4;

asio::awaitable<FreezeFieldResult> read_freeze_field(Dlt645Channel& channel, const ReadJob& job, std::uint32_t di,
                                                     AttemptReport& attempt) {
  const auto& meter = *job.meter;
  auto result = co_await channel.transact(make_freeze_request(meter.address, di),
                                          [di](const dlt645::Frame& f) { return is_freeze_reply(di, f); },
                                          meter.response_timeout);
  attempt.latency_ms += result.latency_ms;
  if (result.outcome != Outcome::ok) {
    FreezeFieldResult failed;
    failed.outcome = result.outcome;
    failed.detail = fmt::format("{:08X}: {}", di, result.detail);
    co_return failed;
  }
  co_return interpret_freeze_reply(di, meter.utc_offset_minutes, *result.reply);
}

}  // namespace

asio::awaitable<AttemptReport> attempt_freeze(Dlt645Channel& channel, Clock clock, const ReadJob& job,
                                              JobReport& report) {
  AttemptReport a;
  const auto kind = job.freeze;
  const int offset = job.meter->utc_offset_minutes;
  const auto period = kind == FreezeKind::daily ? std::chrono::seconds{std::chrono::days{1}}
                                                : std::chrono::seconds{std::chrono::hours{1}};
  // The head-end's clock picks n; the meter's own clock decides, and the time read says where n landed.
  auto back = freeze_back(kind, job.boundary, clock.now(), offset);
  const auto fail = [&a](Outcome outcome, std::string detail) {
    a.outcome = outcome;
    a.detail = std::move(detail);
  };
  for (int pass = 0; pass < kFreezeReadPasses; ++pass) {
    const auto time_di = freeze_di(kind, FreezeField::time, back.value_or(0));
    if (time_di == 0) {
      fail(Outcome::missing_record,
           fmt::format("{} at {} is not among the meter's freezes", to_string(kind), format_utc(job.boundary)));
      co_return a;
    }
    const auto time = co_await read_freeze_field(channel, job, time_di, a);
    if (time.outcome != Outcome::ok) {
      fail(time.outcome, time.detail);
      co_return a;
    }
    if (*time.time != job.boundary) {  // n reached another freeze: move n by the difference
      const auto shift = (*time.time - job.boundary) / period;
      if (shift == 0) {
        fail(Outcome::missing_record, fmt::format("{:08X}: freeze time {} is off the freeze grid at {}", time_di,
                                                  format_utc(*time.time), format_utc(job.boundary)));
        co_return a;
      }
      back = *back + static_cast<int>(shift);
      continue;
    }
    const auto forward = co_await read_freeze_field(channel, job, freeze_di(kind, FreezeField::forward_active, *back), a);
    if (forward.outcome != Outcome::ok) {
      fail(forward.outcome, forward.detail);
      co_return a;
    }
    const auto reverse = co_await read_freeze_field(channel, job, freeze_di(kind, FreezeField::reverse_active, *back), a);
    if (reverse.outcome != Outcome::ok) {
      fail(reverse.outcome, reverse.detail);
      co_return a;
    }
    const auto again = co_await read_freeze_field(channel, job, time_di, a);
    if (again.outcome != Outcome::ok) {
      fail(again.outcome, again.detail);
      co_return a;
    }
    if (*again.time != job.boundary) continue;  // a new freeze meanwhile: the energies may be the next one's
    a.outcome = Outcome::ok;
    report.snapshots.push_back({job.boundary, forward.wh, reverse.wh});
    report.collected_at = clock.now();
    co_return a;
  }
  fail(Outcome::bad_reply, fmt::format("{} at {}: the freeze kept moving over {} passes", to_string(kind),
                                       format_utc(job.boundary), kFreezeReadPasses));
  co_return a;
}

}  // namespace ami::collection
