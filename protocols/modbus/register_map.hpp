// Modbus register maps: what a meter model exposes (points) and how each point turns into a
// canonical reading (protocols/common/quantity.hpp).
//
// Two kinds of maps share this model: the built-in maps (builtin_maps.hpp) and user maps from the
// daemon's configuration. Configuration is parsed outside protocols/ (toml++ is not allowed here);
// the parser fills plain MapSpec/PointSpec structs with the strings and numbers it found, and
// build_register_map() validates them and returns either a RegisterMap or every error found, each
// naming the map, the point and the field.
//
// Pure data and functions; any thread may call; a built RegisterMap is immutable. Nothing throws
// (except std::bad_alloc from std::string/std::vector).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/quantity.hpp"

namespace ami::modbus {

// Only the two register-reading functions: energy meters expose measurements nowhere else.
enum class FunctionCode : std::uint8_t { read_holding_registers = 0x03, read_input_registers = 0x04 };

enum class ValueType : std::uint8_t { u16, i16, u32, i32, u64, i64, f32 };

// Byte order of a multi-register value, named after the 32-bit case (A = most significant byte):
//   ABCD: registers high word first, each register high byte first (Modbus "big endian")
//   CDAB: registers low word first, bytes high first within each register ("word swapped")
//   BADC: registers high word first, bytes swapped within each register
//   DCBA: registers low word first, bytes swapped (fully little endian)
// The same two rules (reverse the registers? swap bytes in each?) extend to 16- and 64-bit types.
enum class WordOrder : std::uint8_t { abcd, cdab, badc, dcba };

// The unit a point's value is in after `scale` is applied.
enum class Unit : std::uint8_t { wh, kwh, mwh, varh, kvarh, w, kw, var, kvar, v, kv, a, ma, hz, ratio, percent };

// Meter-specific encodings that a scale cannot express.
enum class ValueEncoding : std::uint8_t {
  plain,
  // Schneider iEM3xxx/PM power factor register r: -1 <= r <= 1 -> r; r < -1 -> -2 - r; r > 1 -> 2 - r.
  schneider_four_quadrant_pf,
};

// An exact rational number; den > 0. Scales are rationals so that integer registers stay exact.
struct Ratio {
  std::int64_t num = 1;
  std::int64_t den = 1;
  friend bool operator==(const Ratio&, const Ratio&) = default;
};

struct Point {
  std::string name;
  FunctionCode function = FunctionCode::read_holding_registers;
  std::uint16_t address = 0;  // 0-based wire address
  ValueType type = ValueType::u16;
  WordOrder word_order = WordOrder::abcd;
  Ratio scale;  // register value x scale = value in `unit`
  Unit unit = Unit::wh;
  Quantity quantity = Quantity::forward_active_energy;
  ValueEncoding encoding = ValueEncoding::plain;
  Ratio to_canonical;  // scale x (unit -> canonical unit), reduced; filled by build_register_map()

  [[nodiscard]] std::uint16_t width() const;  // registers occupied
};

// Read planning limits of a model (read_plan.hpp).
struct PlanLimits {
  std::uint16_t max_block = 125;  // registers per read, 1..125
  std::uint16_t max_gap = 0;      // unused registers a block may span between two points
};

struct RegisterMap {
  std::string name;
  PlanLimits limits;
  std::vector<Point> points;
};

// ---- user maps: plain input and validation ----

// One point as configuration states it; every field is checked by build_register_map().
struct PointSpec {
  std::string name;
  std::int64_t function = 3;      // 3 or 4
  std::int64_t address = -1;      // 0..65535, 0-based wire address
  std::string type;               // u16 i16 u32 i32 u64 i64 f32
  std::string word_order = "ABCD";  // ABCD CDAB BADC DCBA (case-insensitive)
  std::string scale = "1";        // "10", "0.1", "1e-3", "1/10", "-1"
  std::string unit;               // Wh kWh MWh varh kvarh W kW var kvar V kV A mA Hz 1 %
  std::string quantity;           // a Quantity name, e.g. forward_active_energy
  std::string encoding = "plain"; // plain | schneider_four_quadrant_pf
};

struct MapSpec {
  std::string name;
  std::int64_t max_block = 125;
  std::int64_t max_gap = 0;
  std::vector<PointSpec> points;
};

struct MapError {
  std::string map;
  std::string point;  // empty for map-level fields
  std::string field;  // e.g. "type", "address", "max_block"
  std::string message;
};
// "map 'X', point 'Y', field 'type': unknown type 'f16' (expected u16, i16, ...)"
std::string describe(const MapError& error);

struct MapBuildResult {
  std::optional<RegisterMap> map;  // set only when errors is empty
  std::vector<MapError> errors;
};

// Validates a spec: names present and unique, function 3/4, address range (the whole value must fit
// below 65536), known type/word order/unit/quantity/encoding, unit matching the quantity, scale a
// non-zero rational, no two points of one function overlapping, no quantity given twice,
// 1 <= max_block <= 125, max_block >= the widest point, 0 <= max_gap < max_block.
MapBuildResult build_register_map(const MapSpec& spec);

// ---- names ----
std::string_view to_string(ValueType t);
std::string_view to_string(WordOrder o);
std::string_view to_string(Unit u);
std::optional<ValueType> parse_value_type(std::string_view s);
std::optional<WordOrder> parse_word_order(std::string_view s);
std::optional<Unit> parse_unit(std::string_view s);
std::optional<ValueEncoding> parse_encoding(std::string_view s);
// Decimal ("0.001", "-2.5"), exponent ("1e-3") or fraction ("1/10") into an exact reduced Ratio;
// numerator and denominator at most 10^12. std::nullopt for anything else. Zero parses (the
// builder rejects a zero scale with its own message).
std::optional<Ratio> parse_ratio(std::string_view s);

// Model, type and word-order names compare ASCII case-insensitively.
bool iequals_ascii(std::string_view a, std::string_view b);

std::uint16_t register_width(ValueType t);
// The canonical unit a unit measures in, and the factor from the unit to it (kWh -> Wh = 1000).
CanonicalUnit canonical_unit_of(Unit u);
Ratio canonical_factor(Unit u);

}  // namespace ami::modbus
