#include "simulators/dlt645_responder.hpp"

#include <algorithm>
#include <cstdlib>

#include "protocols/dlt645/bcd.hpp"
#include "protocols/dlt645/catalogue.hpp"
#include "protocols/dlt645/datetime.hpp"
#include "protocols/dlt645/load_profile.hpp"
#include "protocols/dlt645/messages.hpp"
#include "simulators/hash.hpp"

namespace ami::sim {
namespace {

using dlt645::DataItem;
using dlt645::Edition;
using dlt645::Field;
using dlt645::FieldKind;
using dlt645::Frame;
using Q = dlt645::Quantity;
using namespace std::chrono;

// One field's content before encoding.
struct Out {
  enum class Kind : std::uint8_t { number, time, address, not_available } kind = Kind::not_available;
  std::int64_t raw = 0;          // number, already at the field's decimals
  UtcSeconds time;               // time kinds (UTC; shown in meter local time)
  dlt645::Address address;
  static Out number(std::int64_t raw) { return Out{Kind::number, raw, {}, {}}; }
  static Out at(UtcSeconds t) { return Out{Kind::time, 0, t, {}}; }
  static Out na() { return Out{}; }
};

std::int64_t pow10(int n) {
  std::int64_t p = 1;
  for (int i = 0; i < n; ++i) p *= 10;
  return p;
}

// A canonical integer (Wh, mV, mA, mW, 1/1000, mHz) at a field's decimals; `per_unit` canonical
// units make one unit of the field (1000 Wh per kWh, 1e6 mW per kW, ...). Truncates toward zero.
std::int64_t scaled(std::int64_t canonical, std::int64_t per_unit, const Field& f) {
  return canonical * pow10(f.decimals) / per_unit;
}

UtcSeconds local_midnight(UtcSeconds t, int offset_minutes) {
  const auto local = t + minutes{offset_minutes};
  return floor<days>(local) - minutes{offset_minutes};
}

// Start of the local month `back` months before the one containing t.
UtcSeconds local_month_start(UtcSeconds t, int offset_minutes, int back) {
  const auto local = dlt645::to_meter_time(t, offset_minutes);
  int month = local.month - back;
  int year = local.year;
  while (month < 1) {
    month += 12;
    --year;
  }
  return *dlt645::to_utc(dlt645::MeterDateTime{std::max(year, 2000), month, 1, 0, 0, 0}, offset_minutes);
}

void encode(const Field& f, const Out& v, int offset_minutes, std::vector<std::uint8_t>& out) {
  const auto begin = out.size();
  out.resize(begin + f.bytes, 0xFF);
  const std::span<std::uint8_t> dst(out.data() + begin, f.bytes);
  bool ok = false;
  switch (v.kind) {
    case Out::Kind::number:
      ok = f.kind == FieldKind::number && dlt645::encode_number(f, v.raw, dst);
      break;
    case Out::Kind::time: {
      const auto local = dlt645::to_meter_time(v.time, offset_minutes);
      if (f.kind == FieldKind::datetime_minutes) {
        ok = dlt645::encode_yymmddhhmm(local, std::span<std::uint8_t, 5>(dst.data(), 5));
      } else if (f.kind == FieldKind::datetime_seconds) {
        ok = dlt645::encode_yymmddhhmmss(local, std::span<std::uint8_t, 6>(dst.data(), 6));
      } else if (f.kind == FieldKind::date_weekday || f.kind == FieldKind::time_of_day) {
        const year_month_day ymd{floor<days>(v.time + minutes{offset_minutes})};
        const auto weekday_number = static_cast<std::uint64_t>(weekday{sys_days{ymd}}.c_encoding());  // 0 = Sunday
        const std::array<std::uint64_t, 4> parts =
            f.kind == FieldKind::date_weekday
                ? std::array<std::uint64_t, 4>{weekday_number, static_cast<std::uint64_t>(local.day),
                                               static_cast<std::uint64_t>(local.month),
                                               static_cast<std::uint64_t>(local.year - 2000)}
                : std::array<std::uint64_t, 4>{static_cast<std::uint64_t>(local.second),
                                               static_cast<std::uint64_t>(local.minute),
                                               static_cast<std::uint64_t>(local.hour), 0};
        ok = true;
        for (std::size_t i = 0; i < f.bytes; ++i) ok = ok && dlt645::encode_bcd(parts[i], dst.subspan(i, 1));
      }
      break;
    }
    case Out::Kind::address:
      ok = f.kind == FieldKind::address;
      if (ok) std::copy(v.address.wire().begin(), v.address.wire().end(), dst.begin());
      break;
    case Out::Kind::not_available:
      break;
  }
  if (!ok) std::fill(dst.begin(), dst.end(), std::uint8_t{0xFF});
}

// What one request reads: the catalogue row plus the selected index bytes.
struct Selection {
  const DataItem* item = nullptr;
  unsigned tariff = 0;          // 0 total
  unsigned settlement_day = 0;  // 0 current
  unsigned phase = 0;           // 0 total / A for phase-only rows
  unsigned back = 0;            // records / days / hours back
};

Selection select(Edition edition, std::uint32_t di) {
  Selection s;
  s.item = dlt645::find_data_item(edition, di);
  if (s.item == nullptr) return s;
  const auto assign = [&s](dlt645::IndexRole role, unsigned value) {
    switch (role) {
      case dlt645::IndexRole::tariff: s.tariff = value; break;
      case dlt645::IndexRole::settlement_day: s.settlement_day = value; break;
      case dlt645::IndexRole::phase: s.phase = value; break;
      case dlt645::IndexRole::record_back:
      case dlt645::IndexRole::days_back:
      case dlt645::IndexRole::hours_back: s.back = value; break;
      default: break;
    }
  };
  if (edition == Edition::v1997) {
    assign(s.item->di0_role, di & 0x0Fu);
  } else {
    assign(s.item->di1_role, (di >> 8) & 0xFFu);
    assign(s.item->di0_role, di & 0xFFu);
  }
  return s;
}

class ReadContext {
 public:
  ReadContext(const SimMeter& meter, UtcMillis now)
      : meter_(meter),
        now_(now),
        meter_now_(floor<seconds>(meter.meter_clock(now))),
        offset_(meter.spec().utc_offset_minutes) {}

