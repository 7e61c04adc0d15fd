// Store adapter: runs VEE over what the staging store holds for one meter channel and says which
// interval versions to write back (StoreWriter::submit_intervals(), the VEE seam).
//
// It converts between the store's value types (storage/types.hpp) and VEE's (series.hpp) and
// applies the supersede rule (versioning.hpp). It touches no database: the caller reads with a
// StoreReader (or inside the writer's transaction) and writes what comes back.
//
// Registry tags VEE understands (MeterRecord::tags, `key=value;...`):
//   bidirectional=true   the registers are net (a decrease is energy, not reverse rotation)
//   dial=6+2             register digits, integer+decimal kWh (default 6+2, DL/T 645)
// BoundaryReads are taken as the meter's own snapshots at their boundary (load-profile records,
// freezes), so the read-time tolerance does not apply to them; meter_time drives the clock checks.
//
// Ownership/threads: pure functions; any thread. Errors: a malformed tag value is returned in
// PassResult::findings and the default is used; nothing throws.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "storage/types.hpp"
#include "storage/vee/config.hpp"
#include "storage/vee/engine.hpp"

namespace ami::storage::vee {

// VEE's view of a registry meter's channel (multiplier = CT x PT, interval, UTC offset, tags).
// A bad tag value is reported in `problem` (when given) and the default kept.
ChannelSpec channel_spec(const MeterRecord& meter, EnergyChannel channel, std::string* problem = nullptr);

RegisterRead register_read(const BoundaryRead& read);
Interval interval_from_record(const IntervalRecord& record);
IntervalRecord record_from_interval(const Interval& interval, const ChannelSpec& spec);

struct PassInput {
  MeterRecord meter;
  EnergyChannel channel = EnergyChannel::forward_active;
  // Stored reads of this channel from before the window (include the last one at or before
  // `from`, and enough days back for like-day estimates if gaps are to be shaped) up to `to`.
  std::vector<BoundaryRead> reads;
  // Stored intervals of this channel, every version, from history_days + 1 before `from` on.
  // Records of the meter's other channel may be included: they only inform the zero-run rule.
  std::vector<IntervalRecord> stored;
  std::vector<MeterEvent> events;  // power-downs, clock sets, replacements (registry events)
  UtcSeconds from{};
  UtcSeconds to{};
};

struct PassResult {
  std::vector<IntervalRecord> writes;  // new versions to submit; version = what the store will assign
  std::vector<Finding> findings;       // for the audit log
};

PassResult vee_pass(const PassInput& input, const VeeConfig& config);

// Many meters at once, for a caller that reads the store in bulk (one range query for reads, one
// for intervals, as the writer can inside its transaction): groups the rows by meter and
// channel and runs vee_pass() for each channel of each meter in `meters`.
struct ChannelEvent {
  std::string meter_id;
  std::optional<EnergyChannel> channel;  // nullopt: both channels (power-down, clock set)
  MeterEvent event;
};

struct BatchInput {
  std::vector<MeterRecord> meters;      // the meters to validate (registry rows)
  std::vector<BoundaryRead> reads;      // their stored reads, any meter/channel/order
  std::vector<IntervalRecord> stored;   // their stored intervals, every version, any order
  std::vector<ChannelEvent> events;
  UtcSeconds from{};
  UtcSeconds to{};
};

PassResult vee_batch(const BatchInput& input, const VeeConfig& config);

// Cheap per-read trigger for the writer: true when this read needs more than the store's own
// derivation, i.e. a VEE pass over its channel: the previous stored read is not one interval
// before (a gap closes, or the read is out of order / a backfill), the register went down
// (rollover, replacement, reverse), the rise is beyond what the meter can do, or the meter clock
// is off or moved. A read with no previous read never needs one (nothing is expected before a
// meter's first read). The history-based rules (spike, high/low, zeros) are not triggered per
// read: run them in a periodic pass.
bool needs_vee_pass(const BoundaryRead* previous, const BoundaryRead& read, std::chrono::seconds interval,
                    const VeeConfig& config);

}  // namespace ami::storage::vee
