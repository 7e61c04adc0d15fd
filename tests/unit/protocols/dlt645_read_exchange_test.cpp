// ReadExchange: reads spanning follow-up frames, driven without a transport.
#include <catch2/catch.hpp>

#include <vector>

#include "protocols/dlt645/load_profile.hpp"
#include "protocols/dlt645/read.hpp"
#include "protocols/dlt645/read_exchange.hpp"

using namespace ami::dlt645;

namespace {
Address meter() {
  std::string error;
  return *Address::parse("123456789012", error);
}
const std::vector<std::uint8_t> kPart1{0x01, 0x02};
const std::vector<std::uint8_t> kPart2{0x03};
const std::vector<std::uint8_t> kPart3{0x04, 0x05};
}  // namespace

TEST_CASE("read exchange: a single-frame reply completes at once") {
  ReadExchange ex(Edition::v2007, make_read_request(meter(), kDiForwardActiveTotal));
  CHECK(ex.request().control.function() == fn2007::read);
  CHECK(ex.on_reply(make_read_reply(Edition::v2007, meter(), kDiForwardActiveTotal, kPart1)) ==
        ReadExchange::Step::done);
  CHECK(std::vector<std::uint8_t>(ex.value().begin(), ex.value().end()) == kPart1);
  CHECK(ex.frames() == 1);
  CHECK(ex.failure() == ReadExchange::Failure::none);
}

TEST_CASE("read exchange: 2007 follow-up frames are requested with SEQ 1, 2 and concatenated") {
  const std::uint32_t di = kDiLoadProfileFromTime;
  ReadExchange ex(Edition::v2007, *make_read_request(meter(), di, std::optional<std::uint8_t>(3)));
  REQUIRE(ex.on_reply(make_read_reply(Edition::v2007, meter(), di, kPart1, true)) == ReadExchange::Step::send_next);
  Message m;
  REQUIRE(parse_message(ex.request(), std::nullopt, m).ok());
  CHECK(m.kind == MessageKind::read_follow_up);
  CHECK(m.seq == 1);
  REQUIRE(ex.on_reply(make_read_follow_up_reply(meter(), di, kPart2, 1, true)) == ReadExchange::Step::send_next);
  REQUIRE(parse_message(ex.request(), std::nullopt, m).ok());
  CHECK(m.seq == 2);
  REQUIRE(ex.on_reply(make_read_follow_up_reply(meter(), di, kPart3, 2, false)) == ReadExchange::Step::done);
  CHECK(std::vector<std::uint8_t>(ex.value().begin(), ex.value().end()) ==
        std::vector<std::uint8_t>{0x01, 0x02, 0x03, 0x04, 0x05});
  CHECK(ex.frames() == 3);
}

TEST_CASE("read exchange: 1997 follow-up uses 02H without SEQ") {
  ReadExchange ex(Edition::v1997, make_read_request_1997(meter(), 0x901F));
  REQUIRE(ex.on_reply(make_read_reply(Edition::v1997, meter(), 0x901F, kPart1, true)) ==
          ReadExchange::Step::send_next);
  CHECK(ex.request().control.raw == fn1997::read_follow_up);
  Frame last{meter(), Control::reply(fn1997::read_follow_up), {0x1F, 0x90, 0x03}};
  CHECK(ex.on_reply(last) == ReadExchange::Step::done);
  CHECK(ex.value().size() == 3);
}

TEST_CASE("read exchange: abnormal, wrong DI, wrong SEQ and non-replies fail with a reason") {
  ReadExchange abnormal(Edition::v2007, make_read_request(meter(), kDiForwardActiveTotal));
  CHECK(abnormal.on_reply(make_abnormal_reply(meter(), fn2007::read, 0x02)) == ReadExchange::Step::failed);
  CHECK(abnormal.failure() == ReadExchange::Failure::abnormal);
  CHECK(abnormal.reasons().contains(ErrorReason::no_requested_data));
  CHECK(abnormal.detail() == "abnormal reply to DI 00010000: no_requested_data");

  ReadExchange wrong_di(Edition::v2007, make_read_request(meter(), kDiForwardActiveTotal));
  CHECK(wrong_di.on_reply(make_read_reply(Edition::v2007, meter(), kDiReverseActiveTotal, kPart1)) ==
        ReadExchange::Step::failed);
  CHECK(wrong_di.failure() == ReadExchange::Failure::wrong_di);
  CHECK(wrong_di.detail() == "reply carries DI 00020000, asked for 00010000");

  ReadExchange wrong_seq(Edition::v2007, make_read_request(meter(), kDiForwardActiveTotal));
  REQUIRE(wrong_seq.on_reply(make_read_reply(Edition::v2007, meter(), kDiForwardActiveTotal, kPart1, true)) ==
          ReadExchange::Step::send_next);
  CHECK(wrong_seq.on_reply(make_read_follow_up_reply(meter(), kDiForwardActiveTotal, kPart2, 7, false)) ==
        ReadExchange::Step::failed);
  CHECK(wrong_seq.failure() == ReadExchange::Failure::wrong_seq);

  ReadExchange echo(Edition::v2007, make_read_request(meter(), kDiForwardActiveTotal));
  CHECK(echo.on_reply(echo.request()) == ReadExchange::Step::failed);  // our own request echoed back
  CHECK(echo.failure() == ReadExchange::Failure::bad_reply);
  CHECK(echo.detail() == "expected a read reply, got read request");
}

TEST_CASE("read exchange: a meter that never clears the follow-up flag is cut off") {
  ReadExchange ex(Edition::v2007, make_read_request(meter(), kDiForwardActiveTotal));
  auto step = ex.on_reply(make_read_reply(Edition::v2007, meter(), kDiForwardActiveTotal, kPart1, true));
  std::uint8_t seq = 1;
  while (step == ReadExchange::Step::send_next)
    step = ex.on_reply(make_read_follow_up_reply(meter(), kDiForwardActiveTotal, kPart2, seq++, true));
  CHECK(step == ReadExchange::Step::failed);
  CHECK(ex.failure() == ReadExchange::Failure::too_many_frames);
  CHECK(ex.frames() == ReadExchange::kMaxFrames);
}
