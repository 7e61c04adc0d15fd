#include "headend/collection/freeze_read.hpp"

#include <fmt/format.h>

#include <vector>

#include "headend/collection/boundary_read.hpp"
#include "protocols/dlt645/catalogue.hpp"
#include "protocols/dlt645/read.hpp"

namespace ami::collection {
namespace {

constexpr std::uint32_t kDiHourlyFreeze = 0x05040000;
constexpr std::uint32_t kDiDailyFreeze = 0x05060000;

std::chrono::seconds freeze_period(FreezeKind kind) {
  return kind == FreezeKind::daily ? std::chrono::seconds{std::chrono::days{1}} : std::chrono::seconds{std::chrono::hours{1}};
}

int max_back(FreezeKind kind) {
  return kind == FreezeKind::hourly ? kMaxHourlyFreezesBack : kind == FreezeKind::daily ? kMaxDailyFreezesBack : 0;
}

}  // namespace

std::string_view to_string(FreezeKind kind) {
  switch (kind) {
    case FreezeKind::none: return "load_profile";
    case FreezeKind::hourly: return "hourly_freeze";
    case FreezeKind::daily: return "daily_freeze";
  }
  return "?";
}

std::uint32_t freeze_di(FreezeKind kind, FreezeField field, int back) {
  if (back < 1 || back > max_back(kind)) return 0;
  const auto base = kind == FreezeKind::hourly ? kDiHourlyFreeze : kDiDailyFreeze;
  return base | static_cast<std::uint32_t>(field) << 8 | static_cast<std::uint32_t>(back);
}

bool is_freeze_instant(FreezeKind kind, UtcSeconds t, int utc_offset_minutes) {
  if (kind == FreezeKind::none) return false;
  const auto local = t + std::chrono::minutes{utc_offset_minutes};
  return (local.time_since_epoch() % freeze_period(kind)).count() == 0;
}

UtcSeconds latest_freeze(FreezeKind kind, UtcMillis meter_now, int utc_offset_minutes) {
  const auto offset = std::chrono::minutes{utc_offset_minutes};
  const auto local = std::chrono::floor<std::chrono::seconds>(meter_now) + offset;
  const auto period = freeze_period(kind);
  return UtcSeconds{local.time_since_epoch() - local.time_since_epoch() % period} - offset;
}

std::optional<int> freeze_back(FreezeKind kind, UtcSeconds at, UtcMillis meter_now, int utc_offset_minutes) {
  if (!is_freeze_instant(kind, at, utc_offset_minutes)) return std::nullopt;
  const auto latest = latest_freeze(kind, meter_now, utc_offset_minutes);
  if (at > latest) return std::nullopt;
  const auto back = static_cast<int>((latest - at) / freeze_period(kind)) + 1;
  if (back > max_back(kind)) return std::nullopt;
  return back;
}

dlt645::Frame make_freeze_request(const dlt645::Address& address, std::uint32_t di) {
  return dlt645::make_read_request(address, di);
}

bool is_freeze_reply(std::uint32_t di, const dlt645::Frame& reply) { return answers_read_of(di, reply); }

FreezeFieldResult interpret_freeze_reply(std::uint32_t di, int utc_offset_minutes, const dlt645::Frame& reply) {
  FreezeFieldResult result;
  const auto decoded = decode_read_reply(di, reply);
  if (decoded.outcome != Outcome::ok) {
    result.outcome = decoded.outcome;
    result.detail = decoded.outcome == Outcome::meter_error ? fmt::format("{:08X}: {}", di, decoded.detail)
                                                            : decoded.detail;
    return result;
  }
  const auto& first = decoded.fields.front();  // the time, or the total (daily energy also carries tariffs)
  if (!first.available) {
    result.outcome = Outcome::missing_record;
    result.detail = fmt::format("{:08X}: the meter holds no such freeze (all FF)", di);
    return result;
  }
  if (first.field->kind == dlt645::FieldKind::datetime_minutes) {
    result.time = dlt645::to_utc(first.time, utc_offset_minutes);
    if (!result.time) {
      result.detail = fmt::format("{:08X}: freeze time is not a valid local time", di);
      return result;
    }
  } else {
    result.wh = dlt645::to_wh(first.number);
    if (!result.wh) {
      result.detail = fmt::format("{:08X}: value is not an energy in kWh", di);
      return result;
    }
  }
  result.outcome = Outcome::ok;
  return result;
}

}  // namespace ami::collection
