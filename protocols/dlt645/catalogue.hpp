// DL/T 645 data identifier catalogue: what a DI means and how its value is laid out.
//
// Table-driven: every row names a DI range (each DI byte a first..last range), a canonical
// quantity, and the layout of one record (up to two fields: BCD number with decimals and sign,
// date/time, address, load-profile records). Block DIs (DI1 or DI0 = FF) repeat the record.
// Values decode to exact integers with a decimal scale (ScaledValue); no floating point.
// All-FF fields decode as "not available" (available == false), never as numbers.
//
// Pure; the table is static and immutable, so any thread may call anything here. Nothing throws:
// find_data_item() returns nullptr for an unknown DI, decode_value() returns a ValueError with the
// byte offset where decoding stopped.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/dlt645/address.hpp"
#include "protocols/dlt645/datetime.hpp"
#include "protocols/dlt645/edition.hpp"

namespace ami::dlt645 {

// Units as the meter states them; to_wh() turns energy into the project's integer Wh.
enum class Unit : std::uint8_t { none, kwh, kvarh, kw, kvar, v, a, hz, count };
std::string_view to_string(Unit u);  // "kWh", "kvarh", "kW", "kvar", "V", "A", "Hz", "count", ""

enum class Quantity : std::uint8_t {
  combined_active_energy,
  forward_active_energy,
  reverse_active_energy,
  combined_reactive_energy_1,
  combined_reactive_energy_2,
  reactive_energy_q1,
  reactive_energy_q2,
  reactive_energy_q3,
  reactive_energy_q4,
  forward_active_max_demand,
  reverse_active_max_demand,
  voltage,
  current,
  active_power,
  reactive_power,
  power_factor,
  frequency,
  power_down_count,
  power_down_record,
  cover_open_count,
  date_weekday,
  time_of_day,
  comm_address,
  daily_freeze_time,
  daily_freeze_forward_active_energy,
  daily_freeze_reverse_active_energy,
  hourly_freeze_time,
  hourly_freeze_forward_active_energy,
  hourly_freeze_reverse_active_energy,
  load_profile,
};
std::string_view to_string(Quantity q);  // snake_case name, e.g. "forward_active_energy"

enum class FieldKind : std::uint8_t {
  number,            // BCD digits, `decimals` after the point; signed = bit 7 of the last byte
  datetime_minutes,  // YYMMDDhhmm, wire mm hh DD MM YY (5 bytes)
  datetime_seconds,  // YYMMDDhhmmss, wire ss mm hh DD MM YY (6 bytes)
  date_weekday,      // YYMMDDWW, wire WW DD MM YY (4 bytes), WW 0 = Sunday
  time_of_day,       // hhmmss, wire ss mm hh (3 bytes)
  address,           // 12 BCD digits, low byte first (6 bytes)
  load_profile,      // the rest of the value: load-profile records (load_profile.hpp)
};

struct Field {
  std::string_view label;  // "value", "demand", "time", "start", "end", ...
  FieldKind kind = FieldKind::number;
  std::uint8_t bytes = 0;  // 0 only for load_profile (takes the rest)
  std::int8_t decimals = 0;
  bool is_signed = false;
  Unit unit = Unit::none;
};

// What a varying DI byte selects.
enum class IndexRole : std::uint8_t {
  none,
  tariff,          // 0 = total, 1..63 = tariff n
  settlement_day,  // 0 = current, n = n-th previous settlement day
  phase,           // 0 = total, 1..3 = phase A..C
  record_back,     // n-th last event record
  days_back,       // daily freeze n days back
  hours_back,      // hourly freeze n hours back
  load_profile_mode,  // 0 earliest, 1 from a given time, 2 latest
};
std::string_view to_string(IndexRole r);

// How the records of a block value are labelled.
enum class BlockLayout : std::uint8_t {
  single,             // exactly one record
  total_and_tariffs,  // total, tariff 1, tariff 2, ... (1 + n records, n >= 0)
  phases,             // phase A, B, C (3 records)
  total_and_phases,   // total, A, B, C (4 records)
};

struct DiByteRange {
  std::uint8_t first = 0;
  std::uint8_t last = 0;
};

struct DataItem {
  Edition edition = Edition::v2007;
  std::array<DiByteRange, 4> di{};  // DI3, DI2, DI1, DI0 (1997 rows keep DI3 = DI2 = 0)
  std::string_view name;             // human readable, e.g. "forward active energy"
  Quantity quantity = Quantity::forward_active_energy;
  std::array<Field, 2> fields{};     // one record
  std::uint8_t field_count = 1;
  BlockLayout layout = BlockLayout::single;
  IndexRole di1_role = IndexRole::none;  // meaning of DI1 when it varies
  IndexRole di0_role = IndexRole::none;  // meaning of DI0 when it varies

