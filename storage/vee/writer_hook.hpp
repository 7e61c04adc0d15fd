// WriterHook: VEE inside the StoreWriter's batch transaction (docs/VEE.md "In the writer").
//
// The writer tells the hook about every read it stored, with the channel's newest read before
// it (which the writer keeps in memory). The hook keeps the in-order reads needs_vee_pass()
// picks (a gap closes, a decrease, an impossible rise, a meter clock off) and the out-of-order
// reads with no stored read next to them on one side. Once per batch, take() runs vee::run() over each such
// span, with every read of the batch that falls inside it as an extra anchor, and returns the
// interval versions to write through the writer's VEE seam (same transaction as the reads) and
// findings for the audit log. Intervals the store derived itself from two adjacent reads are
// only rewritten when VEE says something else (rollover, flags).
// No queries of its own (the writer looks up stored reads for it): gaps are prorated evenly
// (no like-day shape), and the history rules (spike, high/low, zeros) are left to a periodic
// vee_pass with full history. Registry tags (bidirectional, dial) are not in the writer's meter
// cache: defaults apply.
//
// Ownership/threads: owned by the writer; used only on its thread. Errors: none thrown.
#pragma once

#include <chrono>
#include <functional>
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
  // A stored read older than its channel's newest stored read (instead of on_read()): its gap,
  // if any, is re-anchored at take().
  void on_out_of_order_read(const MeterRecord& meter, const BoundaryRead& read);

  // The stored read of a meter channel at exactly `boundary` (this batch's reads included), or
  // nullopt. Called only from take(), on the writer's thread, inside its transaction.
  using StoredReadLookup =
      std::function<std::optional<BoundaryRead>(const MeterRecord& meter, EnergyChannel channel, UtcSeconds boundary)>;
  // How far take() looks for an out-of-order read's stored neighbours. A gap estimated longer
  // than this is not re-anchored from the far side (its far part keeps its estimates).
  static constexpr std::chrono::hours reanchor_reach{24 * 14};

  // The versions to write and the findings of everything noted since the last take().
  // `lookup` is needed only when out-of-order reads were noted (without it they are ignored).
  PassResult take(const StoredReadLookup& lookup = {});
  // Forget what was noted (the transaction rolled back).
  void clear();
  [[nodiscard]] bool empty() const { return spans_.empty() && out_of_order_.empty(); }

 private:
  struct Span {
    MeterRecord meter;
    BoundaryRead first;
    BoundaryRead last;
  };
  // Spans for the out-of-order reads noted since the last take(), appended to spans_.
  void add_reanchor_spans(const StoredReadLookup& lookup);
  // spans_ sorted and merged per channel where they overlap or touch; each merged span's
  // stored endpoints are kept as anchors in merged_anchors_ (index-parallel).
  void merge_spans();

  VeeConfig config_;
  std::vector<Span> spans_;
  std::vector<std::vector<BoundaryRead>> merged_anchors_;
  std::vector<std::pair<MeterRecord, BoundaryRead>> out_of_order_;
  std::vector<BoundaryRead> batch_reads_;
};

}  // namespace ami::storage::vee
