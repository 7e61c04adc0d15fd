// Data identifier catalogue: lookup, scaling, signs, blocks, not-available fields, describe_di.
#include <catch2/catch.hpp>

#include <vector>

#include "protocols/dlt645/catalogue.hpp"

using namespace ami::dlt645;

namespace {
std::vector<FieldValue> decode_ok(Edition e, std::uint32_t di, std::vector<std::uint8_t> value) {
  const DataItem* item = find_data_item(e, di);
  REQUIRE(item != nullptr);
  std::vector<FieldValue> out;
  const auto status = decode_value(*item, value, out);
  REQUIRE(status.error == ValueError::none);
  return out;
}
}  // namespace

TEST_CASE("catalogue: every reference row resolves to the documented quantity and format") {
  struct Row {
    Edition edition;
    std::uint32_t di;
    Quantity quantity;
    FieldKind kind;
    std::uint8_t bytes;
    std::int8_t decimals;
    bool is_signed;
    Unit unit;
  };
  const Row rows[] = {
      {Edition::v2007, 0x00000000, Quantity::combined_active_energy, FieldKind::number, 4, 2, true, Unit::kwh},
      {Edition::v2007, 0x00010000, Quantity::forward_active_energy, FieldKind::number, 4, 2, false, Unit::kwh},
      {Edition::v2007, 0x00013F00, Quantity::forward_active_energy, FieldKind::number, 4, 2, false, Unit::kwh},
      {Edition::v2007, 0x0001FF00, Quantity::forward_active_energy, FieldKind::number, 4, 2, false, Unit::kwh},
      {Edition::v2007, 0x0001000C, Quantity::forward_active_energy, FieldKind::number, 4, 2, false, Unit::kwh},
      {Edition::v2007, 0x00020000, Quantity::reverse_active_energy, FieldKind::number, 4, 2, false, Unit::kwh},
      {Edition::v2007, 0x00030000, Quantity::combined_reactive_energy_1, FieldKind::number, 4, 2, true, Unit::kvarh},
      {Edition::v2007, 0x00040000, Quantity::combined_reactive_energy_2, FieldKind::number, 4, 2, true, Unit::kvarh},
      {Edition::v2007, 0x00050000, Quantity::reactive_energy_q1, FieldKind::number, 4, 2, false, Unit::kvarh},
      {Edition::v2007, 0x00080000, Quantity::reactive_energy_q4, FieldKind::number, 4, 2, false, Unit::kvarh},
      {Edition::v2007, 0x01010000, Quantity::forward_active_max_demand, FieldKind::number, 3, 4, false, Unit::kw},
      {Edition::v2007, 0x02010100, Quantity::voltage, FieldKind::number, 2, 1, false, Unit::v},
      {Edition::v2007, 0x0201FF00, Quantity::voltage, FieldKind::number, 2, 1, false, Unit::v},
      {Edition::v2007, 0x02020300, Quantity::current, FieldKind::number, 3, 3, true, Unit::a},
      {Edition::v2007, 0x02030000, Quantity::active_power, FieldKind::number, 3, 4, true, Unit::kw},
      {Edition::v2007, 0x02060200, Quantity::power_factor, FieldKind::number, 2, 3, true, Unit::none},
      {Edition::v2007, 0x02800002, Quantity::frequency, FieldKind::number, 2, 2, false, Unit::hz},
      {Edition::v2007, 0x03110000, Quantity::power_down_count, FieldKind::number, 3, 0, false, Unit::count},
      {Edition::v2007, 0x0311000A, Quantity::power_down_record, FieldKind::datetime_seconds, 6, 0, false, Unit::none},
      {Edition::v2007, 0x03300D00, Quantity::cover_open_count, FieldKind::number, 3, 0, false, Unit::count},
      {Edition::v2007, 0x04000101, Quantity::date_weekday, FieldKind::date_weekday, 4, 0, false, Unit::none},
      {Edition::v2007, 0x04000102, Quantity::time_of_day, FieldKind::time_of_day, 3, 0, false, Unit::none},
      {Edition::v2007, 0x04000401, Quantity::comm_address, FieldKind::address, 6, 0, false, Unit::none},
      {Edition::v2007, 0x0506003E, Quantity::daily_freeze_time, FieldKind::datetime_minutes, 5, 0, false, Unit::none},
      {Edition::v2007, 0x05060101, Quantity::daily_freeze_forward_active_energy, FieldKind::number, 4, 2, false,
       Unit::kwh},
      {Edition::v2007, 0x05060201, Quantity::daily_freeze_reverse_active_energy, FieldKind::number, 4, 2, false,
       Unit::kwh},
      {Edition::v2007, 0x050400FE, Quantity::hourly_freeze_time, FieldKind::datetime_minutes, 5, 0, false,
       Unit::none},
      {Edition::v2007, 0x05040101, Quantity::hourly_freeze_forward_active_energy, FieldKind::number, 4, 2, false,
       Unit::kwh},
      {Edition::v2007, 0x05040201, Quantity::hourly_freeze_reverse_active_energy, FieldKind::number, 4, 2, false,
       Unit::kwh},
      {Edition::v2007, 0x06000001, Quantity::load_profile, FieldKind::load_profile, 0, 0, false, Unit::none},
      {Edition::v1997, 0x9010, Quantity::forward_active_energy, FieldKind::number, 4, 2, false, Unit::kwh},
      {Edition::v1997, 0x9020, Quantity::reverse_active_energy, FieldKind::number, 4, 2, false, Unit::kwh},
      {Edition::v1997, 0xB612, Quantity::voltage, FieldKind::number, 2, 0, false, Unit::v},
      {Edition::v1997, 0xB623, Quantity::current, FieldKind::number, 2, 2, false, Unit::a},
      {Edition::v1997, 0xB630, Quantity::active_power, FieldKind::number, 3, 4, false, Unit::kw},
      {Edition::v1997, 0xC010, Quantity::date_weekday, FieldKind::date_weekday, 4, 0, false, Unit::none},
      {Edition::v1997, 0xC011, Quantity::time_of_day, FieldKind::time_of_day, 3, 0, false, Unit::none},
  };
  for (const auto& r : rows) {
    INFO("DI " << format_di(r.edition, r.di));
    const DataItem* item = find_data_item(r.edition, r.di);
    REQUIRE(item != nullptr);
    CHECK(item->quantity == r.quantity);
    CHECK(item->fields[0].kind == r.kind);
    CHECK(item->fields[0].bytes == r.bytes);
    CHECK(item->fields[0].decimals == r.decimals);
    CHECK(item->fields[0].is_signed == r.is_signed);
    CHECK(item->fields[0].unit == r.unit);
  }
}