  [[nodiscard]] std::size_t record_size() const;  // 0 when the record is open-ended (load profile)
  [[nodiscard]] bool matches(std::uint32_t di_value) const;
};

// The row for `di` (2007: DI3..DI0 as 0xDI3DI2DI1DI0; 1997: 0xDI1DI0), or nullptr.
const DataItem* find_data_item(Edition edition, std::uint32_t di);
// Every row, for documentation and tests.
std::span<const DataItem> data_items();

// "forward active energy, tariff 2, 1st previous settlement day" (the name plus what the index
// bytes select). "unknown DI" for nullptr.
std::string describe_di(const DataItem* item, std::uint32_t di);
// DI as printed by technicians: "00010000" (2007) or "9010" (1997).
std::string format_di(Edition edition, std::uint32_t di);

// An exact decimal: value = raw / 10^decimals unit. available == false for an all-FF field.
struct ScaledValue {
  std::int64_t raw = 0;
  std::int8_t decimals = 0;
  Unit unit = Unit::none;
  bool available = false;
  friend bool operator==(const ScaledValue&, const ScaledValue&) = default;
};
// kWh/kvarh -> Wh/varh (exact when decimals <= 3); std::nullopt for other units, unavailable
// values, or a scale that would lose digits.
std::optional<std::int64_t> to_wh(const ScaledValue& v);
// "123456.78" (no unit); "n/a" when not available.
std::string format_scaled(const ScaledValue& v);

enum class ValueError : std::uint8_t {
  none,
  wrong_length,  // value length does not fit the layout
  not_bcd,       // a digit > 9 in a number / address field
  bad_time,      // date/time out of range
  bad_records,   // load-profile records malformed
};
std::string_view to_string(ValueError e);

struct FieldValue {
  const Field* field = nullptr;
  std::uint16_t record = 0;  // record index inside a block value
  std::uint16_t offset = 0;  // byte offset of the field inside the value
  bool available = false;    // false: all FF
  ScaledValue number;        // FieldKind::number
  MeterDateTime time;        // datetime kinds; time_of_day fills hour/minute/second only
  std::uint8_t weekday = 0;  // date_weekday
  Address address;           // FieldKind::address
};

struct ValueStatus {
  ValueError error = ValueError::none;
  std::size_t offset = 0;  // where in the value the error is
};

// Decodes a value (the bytes after the DI, +33H removed) laid out as `item` says. Appends one
// FieldValue per field per record to `out` (load_profile: one FieldValue, records via
// parse_load_profile_records()).
ValueStatus decode_value(const DataItem& item, std::span<const std::uint8_t> value, std::vector<FieldValue>& out);

// Fast path for one number field: the first `field.bytes` of `bytes`.
// std::nullopt when too short or not BCD; available == false when all FF.
std::optional<ScaledValue> decode_number(const Field& field, std::span<const std::uint8_t> bytes);

// Encodes one number field (raw with the field's decimals) into `out` (field.bytes long);
// false if it does not fit or is negative for an unsigned field.
bool encode_number(const Field& field, std::int64_t raw, std::span<std::uint8_t> out);

}  // namespace ami::dlt645
