#include "protocols/dlt645/catalogue.hpp"

#include <algorithm>

#include "protocols/dlt645/bcd.hpp"

namespace ami::dlt645 {
namespace {

using E = Edition;
using Q = Quantity;
using R = IndexRole;
using L = BlockLayout;

constexpr DiByteRange one(std::uint8_t b) { return {b, b}; }
constexpr DiByteRange span_of(std::uint8_t first, std::uint8_t last) { return {first, last}; }

constexpr Field number(std::uint8_t bytes, std::int8_t decimals, bool is_signed, Unit unit,
                       std::string_view label = "value") {
  return Field{label, FieldKind::number, bytes, decimals, is_signed, unit};
}
constexpr Field energy(bool is_signed, Unit unit = Unit::kwh) { return number(4, 2, is_signed, unit); }
constexpr Field demand(Unit unit) { return number(3, 4, false, unit, "demand"); }
constexpr Field stamp_minutes(std::string_view label = "time") {
  return Field{label, FieldKind::datetime_minutes, 5, 0, false, Unit::none};
}
constexpr Field stamp_seconds(std::string_view label) {
  return Field{label, FieldKind::datetime_seconds, 6, 0, false, Unit::none};
}
constexpr Field count3() { return number(3, 0, false, Unit::count); }

constexpr DataItem row(E edition, std::array<DiByteRange, 4> di, std::string_view name, Q q, Field f,
                       L layout = L::single, R di1 = R::none, R di0 = R::none) {
  DataItem d;
  d.edition = edition;
  d.di = di;
  d.name = name;
  d.quantity = q;
  d.fields = {f, Field{}};
  d.field_count = 1;
  d.layout = layout;
  d.di1_role = di1;
  d.di0_role = di0;
  return d;
}
constexpr DataItem row2(E edition, std::array<DiByteRange, 4> di, std::string_view name, Q q, Field f1, Field f2,
                        L layout = L::single, R di1 = R::none, R di0 = R::none) {
  DataItem d = row(edition, di, name, q, f1, layout, di1, di0);
  d.fields = {f1, f2};
  d.field_count = 2;
  return d;
}

// 00 DI2 tt ss: energy registers, tariff tt (FF = block), settlement day ss (0 = current).
constexpr DataItem energy_row(std::uint8_t di2, std::string_view name, Q q, bool is_signed, Unit unit) {
  return row(E::v2007, {one(0x00), one(di2), span_of(0x00, 0x3F), span_of(0x00, 0x0C)}, name, q,
             energy(is_signed, unit), L::single, R::tariff, R::settlement_day);
}
constexpr DataItem energy_block_row(std::uint8_t di2, std::string_view name, Q q, bool is_signed, Unit unit) {
  return row(E::v2007, {one(0x00), one(di2), one(0xFF), span_of(0x00, 0x0C)}, name, q, energy(is_signed, unit),
             L::total_and_tariffs, R::none, R::settlement_day);
}
// 01 DI2 tt ss: max demand + its time.
constexpr DataItem demand_row(std::uint8_t di2, std::string_view name, Q q, bool block) {
  return row2(E::v2007, {one(0x01), one(di2), block ? one(0xFF) : span_of(0x00, 0x3F), span_of(0x00, 0x0C)}, name,
              q, demand(Unit::kw), stamp_minutes(), block ? L::total_and_tariffs : L::single,
              block ? R::none : R::tariff, R::settlement_day);
}
// 02 DI2 pp 00: instantaneous variables, phase pp (FF = block).
constexpr DataItem variable_row(std::uint8_t di2, std::uint8_t first_phase, std::string_view name, Q q, Field f,
                                bool block) {
  return row(E::v2007, {one(0x02), one(di2), block ? one(0xFF) : span_of(first_phase, 0x03), one(0x00)}, name, q, f,
             block ? (first_phase == 0 ? L::total_and_phases : L::phases) : L::single, block ? R::none : R::phase);
}
// 1997: DI1 DI0 with DI0 low nibble selecting total/tariff/phase and F the block.
constexpr DataItem row97(std::uint8_t di1, DiByteRange di0, std::string_view name, Q q, Field f, L layout, R role) {
  return row(E::v1997, {one(0), one(0), one(di1), di0}, name, q, f, layout, R::none, role);
}

constexpr Field voltage_2007 = number(2, 1, false, Unit::v);
constexpr Field current_2007 = number(3, 3, true, Unit::a);
constexpr Field power_2007 = number(3, 4, true, Unit::kw);
constexpr Field reactive_power_2007 = number(3, 4, true, Unit::kvar);
constexpr Field power_factor_2007 = number(2, 3, true, Unit::none);

constexpr std::array kItems = {
    // Energy (2007).
    energy_row(0x00, "combined active energy", Q::combined_active_energy, true, Unit::kwh),
    energy_block_row(0x00, "combined active energy block", Q::combined_active_energy, true, Unit::kwh),
    energy_row(0x01, "forward active energy", Q::forward_active_energy, false, Unit::kwh),
    energy_block_row(0x01, "forward active energy block", Q::forward_active_energy, false, Unit::kwh),
    energy_row(0x02, "reverse active energy", Q::reverse_active_energy, false, Unit::kwh),
    energy_block_row(0x02, "reverse active energy block", Q::reverse_active_energy, false, Unit::kwh),
    energy_row(0x03, "combined reactive energy 1", Q::combined_reactive_energy_1, true, Unit::kvarh),
    energy_block_row(0x03, "combined reactive energy 1 block", Q::combined_reactive_energy_1, true, Unit::kvarh),
    energy_row(0x04, "combined reactive energy 2", Q::combined_reactive_energy_2, true, Unit::kvarh),
    energy_block_row(0x04, "combined reactive energy 2 block", Q::combined_reactive_energy_2, true, Unit::kvarh),
    energy_row(0x05, "reactive energy quadrant I", Q::reactive_energy_q1, false, Unit::kvarh),
    energy_block_row(0x05, "reactive energy quadrant I block", Q::reactive_energy_q1, false, Unit::kvarh),
    energy_row(0x06, "reactive energy quadrant II", Q::reactive_energy_q2, false, Unit::kvarh),
    energy_block_row(0x06, "reactive energy quadrant II block", Q::reactive_energy_q2, false, Unit::kvarh),
    energy_row(0x07, "reactive energy quadrant III", Q::reactive_energy_q3, false, Unit::kvarh),
    energy_block_row(0x07, "reactive energy quadrant III block", Q::reactive_energy_q3, false, Unit::kvarh),
    energy_row(0x08, "reactive energy quadrant IV", Q::reactive_energy_q4, false, Unit::kvarh),
    energy_block_row(0x08, "reactive energy quadrant IV block", Q::reactive_energy_q4, false, Unit::kvarh),
    // Max demand (2007).
    demand_row(0x01, "forward active max demand", Q::forward_active_max_demand, false),
    demand_row(0x01, "forward active max demand block", Q::forward_active_max_demand, true),
    demand_row(0x02, "reverse active max demand", Q::reverse_active_max_demand, false),
    demand_row(0x02, "reverse active max demand block", Q::reverse_active_max_demand, true),
    // Instantaneous variables (2007).
    variable_row(0x01, 0x01, "voltage", Q::voltage, voltage_2007, false),
    variable_row(0x01, 0x01, "voltage block", Q::voltage, voltage_2007, true),
    variable_row(0x02, 0x01, "current", Q::current, current_2007, false),
    variable_row(0x02, 0x01, "current block", Q::current, current_2007, true),
    variable_row(0x03, 0x00, "active power", Q::active_power, power_2007, false),
    variable_row(0x03, 0x00, "active power block", Q::active_power, power_2007, true),
    variable_row(0x04, 0x00, "reactive power", Q::reactive_power, reactive_power_2007, false),
    variable_row(0x04, 0x00, "reactive power block", Q::reactive_power, reactive_power_2007, true),
    variable_row(0x06, 0x00, "power factor", Q::power_factor, power_factor_2007, false),
    variable_row(0x06, 0x00, "power factor block", Q::power_factor, power_factor_2007, true),
    row(E::v2007, {one(0x02), one(0x80), one(0x00), one(0x02)}, "grid frequency", Q::frequency,
        number(2, 2, false, Unit::hz)),
    // Events (2007).
    row(E::v2007, {one(0x03), one(0x11), one(0x00), one(0x00)}, "power-down event count", Q::power_down_count,
        count3()),
    row2(E::v2007, {one(0x03), one(0x11), one(0x00), span_of(0x01, 0x0A)}, "power-down event record",
         Q::power_down_record, stamp_seconds("start"), stamp_seconds("end"), L::single, R::none, R::record_back),
    row(E::v2007, {one(0x03), one(0x30), one(0x0D), one(0x00)}, "meter cover opened count", Q::cover_open_count,
        count3()),
    // Parameters (2007).
    row(E::v2007, {one(0x04), one(0x00), one(0x01), one(0x01)}, "date and weekday", Q::date_weekday,
        Field{"date", FieldKind::date_weekday, 4, 0, false, Unit::none}),
    row(E::v2007, {one(0x04), one(0x00), one(0x01), one(0x02)}, "time", Q::time_of_day,
        Field{"time", FieldKind::time_of_day, 3, 0, false, Unit::none}),
    row(E::v2007, {one(0x04), one(0x00), one(0x04), one(0x01)}, "communication address", Q::comm_address,
        Field{"address", FieldKind::address, 6, 0, false, Unit::none}),
    // Freezes (State Grid extension, universal in practice).
    row(E::v2007, {one(0x05), one(0x06), one(0x00), span_of(0x01, 0x3E)}, "daily freeze time", Q::daily_freeze_time,
        stamp_minutes(), L::single, R::none, R::days_back),
    row(E::v2007, {one(0x05), one(0x06), one(0x01), span_of(0x01, 0x3E)}, "daily freeze forward active energy",
        Q::daily_freeze_forward_active_energy, energy(false), L::total_and_tariffs, R::none, R::days_back),
    row(E::v2007, {one(0x05), one(0x06), one(0x02), span_of(0x01, 0x3E)}, "daily freeze reverse active energy",
        Q::daily_freeze_reverse_active_energy, energy(false), L::total_and_tariffs, R::none, R::days_back),
    row(E::v2007, {one(0x05), one(0x04), one(0x00), span_of(0x01, 0xFE)}, "hourly freeze time",
        Q::hourly_freeze_time, stamp_minutes(), L::single, R::none, R::hours_back),
    row(E::v2007, {one(0x05), one(0x04), one(0x01), span_of(0x01, 0xFE)}, "hourly freeze forward active energy",
        Q::hourly_freeze_forward_active_energy, energy(false), L::single, R::none, R::hours_back),
    row(E::v2007, {one(0x05), one(0x04), one(0x02), span_of(0x01, 0xFE)}, "hourly freeze reverse active energy",
        Q::hourly_freeze_reverse_active_energy, energy(false), L::single, R::none, R::hours_back),
    // Load profile (2007).
    row(E::v2007, {one(0x06), one(0x00), one(0x00), span_of(0x00, 0x02)}, "load profile", Q::load_profile,
        Field{"records", FieldKind::load_profile, 0, 0, false, Unit::none}, L::single, R::none,
        R::load_profile_mode),
    // 1997 edition: 2-byte DIs.
    row97(0x90, span_of(0x10, 0x14), "forward active energy", Q::forward_active_energy, energy(false), L::single,
          R::tariff),
    row97(0x90, one(0x1F), "forward active energy block", Q::forward_active_energy, energy(false),
          L::total_and_tariffs, R::none),
    row97(0x90, span_of(0x20, 0x24), "reverse active energy", Q::reverse_active_energy, energy(false), L::single,
          R::tariff),
    row97(0x90, one(0x2F), "reverse active energy block", Q::reverse_active_energy, energy(false),
          L::total_and_tariffs, R::none),
    row97(0xB6, span_of(0x11, 0x13), "voltage", Q::voltage, number(2, 0, false, Unit::v), L::single, R::phase),
    row97(0xB6, one(0x1F), "voltage block", Q::voltage, number(2, 0, false, Unit::v), L::phases, R::none),
    row97(0xB6, span_of(0x21, 0x23), "current", Q::current, number(2, 2, false, Unit::a), L::single, R::phase),
    row97(0xB6, one(0x2F), "current block", Q::current, number(2, 2, false, Unit::a), L::phases, R::none),
    row97(0xB6, span_of(0x30, 0x33), "active power", Q::active_power, number(3, 4, false, Unit::kw), L::single,
          R::phase),
    row97(0xB6, one(0x3F), "active power block", Q::active_power, number(3, 4, false, Unit::kw), L::total_and_phases,
          R::none),
    row97(0xC0, one(0x10), "date and weekday", Q::date_weekday,
          Field{"date", FieldKind::date_weekday, 4, 0, false, Unit::none}, L::single, R::none),
    row97(0xC0, one(0x11), "time", Q::time_of_day, Field{"time", FieldKind::time_of_day, 3, 0, false, Unit::none},
          L::single, R::none),
};

std::uint8_t di_byte(std::uint32_t di, int index_from_top) {
  return static_cast<std::uint8_t>(di >> (8 * (3 - index_from_top)));
}

std::string ordinal(unsigned n) {
  const char* suffix = "th";
  if (n % 100 < 11 || n % 100 > 13) {
    if (n % 10 == 1) suffix = "st";
    if (n % 10 == 2) suffix = "nd";
    if (n % 10 == 3) suffix = "rd";
  }
  return std::to_string(n) + suffix;
}

// 1997 DIs select total/tariff/phase with DI0's low nibble (9010 total, 9011 tariff 1, B611 phase A).
unsigned index_value(const DataItem& item, std::uint8_t byte) {
  return item.edition == Edition::v1997 ? (byte & 0x0Fu) : byte;
}

void append_role(std::string& out, IndexRole role, unsigned n) {
  switch (role) {
    case IndexRole::none: return;
    case IndexRole::tariff:
      out += n == 0 ? ", total" : ", tariff " + std::to_string(n);
      return;
    case IndexRole::settlement_day:
      if (n != 0) out += ", " + ordinal(n) + " previous settlement day";
      return;
    case IndexRole::phase:
      out += n == 0 ? ", total" : std::string(", phase ") + static_cast<char>('A' + n - 1);
      return;
    case IndexRole::record_back: out += ", " + ordinal(n) + " last record"; return;
    case IndexRole::days_back: out += ", " + std::to_string(n) + " day(s) back"; return;
    case IndexRole::hours_back: out += ", " + std::to_string(n) + " hour(s) back"; return;
    case IndexRole::load_profile_mode:
      out += n == 0 ? ", earliest records" : n == 1 ? ", records from a given time" : ", latest records";
      return;
  }
}

std::optional<int> bcd_byte(std::uint8_t b) {
  if ((b >> 4) > 9 || (b & 0x0F) > 9) return std::nullopt;
  return (b >> 4) * 10 + (b & 0x0F);
}

ValueError decode_field(const Field& f, std::span<const std::uint8_t> bytes, FieldValue& out) {
  out.field = &f;
  if (is_all_ff(bytes)) {
    out.available = false;
    out.number = ScaledValue{0, f.decimals, f.unit, false};
    return ValueError::none;
  }
  out.available = true;
  switch (f.kind) {
    case FieldKind::number: {
      const auto v = decode_number(f, bytes);
      if (!v) return ValueError::not_bcd;
      out.number = *v;
      return ValueError::none;
    }
    case FieldKind::datetime_minutes: {
      const auto t = decode_yymmddhhmm(bytes);
      if (!t) return ValueError::bad_time;
      out.time = *t;
      return ValueError::none;
    }
    case FieldKind::datetime_seconds: {
      const auto t = decode_yymmddhhmmss(bytes);
      if (!t) return ValueError::bad_time;
      out.time = *t;
      return ValueError::none;
    }
    case FieldKind::date_weekday: {
      // WW DD MM YY: reuse the minute decoder with a fixed midnight.
      const std::uint8_t as_stamp[5] = {0x00, 0x00, bytes[1], bytes[2], bytes[3]};
      const auto t = decode_yymmddhhmm(as_stamp);
      const auto ww = bcd_byte(bytes[0]);
      if (!t || !ww || *ww > 6) return ValueError::bad_time;
      out.time = *t;
      out.weekday = static_cast<std::uint8_t>(*ww);
      return ValueError::none;
    }
    case FieldKind::time_of_day: {
      const auto s = bcd_byte(bytes[0]), m = bcd_byte(bytes[1]), h = bcd_byte(bytes[2]);
      if (!s || !m || !h || *s > 59 || *m > 59 || *h > 23) return ValueError::bad_time;
      out.time = MeterDateTime{2000, 1, 1, *h, *m, *s};
      return ValueError::none;
    }
    case FieldKind::address: {
      out.address = Address::from_wire(bytes.data());
      return out.address.is_concrete() ? ValueError::none : ValueError::not_bcd;
    }
    case FieldKind::load_profile: return ValueError::none;
  }
  return ValueError::none;
}

}  // namespace

std::string_view to_string(Unit u) {
  switch (u) {
    case Unit::none: return "";
    case Unit::kwh: return "kWh";
    case Unit::kvarh: return "kvarh";
    case Unit::kw: return "kW";
    case Unit::kvar: return "kvar";
    case Unit::v: return "V";
    case Unit::a: return "A";
    case Unit::hz: return "Hz";
    case Unit::count: return "count";
  }
  return "";
}

std::string_view to_string(Quantity q) {
  switch (q) {
    case Quantity::combined_active_energy: return "combined_active_energy";
    case Quantity::forward_active_energy: return "forward_active_energy";
    case Quantity::reverse_active_energy: return "reverse_active_energy";
    case Quantity::combined_reactive_energy_1: return "combined_reactive_energy_1";
    case Quantity::combined_reactive_energy_2: return "combined_reactive_energy_2";
    case Quantity::reactive_energy_q1: return "reactive_energy_q1";
    case Quantity::reactive_energy_q2: return "reactive_energy_q2";
    case Quantity::reactive_energy_q3: return "reactive_energy_q3";
    case Quantity::reactive_energy_q4: return "reactive_energy_q4";
    case Quantity::forward_active_max_demand: return "forward_active_max_demand";
    case Quantity::reverse_active_max_demand: return "reverse_active_max_demand";
    case Quantity::voltage: return "voltage";
    case Quantity::current: return "current";
    case Quantity::active_power: return "active_power";
    case Quantity::reactive_power: return "reactive_power";
    case Quantity::power_factor: return "power_factor";
    case Quantity::frequency: return "frequency";
    case Quantity::power_down_count: return "power_down_count";
    case Quantity::power_down_record: return "power_down_record";
    case Quantity::cover_open_count: return "cover_open_count";
    case Quantity::date_weekday: return "date_weekday";
    case Quantity::time_of_day: return "time_of_day";
    case Quantity::comm_address: return "comm_address";
    case Quantity::daily_freeze_time: return "daily_freeze_time";
    case Quantity::daily_freeze_forward_active_energy: return "daily_freeze_forward_active_energy";
    case Quantity::daily_freeze_reverse_active_energy: return "daily_freeze_reverse_active_energy";
    case Quantity::hourly_freeze_time: return "hourly_freeze_time";
    case Quantity::hourly_freeze_forward_active_energy: return "hourly_freeze_forward_active_energy";
    case Quantity::hourly_freeze_reverse_active_energy: return "hourly_freeze_reverse_active_energy";
    case Quantity::load_profile: return "load_profile";
  }
  return "unknown";
}

std::string_view to_string(IndexRole r) {
  switch (r) {
    case IndexRole::none: return "none";
    case IndexRole::tariff: return "tariff";
    case IndexRole::settlement_day: return "settlement_day";
    case IndexRole::phase: return "phase";
    case IndexRole::record_back: return "record_back";
    case IndexRole::days_back: return "days_back";
    case IndexRole::hours_back: return "hours_back";
    case IndexRole::load_profile_mode: return "load_profile_mode";
  }
  return "unknown";
}

std::string_view to_string(ValueError e) {
  switch (e) {
    case ValueError::none: return "ok";
    case ValueError::wrong_length: return "value length does not match the data identifier's format";
    case ValueError::not_bcd: return "not a BCD digit";
    case ValueError::bad_time: return "date/time out of range or not BCD";
    case ValueError::bad_records: return "malformed load-profile records";
  }
  return "unknown";
}

std::size_t DataItem::record_size() const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < field_count; ++i) n += fields[i].bytes;
  return n;
}

