#include <catch2/catch.hpp>

#include <numeric>

#include "storage/vee/estimation.hpp"
#include "vee_fixtures.hpp"

using namespace ami::storage::vee;
using namespace ami::storage::vee::test;
using V = std::vector<std::int64_t>;

namespace {
std::int64_t sum(const V& v) { return std::accumulate(v.begin(), v.end(), std::int64_t{0}); }
}  // namespace

TEST_CASE("estimation: prorate_even splits exactly, remainder to the earliest (table)", "[vee][estimation]") {
  struct Row {
    std::int64_t total;
    std::size_t count;
    V expected;
  };
  const Row rows[] = {
      {100, 4, {25, 25, 25, 25}},
      {10, 3, {4, 3, 3}},
      {2, 3, {1, 1, 0}},
      {0, 2, {0, 0}},
      {-10, 3, {-4, -3, -3}},
      {7, 1, {7}},
      {5, 0, {}},
  };
  for (const auto& row : rows) {
    CAPTURE(row.total, row.count);
    const auto parts = prorate_even(row.total, row.count);
    CHECK(parts == row.expected);
    if (row.count > 0) CHECK(sum(parts) == row.total);
  }
}

TEST_CASE("estimation: prorate by shape adds up exactly (table)", "[vee][estimation]") {
  struct Row {
    const char* name;
    std::int64_t total;
    V weights;
    V expected;
  };
  const Row rows[] = {
      {"proportional", 1'000, {1, 3}, {250, 750}},
      {"largest remainder gets the spare Wh", 10, {1, 1, 2}, {3, 2, 5}},
      {"zero weight gets nothing", 90, {0, 1, 2}, {0, 30, 60}},
      {"all zero weights -> even", 9, {0, 0, 0}, {3, 3, 3}},
      {"negative weight -> even", 9, {5, -1, 2}, {3, 3, 3}},
      {"negative total keeps signs", -1'000, {1, 3}, {-250, -750}},
      {"huge values do not overflow", 4'000'000'000'000, {3'000'000'000, 1'000'000'000},
       {3'000'000'000'000, 1'000'000'000'000}},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    const auto parts = prorate(row.total, row.weights);
    CHECK(parts == row.expected);
    CHECK(sum(parts) == row.total);
  }
}

TEST_CASE("estimation: prorate sums exactly for awkward totals and shapes", "[vee][estimation]") {
  const V shape{17, 3, 101, 0, 58, 7, 7, 7, 250, 1};
  for (std::int64_t total : {0, 1, 9, 10, 11, 451, 1'000'003, -77}) {
    CAPTURE(total);
    CHECK(sum(prorate(total, shape)) == total);
  }
}

TEST_CASE("estimation: linear interpolation (table)", "[vee][estimation]") {
  struct Row {
    const char* name;
    std::optional<std::int64_t> before;
    std::optional<std::int64_t> after;
    std::size_t count;
    V expected;
  };
  const Row rows[] = {
      {"both sides", 100, 200, 3, {125, 150, 175}},
      {"rounding", 0, 10, 2, {3, 7}},
      {"falling", 90, 30, 2, {70, 50}},
      {"only before: carry it", 80, std::nullopt, 3, {80, 80, 80}},
      {"only after: carry it", std::nullopt, 40, 2, {40, 40}},
      {"no side: zeros", std::nullopt, std::nullopt, 2, {0, 0}},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    CHECK(interpolate_linear(row.before, row.after, row.count) == row.expected);
  }
}

TEST_CASE("estimation: like-day uses same weekday first, then previous days", "[vee][estimation]") {
  const std::vector<Interval> none;
  SECTION("same slot in previous weeks, averaged") {
    // Weekly lookback: boundary k - 672 and k - 1344 (1 and 2 weeks back).
    const std::vector<Interval> history{actual(-1344, 100), actual(-672 - 96, 999), actual(-672, 300)};
    const Timeline timeline(history, none);
    CHECK(like_day_value(timeline, at_interval(0), 4) == 200);
  }
  SECTION("no same weekday: previous days") {
    const std::vector<Interval> history{actual(-192, 60), actual(-96, 80)};
    const Timeline timeline(history, none);
    CHECK(like_day_value(timeline, at_interval(0), 4) == 70);
  }
  SECTION("outage and estimated days are not like days") {
    auto estimated = actual(-96, 500);
    estimated.status = ami::storage::IntervalStatus::estimated;
    const std::vector<Interval> history{actual(-672, 0, static_cast<Flags>(Flag::power_down)), actual(-192, 40),
                                        estimated};
    const Timeline timeline(history, none);
    CHECK(like_day_value(timeline, at_interval(0), 4) == 40);
  }
  SECTION("nothing at all") {
    const Timeline timeline(none, none);
    CHECK_FALSE(like_day_value(timeline, at_interval(0), 4).has_value());
  }
}
