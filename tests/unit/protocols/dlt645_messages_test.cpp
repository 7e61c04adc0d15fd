// Request/reply builders and parse_message() for every function code of both editions.
#include <catch2/catch.hpp>

#include <vector>

#include "protocols/dlt645/messages.hpp"

using namespace ami::dlt645;

namespace {
Address addr(std::string_view text) {
  std::string error;
  auto a = Address::parse(text, error);
  REQUIRE(a.has_value());
  return *a;
}

// Encode then decode the frame, as a peer on the line would see it, then parse it.
Message round_trip(const Frame& sent, std::optional<Edition> edition = std::nullopt) {
  const auto wire = encode_frame(sent, 0);
  Frame received;
  REQUIRE(decode_frame(wire, received).error == FrameError::none);
  static Frame keep;  // Message spans point into the frame
  keep = received;
  Message m;
  const auto status = parse_message(keep, edition, m);
  INFO(status.detail);
  REQUIRE(status.ok());
  return m;
}

const Password kPassword{0x02, 0x11, 0x22, 0x33};
const OperatorCode kOperator{0x01, 0x02, 0x03, 0x04};
}  // namespace

TEST_CASE("messages: function codes map to kinds per edition") {
  CHECK(message_kind(Edition::v2007, 0x11) == MessageKind::read);
  CHECK(message_kind(Edition::v1997, 0x01) == MessageKind::read);
  CHECK(message_kind(Edition::v2007, 0x01) == std::nullopt);
  CHECK(message_kind(Edition::v1997, 0x11) == std::nullopt);
  CHECK(function_code(Edition::v1997, MessageKind::reread) == 0x03);
  CHECK(function_code(Edition::v2007, MessageKind::reread) == std::nullopt);
  CHECK(edition_of_function(0x08) == std::nullopt);
  CHECK(edition_of_function(0x1C) == Edition::v2007);
  CHECK(edition_of_function(0x0A) == Edition::v1997);
}

TEST_CASE("messages: read request with NN and start time") {
  const auto request = make_read_request(addr("1"), 0x06000001, 4, MeterDateTime{2026, 11, 27, 8, 15, 0});
  REQUIRE(request.has_value());
  const auto m = round_trip(*request);
  CHECK(m.kind == MessageKind::read);
  CHECK_FALSE(m.from_meter);
  CHECK(m.di == 0x06000001u);
  CHECK(m.count == 4);
  CHECK(m.time == MeterDateTime{2026, 11, 27, 8, 15, 0});

  const auto plain = round_trip(*make_read_request(addr("1"), 0x00010000, std::nullopt));
  CHECK(plain.di == 0x00010000u);
  CHECK_FALSE(plain.count.has_value());

  CHECK_FALSE(make_read_request(addr("1"), 0x06000002, std::optional<std::uint8_t>(100)).has_value());
  CHECK_FALSE(make_read_request(addr("1"), 0x06000002, std::optional<std::uint8_t>(0)).has_value());
  CHECK_FALSE(make_read_request(addr("1"), 0x06000001, 1, MeterDateTime{2026, 2, 30, 0, 0, 0}).has_value());
}

TEST_CASE("messages: read replies, normal and with follow-up") {
  const std::vector<std::uint8_t> value{0x78, 0x56, 0x34, 0x12};
  const auto m = round_trip(make_read_reply(Edition::v2007, addr("123456789012"), 0x00010000, value));
  CHECK(m.from_meter);
  CHECK_FALSE(m.follow_up);
  CHECK(m.di == 0x00010000u);
  CHECK(std::vector<std::uint8_t>(m.value.begin(), m.value.end()) == value);

  const auto more = round_trip(make_read_reply(Edition::v2007, addr("1"), 0x06000001, value, true));
  CHECK(more.follow_up);

  const auto next = round_trip(make_read_follow_up_request(addr("1"), 0x06000001, 2));
  CHECK(next.kind == MessageKind::read_follow_up);
  CHECK(next.seq == 2);

  const auto last = round_trip(make_read_follow_up_reply(addr("1"), 0x06000001, value, 2, false));
  CHECK(last.kind == MessageKind::read_follow_up);
  CHECK(last.seq == 2);
  CHECK(last.value.size() == 4);
  CHECK_FALSE(last.follow_up);
}

TEST_CASE("messages: read address and write address") {
  const auto req = make_read_address_request();
  CHECK(req.address == Address::wildcard());
  CHECK(req.data.empty());
  CHECK(round_trip(req).kind == MessageKind::read_address);

  const auto reply = round_trip(make_read_address_reply(addr("123456789012")));
  CHECK(reply.address == addr("123456789012"));

  const auto write = round_trip(make_write_address_request(addr("000000000042")));
  CHECK(write.kind == MessageKind::write_address);
  CHECK(write.address == addr("42"));
  CHECK(round_trip(make_normal_reply(addr("42"), fn2007::write_address)).kind == MessageKind::write_address);
}

