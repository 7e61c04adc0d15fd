// Freeze backfill reads (freeze_read.hpp): freeze instants, "n back", requests, which reply
// answers which request, and what a reply holds.
#include <catch2/catch.hpp>

#include <array>

#include "headend/collection/freeze_read.hpp"
#include "headend/collection/freeze_read_exchange.hpp"
#include "protocols/dlt645/bcd.hpp"
#include "protocols/dlt645/catalogue.hpp"
#include "protocols/dlt645/datetime.hpp"
#include "protocols/dlt645/messages.hpp"
#include "protocols/dlt645/read.hpp"
#include "tests/unit/headend/fake_meter.hpp"
#include "tests/unit/headend/run_coroutine.hpp"

using namespace ami;
using namespace ami::collection;
using namespace std::chrono_literals;

namespace {

dlt645::Address freeze_meter() {
  std::string error;
  return *dlt645::Address::parse("000000000077", error);
}

UtcSeconds freeze_utc(const char* text) { return *parse_utc(text); }

dlt645::Frame freeze_time_reply(std::uint32_t di, UtcSeconds t, int offset) {
  std::array<std::uint8_t, 5> value{};
  REQUIRE(dlt645::encode_yymmddhhmm(dlt645::to_meter_time(t, offset), value));
  return dlt645::make_read_reply(dlt645::Edition::v2007, freeze_meter(), di, value);
}

dlt645::Frame freeze_energy_reply(std::uint32_t di, std::int64_t wh, std::size_t values = 1) {
  const auto* item = dlt645::find_data_item(dlt645::Edition::v2007, di);
  REQUIRE(item != nullptr);
  std::vector<std::uint8_t> value(4 * values, 0);
  for (std::size_t i = 0; i < values; ++i)
    REQUIRE(dlt645::encode_number(item->fields[0], wh / 10 + static_cast<std::int64_t>(i),
                                  std::span<std::uint8_t>(value).subspan(4 * i, 4)));
  return dlt645::make_read_reply(dlt645::Edition::v2007, freeze_meter(), di, value);
}

std::vector<std::uint8_t> freeze_wire(const dlt645::Frame& frame) {
  std::vector<std::uint8_t> out;
  dlt645::encode_frame(frame, out);
  return out;
}

}  // namespace

TEST_CASE("freeze identifiers carry the field and n back", "[freeze]") {
  CHECK(freeze_di(FreezeKind::hourly, FreezeField::time, 1) == 0x05040001u);
  CHECK(freeze_di(FreezeKind::hourly, FreezeField::forward_active, 254) == 0x050401FEu);
  CHECK(freeze_di(FreezeKind::daily, FreezeField::reverse_active, 62) == 0x0506023Eu);
  CHECK(freeze_di(FreezeKind::hourly, FreezeField::time, 0) == 0u);
  CHECK(freeze_di(FreezeKind::hourly, FreezeField::time, 255) == 0u);
  CHECK(freeze_di(FreezeKind::daily, FreezeField::time, 63) == 0u);
  CHECK(freeze_di(FreezeKind::none, FreezeField::time, 1) == 0u);
  // Every identifier built is one the protocol library's catalogue knows.
  for (const auto kind : {FreezeKind::hourly, FreezeKind::daily})
    for (const auto field : {FreezeField::time, FreezeField::forward_active, FreezeField::reverse_active})
      CHECK(dlt645::find_data_item(dlt645::Edition::v2007, freeze_di(kind, field, 7)) != nullptr);
  const auto request = make_freeze_request(freeze_meter(), 0x05040102);
  dlt645::Message message;
  REQUIRE(dlt645::parse_message(request, dlt645::Edition::v2007, message).ok());
  CHECK(message.kind == dlt645::MessageKind::read);
  CHECK(message.di == 0x05040102u);
  CHECK(request.address == freeze_meter());
}

TEST_CASE("freeze instants are the meter's local whole hours and local midnights", "[freeze]") {
  CHECK(is_freeze_instant(FreezeKind::hourly, freeze_utc("2026-01-05T03:00:00Z"), 480));
  CHECK_FALSE(is_freeze_instant(FreezeKind::hourly, freeze_utc("2026-01-05T03:15:00Z"), 480));
  CHECK(is_freeze_instant(FreezeKind::hourly, freeze_utc("2026-01-05T03:30:00Z"), 330));  // UTC+5:30
  CHECK_FALSE(is_freeze_instant(FreezeKind::hourly, freeze_utc("2026-01-05T03:00:00Z"), 330));
  CHECK(is_freeze_instant(FreezeKind::daily, freeze_utc("2026-01-04T16:00:00Z"), 480));  // 00:00 at UTC+8
  CHECK_FALSE(is_freeze_instant(FreezeKind::daily, freeze_utc("2026-01-05T00:00:00Z"), 480));
  CHECK_FALSE(is_freeze_instant(FreezeKind::none, freeze_utc("2026-01-05T00:00:00Z"), 0));
  CHECK(latest_freeze(FreezeKind::hourly, UtcMillis{freeze_utc("2026-01-05T03:59:59Z")}, 480) == freeze_utc("2026-01-05T03:00:00Z"));
  CHECK(latest_freeze(FreezeKind::daily, UtcMillis{freeze_utc("2026-01-05T03:00:00Z")}, 480) == freeze_utc("2026-01-04T16:00:00Z"));
}

