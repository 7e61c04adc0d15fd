#include "protocols/modbus/register_map.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <numeric>
#include <utility>

namespace ami::modbus {
namespace {

constexpr std::int64_t kMaxRatioTerm = 1'000'000'000'000;  // 10^12
constexpr std::int64_t kMaxAddress = 65535;
constexpr std::int64_t kProtocolMaxBlock = 125;

struct TypeName {
  ValueType type;
  std::string_view name;
  std::uint16_t width;
};
constexpr std::array<TypeName, 7> kTypes{{
    {ValueType::u16, "u16", 1},
    {ValueType::i16, "i16", 1},
    {ValueType::u32, "u32", 2},
    {ValueType::i32, "i32", 2},
    {ValueType::u64, "u64", 4},
    {ValueType::i64, "i64", 4},
    {ValueType::f32, "f32", 2},
}};

constexpr std::array<std::pair<WordOrder, std::string_view>, 4> kOrders{{
    {WordOrder::abcd, "ABCD"},
    {WordOrder::cdab, "CDAB"},
    {WordOrder::badc, "BADC"},
    {WordOrder::dcba, "DCBA"},
}};

struct UnitInfo {
  Unit unit;
  std::string_view name;
  CanonicalUnit canonical;
  std::int64_t factor;  // unit -> canonical unit
};
constexpr std::array<UnitInfo, 16> kUnits{{
    {Unit::wh, "Wh", CanonicalUnit::wh, 1},
    {Unit::kwh, "kWh", CanonicalUnit::wh, 1'000},
    {Unit::mwh, "MWh", CanonicalUnit::wh, 1'000'000},
    {Unit::varh, "varh", CanonicalUnit::varh, 1},
    {Unit::kvarh, "kvarh", CanonicalUnit::varh, 1'000},
    {Unit::w, "W", CanonicalUnit::milliwatt, 1'000},
    {Unit::kw, "kW", CanonicalUnit::milliwatt, 1'000'000},
    {Unit::var, "var", CanonicalUnit::millivar, 1'000},
    {Unit::kvar, "kvar", CanonicalUnit::millivar, 1'000'000},
    {Unit::v, "V", CanonicalUnit::millivolt, 1'000},
    {Unit::kv, "kV", CanonicalUnit::millivolt, 1'000'000},
    {Unit::a, "A", CanonicalUnit::milliampere, 1'000},
    {Unit::ma, "mA", CanonicalUnit::milliampere, 1},
    {Unit::hz, "Hz", CanonicalUnit::millihertz, 1'000},
    {Unit::ratio, "1", CanonicalUnit::per_mille, 1'000},
    {Unit::percent, "%", CanonicalUnit::per_mille, 10},
}};

constexpr std::array<std::pair<ValueEncoding, std::string_view>, 2> kEncodings{{
    {ValueEncoding::plain, "plain"},
    {ValueEncoding::schneider_four_quadrant_pf, "schneider_four_quadrant_pf"},
}};

template <typename Table>
std::string joined_names(const Table& table, auto name_of) {
  std::string out;
  for (const auto& row : table) {
    if (!out.empty()) out += ", ";
    out += name_of(row);
  }
  return out;
}

std::optional<Ratio> reduced(std::int64_t num, std::int64_t den) {
  if (den == 0) return std::nullopt;
  if (den < 0) {
    num = -num;
    den = -den;
  }
  const std::int64_t g = std::gcd(num, den);
  if (g > 1) {
    num /= g;
    den /= g;
  }
  if (num > kMaxRatioTerm || num < -kMaxRatioTerm || den > kMaxRatioTerm) return std::nullopt;
  return Ratio{num, den};
}

std::optional<Ratio> multiply(Ratio a, Ratio b) {
  // Cross-reduce first so that exact products of in-range ratios stay small.
  const std::int64_t g1 = std::gcd(a.num, b.den);
  const std::int64_t g2 = std::gcd(b.num, a.den);
  const std::int64_t an = g1 ? a.num / g1 : a.num, bd = g1 ? b.den / g1 : b.den;
  const std::int64_t bn = g2 ? b.num / g2 : b.num, ad = g2 ? a.den / g2 : a.den;
  std::int64_t num = 0, den = 0;
  if (__builtin_mul_overflow(an, bn, &num) || __builtin_mul_overflow(ad, bd, &den)) return std::nullopt;
  return reduced(num, den);
}

std::optional<std::int64_t> parse_integer(std::string_view s, bool allow_sign) {
  if (s.empty()) return std::nullopt;
  bool negative = false;
  if (allow_sign && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s.empty() || s.size() > 15) return std::nullopt;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return negative ? -v : v;
}

struct Builder {
  const MapSpec& spec;
  std::vector<MapError> errors;

  void fail(const std::string& point, std::string field, std::string message) {
    errors.push_back(MapError{spec.name, point, std::move(field), std::move(message)});
  }

  std::optional<Point> point(const PointSpec& p) {
    const std::size_t errors_before = errors.size();
    Point out;
    out.name = p.name;
    if (p.name.empty()) fail(p.name, "name", "point name is empty");

    if (p.function == 3 || p.function == 4)
      out.function = static_cast<FunctionCode>(p.function);
    else
      fail(p.name, "function", "function code " + std::to_string(p.function) + " is not 3 (holding) or 4 (input)");

    const auto type = parse_value_type(p.type);
    if (type)
      out.type = *type;
    else
      fail(p.name, "type", "unknown type '" + p.type + "' (expected " +
                               joined_names(kTypes, [](const TypeName& t) { return std::string(t.name); }) + ")");

    if (p.address < 0 || p.address > kMaxAddress) {
      fail(p.name, "address", "address " + std::to_string(p.address) + " is outside 0..65535");
    } else {
      out.address = static_cast<std::uint16_t>(p.address);
      if (type && p.address + register_width(*type) - 1 > kMaxAddress)
        fail(p.name, "address", "a " + p.type + " at " + std::to_string(p.address) + " runs past register 65535");
    }

    if (const auto order = parse_word_order(p.word_order))
      out.word_order = *order;
    else
      fail(p.name, "word_order", "unknown word order '" + p.word_order + "' (expected ABCD, CDAB, BADC, DCBA)");

    const auto unit = parse_unit(p.unit);
    if (unit)
      out.unit = *unit;
    else
      fail(p.name, "unit", "unknown unit '" + p.unit + "' (expected " +
                               joined_names(kUnits, [](const UnitInfo& u) { return std::string(u.name); }) + ")");

    const auto quantity = parse_quantity(p.quantity);
    if (quantity) {
      out.quantity = *quantity;
    } else {
      fail(p.name, "quantity", "unknown quantity '" + p.quantity + "' (expected " +
                                   joined_names(all_quantities(),
                                                [](const QuantityInfo& q) { return std::string(q.name); }) +
                                   ")");
    }
    if (unit && quantity && canonical_unit_of(*unit) != info(*quantity).unit)
      fail(p.name, "unit", "unit '" + p.unit + "' cannot measure " + p.quantity + " (canonical unit " +
                               std::string(to_string(info(*quantity).unit)) + ")");

    if (const auto encoding = parse_encoding(p.encoding))
      out.encoding = *encoding;
    else
      fail(p.name, "encoding", "unknown encoding '" + p.encoding + "' (expected plain, schneider_four_quadrant_pf)");

    const auto scale = parse_ratio(p.scale);
    if (!scale) {
      fail(p.name, "scale", "scale '" + p.scale + "' is not a number like 10, 0.1, 1e-3 or 1/10 (terms up to 10^12)");
    } else if (scale->num == 0) {
      fail(p.name, "scale", "scale is zero");
    } else {
      out.scale = *scale;
      if (unit) {
        const auto combined = multiply(*scale, canonical_factor(*unit));
        if (combined)
          out.to_canonical = *combined;
        else
          fail(p.name, "scale", "scale '" + p.scale + "' times the unit factor is too large");
      }
    }
    if (errors.size() != errors_before) return std::nullopt;
    return out;
  }

  void cross_checks(const std::vector<Point>& points) {
    std::vector<std::size_t> order(points.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return std::pair(points[a].function, points[a].address) < std::pair(points[b].function, points[b].address);
    });
    for (std::size_t i = 1; i < order.size(); ++i) {
      const Point& prev = points[order[i - 1]];
      const Point& cur = points[order[i]];
      if (prev.function == cur.function && prev.address + prev.width() > cur.address)
        fail(cur.name, "address",
             "registers " + std::to_string(cur.address) + ".." + std::to_string(cur.address + cur.width() - 1) +
                 " overlap point '" + prev.name + "' (" + std::to_string(prev.address) + ".." +
                 std::to_string(prev.address + prev.width() - 1) + ")");
    }
    for (std::size_t i = 0; i < points.size(); ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        if (points[j].name == points[i].name) fail(points[i].name, "name", "point name used twice");
        if (points[j].quantity == points[i].quantity)
          fail(points[i].name, "quantity",
               std::string(to_string(points[i].quantity)) + " is already given by point '" + points[j].name + "'");
      }
    }
  }

  std::optional<PlanLimits> limits(std::uint16_t widest) {
    const std::size_t errors_before = errors.size();
    if (spec.max_block < 1 || spec.max_block > kProtocolMaxBlock)
      fail("", "max_block", "block of " + std::to_string(spec.max_block) + " registers is outside 1..125");
    else if (spec.max_block < widest)
      fail("", "max_block",
           "max_block " + std::to_string(spec.max_block) + " is smaller than a " + std::to_string(widest) +
               "-register point");
    if (spec.max_gap < 0 || spec.max_gap >= spec.max_block)
      fail("", "max_gap", "max_gap " + std::to_string(spec.max_gap) + " must be >= 0 and below max_block");
    if (errors.size() != errors_before) return std::nullopt;
    return PlanLimits{static_cast<std::uint16_t>(spec.max_block), static_cast<std::uint16_t>(spec.max_gap)};
  }
};

}  // namespace

std::uint16_t Point::width() const { return register_width(type); }

std::uint16_t register_width(ValueType t) { return kTypes[static_cast<std::size_t>(t)].width; }

bool iequals_ascii(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view to_string(ValueType t) { return kTypes[static_cast<std::size_t>(t)].name; }
std::string_view to_string(WordOrder o) { return kOrders[static_cast<std::size_t>(o)].second; }
std::string_view to_string(Unit u) { return kUnits[static_cast<std::size_t>(u)].name; }

CanonicalUnit canonical_unit_of(Unit u) { return kUnits[static_cast<std::size_t>(u)].canonical; }
Ratio canonical_factor(Unit u) { return Ratio{kUnits[static_cast<std::size_t>(u)].factor, 1}; }

std::optional<ValueType> parse_value_type(std::string_view s) {
  for (const auto& t : kTypes)
    if (iequals_ascii(t.name, s)) return t.type;
  return std::nullopt;
}

std::optional<WordOrder> parse_word_order(std::string_view s) {
  for (const auto& [order, name] : kOrders)
    if (iequals_ascii(name, s)) return order;
  return std::nullopt;
}

std::optional<Unit> parse_unit(std::string_view s) {
  // Case-sensitive on purpose: MWh and mWh differ by a factor of 10^9.
  for (const auto& u : kUnits)
    if (u.name == s) return u.unit;
  return std::nullopt;
}

std::optional<ValueEncoding> parse_encoding(std::string_view s) {
  for (const auto& [encoding, name] : kEncodings)
    if (name == s) return encoding;
  return std::nullopt;
}

std::optional<Ratio> parse_ratio(std::string_view s) {
  if (const auto slash = s.find('/'); slash != std::string_view::npos) {
    const auto num = parse_integer(s.substr(0, slash), true);
    const auto den = parse_integer(s.substr(slash + 1), false);
    if (!num || !den || *den == 0) return std::nullopt;
    return reduced(*num, *den);
  }
  std::string_view mantissa = s;
  std::int64_t exponent = 0;
  if (const auto e = s.find_first_of("eE"); e != std::string_view::npos) {
    const auto exp = parse_integer(s.substr(e + 1), true);
    if (!exp || *exp > 12 || *exp < -12) return std::nullopt;
    exponent = *exp;
    mantissa = s.substr(0, e);
  }
  std::string digits(mantissa);
  if (const auto dot = digits.find('.'); dot != std::string::npos) {
    exponent -= static_cast<std::int64_t>(digits.size() - dot - 1);
    digits.erase(dot, 1);
    if (digits.empty() || digits == "-" || digits == "+") return std::nullopt;
  }
  auto num = parse_integer(digits, true);
  if (!num || exponent > 12 || exponent < -15) return std::nullopt;
  std::int64_t den = 1;
  for (; exponent > 0; --exponent)
    if (__builtin_mul_overflow(*num, 10, &*num)) return std::nullopt;
  for (; exponent < 0; ++exponent) den *= 10;
  return reduced(*num, den);
}

std::string describe(const MapError& error) {
  std::string out = "map '" + error.map + "'";
  if (!error.point.empty()) out += ", point '" + error.point + "'";
  out += ", field '" + error.field + "': " + error.message;
  return out;
}

MapBuildResult build_register_map(const MapSpec& spec) {
  Builder builder{spec, {}};
  if (spec.name.empty()) builder.fail("", "name", "map name is empty");
  if (spec.points.empty()) builder.fail("", "points", "map has no points");

  std::vector<Point> points;
  points.reserve(spec.points.size());
  std::uint16_t widest = 1;
  for (const auto& p : spec.points) {
    if (auto built = builder.point(p)) {
      widest = std::max(widest, built->width());
      points.push_back(std::move(*built));
    }
  }
  builder.cross_checks(points);
  const auto limits = builder.limits(widest);

  MapBuildResult result;
  if (builder.errors.empty() && limits)
    result.map = RegisterMap{spec.name, *limits, std::move(points)};
  result.errors = std::move(builder.errors);
  return result;
}

}  // namespace ami::modbus
