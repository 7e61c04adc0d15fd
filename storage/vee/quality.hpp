// VEE quality flags and their IEC 61968-9 ReadingQualityType codes ("system.category.index").
//
// Internally an interval carries a bit set of Flag values (cheap to combine and compare in the
// hot path); the store and the feed carry the code strings. System 2 = head-end. Indices below
// 1000 are the standard's; 2.6.1001..2.6.1007 are this project's validation-rule indices (the
// standard leaves vendor rule numbers to implementations). The table is docs/VEE.md "Codes".
//
// Ownership/threads: pure values and functions; any thread. Errors: flags_from_codes() ignores
// codes it does not know (they belong to somebody else) and never throws.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ami::storage::vee {

enum class Flag : std::uint32_t {
  skipped_interval = 1U << 0,    // 2.4.4    no actual data for the interval (gap)
  estimated = 1U << 1,           // 2.8.0    head-end estimate (method travels separately)
  time_tolerance = 1U << 2,      // 2.6.1001 read too far from its boundary, or meter clock off
  duplicate_conflict = 1U << 3,  // 2.6.1002 two reads for one boundary disagree
  reverse_rotation = 1U << 4,    // 2.3.4    register went down (reverse energy / tamper)
  rollover = 1U << 5,            // 2.6.1005 register wrapped past its dial maximum
  meter_replaced = 1U << 6,      // 2.6.1006 a meter replacement falls inside the interval
  spike = 1U << 7,               // 2.6.1003 far above the day's third-highest interval
  usage_high = 1U << 8,          // 2.6.3    above the meter's own history
  usage_low = 1U << 9,           // 2.6.4    below the meter's own history
  zero_usage = 1U << 10,         // 2.6.1    part of a long run of zero intervals
  sum_check = 1U << 11,          // 2.6.1004 intervals do not add up to the register delta
  clock_set_forward = 1U << 12,  // 2.4.64   meter clock set forward inside the interval
  clock_set_backward = 1U << 13, // 2.4.128  meter clock set back inside the interval
  power_down = 1U << 14,         // 2.2.32   power failure inside the interval
  outlier_read = 1U << 15,       // 2.6.1007 a register read out of line with its neighbours
};

using Flags = std::uint32_t;

constexpr Flags operator|(Flag a, Flag b) {
  return static_cast<Flags>(a) | static_cast<Flags>(b);
}
constexpr Flags operator|(Flags a, Flag b) { return a | static_cast<Flags>(b); }
constexpr bool has(Flags flags, Flag f) { return (flags & static_cast<Flags>(f)) != 0; }
constexpr void set(Flags& flags, Flag f) { flags |= static_cast<Flags>(f); }

// Every flag, in the order its code is emitted.
std::span<const Flag> all_flags();

// "2.6.1003" for Flag::spike, etc.
std::string_view quality_code(Flag flag);
// Short English name for logs and docs ("spike").
std::string_view flag_name(Flag flag);

// Codes of every flag set, in all_flags() order (empty for no flags: no allocation).
std::vector<std::string> quality_codes(Flags flags);
// Inverse of quality_codes(); codes this library does not own are ignored.
Flags flags_from_codes(std::span<const std::string> codes);

// "spike,usage_high" (for test messages and logs).
std::string describe(Flags flags);

}  // namespace ami::storage::vee