  // The content of field `field_index` of record `record` of the selected item; nullopt = the
  // meter does not have this value at all ("no requested data").
  std::optional<Out> value(const Selection& s, std::size_t record, std::size_t field_index) const {
    const auto& item = *s.item;
    const auto& f = item.fields[field_index];
    const auto tariff = item.layout == dlt645::BlockLayout::total_and_tariffs ? static_cast<unsigned>(record) : s.tariff;
    const auto phase = item.layout == dlt645::BlockLayout::phases ? static_cast<unsigned>(record + 1)
                       : item.layout == dlt645::BlockLayout::total_and_phases ? static_cast<unsigned>(record)
                                                                              : s.phase;
    switch (item.quantity) {
      case Q::combined_active_energy:
      case Q::forward_active_energy:
      case Q::reverse_active_energy:
      case Q::combined_reactive_energy_1:
      case Q::combined_reactive_energy_2:
      case Q::reactive_energy_q1:
      case Q::reactive_energy_q2:
      case Q::reactive_energy_q3:
      case Q::reactive_energy_q4: {
        if (tariff > kTariffs) return std::nullopt;
        const auto instant = s.settlement_day == 0 ? now_ : settlement(s.settlement_day);
        const auto wh = energy(item.quantity, meter_.dlt645_registers_at(instant), tariff);
        return Out::number(scaled(wh, 1000, f));
      }
      case Q::forward_active_max_demand:
      case Q::reverse_active_max_demand: {
        if (tariff > kTariffs) return std::nullopt;
        const auto [watts, at] = max_demand(item.quantity == Q::forward_active_max_demand, tariff, s.settlement_day);
        if (field_index == 1) return watts == 0 ? Out::na() : Out::at(at);
        return Out::number(scaled(watts * 1000, 1'000'000, f));
      }
      case Q::voltage:
      case Q::current:
      case Q::active_power:
      case Q::reactive_power:
      case Q::power_factor:
      case Q::frequency:
        return instantaneous(item.quantity, phase, f);
      case Q::power_down_count:
        return Out::number(power_down_count(meter_, UtcMillis{meter_now_}));
      case Q::power_down_record: {
        const auto event = power_down_event(meter_, UtcMillis{meter_now_}, static_cast<int>(s.back));
        if (!event) return Out::na();
        return Out::at(field_index == 0 ? event->first : event->second);
      }
      case Q::cover_open_count:
        return Out::number(0);
      case Q::date_weekday:
      case Q::time_of_day:
        return Out::at(meter_now_);
      case Q::comm_address: {
        Out o;
        o.kind = Out::Kind::address;
        o.address = meter_.address_at(now_);
        return o;
      }
      case Q::daily_freeze_time:
        return Out::at(daily_freeze(s.back));
      case Q::daily_freeze_forward_active_energy:
      case Q::daily_freeze_reverse_active_energy: {
        const auto r = meter_.dlt645_registers_at(meter_.true_instant_of(UtcMillis{daily_freeze(s.back)}));
        const bool forward = item.quantity == Q::daily_freeze_forward_active_energy;
        return Out::number(scaled(energy(forward ? Q::forward_active_energy : Q::reverse_active_energy, r, tariff), 1000, f));
      }
      case Q::hourly_freeze_time:
        return Out::at(hourly_freeze(s.back));
      case Q::hourly_freeze_forward_active_energy:
      case Q::hourly_freeze_reverse_active_energy: {
        const auto r = meter_.dlt645_registers_at(meter_.true_instant_of(UtcMillis{hourly_freeze(s.back)}));
        return Out::number(scaled(item.quantity == Q::hourly_freeze_forward_active_energy ? r.forward_wh : r.reverse_wh,
                                  1000, f));
      }
      case Q::load_profile:
        return std::nullopt;  // handled by answer_load_profile()
    }
    return std::nullopt;
  }