bool DataItem::matches(std::uint32_t di_value) const {
  for (int i = 0; i < 4; ++i) {
    const auto b = di_byte(di_value, i);
    const auto& r = di[static_cast<std::size_t>(i)];
    if (b < r.first || b > r.last) return false;
  }
  return true;
}

const DataItem* find_data_item(Edition edition, std::uint32_t di) {
  // Rows are few (tens) and grouped by DI3; a linear scan with an early DI3/edition reject is
  // faster than any index at this size.
  const auto top = di_byte(di, 0);
  for (const auto& item : kItems) {
    if (item.edition != edition || item.di[0].first != top) continue;
    if (item.matches(di)) return &item;
  }
  return nullptr;
}

std::span<const DataItem> data_items() { return kItems; }

std::string format_di(Edition edition, std::uint32_t di) {
  static constexpr char hex[] = "0123456789ABCDEF";
  const int digits = edition == Edition::v2007 ? 8 : 4;
  std::string s(static_cast<std::size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i) {
    s[static_cast<std::size_t>(i)] = hex[di & 0x0F];
    di >>= 4;
  }
  return s;
}

std::string describe_di(const DataItem* item, std::uint32_t di) {
  if (item == nullptr) return "unknown DI";
  std::string out(item->name);
  append_role(out, item->di1_role, index_value(*item, di_byte(di, 2)));
  append_role(out, item->di0_role, index_value(*item, di_byte(di, 3)));
  return out;
}