TEST_CASE("messages: broadcast time sync is seconds first to 99..99") {
  const auto f = make_broadcast_time_sync(MeterDateTime{2026, 11, 27, 13, 45, 30});
  REQUIRE(f.has_value());
  CHECK(f->address.is_broadcast());
  CHECK(f->data == std::vector<std::uint8_t>{0x30, 0x45, 0x13, 0x27, 0x11, 0x26});
  const auto m = round_trip(*f);
  CHECK(m.kind == MessageKind::broadcast_time);
  CHECK(m.time == MeterDateTime{2026, 11, 27, 13, 45, 30});
  CHECK_FALSE(make_broadcast_time_sync(MeterDateTime{2026, 2, 30, 0, 0, 0}).has_value());
}

TEST_CASE("messages: freeze with wildcards") {
  const auto f = make_freeze_request(Address::broadcast(), FreezeTime{std::nullopt, std::nullopt, 0, 0});
  REQUIRE(f.has_value());
  CHECK(f->data == std::vector<std::uint8_t>{0x00, 0x00, 0x99, 0x99});
  const auto m = round_trip(*f);
  REQUIRE(m.freeze_time.has_value());
  CHECK(m.freeze_time->hour == 0);
  CHECK_FALSE(m.freeze_time->day.has_value());
  CHECK_FALSE(make_freeze_request(addr("1"), FreezeTime{13, std::nullopt, std::nullopt, std::nullopt}).has_value());
  CHECK(round_trip(make_normal_reply(addr("1"), fn2007::freeze)).kind == MessageKind::freeze);
}

TEST_CASE("messages: write, password, resets and clears carry their credentials") {
  const std::vector<std::uint8_t> value{0x01, 0x02};
  const auto w = round_trip(make_write_request(addr("1"), 0x04000401, kPassword, kOperator, value));
  CHECK(w.kind == MessageKind::write);
  CHECK(w.password == kPassword);
  CHECK(w.operator_code == kOperator);
  CHECK(w.value.size() == 2);

  const Password fresh{0x04, 0x99, 0x88, 0x77};
  const auto pw = round_trip(make_change_password_request(addr("1"), 0x04000C04, kPassword, fresh));
  CHECK(pw.di == 0x04000C04u);
  CHECK(pw.new_password == fresh);
  const auto pw_reply = round_trip(make_normal_reply(addr("1"), fn2007::change_password, fresh));
  CHECK(pw_reply.new_password == fresh);

  CHECK(round_trip(make_max_demand_reset_request(addr("1"), kPassword, kOperator)).kind ==
        MessageKind::max_demand_reset);
  CHECK(round_trip(make_meter_clear_request(addr("1"), kPassword, kOperator)).kind == MessageKind::meter_clear);
  const auto ev = round_trip(make_event_clear_request(addr("1"), kPassword, kOperator, 0xFFFFFFFF));
  CHECK(ev.kind == MessageKind::event_clear);
  CHECK(ev.di == 0xFFFFFFFFu);
}

TEST_CASE("messages: change baud echoes Z, relay control is raw") {
  const auto req = round_trip(make_change_baud_request(addr("1"), Baud::b9600));
  CHECK(req.baud_code == 0x20);
  CHECK(rate_of_baud_code(*req.baud_code) == 9600);
  CHECK(rate_of_baud_code(0x28) == std::nullopt);
  const std::uint8_t z = 0x20;
  CHECK(round_trip(make_normal_reply(addr("1"), fn2007::change_baud, std::span<const std::uint8_t>(&z, 1))).baud_code ==
        0x20);
  const std::vector<std::uint8_t> raw{0x1A, 0x00, 0x01, 0x02};
  const auto relay = round_trip(make_relay_control_request(addr("1"), raw));
  CHECK(relay.kind == MessageKind::relay_control);
  CHECK(std::vector<std::uint8_t>(relay.value.begin(), relay.value.end()) == raw);
}

TEST_CASE("messages: abnormal replies decode ERR bits per edition") {
  const auto m = round_trip(make_abnormal_reply(addr("1"), fn2007::read, 0x02));
  CHECK(m.abnormal);
  CHECK(m.error_bits == 0x02);
  const auto reasons = decode_error_reasons(Edition::v2007, 0x46);
  REQUIRE(reasons.count == 3);
  CHECK(reasons.items[0] == ErrorReason::no_requested_data);
  CHECK(reasons.items[1] == ErrorReason::unauthorized);
  CHECK(reasons.items[2] == ErrorReason::too_many_tariffs);

  const auto old = decode_error_reasons(Edition::v1997, 0x06);
  REQUIRE(old.count == 2);
  CHECK(old.contains(ErrorReason::wrong_di));
  CHECK(old.contains(ErrorReason::wrong_password));
  CHECK(decode_error_reasons(Edition::v1997, 0x08).contains(ErrorReason::reserved_bit));
  CHECK(error_bit(Edition::v1997, ErrorReason::wrong_di) == 0x02);
  CHECK(error_bit(Edition::v2007, ErrorReason::wrong_di) == 0);
  CHECK(decode_error_reasons(Edition::v2007, 0).count == 0);
}