 private:
  static std::int64_t energy(Q q, const Registers& r, unsigned tariff) {
    const auto pick = [tariff](std::int64_t total, const std::array<std::int64_t, kTariffs>& t) {
      return tariff == 0 ? total : t[tariff - 1];
    };
    const auto forward = pick(r.forward_wh, r.forward_tariff_wh);
    const auto reverse = pick(r.reverse_wh, r.reverse_tariff_wh);
    // Reactive energy is not modelled separately: a fixed share of the active flow (Q1 import, Q4 export).
    const auto q1 = forward / 4;
    const auto q4 = reverse / 10;
    switch (q) {
      case Q::combined_active_energy: return forward + reverse;
      case Q::forward_active_energy: return forward;
      case Q::reverse_active_energy: return reverse;
      case Q::combined_reactive_energy_1:
      case Q::reactive_energy_q1: return q1;
      case Q::combined_reactive_energy_2:
      case Q::reactive_energy_q4: return q4;
      default: return 0;  // quadrants II and III stay empty
    }
  }

  // The n-th previous settlement: 00:00 local on the 1st of the month.
  UtcMillis settlement(unsigned n) const {
    return meter_.true_instant_of(UtcMillis{local_month_start(meter_now_, offset_, static_cast<int>(n) - 1)});
  }

  UtcSeconds daily_freeze(unsigned back) const { return local_midnight(meter_now_, offset_) - days{back - 1}; }
  // Local whole hours (a UTC+5:30 meter freezes at :30 UTC).
  UtcSeconds hourly_freeze(unsigned back) const {
    return floor<hours>(meter_now_ + minutes{offset_}) - minutes{offset_} - hours{back - 1};
  }

