// Plain value types shared by the staging store and its callers (daemon, CLI, tests).
//
// Ownership/threads: plain values, copy them freely; nothing here touches SQLite.
// Errors: the string <-> enum helpers return std::nullopt for unknown text; nothing throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/clock.hpp"
#include "storage/interned_string.hpp"

namespace ami::storage {

// Which register a read or interval is about. The numbers are stored in the database and match
// headend::feed::v1::ReadingKind, so never renumber them.
enum class EnergyChannel : int { forward_active = 1, reverse_active = 2 };

// Why a read was taken. Stored in the database; matches headend::feed::v1::ReadSource.
enum class ReadSource : int { scheduled = 1, on_demand = 2, backfill = 3 };

// Interval status. actual/estimated match headend::feed::v1::IntervalStatus and are published;
// suspect is stored only (held for VEE, e.g. a negative register delta) and never published.
enum class IntervalStatus : int { actual = 1, estimated = 2, suspect = 3 };

// Matches headend::feed::v1::EstimationMethod; none for anything that is not an estimate.
enum class EstimationMethod : int {
  none = 0,
  register_prorated_even = 1,
  register_prorated_shape = 2,
  linear_interpolation = 3,
  like_day = 4,
};

// One meter of the registry (docs/ARCHITECTURE.md "Meter registry CSV"). Validation rules live in
// storage/registry.hpp.
struct MeterRecord {
  std::string meter_id;
  std::string protocol;  // dlt645-2007 | dlt645-1997 | modbus-tcp | modbus-rtu | modbus-rtu-over-tcp
  std::string channel;   // tcp://HOST:PORT or serial:///dev/ttyUSB0?baud=2400&parity=E&stop=1
  std::string address;   // 12 DL/T 645 digits, or Modbus unit id 1..247
  std::string model;
  std::int64_t ct_ratio = 1;
  std::int64_t pt_ratio = 1;
  int utc_offset_minutes = 480;
  std::string usage_point;
  int interval_minutes = 15;
  bool enabled = true;
  std::string tags;  // key=value;key=value (may be empty)

  friend bool operator==(const MeterRecord&, const MeterRecord&) = default;
};

// A register snapshot at an aligned interval boundary (e.g. a DL/T 645 load-profile record at B).
struct BoundaryRead {
  std::string meter_id;
  EnergyChannel channel = EnergyChannel::forward_active;
  UtcSeconds boundary{};           // aligned boundary B, UTC
  std::int64_t register_wh = 0;    // meter register in Wh as read, before CT x PT
  UtcMillis collected_at{};        // head-end time the reply arrived
  ReadSource source = ReadSource::scheduled;
  std::optional<UtcMillis> meter_time;  // meter's clock converted to UTC, when the meter reported it
};

// `text` kept for the rest of the process, one copy per distinct text (AttemptRecord's outcome and
// category read back from the store): a view into the interning pool (interned_string.hpp). Any
// thread (the pool's mutex inside).
std::string_view intern_attempt_text(std::string_view text);

// One attempt to read one meter for one boundary (success or failure), for KPIs and the status line.
struct AttemptRecord {
  std::string meter_id;
  // gateway/channel key, e.g. "tcp://10.0.0.5:8899": a pointer into the interning pool (one copy
  // per distinct key for the process, interned_string.hpp), so a queued attempt holds 8 bytes and
  // no heap copy (issue #6). Assign any string; the daemon passes its target's key, already interned.
  InternedString channel;
  UtcSeconds boundary{};
  UtcMillis started_at{};
  std::int32_t latency_ms = 0;
  int attempt = 1;         // 1-based
  // outcome and category are small closed sets: views of text that lives for the whole process
  // (string literals, collection::to_string() names, or intern_attempt_text() for text read
  // back), so a queued attempt holds no copy (issue #6). Never point them at a temporary.
  std::string_view outcome;   // ok|timeout|refused|connection_lost|bad_frame|meter_error|unexpected_address|unreachable|...
  std::string_view category;  // ok|transport|meter
  std::string detail;
  ReadSource source = ReadSource::scheduled;
};

// One stored interval [start, end) (period-ending), as the store keeps it. VEE (a later task)
// reads these and writes new versions through StoreWriter::submit_intervals().
struct IntervalRecord {
  std::string meter_id;
  EnergyChannel channel = EnergyChannel::forward_active;
  UtcSeconds start{};
  UtcSeconds end{};
  std::int64_t value_wh = 0;  // CT x PT applied
  std::optional<std::int64_t> register_start_wh;  // meter register as read (before CT x PT)
  std::optional<std::int64_t> register_end_wh;
  IntervalStatus status = IntervalStatus::actual;
  std::vector<std::string> quality_codes;  // IEC 61968-9 "system.category.index"
  EstimationMethod estimation_method = EstimationMethod::none;
  std::uint32_t version = 1;     // assigned by the store on write
  UtcMillis collected_at{};      // head-end time of the later of the two reads
  ReadSource source = ReadSource::scheduled;
  std::optional<std::uint64_t> sequence;  // outbox sequence when published (read side only)
  bool superseded = false;       // a higher version exists (read side only)
};

// Quality codes the store itself assigns (IEC 61968-9 ReadingQualityType, system 2 = head-end).
// Register went down between two boundaries: reverse rotation / tamper suspect, or a register
// reset (meter replaced) or rollover; VEE decides. Stored with status suspect, never published.
inline constexpr std::string_view quality_register_decreased = "2.3.4";
// Register delta x CT x PT does not fit 64 bits (a corrupt read): stored suspect, not published.
inline constexpr std::string_view quality_out_of_range = "2.5.256";

// Text forms used in CSV, logs and the attempts table.
std::string_view to_string(EnergyChannel channel);   // "forward_active" | "reverse_active"
std::string_view to_string(ReadSource source);       // "scheduled" | "on_demand" | "backfill"
std::string_view to_string(IntervalStatus status);   // "actual" | "estimated" | "suspect"
std::optional<EnergyChannel> energy_channel_from_string(std::string_view text);
std::optional<ReadSource> read_source_from_string(std::string_view text);

// IEC 61968-9 ReadingType 18-field code for a delta-energy interval in Wh (multiplier 0, unit 72),
// e.g. 15-min forward active: "0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.0.72.0". See docs/STORAGE.md for the
// measuring-period and flow-direction codes used; an interval length without a CIM code gets
// measuring period 0 (none).
std::string reading_type_cim(EnergyChannel channel, int interval_minutes);

// "meter_id|reading_type_cim|end_unix|version", the consumer's de-duplication key.
std::string idempotency_key(std::string_view meter_id, std::string_view reading_type_cim,
                            std::int64_t end_unix, std::uint32_t version);

}  // namespace ami::storage
