#include <catch2/catch.hpp>

#include "headend/modbus/boundary.hpp"

using namespace ami::modbus;
using namespace std::chrono_literals;

namespace {

MeterReadResult ok_result() {
  MeterReadResult r;
  r.outcome = MeterOutcome::ok;
  r.readings = {{ami::Quantity::voltage_l1, 230'000},
                {ami::Quantity::reverse_active_energy, 1'234},
                {ami::Quantity::forward_active_energy, 987'654}};
  return r;
}

const ami::UtcSeconds kBoundary = *ami::parse_utc("2026-01-05T00:15:00Z");

}  // namespace

TEST_CASE("a read near the boundary becomes forward and reverse boundary reads") {
  BoundaryAttribution at{"M7", kBoundary, 60s, ami::storage::ReadSource::scheduled};
  std::string error;
  const auto collected = std::chrono::time_point_cast<std::chrono::milliseconds>(kBoundary) + 1500ms;
  const auto rows = to_boundary_reads(ok_result(), at, collected, error);
  INFO(error);
  REQUIRE(rows);
  REQUIRE(rows->size() == 2);
  CHECK((*rows)[0].channel == ami::storage::EnergyChannel::reverse_active);
  CHECK((*rows)[0].register_wh == 1'234);
  CHECK((*rows)[1].channel == ami::storage::EnergyChannel::forward_active);
  CHECK((*rows)[1].register_wh == 987'654);
  CHECK((*rows)[1].boundary == kBoundary);
  CHECK((*rows)[1].collected_at == collected);
  CHECK((*rows)[1].meter_id == "M7");
}

TEST_CASE("reads outside the tolerance, failed reads and reads without energy are refused") {
  BoundaryAttribution at{"M7", kBoundary, 60s, ami::storage::ReadSource::scheduled};
  std::string error;
  const auto b = std::chrono::time_point_cast<std::chrono::milliseconds>(kBoundary);
  CHECK_FALSE(to_boundary_reads(ok_result(), at, b + 60001ms, error));
  CHECK(error.find("60001 ms from the boundary") != std::string::npos);
  CHECK(to_boundary_reads(ok_result(), at, b - 60000ms, error));

  MeterReadResult failed;
  failed.outcome = MeterOutcome::timeout;
  CHECK_FALSE(to_boundary_reads(failed, at, b, error));
  CHECK(error == "meter M7: read failed (timeout)");

  MeterReadResult no_energy = ok_result();
  no_energy.readings.pop_back();
  CHECK_FALSE(to_boundary_reads(no_energy, at, b, error));
  CHECK(error.find("no forward active energy") != std::string::npos);
}
