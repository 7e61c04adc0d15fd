// WriterHook: VEE inside the StoreWriter's batch transaction (docs/VEE.md "In the writer").
//
// The writer tells the hook about every read it stored, with the channel's newest read before
// it (which the writer keeps in memory). The hook keeps the in-order reads needs_vee_pass()
// picks (a gap closes, a decrease, an impossible rise, a meter clock off) and the decreases the
// store derived from out-of-order reads. Once per batch, take() runs vee::run() over each such
// span, with every read of the batch that falls inside it as an extra anchor, and returns the
// interval versions to write through the writer's VEE seam (same transaction as the reads) and
// findings for the audit log. Intervals the store derived itself from two adjacent reads are
// only rewritten when VEE says something else (rollover, flags).
// No queries: gaps are prorated evenly (no like-day shape), and the history rules (spike,
// high/low, zeros) and a gap only partly filled by backfill are left to a periodic vee_pass with
// full history. Registry tags (bidirectional, dial) are not in the writer's meter cache:
// defaults apply.
//
// Ownership/threads: owned by the writer; used only on its thread. Errors: none thrown.
#pragma once

#include <optional>
#include <vector>

#include "storage/vee/store_adapter.hpp"

namespace ami::storage::vee {

class WriterHook {
 public:
  explicit WriterHook(VeeConfig config) : config_(config) {}

  // Every stored read. `meter` needs meter_id, ct_ratio, pt_ratio, interval_minutes,
  // utc_offset_minutes; `previous` is the channel's newest stored read before `read`, if any.
  void on_read(const MeterRecord& meter, const std::optional<BoundaryRead>& previous, const BoundaryRead& read);
  // The versions to write and the findings of everything noted since the last take().
  PassResult take();
  // Forget what was noted (the transaction rolled back).
  void clear();
  [[nodiscard]] bool empty() const { return spans_.empty(); }

 private:
  struct Span {
    MeterRecord meter;
    BoundaryRead first;
    BoundaryRead last;
  };
  VeeConfig config_;
  std::vector<Span> spans_;
  std::vector<BoundaryRead> batch_reads_;
};

}  // namespace ami::storage::vee
