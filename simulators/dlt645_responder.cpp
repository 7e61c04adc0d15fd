#include "simulators/dlt645_responder.hpp"

#include <algorithm>

#include "protocols/dlt645/bcd.hpp"
#include "protocols/dlt645/datetime.hpp"
#include "protocols/dlt645/load_profile.hpp"
#include "protocols/dlt645/read.hpp"

namespace ami::sim {
namespace {

using dlt645::Control;
using dlt645::Frame;

constexpr std::uint8_t kFnReadAddress = 0x13;
constexpr std::uint32_t kDiForwardActiveBlock = 0x0001FF00;
constexpr std::uint32_t kDiReverseActiveBlock = 0x0002FF00;
constexpr std::uint32_t kDiDateWeekday = 0x04000101;
constexpr std::uint32_t kDiTime = 0x04000102;
constexpr std::uint32_t kDiCommAddress = 0x04000401;

Frame abnormal_reply(const SimMeter& meter, std::uint8_t function, std::uint8_t err) {
  return Frame{meter.spec().address, Control::abnormal_reply(function), {err}};
}

std::uint8_t bcd_byte(int v) { return static_cast<std::uint8_t>(((v / 10) << 4) | (v % 10)); }

void append_energy(std::int64_t exposed_wh, std::vector<std::uint8_t>& out) {
  std::uint8_t v[4];
  dlt645::encode_bcd(static_cast<std::uint64_t>(exposed_wh / kDlt645ResolutionWh), v);
  out.insert(out.end(), v, v + 4);
}

// Energy DIs 0001/0002 tt 00 (tt = 00 total, 01..04 tariff, FF block). False: not an energy DI we hold.
bool append_energy_value(const SimMeter& meter, std::uint32_t di, UtcMillis now, std::vector<std::uint8_t>& out) {
  const auto di3_di2 = di >> 16;
  const auto tariff = (di >> 8) & 0xFF;
  if ((di & 0xFF) != 0 || (di3_di2 != 0x0001 && di3_di2 != 0x0002)) return false;
  if (tariff > kTariffs && tariff != 0xFF) return false;
  const auto r = meter.exposed_registers_at(now);
  const bool forward = di3_di2 == 0x0001;
  const auto& tariffs = forward ? r.forward_tariff_wh : r.reverse_tariff_wh;
  const auto total = forward ? r.forward_wh : r.reverse_wh;
  if (tariff == 0 || tariff == 0xFF) append_energy(total, out);
  if (tariff == 0xFF)
    for (const auto wh : tariffs) append_energy(wh, out);
  if (tariff >= 1 && tariff <= kTariffs) append_energy(tariffs[tariff - 1], out);
  return true;
}

std::optional<Frame> answer_load_profile(const SimMeter& meter, std::span<const std::uint8_t> data, UtcMillis now) {
  const auto request = dlt645::parse_load_profile_request(data);
  if (!request) return abnormal_reply(meter, dlt645::kFnRead, kErrOther);
  const int offset = meter.spec().utc_offset_minutes;
  const auto period = std::chrono::duration_cast<std::chrono::seconds>(kLoadProfilePeriod);
  // A record exists once the meter's clock has reached its time; memory reaches back kLoadProfileDepth.
  const auto meter_now = std::chrono::floor<std::chrono::seconds>(meter.meter_clock(now));
  const auto latest = floor_to_interval(meter_now, period);
  const auto earliest = latest - std::chrono::duration_cast<std::chrono::seconds>(kLoadProfileDepth);
  UtcSeconds first = earliest;
  if (request->di == dlt645::kDiLoadProfileFromTime) {
    const auto start = dlt645::to_utc(*request->start, offset);
    if (!start) return abnormal_reply(meter, dlt645::kFnRead, kErrOther);
    // The first record at or after the requested time.
    const auto floored = floor_to_interval(*start, period);
    first = std::max(floored == *start ? floored : floored + period, earliest);
  } else if (request->di == dlt645::kDiLoadProfileLatest) {
    first = std::max(latest - period * (request->count - 1), earliest);
  }
  const int wanted = std::min<int>(request->count, kMaxLoadProfileRecordsPerFrame);
  Frame reply{meter.spec().address, Control::reply(dlt645::kFnRead), {}};
  dlt645::append_di(request->di, reply.data);
  int records = 0;
  for (auto t = first; records < wanted && t <= latest; t += period, ++records) {
    const auto r = meter.exposed_registers_at(meter.true_instant_of(UtcMillis{t}));
    dlt645::append_load_profile_record(
        dlt645::LoadProfileRecord{dlt645::to_meter_time(t, offset), r.forward_wh, r.reverse_wh}, reply.data);
  }
  if (records == 0) return abnormal_reply(meter, dlt645::kFnRead, kErrNoData);
  return reply;
}

std::optional<Frame> answer_read(const SimMeter& meter, const Frame& request, UtcMillis now) {
  if (request.data.size() < 4) return abnormal_reply(meter, dlt645::kFnRead, kErrOther);
  const auto di = static_cast<std::uint32_t>(request.data[0]) | static_cast<std::uint32_t>(request.data[1]) << 8 |
                  static_cast<std::uint32_t>(request.data[2]) << 16 |
                  static_cast<std::uint32_t>(request.data[3]) << 24;
  if ((di & 0xFFFFFF00u) == 0x06000000u) return answer_load_profile(meter, request.data, now);

  Frame reply{meter.spec().address, Control::reply(dlt645::kFnRead), {}};
  dlt645::append_di(di, reply.data);
  const int offset = meter.spec().utc_offset_minutes;
  const auto local = dlt645::to_meter_time(std::chrono::floor<std::chrono::seconds>(meter.meter_clock(now)), offset);
  if (append_energy_value(meter, di, now, reply.data)) return reply;
  switch (di) {
    case kDiDateWeekday: {
      using namespace std::chrono;
      const year_month_day ymd{year{local.year}, month{static_cast<unsigned>(local.month)},
                               day{static_cast<unsigned>(local.day)}};
      const auto weekday_number = static_cast<int>(weekday{sys_days{ymd}}.c_encoding());  // 0 = Sunday
      reply.data.insert(reply.data.end(), {bcd_byte(weekday_number), bcd_byte(local.day), bcd_byte(local.month),
                                           bcd_byte(local.year - 2000)});
      return reply;
    }
    case kDiTime:
      reply.data.insert(reply.data.end(), {bcd_byte(local.second), bcd_byte(local.minute), bcd_byte(local.hour)});
      return reply;
    case kDiCommAddress: {
      const auto& wire = meter.spec().address.wire();
      reply.data.insert(reply.data.end(), wire.begin(), wire.end());
      return reply;
    }
    default:
      return abnormal_reply(meter, dlt645::kFnRead, kErrNoData);
  }
}

}  // namespace

std::optional<dlt645::Frame> answer_dlt645_2007(const SimMeter& meter, const dlt645::Frame& request, UtcMillis now) {
  if (request.control.from_meter() || request.address.is_broadcast()) return std::nullopt;
  switch (request.control.function()) {
    case dlt645::kFnRead:
      return answer_read(meter, request, now);
    case kFnReadAddress: {
      const auto& wire = meter.spec().address.wire();
      return Frame{meter.spec().address, Control::reply(kFnReadAddress), {wire.begin(), wire.end()}};
    }
    default:
      return abnormal_reply(meter, request.control.function(), kErrOther);
  }
}

}  // namespace ami::sim