std::optional<std::int64_t> to_wh(const ScaledValue& v) {
  if (!v.available || (v.unit != Unit::kwh && v.unit != Unit::kvarh)) return std::nullopt;
  if (v.decimals < 0 || v.decimals > 3) return std::nullopt;
  std::int64_t factor = 1;
  for (int i = v.decimals; i < 3; ++i) factor *= 10;
  return v.raw * factor;
}

std::string format_scaled(const ScaledValue& v) {
  if (!v.available) return "n/a";
  const bool negative = v.raw < 0;
  const std::string digits = std::to_string(negative ? -v.raw : v.raw);
  const auto d = static_cast<std::size_t>(v.decimals > 0 ? v.decimals : 0);
  // Built by appending only: GCC 12 -O3 warns (-Wrestrict) on std::string::insert here.
  std::string out;
  out.reserve(digits.size() + d + 3);
  if (negative) out.push_back('-');
  if (digits.size() <= d) {
    out.append("0.");
    out.append(d - digits.size(), '0');
    out.append(digits);
  } else {
    out.append(digits, 0, digits.size() - d);
    if (d > 0) {
      out.push_back('.');
      out.append(digits, digits.size() - d, d);
    }
  }
  return out;
}

std::optional<ScaledValue> decode_number(const Field& field, std::span<const std::uint8_t> bytes) {
  if (field.bytes == 0 || bytes.size() < field.bytes) return std::nullopt;
  const auto part = bytes.first(field.bytes);
  const auto r = field.is_signed ? decode_signed_bcd(part) : decode_bcd(part);
  if (r.status == BcdStatus::invalid) return std::nullopt;
  return ScaledValue{r.value, field.decimals, field.unit, r.status == BcdStatus::ok};
}

