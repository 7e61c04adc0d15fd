#include "storage/vee/writer_hook.hpp"

#include <algorithm>
#include <iterator>
#include <string_view>
#include <utility>

#include "storage/vee/versioning.hpp"

namespace ami::storage::vee {

void WriterHook::on_read(const MeterRecord& meter, const std::optional<BoundaryRead>& previous,
                         const BoundaryRead& read) {
  batch_reads_.push_back(read);
  if (!previous) return;
  if (read.boundary > previous->boundary) {
    if (needs_vee_pass(&*previous, read, std::chrono::minutes{meter.interval_minutes}, config_)) {
      spans_.push_back({meter, *previous, read});
    }
    return;
  }
  // Out of order (backfill): the store derived (read - 1, read] and (read, read + 1] from its
  // stored neighbours, which this hook cannot see; a decrease there is held suspect until a
  // periodic vee_pass. Nothing to note.
}

void WriterHook::clear() {
  spans_.clear();
  batch_reads_.clear();
}

PassResult WriterHook::take() {
  PassResult result;
  if (spans_.empty()) {
    clear();
    return result;
  }
  // Only the channels that have a span need their batch reads as anchors (usually a few in a
  // hundred): pick those out first, so the sort does not move every read of the batch.
  const auto key_less = [](const BoundaryRead& a, const BoundaryRead& b) {
    if (a.meter_id != b.meter_id) return a.meter_id < b.meter_id;
    if (a.channel != b.channel) return a.channel < b.channel;
    return a.boundary < b.boundary;
  };
  std::vector<std::pair<std::string_view, EnergyChannel>> span_channels;
  span_channels.reserve(spans_.size());
  for (const auto& span : spans_) span_channels.emplace_back(span.meter.meter_id, span.last.channel);
  std::sort(span_channels.begin(), span_channels.end());
  std::vector<const BoundaryRead*> anchors_in_batch;
  for (const auto& read : batch_reads_) {
    if (std::binary_search(span_channels.begin(), span_channels.end(),
                           std::pair<std::string_view, EnergyChannel>{read.meter_id, read.channel})) {
      anchors_in_batch.push_back(&read);
    }
  }
  const auto pointer_less = [&](const BoundaryRead* a, const BoundaryRead* b) { return key_less(*a, *b); };
  std::sort(anchors_in_batch.begin(), anchors_in_batch.end(), pointer_less);
  for (const auto& span : spans_) {
    RunInput in;
    in.spec = channel_spec(span.meter, span.last.channel);
    in.reads.push_back(register_read(span.first));
    BoundaryRead probe = span.first;
    probe.meter_id = span.meter.meter_id;
    probe.channel = span.last.channel;
    for (auto it = std::upper_bound(anchors_in_batch.begin(), anchors_in_batch.end(), &probe, pointer_less);
         it != anchors_in_batch.end() && (*it)->meter_id == probe.meter_id && (*it)->channel == probe.channel &&
         (*it)->boundary <= span.last.boundary;
         ++it) {
      in.reads.push_back(register_read(**it));
    }
    in.from = span.first.boundary;
    in.to = span.last.boundary;
    const auto spec = in.spec;
    std::vector<RegisterRead> anchors = in.reads;
    std::sort(anchors.begin(), anchors.end(),
              [](const RegisterRead& a, const RegisterRead& b) { return a.boundary < b.boundary; });
    const auto anchor_at = [&](UtcSeconds t) -> const RegisterRead* {
      const auto it = std::lower_bound(anchors.begin(), anchors.end(), t,
                                       [](const RegisterRead& a, UtcSeconds v) { return a.boundary < v; });
      return (it != anchors.end() && it->boundary == t) ? &*it : nullptr;
    };
    auto run_result = run(std::move(in), config_);
    for (const auto& iv : run_result.intervals) {
      // Between two adjacent stored reads the store derived this interval itself (version 1).
      std::optional<Interval> derived;
      const auto* a = anchor_at(iv.end - spec.interval);
      const auto* b = anchor_at(iv.end);
      if (a != nullptr && b != nullptr) {
        derived = Interval{};
        derived->end = iv.end;
        derived->value_wh = (b->register_wh - a->register_wh) * spec.multiplier;
        if (derived->value_wh < 0) {
          derived->status = IntervalStatus::suspect;
          set(derived->flags, Flag::reverse_rotation);
        }
      }
      if (decide_write(derived ? &*derived : nullptr, iv) == WriteDecision::keep) continue;
      result.writes.push_back(record_from_interval(iv, spec));
    }
    std::move(run_result.findings.begin(), run_result.findings.end(), std::back_inserter(result.findings));
  }
  clear();
  return result;
}

}  // namespace ami::storage::vee
