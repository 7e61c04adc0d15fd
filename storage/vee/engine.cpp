#include "storage/vee/engine.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <utility>

#include "storage/vee/estimation.hpp"
#include "storage/vee/register_delta.hpp"
#include "storage/vee/rules.hpp"
#include "storage/vee/timeline.hpp"

namespace ami::storage::vee {
namespace {

// Flags to put on intervals later: every interval ending in (after, until].
struct SpanFlags {
  UtcSeconds after{};
  UtcSeconds until{};
  Flags flags = 0;
};

class ChannelRun {
 public:
  ChannelRun(RunInput& input, const VeeConfig& config, RunResult& result)
      : in_(input), spec_(input.spec), config_(config), result_(result),
        out_(result.intervals), timeline_(input.history, result.intervals) {}

  void execute() {
    if (spec_.interval.count() <= 0) {
      result_.findings.push_back({in_.from, Flag::time_tolerance, "interval length must be > 0"});
      return;
    }
    apply_read_rules();
    derive();
    finish_flags();
  }

 private:
  void note(UtcSeconds at, Flag flag, std::string detail, bool flag_neighbours = true) {
    result_.findings.push_back({at, flag, std::move(detail)});
    if (flag_neighbours) spans_.push_back({at - spec_.interval, at + spec_.interval, static_cast<Flags>(flag)});
  }

  void apply_read_rules() {
    auto& reads = in_.reads;
    const auto dup = remove_duplicate_reads(reads, config_);
    result_.duplicate_reads = dup.identical;
    for (const auto b : dup.conflicting) {
      note(b, Flag::duplicate_conflict, "reads for " + format_utc(b) + " disagree; the first is kept");
    }

    anchors_.reserve(reads.size());
    for (const auto& read : reads) {
      if (read.boundary > in_.to) break;
      if (floor_to_interval(read.boundary, spec_.interval) != read.boundary) {
        note(read.boundary, Flag::time_tolerance,
             "read boundary " + format_utc(read.boundary) + " is not on the interval grid; ignored", false);
        continue;
      }
      if (outside_read_tolerance(read, config_)) {
        note(read.boundary, Flag::time_tolerance,
             "read for " + format_utc(read.boundary) + " taken at " + format_utc_ms(read.taken_at) +
                 " is outside the time tolerance; not used");
        continue;
      }
      if (meter_clock_off(read, config_)) {
        note(read.boundary, Flag::time_tolerance,
             "meter clock " + format_utc_ms(*read.meter_time) + " vs head-end " + format_utc_ms(read.taken_at));
      }
      anchors_.push_back(read);
    }

    const auto outliers = outlier_reads(anchors_, spec_, in_.events, config_);
    for (auto it = outliers.rbegin(); it != outliers.rend(); ++it) {
      const auto& bad = anchors_[*it];
      note(bad.boundary, Flag::outlier_read,
           "register " + std::to_string(bad.register_wh) + " Wh at " + format_utc(bad.boundary) +
               " is out of line with its neighbours; not used");
      anchors_.erase(anchors_.begin() + static_cast<std::ptrdiff_t>(*it));
    }

    for (std::size_t i = 1; i < anchors_.size(); ++i) {
      if (const auto jump = clock_jump(anchors_[i - 1], anchors_[i], config_)) {
        result_.findings.push_back({anchors_[i].boundary, *jump, "meter clock offset changed"});
        spans_.push_back({anchors_[i - 1].boundary, anchors_[i].boundary, static_cast<Flags>(*jump)});
      }
    }
  }

  [[nodiscard]] std::int64_t intervals_between(UtcSeconds a, UtcSeconds b) const {
    return (b - a) / spec_.interval;
  }

  void push(Interval iv) { out_.push_back(iv); }