bool encode_number(const Field& field, std::int64_t raw, std::span<std::uint8_t> out) {
  if (out.size() != field.bytes || field.bytes == 0) return false;
  if (field.is_signed) return encode_signed_bcd(raw, out);
  if (raw < 0) return false;
  return encode_bcd(static_cast<std::uint64_t>(raw), out);
}

ValueStatus decode_value(const DataItem& item, std::span<const std::uint8_t> value, std::vector<FieldValue>& out) {
  if (item.fields[0].kind == FieldKind::load_profile) {
    FieldValue fv;
    fv.field = &item.fields[0];
    fv.available = !value.empty();
    out.push_back(fv);
    return {};
  }
  const std::size_t record = item.record_size();
  std::size_t records = 1;
  switch (item.layout) {
    case BlockLayout::single:
      if (value.size() != record) return {ValueError::wrong_length, std::min(value.size(), record)};
      break;
    case BlockLayout::total_and_tariffs:
      if (value.empty() || value.size() % record != 0) return {ValueError::wrong_length, value.size() / record * record};
      records = value.size() / record;
      break;
    case BlockLayout::phases:
    case BlockLayout::total_and_phases:
      records = item.layout == BlockLayout::phases ? 3 : 4;
      if (value.size() != record * records) return {ValueError::wrong_length, std::min(value.size(), record * records)};
      break;
  }
  std::size_t offset = 0;
  for (std::size_t r = 0; r < records; ++r) {
    for (std::size_t i = 0; i < item.field_count; ++i) {
      const Field& f = item.fields[i];
      FieldValue fv;
      fv.record = static_cast<std::uint16_t>(r);
      fv.offset = static_cast<std::uint16_t>(offset);
      const auto e = decode_field(f, value.subspan(offset, f.bytes), fv);
      if (e != ValueError::none) return {e, offset};
      out.push_back(fv);
      offset += f.bytes;
    }
  }
  return {};
}

}  // namespace ami::dlt645
