#include <catch2/catch.hpp>

#include <map>

#include <fmt/format.h>

#include "headend/collection/interned_string.hpp"
#include "headend/daemon/records.hpp"
#include "storage/types.hpp"

using ami::collection::InternedString;

TEST_CASE("interned string: equal values share one copy and read like a std::string", "[interned]") {
  const std::string built = std::string("tcp://127.0.0.1:") + "16450";  // longer than the SSO buffer
  const InternedString a = built;
  const InternedString b("tcp://127.0.0.1:16450");
  const InternedString c("tcp://127.0.0.1:16451");
  CHECK(&a.str() == &b.str());
  CHECK(a == b);
  CHECK_FALSE(a == c);
  CHECK(a != c);
  CHECK(a == "tcp://127.0.0.1:16450");
  CHECK(a == built);
  CHECK(a == std::string_view("tcp://127.0.0.1:16450"));
  CHECK("tcp://127.0.0.1:16450" == a);
  CHECK(a != "tcp://127.0.0.1:1645");
  CHECK("channel " + a + " down" == "channel tcp://127.0.0.1:16450 down");
  CHECK(fmt::format("[{}]", a) == "[tcp://127.0.0.1:16450]");
  CHECK(a.starts_with("tcp://"));
  CHECK(a.substr(a.rfind(":") + 1) == "16450");
  const std::string& as_string = a;
  CHECK(&as_string == &a.str());
  std::map<std::string, int> by_key{{built, 1}};
  CHECK(by_key.find(a) != by_key.end());
  CHECK(a < c);
  const InternedString empty;
  CHECK(empty.empty());
  CHECK(empty == InternedString(""));
  CHECK(&empty.str() == &InternedString(std::string()).str());
}

TEST_CASE("interned string: registry targets of one gateway share its channel and protocol", "[interned][records]") {
  std::vector<ami::storage::MeterRecord> rows(3);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    rows[i].meter_id = "gw7-m" + std::to_string(i);
    rows[i].protocol = "dlt645-2007";
    rows[i].channel = i < 2 ? "tcp://10.20.30.40:8899" : "tcp://10.20.30.41:8899";
    rows[i].address = "00000000000" + std::to_string(i + 1);
    rows[i].enabled = true;
  }
  std::vector<std::string> skipped;
  const auto targets = ami::daemon::to_targets(rows, skipped);
  REQUIRE(skipped.empty());
  REQUIRE(targets.size() == 3);
  CHECK(&targets[0].channel_key.str() == &targets[1].channel_key.str());
  CHECK(targets[2].channel_key == "tcp://10.20.30.41:8899");
  CHECK_FALSE(targets[0].channel_key == targets[2].channel_key);
  CHECK(&targets[0].protocol.str() == &targets[2].protocol.str());
  STATIC_REQUIRE(sizeof(ami::collection::MeterTarget::channel_key) == sizeof(void*));
}

TEST_CASE("interned string: an attempt row takes its target's channel key as the same pooled copy",
          "[interned][records]") {
  ami::collection::MeterTarget target;
  target.meter_id = "gw7-m1";
  target.channel_key = std::string("tcp://10.20.30.40:") + "8899";
  ami::collection::JobReport report;
  report.job.meter = ami::collection::make_meter_ref(target);
  ami::collection::AttemptReport attempt;
  attempt.outcome = ami::collection::Outcome::timeout;
  report.attempts.push_back(attempt);
  std::vector<ami::storage::BoundaryRead> reads;
  std::vector<ami::storage::AttemptRecord> attempts;
  ami::daemon::to_store_records(report, reads, attempts);
  REQUIRE(attempts.size() == 1);
  CHECK(&attempts[0].channel.str() == &target.channel_key.str());
  CHECK(attempts[0].channel == "tcp://10.20.30.40:8899");
}