  // Largest 15-minute average power (W) in the settlement period and the start of that slot.
  std::pair<std::int64_t, UtcSeconds> max_demand(bool forward, unsigned tariff, unsigned settlement_day) const {
    const auto begin = local_month_start(meter_now_, offset_, static_cast<int>(settlement_day));
    const auto end = settlement_day == 0 ? meter_now_ : local_month_start(meter_now_, offset_, static_cast<int>(settlement_day) - 1);
    const auto& load = meter_.load();
    std::int64_t best = 0;
    UtcSeconds best_at = begin;
    const auto first = load.local_slot_of(UtcMillis{begin});
    const auto last = load.local_slot_of(UtcMillis{end});
    for (auto k = first; k < last; ++k) {
      if (tariff != 0 && tariff_of_local_slot(static_cast<int>(((k % kSlotsPerDay) + kSlotsPerDay) % kSlotsPerDay)) !=
                             static_cast<int>(tariff))
        continue;
      const auto e = load.slot_energy_mwh(k);
      const auto watts = (forward ? e : -e) * 4 / 1000;
      if (watts > best) {
        best = watts;
        best_at = begin + seconds{(k - first) * kSlotSeconds};
      }
    }
    return {best, best_at};
  }

  std::optional<Out> instantaneous(Q q, unsigned phase, const Field& f) const {
    const auto v = meter_.instantaneous_at(now_);
    const bool phase_only = q == Q::voltage || q == Q::current;
    if ((phase_only && (phase < 1 || phase > 3)) || phase > 3) return std::nullopt;
    const auto p = static_cast<std::size_t>(phase_only ? phase - 1 : (phase == 0 ? 0 : phase - 1));
    switch (q) {
      case Q::voltage: return Out::number(scaled(v.voltage_mv[p], 1000, f));
      case Q::current: {
        const auto ma = v.active_power_mw < 0 && f.is_signed ? -v.current_ma[p] : v.current_ma[p];
        return Out::number(scaled(ma, 1000, f));
      }
      case Q::active_power: {
        // Total = the sum; each phase carries a third.
        const auto mw = phase == 0 ? v.active_power_mw : v.active_power_mw / 3;
        return Out::number(scaled(f.is_signed ? mw : std::abs(mw), 1'000'000, f));
      }
      case Q::reactive_power: {
        const auto mw = phase == 0 ? v.active_power_mw : v.active_power_mw / 3;
        return Out::number(scaled(mw / 3, 1'000'000, f));  // tan(phi) ~ 1/3 at PF ~0.95
      }
      case Q::power_factor: return Out::number(scaled(v.power_factor_permille, 1000, f));
      case Q::frequency: return Out::number(scaled(v.frequency_mhz, 1000, f));
      default: return std::nullopt;
    }
  }

