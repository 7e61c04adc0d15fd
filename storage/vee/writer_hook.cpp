#include "storage/vee/writer_hook.hpp"

#include <algorithm>
#include <iterator>
#include <map>
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

void WriterHook::on_out_of_order_read(const MeterRecord& meter, const BoundaryRead& read) {
  batch_reads_.push_back(read);
  out_of_order_.emplace_back(meter, read);
}

void WriterHook::clear() {
  spans_.clear();
  merged_anchors_.clear();
  batch_reads_.clear();
  out_of_order_.clear();
}

void WriterHook::add_reanchor_spans(const StoredReadLookup& lookup) {
  if (out_of_order_.empty() || !lookup) return;
  std::sort(out_of_order_.begin(), out_of_order_.end(), [](const auto& a, const auto& b) {
    if (a.second.meter_id != b.second.meter_id) return a.second.meter_id < b.second.meter_id;
    if (a.second.channel != b.second.channel) return a.second.channel < b.second.channel;
    return a.second.boundary < b.second.boundary;
  });
  // One channel's reads at a time; a boundary is looked up once per channel and batch.
  std::map<UtcSeconds, std::optional<BoundaryRead>> looked_up;
  for (std::size_t i = 0; i < out_of_order_.size(); ++i) {
    const auto& [meter, read] = out_of_order_[i];
    if (i == 0 || read.meter_id != out_of_order_[i - 1].second.meter_id ||
        read.channel != out_of_order_[i - 1].second.channel) {
      looked_up.clear();
    }
    const std::chrono::seconds step{std::chrono::minutes{meter.interval_minutes}};
    if (step.count() <= 0) continue;
    const auto reach = static_cast<std::int64_t>(reanchor_reach / step);
    const auto nearest = [&](int direction) -> std::optional<BoundaryRead> {
      for (std::int64_t k = 1; k <= reach; ++k) {
        const UtcSeconds at = read.boundary + step * (k * direction);
        auto [it, fresh] = looked_up.try_emplace(at);
        if (fresh) it->second = lookup(meter, read.channel, at);
        if (it->second) return it->second;
      }
      return std::nullopt;
    };
    const auto before = nearest(-1);
    const auto after = nearest(+1);
    const bool gap_before = before && before->boundary < read.boundary - step;
    const bool gap_after = after && after->boundary > read.boundary + step;
    if (!gap_before && !gap_after) continue;  // the store's own derivation covers it
    Span span{meter, before ? *before : read, after ? *after : read};
    span.first.meter_id = read.meter_id;
    span.first.channel = read.channel;
    span.last.meter_id = read.meter_id;
    span.last.channel = read.channel;
    spans_.push_back(std::move(span));
  }
  out_of_order_.clear();
}

void WriterHook::merge_spans() {
  std::sort(spans_.begin(), spans_.end(), [](const Span& a, const Span& b) {
    if (a.meter.meter_id != b.meter.meter_id) return a.meter.meter_id < b.meter.meter_id;
    if (a.last.channel != b.last.channel) return a.last.channel < b.last.channel;
    return a.first.boundary < b.first.boundary;
  });
  std::vector<Span> merged;
  merged_anchors_.clear();
  for (auto& span : spans_) {
    if (!merged.empty() && merged.back().meter.meter_id == span.meter.meter_id &&
        merged.back().last.channel == span.last.channel && span.first.boundary <= merged.back().last.boundary) {
      // Overlapping or touching: one run; the endpoints stay anchors inside it.
      merged_anchors_.back().push_back(span.first);
      merged_anchors_.back().push_back(span.last);
      if (span.last.boundary > merged.back().last.boundary) merged.back().last = span.last;
      continue;
    }
    merged_anchors_.push_back({span.first, span.last});
    merged.push_back(std::move(span));
  }
  spans_ = std::move(merged);
}

PassResult WriterHook::take(const StoredReadLookup& lookup) {
  PassResult result;
  add_reanchor_spans(lookup);
  if (spans_.empty()) {
    clear();
    return result;
  }
  merge_spans();
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
  for (std::size_t s = 0; s < spans_.size(); ++s) {
    const Span& span = spans_[s];
    RunInput in;
    in.spec = channel_spec(span.meter, span.last.channel);
    // The stored endpoints of every span merged into this one, then the batch's reads inside.
    for (const auto& anchor : merged_anchors_[s]) in.reads.push_back(register_read(anchor));
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
    // An endpoint that is also a batch read is the same stored read: once is enough, the batch's
    // copy first (the looked-up one has no meter time).
    std::sort(in.reads.begin(), in.reads.end(), [](const RegisterRead& a, const RegisterRead& b) {
      if (a.boundary != b.boundary) return a.boundary < b.boundary;
      return a.meter_time.has_value() && !b.meter_time.has_value();
    });
    in.reads.erase(std::unique(in.reads.begin(), in.reads.end(),
                               [](const RegisterRead& a, const RegisterRead& b) {
                                 return a.boundary == b.boundary && a.register_wh == b.register_wh;
                               }),
                   in.reads.end());
    const std::vector<RegisterRead> anchors = in.reads;
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
