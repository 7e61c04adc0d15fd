// Register delta between two reads of one channel: normal, rollover, meter replacement, reverse.
//
// Rollover vs replacement (docs/VEE.md "Rollover and replacement"):
// - A register that goes DOWN is a rollover only when the dial maximum is known and the wrapped
//   delta (end + modulus - start) is a plausible consumption: at most
//   VeeConfig::max_register_wh_per_interval per interval spanned. The wrapped value is exact.
// - A meter replacement is never guessed from a reset: it must come as a registry event
//   (EventKind::meter_replaced, e.g. from an address change). With the old meter's final and the
//   new meter's first register the delta is (old_final - start) + (end - new_initial), exact;
//   without them the delta is unknown and the interval is estimated.
// - Any other decrease on a non-bidirectional channel is reverse rotation (suspect, the negative
//   value is kept so the stored intervals still add up to the register delta). A bidirectional
//   channel's decrease is actual energy; a wrap there is taken the shorter way round the dial.
// - An increase of more than half the dial on a non-bidirectional channel is a decrease through
//   zero (reverse rotation), never a huge interval.
//
// Ownership/threads: pure functions; any thread. Errors: none; the result says what happened.
#pragma once

#include <cstdint>

#include "storage/vee/config.hpp"
#include "storage/vee/series.hpp"

namespace ami::storage::vee {

enum class DeltaKind {
  normal,       // end - start
  rollover,     // wrapped past the dial maximum
  replacement,  // across a meter replacement with both registers known
  reverse,      // register went down: reverse rotation (suspect) unless bidirectional
  unknown,      // across a meter replacement without the registers: cannot be derived
};

struct RegisterDelta {
  DeltaKind kind = DeltaKind::normal;
  std::int64_t register_wh = 0;  // meaningless when kind == unknown
  Flags flags = 0;               // rollover / meter_replaced / reverse_rotation as they apply

  [[nodiscard]] bool known() const { return kind != DeltaKind::unknown; }
  // Publishable: not unknown and not a reverse-rotation suspect.
  [[nodiscard]] bool trusted() const { return kind != DeltaKind::unknown && kind != DeltaKind::reverse; }
};

// Delta from `start_wh` to `end_wh` across `intervals` intervals (>= 1). `replacement` is the
// meter_replaced event between the two reads, or nullptr.
RegisterDelta register_delta(std::int64_t start_wh, std::int64_t end_wh, std::int64_t intervals,
                             const ChannelSpec& spec, const VeeConfig& config,
                             const MeterEvent* replacement);

}  // namespace ami::storage::vee