TEST_CASE("catalogue: unknown DIs and the wrong edition are not found") {
  CHECK(find_data_item(Edition::v2007, 0x00014000) == nullptr);  // tariff 64 does not exist
  CHECK(find_data_item(Edition::v2007, 0x0001000D) == nullptr);  // settlement day 13
  CHECK(find_data_item(Edition::v2007, 0x0506003F) == nullptr);  // daily freeze 63 days back
  CHECK(find_data_item(Edition::v2007, 0x9010) == nullptr);
  CHECK(find_data_item(Edition::v1997, 0x00010000) == nullptr);
  CHECK(find_data_item(Edition::v1997, 0x9015) == nullptr);
}

TEST_CASE("catalogue: energy decodes to exact Wh, signed by the top bit") {
  auto fwd = decode_ok(Edition::v2007, 0x00010000, {0x78, 0x56, 0x34, 0x12});
  REQUIRE(fwd.size() == 1);
  CHECK(fwd[0].number == ScaledValue{12345678, 2, Unit::kwh, true});
  CHECK(to_wh(fwd[0].number) == 123456780);
  CHECK(format_scaled(fwd[0].number) == "123456.78");

  auto combined = decode_ok(Edition::v2007, 0x00000000, {0x01, 0x00, 0x00, 0x80});
  CHECK(combined[0].number.raw == -1);
  CHECK(to_wh(combined[0].number) == -10);
  CHECK(format_scaled(combined[0].number) == "-0.01");
}

TEST_CASE("catalogue: all-FF fields are not available, not numbers") {
  auto v = decode_ok(Edition::v2007, 0x00010000, {0xFF, 0xFF, 0xFF, 0xFF});
  CHECK_FALSE(v[0].available);
  CHECK_FALSE(v[0].number.available);
  CHECK_FALSE(to_wh(v[0].number).has_value());
  CHECK(format_scaled(v[0].number) == "n/a");

  auto stamp = decode_ok(Edition::v2007, 0x05060001, {0xFF, 0xFF, 0xFF, 0xFF, 0xFF});
  CHECK_FALSE(stamp[0].available);
}

TEST_CASE("catalogue: blocks repeat the record, total first") {
  auto block = decode_ok(Edition::v2007, 0x0001FF00,
                         {0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00});
  REQUIRE(block.size() == 3);
  CHECK(block[0].record == 0);
  CHECK(block[0].number.raw == 100);
  CHECK(block[1].number.raw == 200);
  CHECK(block[2].record == 2);
  CHECK(block[2].offset == 8);

  auto phases = decode_ok(Edition::v2007, 0x0201FF00, {0x00, 0x22, 0x10, 0x22, 0x20, 0x22});
  REQUIRE(phases.size() == 3);
  CHECK(phases[0].number == ScaledValue{2200, 1, Unit::v, true});
  CHECK(phases[2].number.raw == 2220);

  auto power = decode_ok(Edition::v2007, 0x0203FF00,
                         {0x00, 0x50, 0x01, 0x00, 0x50, 0x80, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF});
  REQUIRE(power.size() == 4);
  CHECK(power[0].number.raw == 15000);
  CHECK(power[1].number.raw == -5000);
  CHECK_FALSE(power[3].available);
}