  const SimMeter& meter_;
  UtcMillis now_;
  UtcSeconds meter_now_;
  int offset_;
};

// Up to 8 records from `first`, at most `count`; the rest waits in the meter's follow-up cursor.
// `seq` is set for a 12H follow-up.
Frame load_profile_frame(SimMeter& meter, std::uint32_t di, UtcSeconds first, int count, UtcMillis now,
                         std::optional<std::uint8_t> seq) {
  const auto& address = meter.address_at(now);
  const int offset = meter.spec().utc_offset_minutes;
  const auto period = duration_cast<seconds>(kLoadProfilePeriod);
  // A record exists once the meter's clock has reached its time.
  const auto latest = floor_to_interval(floor<seconds>(meter.meter_clock(now)), period);
  std::vector<std::uint8_t> value;
  int records = 0;
  auto t = first;
  for (; records < std::min(count, kMaxLoadProfileRecordsPerFrame) && t <= latest; t += period, ++records) {
    const auto r = meter.dlt645_registers_at(meter.true_instant_of(UtcMillis{t}));
    dlt645::append_load_profile_record(
        dlt645::LoadProfileRecord{dlt645::to_meter_time(t, offset), r.forward_wh, r.reverse_wh}, value);
  }
  auto& cursor = meter.load_profile_cursor();
  const bool more = records < count && t <= latest;
  cursor = more ? LoadProfileCursor{di, t, static_cast<std::uint16_t>(count - records)} : LoadProfileCursor{};
  const auto fn = seq ? dlt645::fn2007::read_follow_up : dlt645::fn2007::read;
  if (records == 0) return dlt645::make_abnormal_reply(address, fn, kErrNoData);
  if (seq) return dlt645::make_read_follow_up_reply(address, di, value, *seq, more);
  return dlt645::make_read_reply(Edition::v2007, address, di, value, more);
}

std::optional<Frame> answer_load_profile(SimMeter& meter, const dlt645::Message& request, UtcMillis now) {
  const auto& address = meter.address_at(now);
  if (!request.count || *request.count == 0)
    return dlt645::make_abnormal_reply(address, dlt645::fn2007::read, kErrOther);
  const int offset = meter.spec().utc_offset_minutes;
  const auto period = duration_cast<seconds>(kLoadProfilePeriod);
  // A meter without a load profile configured has no records at all (its freezes still answer).
  if (meter.spec().load_profile_hours <= 0)
    return dlt645::make_abnormal_reply(address, dlt645::fn2007::read, kErrNoData);
  // Memory reaches back the meter's load-profile depth (kLoadProfileDepth unless the fleet says less).
  const auto latest = floor_to_interval(floor<seconds>(meter.meter_clock(now)), period);
  const auto earliest = latest - duration_cast<seconds>(hours{meter.spec().load_profile_hours});
  UtcSeconds first = earliest;
  if (*request.di == dlt645::kDiLoadProfileFromTime) {
    if (!request.time) return dlt645::make_abnormal_reply(address, dlt645::fn2007::read, kErrOther);
    const auto start = dlt645::to_utc(*request.time, offset);
    if (!start) return dlt645::make_abnormal_reply(address, dlt645::fn2007::read, kErrOther);
    // The first record at or after the requested time; a start the memory no longer holds is
    // "no requested data" (a reply starting later would not answer the time asked for).
    const auto floored = floor_to_interval(*start, period);
    first = floored == *start ? floored : floored + period;
    if (first < earliest) return dlt645::make_abnormal_reply(address, dlt645::fn2007::read, kErrNoData);
  } else if (*request.di == dlt645::kDiLoadProfileLatest) {
    first = std::max(latest - period * (*request.count - 1), earliest);
  }
  return load_profile_frame(meter, *request.di, first, *request.count, now, std::nullopt);
}

std::optional<Frame> answer_follow_up(SimMeter& meter, const dlt645::Message& request, UtcMillis now) {
  const auto& cursor = meter.load_profile_cursor();
  if (cursor.remaining == 0 || !request.di || cursor.di != *request.di || !request.seq)
    return dlt645::make_abnormal_reply(meter.address_at(now), dlt645::fn2007::read_follow_up, kErrNoData);
  return load_profile_frame(meter, cursor.di, cursor.next, cursor.remaining, now, request.seq);
}

std::optional<Frame> answer_read(SimMeter& meter, Edition edition, const dlt645::Message& request,
                                 UtcMillis now) {
  const auto& address = meter.address_at(now);
  const auto read_fn = edition == Edition::v2007 ? dlt645::fn2007::read : dlt645::fn1997::read;
  const auto no_data = [&] { return dlt645::make_abnormal_reply(address, read_fn, kErrNoData); };
  const auto di = *request.di;
  if (edition == Edition::v2007 && (di & 0xFFFFFF00u) == 0x06000000u) return answer_load_profile(meter, request, now);
  const auto selection = select(edition, di);
  if (selection.item == nullptr) return no_data();
  const auto& item = *selection.item;
  std::size_t records = 1;
  switch (item.layout) {
    case dlt645::BlockLayout::single: records = 1; break;
    case dlt645::BlockLayout::total_and_tariffs: records = 1 + kTariffs; break;
    case dlt645::BlockLayout::phases: records = 3; break;
    case dlt645::BlockLayout::total_and_phases: records = 4; break;
  }
  const ReadContext context(meter, now);
  std::vector<std::uint8_t> value;
  for (std::size_t r = 0; r < records; ++r) {
    for (std::size_t f = 0; f < item.field_count; ++f) {
      const auto v = context.value(selection, r, f);
      if (!v) return no_data();
      encode(item.fields[f], *v, meter.spec().utc_offset_minutes, value);
    }
  }
  return dlt645::make_read_reply(edition, address, di, value);
}

}  // namespace

std::optional<dlt645::Frame> answer_dlt645(SimMeter& meter, Edition edition, const dlt645::Frame& request,
                                           UtcMillis now) {
  if (request.control.from_meter() || request.address.is_broadcast()) return std::nullopt;
  const auto& address = meter.address_at(now);
  dlt645::Message message;
  const auto status = dlt645::parse_message(request, edition, message);
  if (!status.ok()) {
    if (status.error == dlt645::MessageError::unknown_function) return std::nullopt;  // not for this edition's meters
    return dlt645::make_abnormal_reply(address, request.control.function(), kErrOther);
  }
  switch (message.kind) {
    case dlt645::MessageKind::read:
      return answer_read(meter, edition, message, now);
    case dlt645::MessageKind::read_follow_up:
      if (edition == Edition::v2007) return answer_follow_up(meter, message, now);
      return dlt645::make_abnormal_reply(address, request.control.function(), kErrNoData);
    case dlt645::MessageKind::read_address:
      return dlt645::make_read_address_reply(address);
    case dlt645::MessageKind::freeze:
      return dlt645::make_normal_reply(address, request.control.function());
    default:
      return dlt645::make_abnormal_reply(address, request.control.function(), kErrOther);
  }
}

namespace {
constexpr int kPowerDownOneDayIn = 20;  // a power cut every ~20 days
// The power cut of local day `day` (days since 1970 in meter local time), if any.
std::optional<std::pair<UtcSeconds, UtcSeconds>> power_down_on_day(const SimMeter& meter, std::int64_t day) {
  const auto h = mix64(meter.spec().key * 0x9E37ull ^ mix64(static_cast<std::uint64_t>(day)));
  if (h % kPowerDownOneDayIn != 0) return std::nullopt;
  const auto start_minute = static_cast<std::int64_t>((h >> 8) % (24 * 60));
  const auto length_minutes = 1 + static_cast<std::int64_t>((h >> 24) % 120);
  const auto start = UtcSeconds{days{day}} + minutes{start_minute} - minutes{meter.spec().utc_offset_minutes};
  return std::pair{start, start + minutes{length_minutes}};
}
std::int64_t local_day_of(const SimMeter& meter, UtcSeconds t) {
  return floor<days>(t + minutes{meter.spec().utc_offset_minutes}).time_since_epoch().count();
}
}  // namespace

std::optional<std::pair<UtcSeconds, UtcSeconds>> power_down_event(const SimMeter& meter, UtcMillis meter_now, int n) {
  if (n < 1) return std::nullopt;
  const auto now = floor<seconds>(meter_now);
  const auto first_day = local_day_of(meter, LoadModel::epoch());
  for (auto day = local_day_of(meter, now); day >= first_day; --day) {
    const auto event = power_down_on_day(meter, day);
    if (!event || event->second > now) continue;  // a cut still going on is not recorded yet
    if (--n == 0) return event;
  }
  return std::nullopt;
}

std::int64_t power_down_count(const SimMeter& meter, UtcMillis meter_now) {
  const auto now = floor<seconds>(meter_now);
  std::int64_t count = 0;
  for (auto day = local_day_of(meter, LoadModel::epoch()); day <= local_day_of(meter, now); ++day) {
    const auto event = power_down_on_day(meter, day);
    if (event && event->second <= now) ++count;
  }
  return count;
}

}  // namespace ami::sim
