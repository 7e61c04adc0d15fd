#include <catch2/catch.hpp>

#include "protocols/common/clock.hpp"

using namespace ami;
using namespace std::chrono;

TEST_CASE("parse_utc and format_utc round-trip") {
  const auto t = parse_utc("2026-01-05T07:15:30Z");
  REQUIRE(t);
  CHECK(format_utc(*t) == "2026-01-05T07:15:30Z");
  CHECK(t->time_since_epoch().count() == 1767597330);
  CHECK(parse_utc("2026-01-05T07:15")->time_since_epoch().count() == 1767597300);
  CHECK_FALSE(parse_utc("2026-02-30T00:00:00Z"));
  CHECK_FALSE(parse_utc("yesterday"));
  CHECK_FALSE(parse_utc("2026-01-05T07:15:30+08:00"));
}

TEST_CASE("accelerated clock maps real time onto simulated time") {
  const auto start = UtcMillis{*parse_utc("2026-01-05T00:00:00Z")};
  const auto anchor = UtcMillis{milliseconds{1'000'000}};
  const auto clock = Clock::accelerated(start, 900, anchor);
  CHECK(clock.to_sim(anchor) == start);
  CHECK(clock.to_sim(anchor + seconds{1}) == start + minutes{15});
  CHECK(clock.to_real(start + minutes{30}) == anchor + seconds{2});
  CHECK(clock.real_wait(minutes{15}) == seconds{1});
  CHECK(clock.real_wait(milliseconds{-5}) == microseconds{0});
}

TEST_CASE("make_clock reports bad options by name") {
  std::string error;
  CHECK(make_clock(ClockSpec{"real", "", 1, std::nullopt}, error));
  CHECK_FALSE(make_clock(ClockSpec{"fast", "", 1, std::nullopt}, error));
  CHECK(error.find("fast") != std::string::npos);
  CHECK_FALSE(make_clock(ClockSpec{"accelerated", "soon", 60, std::nullopt}, error));
  CHECK(error.find("soon") != std::string::npos);
  CHECK_FALSE(make_clock(ClockSpec{"accelerated", "2026-01-05T00:00:00Z", 0, std::nullopt}, error));
  const auto c = make_clock(ClockSpec{"accelerated", "2026-01-05T00:00:00Z", 60, 5000}, error);
  REQUIRE(c);
  CHECK(c->to_sim(UtcMillis{milliseconds{6000}}) == UtcMillis{*parse_utc("2026-01-05T00:01:00Z")});
}

TEST_CASE("floor_to_interval aligns to UTC boundaries") {
  const auto t = *parse_utc("2026-01-05T07:44:59Z");
  CHECK(format_utc(floor_to_interval(t, minutes{15})) == "2026-01-05T07:30:00Z");
  CHECK(format_utc(floor_to_interval(t, hours{1})) == "2026-01-05T07:00:00Z");
}