  // The first actual interval right after the anchor at `index` (anchors index+1 one interval
  // later with a trusted delta), for interpolation; nullopt otherwise.
  [[nodiscard]] std::optional<std::int64_t> value_after(std::size_t index) const {
    if (index + 1 >= anchors_.size()) return std::nullopt;
    const auto& a = anchors_[index];
    const auto& b = anchors_[index + 1];
    if (intervals_between(a.boundary, b.boundary) != 1) return std::nullopt;
    const auto d = register_delta(a.register_wh, b.register_wh, 1, spec_, config_,
                                  replacement_between(in_.events, a.boundary, b.boundary));
    if (!d.trusted()) return std::nullopt;
    return d.register_wh * spec_.multiplier;
  }

  // Intervals (cursor, cursor + count * interval] with no usable anchor pair.
  void estimate_unanchored(UtcSeconds cursor, std::int64_t count, std::optional<std::int64_t> after,
                           Flags extra, const RegisterRead* right) {
    if (!config_.estimate_gaps || count <= 0) return;
    const auto limit = std::min<std::int64_t>(count, config_.max_unanchored_intervals);
    if (limit <= 0) return;
    // The interval just before the gap, actual or an anchored estimate (not a suspect value).
    std::optional<std::int64_t> before;
    if (const auto* last = timeline_.at(cursor); last != nullptr && last->status != IntervalStatus::suspect) {
      before = last->value_wh;
    }
    const bool linear = spec_.interval * count <= config_.linear_max_gap;
    std::vector<std::int64_t> line;
    if (linear) line = interpolate_linear(before, after, static_cast<std::size_t>(count));
    for (std::int64_t k = 0; k < limit; ++k) {
      Interval iv;
      iv.end = cursor + spec_.interval * (k + 1);
      iv.status = IntervalStatus::estimated;
      iv.flags = extra | Flag::skipped_interval | Flag::estimated;
      if (linear) {
        iv.value_wh = line[static_cast<std::size_t>(k)];
        iv.method = EstimationMethod::linear_interpolation;
      } else if (const auto v = like_day_value(timeline_, iv.end, config_.like_days)) {
        iv.value_wh = *v;
        iv.method = EstimationMethod::like_day;
      } else {
        // No like day anywhere yet: carry the last known value.
        iv.value_wh = interpolate_linear(before, after, 1).front();
        iv.method = EstimationMethod::linear_interpolation;
      }
      if (right != nullptr) {
        iv.collected_at = right->taken_at;
        iv.source = right->source;
      } else if (last_anchor_ != nullptr) {
        iv.collected_at = last_anchor_->taken_at;
        iv.source = last_anchor_->source;
      }
      push(iv);
    }
  }

  // Intervals between two anchors `count` apart with a known register delta.
  void derive_span(const RegisterRead& a, const RegisterRead& b, std::int64_t count,
                   const RegisterDelta& delta) {
    const auto total = delta.register_wh * spec_.multiplier;
    const auto first = out_.size();
    if (count == 1) {
      Interval iv;
      iv.end = b.boundary;
      iv.value_wh = total;
      iv.register_start_wh = a.register_wh;
      iv.register_end_wh = b.register_wh;
      iv.status = delta.kind == DeltaKind::reverse ? IntervalStatus::suspect : IntervalStatus::actual;
      iv.flags = delta.flags;
      iv.collected_at = std::max(a.taken_at, b.taken_at);
      iv.source = b.source;
      push(iv);
    } else {
      const auto n = static_cast<std::size_t>(count);
      std::vector<std::int64_t> parts;
      auto method = EstimationMethod::register_prorated_even;
      if (delta.trusted() && config_.prorate_by_shape) {
        std::vector<std::int64_t> shape;
        shape.reserve(n);
        for (std::size_t k = 0; k < n; ++k) {
          const auto v = like_day_value(timeline_, a.boundary + spec_.interval * static_cast<std::int64_t>(k + 1),
                                        config_.like_days);
          if (!v || *v < 0) break;
          shape.push_back(*v);
        }
        if (shape.size() == n && std::any_of(shape.begin(), shape.end(), [](auto v) { return v > 0; })) {
          parts = prorate(total, shape);
          method = EstimationMethod::register_prorated_shape;
        }
      }
      if (parts.empty()) parts = prorate_even(total, n);
      for (std::size_t k = 0; k < n; ++k) {
        Interval iv;
        iv.end = a.boundary + spec_.interval * static_cast<std::int64_t>(k + 1);
        iv.value_wh = parts[k];
        if (delta.trusted()) {
          iv.status = IntervalStatus::estimated;
          iv.method = method;
          iv.flags = delta.flags | Flag::skipped_interval | Flag::estimated;
        } else {
          // A decrease across a gap: hold the whole span as suspect, still adding up.
          iv.status = IntervalStatus::suspect;
          iv.flags = delta.flags | Flag::skipped_interval;
        }
        iv.collected_at = std::max(a.taken_at, b.taken_at);
        iv.source = b.source;
        push(iv);
      }
      out_[first].register_start_wh = a.register_wh;
      out_.back().register_end_wh = b.register_wh;
    }
    if (config_.check_sum &&
        !sum_matches(std::span<const Interval>(out_).subspan(first), total)) {
      for (auto k = first; k < out_.size(); ++k) set(out_[k].flags, Flag::sum_check);
    }
  }

