#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <limits>
#include <vector>

#include "protocols/modbus/decode.hpp"

using namespace ami::modbus;

namespace {

Point point(ValueType type, WordOrder order, Ratio to_canonical, Unit unit = Unit::wh,
            ValueEncoding encoding = ValueEncoding::plain, Ratio scale = {1, 1}) {
  Point p;
  p.name = "p";
  p.type = type;
  p.word_order = order;
  p.to_canonical = to_canonical;
  p.unit = unit;
  p.scale = scale;
  p.encoding = encoding;
  return p;
}

std::vector<std::uint16_t> f32_registers(float value, WordOrder order = WordOrder::abcd) {
  std::vector<std::uint16_t> regs(2);
  encode_raw(std::bit_cast<std::uint32_t>(value), ValueType::f32, order, regs);
  return regs;
}

CanonicalValue kwh_to_wh(float kwh) {
  return decode_point(point(ValueType::f32, WordOrder::abcd, {1000, 1}, Unit::kwh), f32_registers(kwh));
}

}  // namespace

TEST_CASE("32-bit word orders follow the ABCD naming") {
  struct Row {
    WordOrder order;
    std::uint16_t r0, r1;
  };
  // 0x12345678 as each order lays it out on the wire.
  const Row rows[] = {{WordOrder::abcd, 0x1234, 0x5678},
                      {WordOrder::cdab, 0x5678, 0x1234},
                      {WordOrder::badc, 0x3412, 0x7856},
                      {WordOrder::dcba, 0x7856, 0x3412}};
  for (const auto& row : rows) {
    INFO(to_string(row.order));
    const std::uint16_t regs[] = {row.r0, row.r1};
    const auto u = decode_raw(regs, ValueType::u32, row.order);
    REQUIRE(u);
    CHECK(u->kind == RawValue::Kind::unsigned_integer);
    CHECK(u->u == 0x12345678U);
    std::uint16_t back[2] = {};
    encode_raw(0x12345678U, ValueType::u32, row.order, back);
    CHECK(back[0] == row.r0);
    CHECK(back[1] == row.r1);
  }
}

TEST_CASE("64-bit and 16-bit values use the same two rules") {
  const std::uint16_t abcd[] = {0x0102, 0x0304, 0x0506, 0x0708};
  const std::uint16_t cdab[] = {0x0708, 0x0506, 0x0304, 0x0102};
  const std::uint16_t badc[] = {0x0201, 0x0403, 0x0605, 0x0807};
  const std::uint16_t dcba[] = {0x0807, 0x0605, 0x0403, 0x0201};
  CHECK(decode_raw(abcd, ValueType::u64, WordOrder::abcd)->u == 0x0102030405060708ULL);
  CHECK(decode_raw(cdab, ValueType::u64, WordOrder::cdab)->u == 0x0102030405060708ULL);
  CHECK(decode_raw(badc, ValueType::u64, WordOrder::badc)->u == 0x0102030405060708ULL);
  CHECK(decode_raw(dcba, ValueType::i64, WordOrder::dcba)->i == 0x0102030405060708LL);

  const std::uint16_t one[] = {0x1234};
  CHECK(decode_raw(one, ValueType::u16, WordOrder::abcd)->u == 0x1234);
  CHECK(decode_raw(one, ValueType::u16, WordOrder::cdab)->u == 0x1234);
  CHECK(decode_raw(one, ValueType::u16, WordOrder::badc)->u == 0x3412);
  CHECK(decode_raw(one, ValueType::u16, WordOrder::dcba)->u == 0x3412);
}

TEST_CASE("signed types sign-extend") {
  const std::uint16_t minus_two_16[] = {0xFFFE};
  const std::uint16_t minus_two_32[] = {0xFFFF, 0xFFFE};
  const std::uint16_t minus_two_64[] = {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE};
  CHECK(decode_raw(minus_two_16, ValueType::i16, WordOrder::abcd)->i == -2);
  CHECK(decode_raw(minus_two_32, ValueType::i32, WordOrder::abcd)->i == -2);
  CHECK(decode_raw(minus_two_64, ValueType::i64, WordOrder::abcd)->i == -2);
  CHECK(decode_raw(minus_two_16, ValueType::u16, WordOrder::abcd)->u == 0xFFFE);
  const std::uint16_t most_negative[] = {0x8000, 0x0000};
  CHECK(decode_raw(most_negative, ValueType::i32, WordOrder::abcd)->i == std::numeric_limits<std::int32_t>::min());
}

