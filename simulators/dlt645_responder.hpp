// The DL/T 645-2007 side of a simulated meter: request frame in, reply frame (or silence) out.
//
// Pure: the reply depends only on (meter, request, simulated instant); no sockets, no clocks read.
// Supported: 11H read of energy registers (00010000, 00020000, blocks 0001FF00 / 0002FF00), date
// and time (04000101, 04000102), communication address (04000401) and load-profile records
// (06000000/01/02, 15-minute records kept for kLoadProfileDepth); 13H read address. Unsupported
// DIs get the abnormal reply D1 with ERR bit1 "no requested data"; other function codes get the
// abnormal reply with ERR bit0 "other error". Broadcast frames get no reply.
// Any thread (const inputs only). Never throws.
#pragma once

#include <optional>

#include "protocols/dlt645/frame.hpp"
#include "simulators/meter.hpp"

namespace ami::sim {

inline constexpr std::chrono::hours kLoadProfileDepth{24 * 62};
inline constexpr std::chrono::minutes kLoadProfilePeriod{15};
// Records that fit one reply frame within the 200-byte read limit (4 DI bytes + 24 per record).
inline constexpr int kMaxLoadProfileRecordsPerFrame = 8;

inline constexpr std::uint8_t kErrOther = 0x01;
inline constexpr std::uint8_t kErrNoData = 0x02;

// `request` must be addressed to this meter (or be a wildcard / broadcast the bus resolved).
std::optional<dlt645::Frame> answer_dlt645_2007(const SimMeter& meter, const dlt645::Frame& request, UtcMillis now);

}  // namespace ami::sim
