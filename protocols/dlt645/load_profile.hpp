// DL/T 645-2007 load-profile (负荷记录) requests and records, the boundary snapshots the collection
// slice reads so that interval energy is exact whatever the read's own latency.
//
// Request (function 11H): DI + NN (BCD count of records) [+ mm hh DD MM YY start for 06000001].
// Reply value: NN records back to back, each
//   A0 A0 L  mm hh DD MM YY  block1 AA block2 AA block3 AA block4 AA block5 AA block6 AA  CS E5
// where L counts the bytes from the time through the last AA, CS is the byte sum mod 256 from the
// first A0 through the last AA, and an empty block is just its AA separator. Block 4 carries
// forward active, reverse active, combined reactive 1 and 2 totals, each XXXXXX.XX kWh/kvarh (4 bytes);
// this codec reads and writes the two active totals and leaves other blocks empty or skips them.
// The byte order of NN vs time was not checked against the standard (see reference/dlt645.md).
// Pure; never throws.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "protocols/dlt645/datetime.hpp"
#include "protocols/dlt645/frame.hpp"

namespace ami::dlt645 {

inline constexpr std::uint32_t kDiLoadProfileEarliest = 0x06000000;
inline constexpr std::uint32_t kDiLoadProfileFromTime = 0x06000001;
inline constexpr std::uint32_t kDiLoadProfileLatest = 0x06000002;

struct LoadProfileRecord {
  MeterDateTime time;                   // meter local time of the snapshot (interval boundary)
  std::optional<std::int64_t> forward_active_wh;  // nullopt when the block is absent or all FF
  std::optional<std::int64_t> reverse_active_wh;
  friend bool operator==(const LoadProfileRecord&, const LoadProfileRecord&) = default;
};

// Read `count` (1..99) records starting at `start` (meter local time).
Frame make_load_profile_request(const Address& address, std::uint8_t count, const MeterDateTime& start);

// Appends one record to `out` (used by the simulator).
void append_load_profile_record(const LoadProfileRecord& record, std::vector<std::uint8_t>& out);

enum class LoadProfileError : std::uint8_t { none, truncated, bad_marker, bad_checksum, bad_time, bad_block };

// Parses the records in a reply value (after the DI). Stops at the first error and reports it.
LoadProfileError parse_load_profile_records(std::span<const std::uint8_t> value, std::vector<LoadProfileRecord>& out);

// Parses a load-profile request's DATA (DI + NN + time) as the meter sees it.
struct LoadProfileRequest {
  std::uint32_t di = 0;
  std::uint8_t count = 0;
  std::optional<MeterDateTime> start;  // present for 06000001
};
std::optional<LoadProfileRequest> parse_load_profile_request(std::span<const std::uint8_t> data);

}  // namespace ami::dlt645