  void derive() {
    // Where the output starts (see engine.hpp "Window").
    std::size_t next = 0;
    std::optional<UtcSeconds> cursor;
    while (next < anchors_.size() && anchors_[next].boundary <= in_.from) ++next;
    if (next > 0) {
      last_anchor_ = &anchors_[next - 1];
      cursor = last_anchor_->boundary;
    } else if (!in_.history.empty()) {
      cursor = in_.from;
    } else if (!anchors_.empty()) {
      last_anchor_ = &anchors_[0];
      cursor = anchors_[0].boundary;
      next = 1;
    }
    if (!cursor) return;
    out_.reserve(static_cast<std::size_t>(std::max<std::int64_t>(0, intervals_between(*cursor, in_.to))));

    for (; next < anchors_.size(); ++next) {
      const auto& b = anchors_[next];
      const auto count = intervals_between(*cursor, b.boundary);
      if (last_anchor_ == nullptr) {
        estimate_unanchored(*cursor, count, value_after(next), 0, &b);
      } else {
        const auto* swap = replacement_between(in_.events, last_anchor_->boundary, b.boundary);
        const auto delta = register_delta(last_anchor_->register_wh, b.register_wh, count, spec_, config_, swap);
        if (delta.known()) {
          derive_span(*last_anchor_, b, count, delta);
        } else {
          estimate_unanchored(*cursor, count, value_after(next), delta.flags, &b);
        }
      }
      last_anchor_ = &b;
      cursor = b.boundary;
    }
    if (*cursor < in_.to) {
      estimate_unanchored(*cursor, intervals_between(*cursor, in_.to), std::nullopt, 0, nullptr);
    }
  }

  void finish_flags() {
    if (out_.empty()) return;
    for (const auto& span : spans_) {
      auto it = std::upper_bound(out_.begin(), out_.end(), span.after,
                                 [](UtcSeconds t, const Interval& iv) { return t < iv.end; });
      for (; it != out_.end() && it->end <= span.until; ++it) it->flags |= span.flags;
    }
    std::span<Interval> all(out_);
    flag_events(all, in_.events, spec_, config_);
    flag_spikes(all, timeline_, spec_, config_);
    flag_high_low(all, timeline_, spec_, config_);
    const std::vector<Interval> no_current;
    const Timeline opposite(in_.opposite_channel, no_current);
    flag_zero_runs(all, timeline_, spec_, config_, in_.opposite_channel.empty() ? nullptr : &opposite);
  }

  RunInput& in_;
  const ChannelSpec& spec_;
  const VeeConfig& config_;
  RunResult& result_;
  std::vector<Interval>& out_;
  Timeline timeline_;
  std::vector<RegisterRead> anchors_;
  const RegisterRead* last_anchor_ = nullptr;
  std::vector<SpanFlags> spans_;
};

}  // namespace

RunResult run(RunInput input, const VeeConfig& config) {
  RunResult result;
  ChannelRun(input, config, result).execute();
  return result;
}

}  // namespace ami::storage::vee
