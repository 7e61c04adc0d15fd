#include <catch2/catch.hpp>

#include "storage/vee/versioning.hpp"
#include "vee_fixtures.hpp"

using namespace ami::storage::vee;
using namespace ami::storage::vee::test;
using ami::storage::EstimationMethod;
using ami::storage::IntervalStatus;

namespace {

Interval make(IntervalStatus status, EstimationMethod method, std::int64_t value, Flags flags = 0) {
  auto iv = actual(1, value, flags);
  iv.status = status;
  iv.method = method;
  if (status == IntervalStatus::estimated) set(iv.flags, Flag::estimated);
  return iv;
}

}  // namespace

TEST_CASE("versioning: supersede rule (table)", "[vee][versioning]") {
  const auto act = make(IntervalStatus::actual, EstimationMethod::none, 100);
  const auto act_other = make(IntervalStatus::actual, EstimationMethod::none, 120);
  const auto act_flagged = make(IntervalStatus::actual, EstimationMethod::none, 100, static_cast<Flags>(Flag::spike));
  const auto prorated = make(IntervalStatus::estimated, EstimationMethod::register_prorated_even, 90);
  const auto shaped = make(IntervalStatus::estimated, EstimationMethod::register_prorated_shape, 95);
  const auto linear = make(IntervalStatus::estimated, EstimationMethod::linear_interpolation, 80);
  const auto like_day = make(IntervalStatus::estimated, EstimationMethod::like_day, 70);
  const auto suspect = make(IntervalStatus::suspect, EstimationMethod::none, -50,
                            static_cast<Flags>(Flag::reverse_rotation));
  struct Row {
    const char* name;
    const Interval* stored;
    const Interval& computed;
    WriteDecision decision;
  };
  const Row rows[] = {
      {"nothing stored", nullptr, act, WriteDecision::write},
      {"same actual again", &act, act, WriteDecision::keep},
      {"actual (backfill) supersedes linear", &linear, act, WriteDecision::write},
      {"actual supersedes like-day", &like_day, act, WriteDecision::write},
      {"actual supersedes prorated", &prorated, act, WriteDecision::write},
      {"actual supersedes suspect", &suspect, act, WriteDecision::write},
      {"anchored estimate supersedes like-day", &like_day, prorated, WriteDecision::write},
      {"shape supersedes even", &prorated, shaped, WriteDecision::write},
      {"linear never replaces actual", &act, linear, WriteDecision::keep},
      {"like-day never replaces anchored estimate", &prorated, like_day, WriteDecision::keep},
      {"like-day replaces linear", &linear, like_day, WriteDecision::write},
      {"anchored estimate replaces actual from a rejected read", &act, prorated, WriteDecision::write},
      {"new flag on actual is a new version", &act, act_flagged, WriteDecision::write},
      {"different actual value is a new version", &act, act_other, WriteDecision::write},
      {"same estimate again", &like_day, like_day, WriteDecision::keep},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    CHECK(decide_write(row.stored, row.computed) == row.decision);
  }
}

TEST_CASE("versioning: plan_writes numbers versions after the stored ones", "[vee][versioning]") {
  auto stored_est = actual(2, 80);
  stored_est.status = IntervalStatus::estimated;
  stored_est.method = EstimationMethod::like_day;
  stored_est.version = 3;
  auto stored_act = actual(3, 50);
  stored_act.version = 1;
  const std::vector<Interval> stored{stored_est, stored_act};
  const std::vector<Interval> computed{actual(1, 10), actual(2, 90), actual(3, 50)};
  const auto writes = plan_writes(stored, computed);
  REQUIRE(writes.size() == 2);
  CHECK(writes[0].end == at_interval(1));
  CHECK(writes[0].version == 1);
  CHECK(writes[1].end == at_interval(2));
  CHECK(writes[1].version == 4);
}

TEST_CASE("versioning: latest_versions keeps the highest version per end", "[vee][versioning]") {
  auto a1 = actual(1, 10);
  a1.version = 1;
  auto a2 = actual(1, 11);
  a2.version = 2;
  auto b1 = actual(2, 20);
  b1.version = 1;
  const std::vector<Interval> all{a1, a2, b1};
  const auto latest = latest_versions(all);
  REQUIRE(latest.size() == 2);
  CHECK(latest[0].value_wh == 11);
  CHECK(latest[1].value_wh == 20);
}