TEST_CASE("messages: 1997 edition codes and 2-byte DIs") {
  const auto read = round_trip(make_read_request_1997(addr("1"), 0x9010));
  CHECK(read.edition == Edition::v1997);
  CHECK(read.di == 0x9010u);
  const std::vector<std::uint8_t> value{0x00, 0x01, 0x00, 0x00};
  const auto reply_frame = make_read_reply(Edition::v1997, addr("1"), 0x9010, value);
  CHECK(reply_frame.control.raw == 0x81);
  const auto reply = round_trip(reply_frame);
  CHECK(reply.edition == Edition::v1997);
  CHECK(reply.di == 0x9010u);
  CHECK(reply.value.size() == 4);
  CHECK(round_trip(make_read_follow_up_request_1997(addr("1"), 0x901F)).kind == MessageKind::read_follow_up);
  CHECK(round_trip(make_reread_request_1997(addr("1"))).kind == MessageKind::reread);
  const auto w = round_trip(make_write_request_1997(addr("1"), 0xC011, kPassword, value));
  CHECK(w.password == kPassword);
  CHECK_FALSE(w.operator_code.has_value());
  CHECK(round_trip(make_write_address_request_1997(addr("7"))).address == addr("7"));
  CHECK(round_trip(make_change_baud_request_1997(addr("1"), Baud::b1200)).baud_code == 0x04);
  CHECK(round_trip(make_change_password_request_1997(addr("1"), kPassword, kPassword)).new_password == kPassword);
  CHECK(round_trip(make_max_demand_reset_request_1997(addr("1"))).kind == MessageKind::max_demand_reset);
  const auto bad = round_trip(make_abnormal_reply(addr("1"), fn1997::read, 0x02));
  CHECK(bad.edition == Edition::v1997);
  CHECK(bad.function == 0x01);
  CHECK(decode_error_reasons(bad.edition, *bad.error_bits).contains(ErrorReason::wrong_di));
  const auto time = make_broadcast_time_sync(MeterDateTime{2026, 1, 1, 0, 0, 0}, Edition::v1997);
  REQUIRE(time.has_value());
  CHECK(round_trip(*time, Edition::v1997).edition == Edition::v1997);
}

TEST_CASE("messages: malformed DATA is reported with the field and offset") {
  Message m;
  Frame short_read{addr("1"), Control::reply(fn2007::read), {0x00, 0x00}};
  auto status = parse_message(short_read, std::nullopt, m);
  CHECK(status.error == MessageError::wrong_length);
  CHECK(status.detail == "read reply (DL/T 645-2007, C=91H): DATA has 2 bytes, must be at least 4 bytes (DI + value)");

  Frame bad_request{addr("1"), Control::request(fn2007::read), {0, 0, 1, 0, 0, 0}};
  CHECK(parse_message(bad_request, std::nullopt, m).error == MessageError::wrong_length);

  Frame bad_time{Address::broadcast(), Control::request(0x08), {0x00, 0x61, 0x00, 0x01, 0x01, 0x26}};
  CHECK(parse_message(bad_time, std::nullopt, m).error == MessageError::bad_time);

  Frame bad_freeze{addr("1"), Control::request(fn2007::freeze), {0x00, 0x24, 0x99, 0x99}};
  status = parse_message(bad_freeze, std::nullopt, m);
  CHECK(status.error == MessageError::bad_field);
  CHECK(status.detail == "freeze request (DL/T 645-2007, C=16H): hour is not 00..23 or 99 at DATA byte 2");

  Frame unknown{addr("1"), Control::request(0x1F), {}};
  status = parse_message(unknown, std::nullopt, m);
  CHECK(status.error == MessageError::unknown_function);
  CHECK(status.detail == "function 1FH (control byte 1FH) is not defined in DL/T 645-2007");

  Frame wrong_edition{addr("1"), Control::request(0x11), {0x10, 0x90}};
  CHECK(parse_message(wrong_edition, Edition::v1997, m).error == MessageError::unknown_function);

  Frame bad_addr{addr("1"), Control::reply(fn2007::read_address), {0x12, 0x34, 0x56, 0x78, 0x9A, 0x00}};
  CHECK(parse_message(bad_addr, std::nullopt, m).error == MessageError::bad_address);

  Frame empty_abnormal{addr("1"), Control::abnormal_reply(fn2007::read), {}};
  CHECK(parse_message(empty_abnormal, std::nullopt, m).error == MessageError::wrong_length);

  Frame ack_with_data{addr("1"), Control::reply(fn2007::meter_clear), {0x00}};
  CHECK(parse_message(ack_with_data, std::nullopt, m).error == MessageError::wrong_length);
}
