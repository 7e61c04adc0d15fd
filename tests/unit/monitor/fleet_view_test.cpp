#include <catch2/catch.hpp>

#include <stdexcept>

#include "headend/monitor/fleet_view.hpp"

using namespace ami::monitor;
namespace st = ami::storage;

namespace {

st::MeterDay row(const std::string& id, const std::string& gateway, std::int64_t expected, std::int64_t read,
                 std::int64_t failed_transport = 0, std::int64_t failed_meter = 0) {
  st::MeterDay r;
  r.day = *st::parse_day("2026-01-05");
  r.meter_id = id;
  r.gateway = gateway;
  r.model = "m";
  r.tags = "district=north;feeder=F1";
  r.expected = expected;
  r.first_attempt = r.after_retries = r.after_backfill = r.on_time = read;
  r.boundaries_attempted = read + failed_transport + failed_meter;
  r.boundaries_ok = read;
  r.boundaries_failed_transport = failed_transport;
  r.boundaries_failed_meter = failed_meter;
  if (failed_transport > 0) r.reasons.push_back({"connection_refused", "transport", failed_transport});
  if (failed_meter > 0) r.reasons.push_back({"meter_error", "meter", failed_meter});
  return r;
}

}  // namespace

TEST_CASE("fleet view: tags, dimensions and gateway status", "[monitor][view]") {
  CHECK(tag_value("district=north;feeder=F1", "feeder") == "F1");
  CHECK(tag_value("district=north;feeder=F1", "zone").empty());
  CHECK(tag_value("", "district").empty());
  CHECK_THROWS_WITH(group_by({}, "colour"), Catch::Contains("'colour'"));
  CHECK(is_valid_dimension("tag:district"));
  CHECK_FALSE(is_valid_dimension("tag:"));

  Totals healthy;
  healthy.add(row("A", "g1", 4, 4));
  CHECK(gateway_status(healthy) == "ok");
  Totals dead;
  dead.add(row("B", "g2", 4, 0, 4));
  dead.add(row("C", "g2", 4, 0, 4));
  CHECK(gateway_status(dead) == "down");
  Totals mixed = dead;
  mixed.add(row("D", "g2", 4, 0, 0, 4));  // a meter answered (wrongly): the gateway is up
  CHECK(gateway_status(mixed) == "degraded");
  CHECK(gateway_status(Totals{}) == "idle");
  CHECK(healthy.ratio(healthy.after_backfill) == 1.0);
  CHECK_FALSE(Totals{}.ratio(0).has_value());
}

TEST_CASE("fleet view: the report CSV quotes fields and ends with a TOTAL line", "[monitor][view]") {
  auto bad = row("M,2", "g1", 4, 2, 0, 2);
  bad.last_failure = st::LastFailure{{}, {}, "meter_error", "meter", "ERR \"02\", no data"};
  const auto csv = report_csv({row("M1", "g1", 4, 4), bad});
  CHECK(csv == std::string(report_csv_header) + "\n" +
                   "2026-01-05,M1,g1,m,district=north;feeder=F1,4,4,4,4,4,yes,0,0,,\n"
                   "2026-01-05,\"M,2\",g1,m,district=north;feeder=F1,4,2,2,2,2,no,0,2,meter_error (meter),"
                   "\"ERR \"\"02\"\", no data\"\n"
                   "2026-01-05,TOTAL,,,,8,6,6,6,6,1/2,0,2,,\n");
  const auto text = report_text({row("M1", "g1", 4, 4), bad}, "2026-01-05");
  CHECK(text.find("2 meter(s), 1 complete, 1 failing") != std::string::npos);
  CHECK(text.find("after backfill 75.0%") != std::string::npos);
  CHECK(text.find("M,2") < text.find("M1 "));  // failing meters first
}
