#include "protocols/dlt645/datetime.hpp"

#include "protocols/dlt645/bcd.hpp"

namespace ami::dlt645 {
namespace {

std::uint8_t to_bcd_byte(int v) { return static_cast<std::uint8_t>(((v / 10) << 4) | (v % 10)); }

std::optional<int> from_bcd_byte(std::uint8_t b) {
  if ((b >> 4) > 9 || (b & 0x0F) > 9) return std::nullopt;
  return (b >> 4) * 10 + (b & 0x0F);
}

bool valid(const MeterDateTime& t) {
  using namespace std::chrono;
  const year_month_day ymd{year{t.year}, month{static_cast<unsigned>(t.month)}, day{static_cast<unsigned>(t.day)}};
  return t.year >= 2000 && t.year <= 2099 && ymd.ok() && t.hour >= 0 && t.hour <= 23 && t.minute >= 0 &&
         t.minute <= 59 && t.second >= 0 && t.second <= 59;
}

}  // namespace

MeterDateTime to_meter_time(UtcSeconds utc, int utc_offset_minutes) {
  using namespace std::chrono;
  const auto local = utc + minutes{utc_offset_minutes};
  const auto day_point = floor<days>(local);
  const year_month_day ymd{day_point};
  const hh_mm_ss hms{local - day_point};
  return MeterDateTime{static_cast<int>(ymd.year()), static_cast<int>(static_cast<unsigned>(ymd.month())),
                       static_cast<int>(static_cast<unsigned>(ymd.day())), static_cast<int>(hms.hours().count()),
                       static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count())};
}

std::optional<UtcSeconds> to_utc(const MeterDateTime& t, int utc_offset_minutes) {
  if (!valid(t)) return std::nullopt;
  using namespace std::chrono;
  const year_month_day ymd{year{t.year}, month{static_cast<unsigned>(t.month)}, day{static_cast<unsigned>(t.day)}};
  return UtcSeconds{sys_days{ymd}.time_since_epoch() + hours{t.hour} + minutes{t.minute} + seconds{t.second} -
                    minutes{utc_offset_minutes}};
}

bool encode_yymmddhhmm(const MeterDateTime& t, std::span<std::uint8_t, 5> out) {
  if (!valid(t)) return false;
  out[0] = to_bcd_byte(t.minute);
  out[1] = to_bcd_byte(t.hour);
  out[2] = to_bcd_byte(t.day);
  out[3] = to_bcd_byte(t.month);
  out[4] = to_bcd_byte(t.year - 2000);
  return true;
}

std::optional<MeterDateTime> decode_yymmddhhmm(std::span<const std::uint8_t> in) {
  if (in.size() != 5 || is_all_ff(in)) return std::nullopt;
  MeterDateTime t;
  const auto mi = from_bcd_byte(in[0]), h = from_bcd_byte(in[1]), d = from_bcd_byte(in[2]),
             mo = from_bcd_byte(in[3]), y = from_bcd_byte(in[4]);
  if (!mi || !h || !d || !mo || !y) return std::nullopt;
  t = MeterDateTime{2000 + *y, *mo, *d, *h, *mi, 0};
  if (!valid(t)) return std::nullopt;
  return t;
}

bool encode_yymmddhhmmss(const MeterDateTime& t, std::span<std::uint8_t, 6> out) {
  if (!valid(t)) return false;
  out[0] = to_bcd_byte(t.second);
  return encode_yymmddhhmm(t, std::span<std::uint8_t, 5>(out.data() + 1, 5));
}

std::optional<MeterDateTime> decode_yymmddhhmmss(std::span<const std::uint8_t> in) {
  if (in.size() != 6 || is_all_ff(in)) return std::nullopt;
  const auto s = from_bcd_byte(in[0]);
  auto t = decode_yymmddhhmm(in.subspan(1));
  if (!s || !t || *s > 59) return std::nullopt;
  t->second = *s;
  return t;
}

}  // namespace ami::dlt645