TEST_CASE("float32 decodes from each word order") {
  // 230.5f is 0x43668000.
  struct Row {
    WordOrder order;
    std::uint16_t r0, r1;
  };
  const Row rows[] = {{WordOrder::abcd, 0x4366, 0x8000},
                      {WordOrder::cdab, 0x8000, 0x4366},
                      {WordOrder::badc, 0x6643, 0x0080},
                      {WordOrder::dcba, 0x0080, 0x6643}};
  for (const auto& row : rows) {
    INFO(to_string(row.order));
    const std::uint16_t regs[] = {row.r0, row.r1};
    const auto raw = decode_raw(regs, ValueType::f32, row.order);
    REQUIRE(raw);
    CHECK(raw->kind == RawValue::Kind::floating);
    CHECK(raw->f == 230.5);
  }
}

TEST_CASE("too few registers is not a value") {
  const std::uint16_t one[] = {1};
  CHECK_FALSE(decode_raw(one, ValueType::u32, WordOrder::abcd));
  CHECK_FALSE(decode_raw({}, ValueType::u16, WordOrder::abcd));
  CHECK(decode_point(point(ValueType::f32, WordOrder::abcd, {1, 1}), one).status == ValueStatus::missing);
}

TEST_CASE("float32 kWh becomes Wh rounded half away from zero") {
  // Exactly representable halves decide the tie rule; 0.0005 kWh is not exact in float.
  CHECK(kwh_to_wh(1.5f).value == 1500);
  CHECK(kwh_to_wh(0.0625f).value == 63);  // 62.5 Wh -> 63
  CHECK(kwh_to_wh(-0.0625f).value == -63);
  CHECK(kwh_to_wh(0.1875f).value == 188);  // 187.5 -> 188
  CHECK(kwh_to_wh(2.0009765625f).value == 2001);  // 2000.9765625 -> 2001
  CHECK(kwh_to_wh(0.0f).value == 0);
  // 12345.678f is really 12345.677734375 kWh: the float's own value decides, not the decimal text.
  CHECK(kwh_to_wh(12345.678f).value == 12345678);
  CHECK(kwh_to_wh(12345.678f).status == ValueStatus::ok);
  // Above 2^24 Wh the float step is larger than 1 Wh: the result is still the float's exact value.
  CHECK(kwh_to_wh(100000.0f).value == 100000000);
  CHECK(kwh_to_wh(100000.0078125f).value == 100000008);
}

TEST_CASE("NaN and infinity are not available, huge floats are out of range") {
  CHECK(kwh_to_wh(std::numeric_limits<float>::quiet_NaN()).status == ValueStatus::not_available);
  CHECK(kwh_to_wh(std::numeric_limits<float>::infinity()).status == ValueStatus::not_available);
  CHECK(kwh_to_wh(-std::numeric_limits<float>::infinity()).status == ValueStatus::not_available);
  CHECK(kwh_to_wh(3.0e38f).status == ValueStatus::out_of_range);
  CHECK(kwh_to_wh(9.0e15f).status == ValueStatus::ok);
}

TEST_CASE("round_half_away is symmetric and bounded") {
  CHECK(round_half_away(2.5) == 3);
  CHECK(round_half_away(-2.5) == -3);
  CHECK(round_half_away(2.4999) == 2);
  CHECK(round_half_away(-0.5) == -1);
  CHECK_FALSE(round_half_away(9223372036854775808.0));
  CHECK(round_half_away(-9223372036854775808.0) == std::numeric_limits<std::int64_t>::min());
  CHECK_FALSE(round_half_away(std::nan("")));
}

