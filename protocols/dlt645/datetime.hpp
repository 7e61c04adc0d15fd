// Meter-local date/time fields of DL/T 645 (BCD, low byte first on the wire: ss mm hh DD MM YY).
// Meters keep local time (usually UTC+8); conversion to UTC happens here, at the edge, with the
// meter's configured offset. Pure; never throws. decode_* return std::nullopt for non-BCD,
// out-of-range or all-FF fields.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "protocols/common/clock.hpp"

namespace ami::dlt645 {

struct MeterDateTime {
  int year = 2000;  // 2000..2099
  int month = 1;
  int day = 1;
  int hour = 0;
  int minute = 0;
  int second = 0;
  friend bool operator==(const MeterDateTime&, const MeterDateTime&) = default;
};

MeterDateTime to_meter_time(UtcSeconds utc, int utc_offset_minutes);
std::optional<UtcSeconds> to_utc(const MeterDateTime& local, int utc_offset_minutes);

// YYMMDDhhmm: 5 bytes on the wire as mm hh DD MM YY.
bool encode_yymmddhhmm(const MeterDateTime& t, std::span<std::uint8_t, 5> out);
std::optional<MeterDateTime> decode_yymmddhhmm(std::span<const std::uint8_t> in);
// YYMMDDhhmmss: 6 bytes on the wire as ss mm hh DD MM YY (also the 08H broadcast time sync body).
bool encode_yymmddhhmmss(const MeterDateTime& t, std::span<std::uint8_t, 6> out);
std::optional<MeterDateTime> decode_yymmddhhmmss(std::span<const std::uint8_t> in);

}  // namespace ami::dlt645
