#include <catch2/catch.hpp>

#include "headend/collection/boundary_read.hpp"
#include "headend/collection/register_read.hpp"
#include "protocols/dlt645/messages.hpp"
#include "tests/unit/headend/fake_meter.hpp"

using namespace ami;
using namespace ami::collection;
using namespace std::chrono_literals;

namespace {

dlt645::Address meter_address() {
  std::string error;
  return *dlt645::Address::parse("000000000042", error);
}

dlt645::Frame decode(const std::vector<std::uint8_t>& bytes) {
  dlt645::Framer framer;
  framer.feed(bytes);
  dlt645::Frame frame;
  REQUIRE(framer.next(frame).kind == dlt645::Framer::EventKind::frame);
  return frame;
}

const UtcSeconds kBoundary = *parse_utc("2026-01-05T00:15:00Z");

}  // namespace

TEST_CASE("the boundary request asks for two records from B - interval in meter local time", "[boundary]") {
  const BoundaryRequest request{meter_address(), 480, kBoundary, 15min};
  const auto frame = make_boundary_request(request);
  const auto parsed = dlt645::parse_load_profile_request(frame.data);
  REQUIRE(parsed);
  CHECK(parsed->di == dlt645::kDiLoadProfileFromTime);
  CHECK(parsed->count == 2);
  REQUIRE(parsed->start);
  CHECK(parsed->start->hour == 8);  // 00:00 UTC = 08:00 at UTC+8
  CHECK(parsed->start->minute == 0);
  CHECK(frame.address == meter_address());
}

TEST_CASE("a reply with both records gives both snapshots", "[boundary]") {
  const BoundaryRequest request{meter_address(), 480, kBoundary, 15min};
  const auto reply = decode(test::load_profile_reply(meter_address(), kBoundary - 15min, 2));
  CHECK(is_reply_to(request, reply));
  const auto result = interpret_boundary_reply(request, reply);
  REQUIRE(result.outcome == Outcome::ok);
  REQUIRE(result.snapshots.size() == 2);
  CHECK(result.snapshots[1].forward_active_wh == test::fake_register_wh(kBoundary, 1230));
  CHECK(result.snapshots[1].reverse_active_wh == test::fake_register_wh(kBoundary, 1230) / 100 * 10);
}

TEST_CASE("a reply for another boundary is not an answer (late reply)", "[boundary]") {
  const BoundaryRequest request{meter_address(), 480, kBoundary, 15min};
  const auto late = decode(test::load_profile_reply(meter_address(), kBoundary - 30min, 2));
  CHECK_FALSE(is_reply_to(request, late));
  // A plain register read reply is not an answer either.
  dlt645::Frame other{meter_address(), dlt645::Control::reply(dlt645::kFnRead), {}};
  dlt645::append_di(dlt645::kDiForwardActiveTotal, other.data);
  other.data.insert(other.data.end(), {0x00, 0x00, 0x00, 0x00});
  CHECK_FALSE(is_reply_to(request, other));
}

TEST_CASE("only the start record means the boundary record is missing", "[boundary]") {
  const BoundaryRequest request{meter_address(), 480, kBoundary, 15min};
  const auto reply = decode(test::load_profile_reply(meter_address(), kBoundary - 15min, 1));
  const auto result = interpret_boundary_reply(request, reply);
  CHECK(result.outcome == Outcome::missing_record);
  CHECK(result.snapshots.size() == 1);
  CHECK_THAT(result.detail, Catch::Contains("2026-01-05T00:15:00Z"));
}

TEST_CASE("a corrupt record is a bad_reply naming the problem", "[boundary]") {
  const BoundaryRequest request{meter_address(), 480, kBoundary, 15min};
  auto reply = decode(test::load_profile_reply(meter_address(), kBoundary - 15min, 2));
  reply.data[reply.data.size() - 2] ^= 0x55;  // second record's checksum
  const auto result = interpret_boundary_reply(request, reply);
  CHECK(result.outcome == Outcome::bad_reply);
  CHECK_THAT(result.detail, Catch::Contains("record 2: bad record checksum"));
}

TEST_CASE("ERR bits are named", "[boundary]") {
  CHECK(describe_err_2007(0x02) == "no_requested_data");
  CHECK(describe_err_2007(0x05) == "other; unauthorized");
  CHECK(describe_err_2007(0x00) == "no reason given");
}

TEST_CASE("a backfill request reads several boundaries at once", "[boundary]") {
  const BoundaryRequest request{meter_address(), 480, kBoundary + 90min, 15min, 8};
  CHECK(first_record_time(request) == kBoundary - 15min);
  const auto parsed = dlt645::parse_load_profile_request(make_boundary_request(request).data);
  REQUIRE(parsed);
  CHECK(parsed->count == 8);
  const auto reply = decode(test::load_profile_reply(meter_address(), kBoundary - 15min, 8));
  CHECK(is_reply_to(request, reply));
  const auto result = interpret_boundary_reply(request, reply);
  REQUIRE(result.outcome == Outcome::ok);
  REQUIRE(result.snapshots.size() == 8);
  CHECK(result.snapshots.back().boundary == kBoundary + 90min);
  CHECK(*result.snapshots[7].forward_active_wh - *result.snapshots[0].forward_active_wh == 7 * 1230);
}

TEST_CASE("1997 register reads: request, matching by DI, value in Wh, abnormal replies", "[boundary]") {
  std::string error;
  const auto address = *dlt645::Address::parse("000000020001", error);
  const auto request = make_register_request_1997(address, kDi1997ForwardActiveTotal);
  CHECK(request.control.function() == dlt645::fn1997::read);
  CHECK(dlt645::read_di(dlt645::Edition::v1997, request.data) == kDi1997ForwardActiveTotal);

  const std::uint8_t value[] = {0x78, 0x56, 0x34, 0x12};  // 123456.78 kWh, BCD low byte first
  const auto reply = dlt645::make_read_reply(dlt645::Edition::v1997, address, kDi1997ForwardActiveTotal, value);
  CHECK(is_register_reply_1997(kDi1997ForwardActiveTotal, reply));
  CHECK_FALSE(is_register_reply_1997(kDi1997ReverseActiveTotal, reply));  // a late 9010 never answers 9020
  CHECK_FALSE(is_register_reply_1997(kDi1997ForwardActiveTotal, request));  // not from the meter
  const auto read = interpret_register_reply_1997(kDi1997ForwardActiveTotal, reply);
  CHECK(read.outcome == Outcome::ok);
  CHECK(read.wh == 123'456'780);

  const auto abnormal = dlt645::make_abnormal_reply(address, dlt645::fn1997::read, 0x02);
  CHECK(is_register_reply_1997(kDi1997ReverseActiveTotal, abnormal));
  const auto failed = interpret_register_reply_1997(kDi1997ReverseActiveTotal, abnormal);
  CHECK(failed.outcome == Outcome::meter_error);
  CHECK_THAT(failed.detail, Catch::Contains("ERR 02"));
  CHECK_FALSE(failed.wh);
}