TEST_CASE("n back counts from the meter's latest freeze, within the meter's depth", "[freeze]") {
  const UtcMillis now{freeze_utc("2026-01-05T06:20:00Z")};
  CHECK(freeze_back(FreezeKind::hourly, freeze_utc("2026-01-05T06:00:00Z"), now, 480) == 1);
  CHECK(freeze_back(FreezeKind::hourly, freeze_utc("2026-01-05T02:00:00Z"), now, 480) == 5);
  CHECK(freeze_back(FreezeKind::hourly, freeze_utc("2026-01-05T07:00:00Z"), now, 480) == std::nullopt);  // future
  CHECK(freeze_back(FreezeKind::hourly, freeze_utc("2026-01-05T02:15:00Z"), now, 480) == std::nullopt);  // not a freeze
  const auto deepest = freeze_utc("2026-01-05T06:00:00Z") - 253h;
  CHECK(freeze_back(FreezeKind::hourly, deepest, now, 480) == 254);
  CHECK(freeze_back(FreezeKind::hourly, deepest - 1h, now, 480) == std::nullopt);
  CHECK(freeze_back(FreezeKind::daily, freeze_utc("2026-01-04T16:00:00Z"), now, 480) == 1);
  CHECK(freeze_back(FreezeKind::daily, freeze_utc("2026-01-04T16:00:00Z") - 61 * 24h, now, 480) == 62);
  CHECK(freeze_back(FreezeKind::daily, freeze_utc("2026-01-04T16:00:00Z") - 62 * 24h, now, 480) == std::nullopt);
}

TEST_CASE("a freeze reply answers only the read of its own DI: a late reply for another n is dropped", "[freeze]") {
  const auto reply = freeze_time_reply(0x05040003, freeze_utc("2026-01-05T03:00:00Z"), 480);
  CHECK(is_freeze_reply(0x05040003, reply));
  CHECK_FALSE(is_freeze_reply(0x05040002, reply));  // the read of n = 2 sent after n = 3 timed out
  CHECK_FALSE(is_freeze_reply(0x05040103, reply));  // another field of the same freeze
  // An abnormal read reply carries no DI: it answers whatever read is in flight.
  CHECK(is_freeze_reply(0x05040002, dlt645::make_abnormal_reply(freeze_meter(), dlt645::kFnRead, 0x02)));
  // A request (our own echo) or another function is not an answer.
  CHECK_FALSE(is_freeze_reply(0x05040003, make_freeze_request(freeze_meter(), 0x05040003)));
}

TEST_CASE("freeze replies decode to UTC times and Wh; ERR and all-FF are the meter's no", "[freeze]") {
  const auto time = interpret_freeze_reply(0x05040003, 480, freeze_time_reply(0x05040003, freeze_utc("2026-01-05T03:00:00Z"), 480));
  REQUIRE(time.outcome == Outcome::ok);
  CHECK(time.time == freeze_utc("2026-01-05T03:00:00Z"));
  CHECK_FALSE(time.wh);
  const auto hourly = interpret_freeze_reply(0x05040103, 480, freeze_energy_reply(0x05040103, 1234560));
  REQUIRE(hourly.outcome == Outcome::ok);
  CHECK(hourly.wh == 1234560);
  // Daily energy is total + tariffs: the total is the first value.
  const auto daily = interpret_freeze_reply(0x05060202, 480, freeze_energy_reply(0x05060202, 98760, 5));
  REQUIRE(daily.outcome == Outcome::ok);
  CHECK(daily.wh == 98760);

  const auto refused =
      interpret_freeze_reply(0x05040103, 480, dlt645::make_abnormal_reply(freeze_meter(), dlt645::kFnRead, 0x02));
  CHECK(refused.outcome == Outcome::meter_error);
  CHECK_THAT(refused.detail, Catch::Contains("05040103") && Catch::Contains("ERR 02: no_requested_data"));

  const std::array<std::uint8_t, 4> all_ff{0xFF, 0xFF, 0xFF, 0xFF};
  const auto absent = interpret_freeze_reply(
      0x05040103, 480, dlt645::make_read_reply(dlt645::Edition::v2007, freeze_meter(), 0x05040103, all_ff));
  CHECK(absent.outcome == Outcome::missing_record);

  const std::array<std::uint8_t, 2> short_value{0x12, 0x34};
  const auto truncated = interpret_freeze_reply(
      0x05040103, 480, dlt645::make_read_reply(dlt645::Edition::v2007, freeze_meter(), 0x05040103, short_value));
  CHECK(truncated.outcome == Outcome::bad_reply);
  CHECK_THAT(truncated.detail, Catch::Contains("05040103"));

  const auto wrong = interpret_freeze_reply(0x05040103, 480, freeze_energy_reply(0x05040102, 10));
  CHECK(wrong.outcome == Outcome::bad_reply);
}

