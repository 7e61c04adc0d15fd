// The DL/T 645 side of a simulated meter (2007 and 1997): request frame in, reply frame or silence out.
//
// Pure apart from the meter's own clock state: the reply depends only on (meter, request,
// simulated instant). Reads (11H / 1997 01H) answer every data identifier of the protocol
// library's catalogue (protocols/dlt645/catalogue.hpp) that this meter has: energy (total,
// 4 TOU tariffs, 12 settlement days, combined and quadrant reactive), max demand, voltage, current,
// power, power factor, frequency, power-down events, date/time, address, daily freezes (62 days),
// hourly freezes (254 hours) and 15-minute load-profile records (62 days; more than 8 records
// come in follow-up frames: B1H, then 12H requests answered with 92H/B2H). Tariffs above 4 and
// identifiers outside the catalogue get the abnormal reply with "no requested data" (1997: "wrong
// DI"). 13H read address, 16H freeze (acknowledged), 08H time sync (bus-level, see bus.hpp).
// Other functions get the abnormal reply "other error" / "illegal data".
// Any thread that owns the meter. Never throws.
#pragma once

#include <optional>

#include "protocols/dlt645/edition.hpp"
#include "protocols/dlt645/frame.hpp"
#include "simulators/meter.hpp"

namespace ami::sim {

inline constexpr std::chrono::hours kLoadProfileDepth{24 * 62};
inline constexpr std::chrono::minutes kLoadProfilePeriod{15};
// Records that fit one reply frame within the 200-byte read limit (4 DI bytes + 24 per record).
inline constexpr int kMaxLoadProfileRecordsPerFrame = 8;

inline constexpr std::uint8_t kErrOther = 0x01;
inline constexpr std::uint8_t kErrNoData = 0x02;  // 2007 bit1; 1997 bit1 is "wrong DI"

// `request` must be addressed to this meter (or be a wildcard the bus resolved to it). The meter
// is non-const only for its load-profile follow-up cursor.
std::optional<dlt645::Frame> answer_dlt645(SimMeter& meter, dlt645::Edition edition,
                                           const dlt645::Frame& request, UtcMillis now);

// The synthetic power-down history of a meter (deterministic per meter): the n-th last event
// (1 = most recent) that started before `meter_now`, as (start, end) in UTC.
std::optional<std::pair<UtcSeconds, UtcSeconds>> power_down_event(const SimMeter& meter, UtcMillis meter_now, int n);
std::int64_t power_down_count(const SimMeter& meter, UtcMillis meter_now);

}  // namespace ami::sim
