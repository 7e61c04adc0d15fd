#include "protocols/common/clock.hpp"

#include <charconv>
#include <cstdio>

namespace ami {
namespace {

UtcMillis wall_now() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

bool parse_int(std::string_view s, int& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

}  // namespace

Clock Clock::real() { return Clock(UtcMillis{}, 1, UtcMillis{}); }

Clock Clock::accelerated(UtcMillis sim_start, std::int64_t speed, UtcMillis real_anchor) {
  return Clock(sim_start, speed < 1 ? 1 : speed, real_anchor);
}

UtcMillis Clock::to_sim(UtcMillis real) const {
  return sim_start_ + (real - real_anchor_) * speed_;
}

UtcMillis Clock::to_real(UtcMillis sim) const {
  return real_anchor_ + (sim - sim_start_) / speed_;
}

UtcMillis Clock::now() const { return to_sim(wall_now()); }

std::chrono::microseconds Clock::real_wait(std::chrono::milliseconds sim) const {
  if (sim.count() <= 0) return std::chrono::microseconds{0};
  return std::chrono::duration_cast<std::chrono::microseconds>(sim) / speed_;
}

std::optional<Clock> make_clock(const ClockSpec& spec, std::string& error) {
  if (spec.mode == "real") return Clock::real();
  if (spec.mode != "accelerated") {
    error = "clock mode '" + spec.mode + "' is not 'real' or 'accelerated'";
    return std::nullopt;
  }
  if (spec.speed < 1 || spec.speed > 1'000'000) {
    error = "clock speed " + std::to_string(spec.speed) + " is outside 1..1000000";
    return std::nullopt;
  }
  auto start = parse_utc(spec.start);
  if (!start) {
    error = "clock start '" + spec.start + "' is not an ISO-8601 UTC time such as 2026-01-05T00:00:00Z";
    return std::nullopt;
  }
  const UtcMillis anchor = spec.anchor_unix_ms
                               ? UtcMillis{std::chrono::milliseconds{*spec.anchor_unix_ms}}
                               : wall_now();
  return Clock::accelerated(UtcMillis{*start}, spec.speed, anchor);
}

std::optional<UtcSeconds> parse_utc(std::string_view t) {
  // YYYY-MM-DDTHH:MM[:SS][Z|+00:00]
  if (t.size() < 16 || t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != ' ') || t[13] != ':')
    return std::nullopt;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!parse_int(t.substr(0, 4), y) || !parse_int(t.substr(5, 2), mo) || !parse_int(t.substr(8, 2), d) ||
      !parse_int(t.substr(11, 2), h) || !parse_int(t.substr(14, 2), mi))
    return std::nullopt;
  std::string_view rest = t.substr(16);
  if (!rest.empty() && rest[0] == ':') {
    if (rest.size() < 3 || !parse_int(rest.substr(1, 2), s)) return std::nullopt;
    rest = rest.substr(3);
  }
  if (!(rest.empty() || rest == "Z" || rest == "z" || rest == "+00:00")) return std::nullopt;
  using namespace std::chrono;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 60 || h < 0 || mi < 0 || s < 0) return std::nullopt;
  return UtcSeconds{sys_days{ymd}.time_since_epoch() + hours{h} + minutes{mi} + seconds{s}};
}

std::string format_utc(UtcSeconds t) {
  using namespace std::chrono;
  const auto day_point = floor<days>(t);
  const year_month_day ymd{day_point};
  const hh_mm_ss hms{t - day_point};
  char buf[64];  // room for GCC -O2 -Wformat-truncation's worst case of three %ld
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02ld:%02ld:%02ldZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<long>(hms.hours().count()), static_cast<long>(hms.minutes().count()),
                static_cast<long>(hms.seconds().count()));
  return buf;
}

std::string format_utc_ms(UtcMillis t) {
  const auto secs = std::chrono::floor<std::chrono::seconds>(t);
  const auto ms = (t - secs).count();
  std::string s = format_utc(secs);
  char buf[8];
  std::snprintf(buf, sizeof buf, ".%03lldZ", static_cast<long long>(ms));
  s.pop_back();
  return s + buf;
}

}  // namespace ami