TEST_CASE("a freeze read follows the meter's freeze numbering when it takes a new freeze mid-read, and drops a late "
          "reply for another n",
          "[freeze]") {
  // The meter's latest hourly freeze is 06:00 for its first three requests, then it takes the
  // 07:00 freeze: every n moves by one. Its registers are a function of the freeze time.
  const auto midnight = freeze_utc("2026-01-05T00:00:00Z");
  const auto wh_at = [&](UtcSeconds t, bool forward) {
    return (forward ? 500'000 : 7'000) + std::chrono::duration_cast<std::chrono::hours>(t - midnight).count() * 1'230;
  };
  asio::io_context io;
  int answered = 0;
  test::FakeMeterGateway gateway(io, [&](const dlt645::Frame& request, int) {
    dlt645::Message m;
    REQUIRE(dlt645::parse_message(request, dlt645::Edition::v2007, m).ok());
    const auto di = *m.di;
    const auto back = static_cast<int>(di & 0xFF);
    const auto latest = ++answered <= 3 ? freeze_utc("2026-01-05T06:00:00Z") : freeze_utc("2026-01-05T07:00:00Z");
    const auto at = latest - std::chrono::hours{back - 1};
    const auto field = (di >> 8) & 0xFF;
    std::vector<test::ScriptedReply> replies;
    if (answered == 1)  // first a late reply to an earlier read of n + 1: not an answer to this one
      replies.push_back({0ms, freeze_wire(freeze_time_reply(di + 1, at - 1h, 480))});
    replies.push_back({0ms, freeze_wire(field == 0 ? freeze_time_reply(di, at, 480) : freeze_energy_reply(di, wh_at(at, field == 1)))});
    return replies;
  });
  Dlt645Channel channel(io.get_executor(), "gw", "127.0.0.1", gateway.port(), [] {
    ChannelOptions o;
    o.response_timeout = 200ms;
    o.inter_frame_gap = 0ms;
    return o;
  }());
  const auto clock = Clock::accelerated(UtcMillis{freeze_utc("2026-01-05T06:20:00Z")}, 1, Clock::real().now());
  MeterTarget meter;
  meter.meter_id = "f1";
  meter.protocol = "dlt645-2007";
  meter.address = freeze_meter();
  ReadJob job;
  job.meter = make_meter_ref(meter);
  job.boundary = freeze_utc("2026-01-05T04:00:00Z");
  job.records = 1;
  job.freeze = FreezeKind::hourly;
  job.source = storage::ReadSource::backfill;
  JobReport report;
  const auto attempt = test::run_coroutine(io, attempt_freeze(channel, clock, job, report));
  INFO(attempt.detail);
  REQUIRE(attempt.outcome == Outcome::ok);
  REQUIRE(report.snapshots.size() == 1);
  CHECK(report.snapshots[0].boundary == job.boundary);
  CHECK(report.snapshots[0].forward_active_wh == wh_at(job.boundary, true));
  CHECK(report.snapshots[0].reverse_active_wh == wh_at(job.boundary, false));
  // n = 3: time, forward, reverse, time (moved); n = 3 again (05:00: one off), n = 4: the four reads.
  CHECK(gateway.requests() == 9);

  // A freeze older than the meter keeps is missing at once, without a request.
  job.boundary = freeze_utc("2026-01-05T06:00:00Z") - 254h;
  JobReport none;
  const auto deep = test::run_coroutine(io, attempt_freeze(channel, clock, job, none));
  CHECK(deep.outcome == Outcome::missing_record);
  CHECK(none.snapshots.empty());
  CHECK(gateway.requests() == 9);
  channel.close();
  gateway.stop();
}