TEST_CASE("catalogue: max demand carries its time, power-down records carry start and end") {
  auto md = decode_ok(Edition::v2007, 0x01010000, {0x56, 0x34, 0x12, 0x30, 0x14, 0x15, 0x06, 0x26});
  REQUIRE(md.size() == 2);
  CHECK(md[0].number == ScaledValue{123456, 4, Unit::kw, true});
  CHECK(md[1].time == MeterDateTime{2026, 6, 15, 14, 30, 0});

  auto pd = decode_ok(Edition::v2007, 0x03110001,
                      {0x05, 0x04, 0x03, 0x02, 0x01, 0x26, 0x10, 0x09, 0x08, 0x07, 0x06, 0x26});
  REQUIRE(pd.size() == 2);
  CHECK(pd[0].field->label == "start");
  CHECK(pd[0].time == MeterDateTime{2026, 1, 2, 3, 4, 5});
  CHECK(pd[1].time == MeterDateTime{2026, 6, 7, 8, 9, 10});
}

TEST_CASE("catalogue: date, time and address parameters") {
  auto date = decode_ok(Edition::v2007, 0x04000101, {0x05, 0x27, 0x11, 0x26});
  CHECK(date[0].time.year == 2026);
  CHECK(date[0].time.month == 11);
  CHECK(date[0].time.day == 27);
  CHECK(date[0].weekday == 5);

  auto time = decode_ok(Edition::v1997, 0xC011, {0x59, 0x58, 0x23});
  CHECK(time[0].time.hour == 23);
  CHECK(time[0].time.minute == 58);
  CHECK(time[0].time.second == 59);

  auto addr = decode_ok(Edition::v2007, 0x04000401, {0x12, 0x90, 0x78, 0x56, 0x34, 0x12});
  CHECK(addr[0].address.to_string() == "123456789012");
}

TEST_CASE("catalogue: wrong lengths, bad BCD and bad times are errors with an offset") {
  std::vector<FieldValue> out;
  const DataItem* fwd = find_data_item(Edition::v2007, 0x00010000);
  REQUIRE(fwd != nullptr);
  const std::vector<std::uint8_t> short_value{0x00, 0x00, 0x00};
  CHECK(decode_value(*fwd, short_value, out).error == ValueError::wrong_length);
  const std::vector<std::uint8_t> not_bcd{0x00, 0x0A, 0x00, 0x00};
  CHECK(decode_value(*fwd, not_bcd, out).error == ValueError::not_bcd);

  const DataItem* block = find_data_item(Edition::v2007, 0x0001FF00);
  REQUIRE(block != nullptr);
  const std::vector<std::uint8_t> ragged{0, 0, 0, 0, 0, 0};
  CHECK(decode_value(*block, ragged, out).error == ValueError::wrong_length);
  const std::vector<std::uint8_t> second_bad{0, 0, 0, 0, 0, 0, 0xA0, 0};
  const auto status = decode_value(*block, second_bad, out);
  CHECK(status.error == ValueError::not_bcd);
  CHECK(status.offset == 4);

  const DataItem* stamp = find_data_item(Edition::v2007, 0x05060001);
  REQUIRE(stamp != nullptr);
  const std::vector<std::uint8_t> month13{0x00, 0x00, 0x01, 0x13, 0x26};
  CHECK(decode_value(*stamp, month13, out).error == ValueError::bad_time);
}

TEST_CASE("catalogue: describe_di names the index bytes") {
  CHECK(describe_di(find_data_item(Edition::v2007, 0x00010201), 0x00010201) ==
        "forward active energy, tariff 2, 1st previous settlement day");
  CHECK(describe_di(find_data_item(Edition::v2007, 0x05060103), 0x05060103) ==
        "daily freeze forward active energy, 3 day(s) back");
  CHECK(describe_di(find_data_item(Edition::v1997, 0xB612), 0xB612) == "voltage, phase B");
  CHECK(describe_di(nullptr, 0x12345678) == "unknown DI");
  CHECK(format_di(Edition::v2007, 0x0001FF00) == "0001FF00");
  CHECK(format_di(Edition::v1997, 0x9010) == "9010");
}

TEST_CASE("catalogue: encode_number round-trips and refuses what does not fit") {
  const DataItem* combined = find_data_item(Edition::v2007, 0x00000000);
  REQUIRE(combined != nullptr);
  std::uint8_t buf[4];
  REQUIRE(encode_number(combined->fields[0], -12345, buf));
  CHECK(decode_number(combined->fields[0], buf) == ScaledValue{-12345, 2, Unit::kwh, true});
  CHECK_FALSE(encode_number(combined->fields[0], 80000000, buf));  // would set the sign bit
  const DataItem* fwd = find_data_item(Edition::v2007, 0x00010000);
  REQUIRE(fwd != nullptr);
  CHECK_FALSE(encode_number(fwd->fields[0], -1, buf));
  CHECK(encode_number(fwd->fields[0], 99999999, buf));
}

TEST_CASE("catalogue: to_wh converts only energy, exactly") {
  CHECK(to_wh(ScaledValue{5, 3, Unit::kwh, true}) == 5);
  CHECK(to_wh(ScaledValue{5, 0, Unit::kvarh, true}) == 5000);
  CHECK_FALSE(to_wh(ScaledValue{5, 4, Unit::kwh, true}).has_value());
  CHECK_FALSE(to_wh(ScaledValue{5, 2, Unit::kw, true}).has_value());
}