TEST_CASE("integer registers scale exactly with rational factors") {
  struct Row {
    ValueType type;
    std::vector<std::uint16_t> regs;
    Ratio to_canonical;
    std::int64_t expected;
  };
  const Row rows[] = {
      {ValueType::u32, {0x0001, 0x86A0}, {100, 1}, 10'000'000},  // 100000 x 0.1 kWh -> Wh
      {ValueType::i16, {0xFFF6}, {1, 1}, -10},
      {ValueType::i32, {0xFFFF, 0xFFFB}, {1, 10}, -1},   // -0.5 -> -1 (half away from zero)
      {ValueType::i32, {0x0000, 0x0005}, {1, 10}, 1},    // 0.5 -> 1
      {ValueType::i32, {0x0000, 0x0004}, {1, 10}, 0},    // 0.4 -> 0
      {ValueType::u16, {0x0007}, {1, 3}, 2},             // 2.333 -> 2
      {ValueType::u16, {2301}, {100, 1}, 230100},        // 0.1 V -> mV
      {ValueType::u64, {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}, {1, 4}, 4611686018427387904},
      {ValueType::i64, {0x8000, 0, 0, 0}, {1, 1}, std::numeric_limits<std::int64_t>::min()},
  };
  for (const auto& row : rows) {
    INFO(to_string(row.type) << " x " << row.to_canonical.num << "/" << row.to_canonical.den);
    const auto v = decode_point(point(row.type, WordOrder::abcd, row.to_canonical), row.regs);
    CHECK(v.status == ValueStatus::ok);
    CHECK(v.value == row.expected);
  }
}

TEST_CASE("integer results outside int64 are out of range") {
  const std::uint16_t max_u64[] = {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF};
  CHECK(decode_point(point(ValueType::u64, WordOrder::abcd, {1, 1}), max_u64).status == ValueStatus::out_of_range);
  const std::uint16_t big_i64[] = {0x7FFF, 0xFFFF, 0xFFFF, 0xFFFF};
  CHECK(decode_point(point(ValueType::i64, WordOrder::abcd, {1000, 1}), big_i64).status == ValueStatus::out_of_range);
}

TEST_CASE("Schneider four-quadrant power factor") {
  const Point pf = point(ValueType::f32, WordOrder::abcd, {1000, 1}, Unit::ratio,
                         ValueEncoding::schneider_four_quadrant_pf);
  struct Row {
    float reg;
    std::int64_t per_mille;
  };
  const Row rows[] = {{0.5f, 500}, {-0.75f, -750}, {1.0f, 1000}, {-1.25f, -750}, {1.25f, 750}, {-1.0f, -1000}};
  for (const auto& row : rows) {
    INFO(row.reg);
    const auto v = decode_point(pf, f32_registers(row.reg));
    CHECK(v.status == ValueStatus::ok);
    CHECK(v.value == row.per_mille);
  }
  CHECK(decode_point(pf, f32_registers(std::numeric_limits<float>::quiet_NaN())).status ==
        ValueStatus::not_available);
}

TEST_CASE("decode_block reads each point at its offset and marks short data missing") {
  RegisterMap map;
  map.name = "t";
  map.points = {point(ValueType::u16, WordOrder::abcd, {1, 1}), point(ValueType::u32, WordOrder::cdab, {1, 1}),
                point(ValueType::u16, WordOrder::abcd, {1, 1})};
  map.points[0].address = 10;
  map.points[0].quantity = ami::Quantity::voltage_l1;
  map.points[1].address = 12;
  map.points[1].quantity = ami::Quantity::voltage_l2;
  map.points[2].address = 15;
  map.points[2].quantity = ami::Quantity::voltage_l3;
  const ReadBlock block{FunctionCode::read_holding_registers, 10, 6, {0, 1, 2}};
  const std::uint16_t regs[] = {7, 0xAAAA, 0x0002, 0x0001, 0xBBBB, 9};

  std::vector<PointReading> out;
  decode_block(map, block, regs, out);
  REQUIRE(out.size() == 3);
  CHECK(out[0].quantity == ami::Quantity::voltage_l1);
  CHECK(out[0].value.value == 7);
  CHECK(out[1].value.value == 0x00010002);
  CHECK(out[2].value.value == 9);

  out.clear();
  decode_block(map, block, std::span(regs).first(3), out);
  REQUIRE(out.size() == 3);
  CHECK(out[0].value.status == ValueStatus::ok);
  CHECK(out[1].value.status == ValueStatus::missing);  // needs registers 12..13, only 12 given
  CHECK(out[2].value.status == ValueStatus::missing);
}
