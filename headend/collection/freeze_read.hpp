// Backfill from a DL/T 645-2007 meter's freezes (冻结), for meters whose load profile cannot
// supply a boundary (none configured, or shorter than the gap): the meter's hourly freezes
// (05 04 ff nn: freeze time, forward active total, reverse active total, nn = 1..254 hours back)
// and daily freezes (05 06 ff nn: the same at local midnight, nn = 1..62 days back) hold its own
// registers at those instants (reference/dlt645.md). One freeze is three reads: time, forward,
// reverse, selected by "n back" counted from the meter's current freeze, so the time read says
// which freeze the n reached (the meter's clock decides, not the head-end's).
//
// Pure (no I/O): instants, "n back", requests, which reply answers which request, and what a reply
// holds. Any thread; never throws.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "headend/collection/outcome.hpp"
#include "protocols/common/clock.hpp"
#include "protocols/dlt645/frame.hpp"

namespace ami::collection {

// none: the job reads the load profile (boundary_read.hpp).
enum class FreezeKind : std::uint8_t { none = 0, hourly, daily };
std::string_view to_string(FreezeKind kind);  // "load_profile", "hourly_freeze", "daily_freeze"

inline constexpr int kMaxHourlyFreezesBack = 254;  // 05 04 ff 01..FE
inline constexpr int kMaxDailyFreezesBack = 62;    // 05 06 ff 01..3E

// What one freeze DI carries (its DI1 byte).
enum class FreezeField : std::uint8_t { time = 0, forward_active = 1, reverse_active = 2 };

// 0504 ff nn / 0506 ff nn. `back` 1..254 (hourly) / 1..62 (daily); 0 for FreezeKind::none or out of range.
std::uint32_t freeze_di(FreezeKind kind, FreezeField field, int back);

// True when UTC instant `t` is a freeze instant of `kind` for a meter at `utc_offset_minutes`:
// a whole local hour (hourly) or local midnight (daily).
bool is_freeze_instant(FreezeKind kind, UtcSeconds t, int utc_offset_minutes);

// The newest freeze instant of `kind` at or before `meter_now` (the meter's clock, UTC).
UtcSeconds latest_freeze(FreezeKind kind, UtcMillis meter_now, int utc_offset_minutes);

// "n back" that selects the freeze at `at` while the meter's clock shows `meter_now`
// (1 = the latest freeze); nullopt when `at` is not a freeze instant, in the future, or deeper
// than the meter keeps.
std::optional<int> freeze_back(FreezeKind kind, UtcSeconds at, UtcMillis meter_now, int utc_offset_minutes);

// 11H read of one freeze DI.
dlt645::Frame make_freeze_request(const dlt645::Address& address, std::uint32_t di);

// True when `reply` (already from the right address) answers the read of `di`: a read reply
// carrying exactly that DI (a late reply for another field or another n is not an answer), or an
// abnormal read reply (it carries no DI).
bool is_freeze_reply(std::uint32_t di, const dlt645::Frame& reply);

struct FreezeFieldResult {
  Outcome outcome = Outcome::bad_reply;
  std::string detail;                 // why, for anything but ok
  std::optional<UtcSeconds> time;     // FreezeField::time, UTC
  std::optional<std::int64_t> wh;     // energy fields
};

// Decodes the reply to the read of `di` with the protocol library's catalogue. An abnormal reply
// is meter_error ("ERR 02: no_requested_data": the meter keeps no such freeze); an all-FF value
// (a freeze the meter has not taken) is missing_record.
FreezeFieldResult interpret_freeze_reply(std::uint32_t di, int utc_offset_minutes, const dlt645::Frame& reply);

}  // namespace ami::collection
