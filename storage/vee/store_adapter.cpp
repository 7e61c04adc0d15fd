#include "storage/vee/store_adapter.hpp"

#include <algorithm>
#include <charconv>
#include <iterator>
#include <unordered_map>
#include <string_view>

#include "storage/vee/rules.hpp"
#include "storage/vee/versioning.hpp"

namespace ami::storage::vee {
namespace {

// Value of `key` in "k=v;k=v", or empty.
std::string_view tag_value(std::string_view tags, std::string_view key) {
  while (!tags.empty()) {
    const auto end = tags.find(';');
    const auto item = tags.substr(0, end);
    const auto eq = item.find('=');
    if (eq != std::string_view::npos && item.substr(0, eq) == key) return item.substr(eq + 1);
    if (end == std::string_view::npos) break;
    tags.remove_prefix(end + 1);
  }
  return {};
}

bool parse_int(std::string_view text, int& out) {
  const auto* last = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), last, out);
  return ec == std::errc{} && ptr == last;
}

}  // namespace

ChannelSpec channel_spec(const MeterRecord& meter, EnergyChannel channel, std::string* problem) {
  ChannelSpec spec;
  spec.meter_id = meter.meter_id;
  spec.channel = channel;
  spec.interval = std::chrono::minutes{meter.interval_minutes};
  spec.multiplier = meter.ct_ratio * meter.pt_ratio;
  spec.utc_offset_minutes = meter.utc_offset_minutes;
  const auto report = [&](std::string text) {
    if (problem != nullptr) *problem = "meter '" + meter.meter_id + "' tags: " + std::move(text);
  };
  if (const auto bidi = tag_value(meter.tags, "bidirectional"); !bidi.empty()) {
    if (bidi == "true" || bidi == "1") {
      spec.bidirectional = true;
    } else if (bidi != "false" && bidi != "0") {
      report("bidirectional must be true or false, got '" + std::string(bidi) + "'");
    }
  }
  if (const auto dial = tag_value(meter.tags, "dial"); !dial.empty()) {
    const auto plus = dial.find('+');
    RegisterDial parsed;
    if (plus == std::string_view::npos || !parse_int(dial.substr(0, plus), parsed.integer_digits) ||
        !parse_int(dial.substr(plus + 1), parsed.decimal_digits) || parsed.integer_digits < 0 ||
        parsed.decimal_digits < 0 || parsed.decimal_digits > 3) {
      report("dial must look like 6+2 (integer+decimal kWh digits, decimals 0..3), got '" + std::string(dial) + "'");
    } else {
      spec.dial = parsed;
    }
  }
  return spec;
}

RegisterRead register_read(const BoundaryRead& read) {
  RegisterRead r;
  r.boundary = read.boundary;
  r.register_wh = read.register_wh;
  r.taken_at = read.collected_at;
  r.snapshot = true;
  r.meter_time = read.meter_time;
  r.source = read.source;
  return r;
}

Interval interval_from_record(const IntervalRecord& record) {
  Interval iv;
  iv.end = record.end;
  iv.value_wh = record.value_wh;
  iv.register_start_wh = record.register_start_wh;
  iv.register_end_wh = record.register_end_wh;
  iv.status = record.status;
  iv.method = record.estimation_method;
  iv.flags = flags_from_codes(record.quality_codes);
  iv.source = record.source;
  iv.collected_at = record.collected_at;
  iv.version = record.version;
  return iv;
}

IntervalRecord record_from_interval(const Interval& interval, const ChannelSpec& spec) {
  IntervalRecord record;
  record.meter_id = spec.meter_id;
  record.channel = spec.channel;
  record.start = interval.end - spec.interval;
  record.end = interval.end;
  record.value_wh = interval.value_wh;
  record.register_start_wh = interval.register_start_wh;
  record.register_end_wh = interval.register_end_wh;
  record.status = interval.status;
  record.quality_codes = quality_codes(interval.flags);
  record.estimation_method = interval.method;
  record.version = interval.version;
  record.collected_at = interval.collected_at;
  record.source = interval.source;
  return record;
}

PassResult vee_pass(const PassInput& input, const VeeConfig& config) {
  PassResult result;
  std::string problem;
  RunInput run_input;
  run_input.spec = channel_spec(input.meter, input.channel, &problem);
  if (!problem.empty()) result.findings.push_back({input.from, Flag::time_tolerance, problem});

  run_input.reads.reserve(input.reads.size());
  for (const auto& read : input.reads) {
    if (read.channel == input.channel) run_input.reads.push_back(register_read(read));
  }
  const auto latest_of = [&](bool same_channel) {
    std::vector<Interval> stored;
    for (const auto& record : input.stored) {
      if ((record.channel == input.channel) == same_channel) stored.push_back(interval_from_record(record));
    }
    std::sort(stored.begin(), stored.end(), [](const Interval& a, const Interval& b) {
      return a.end != b.end ? a.end < b.end : a.version < b.version;
    });
    return latest_versions(stored);
  };
  const auto latest = latest_of(true);
  const auto opposite = latest_of(false);
  run_input.history = latest;
  run_input.opposite_channel = opposite;
  run_input.events = input.events;
  run_input.from = input.from;
  run_input.to = input.to;

  auto computed = run(std::move(run_input), config);
  const auto spec = channel_spec(input.meter, input.channel);
  for (const auto& iv : plan_writes(latest, computed.intervals)) {
    result.writes.push_back(record_from_interval(iv, spec));
  }
  result.findings.insert(result.findings.end(), std::make_move_iterator(computed.findings.begin()),
                         std::make_move_iterator(computed.findings.end()));
  return result;
}

bool needs_vee_pass(const BoundaryRead* previous, const BoundaryRead& read, std::chrono::seconds interval,
                    const VeeConfig& config) {
  if (previous == nullptr) return false;
  if (read.boundary - previous->boundary != interval || read.source == ReadSource::backfill) return true;
  const auto rise = read.register_wh - previous->register_wh;
  if (rise < 0 || rise > config.max_register_wh_per_interval) return true;
  const auto as_vee = register_read(read);
  const auto before = register_read(*previous);
  return meter_clock_off(as_vee, config) || clock_jump(before, as_vee, config).has_value();
}

PassResult vee_batch(const BatchInput& input, const VeeConfig& config) {
  std::unordered_map<std::string_view, std::vector<const BoundaryRead*>> reads_of;
  std::unordered_map<std::string_view, std::vector<const IntervalRecord*>> stored_of;
  for (const auto& read : input.reads) reads_of[read.meter_id].push_back(&read);
  for (const auto& record : input.stored) stored_of[record.meter_id].push_back(&record);

  PassResult result;
  for (const auto& meter : input.meters) {
    for (const auto channel : {EnergyChannel::forward_active, EnergyChannel::reverse_active}) {
      PassInput pass;
      pass.meter = meter;
      pass.channel = channel;
      pass.from = input.from;
      pass.to = input.to;
      if (const auto it = reads_of.find(meter.meter_id); it != reads_of.end()) {
        for (const auto* read : it->second) {
          if (read->channel == channel) pass.reads.push_back(*read);
        }
      }
      if (const auto it = stored_of.find(meter.meter_id); it != stored_of.end()) {
        for (const auto* record : it->second) pass.stored.push_back(*record);
      }
      for (const auto& e : input.events) {
        if (e.meter_id == meter.meter_id && (!e.channel || *e.channel == channel)) pass.events.push_back(e.event);
      }
      if (pass.reads.empty() && pass.stored.empty()) continue;
      auto one = vee_pass(pass, config);
      std::move(one.writes.begin(), one.writes.end(), std::back_inserter(result.writes));
      std::move(one.findings.begin(), one.findings.end(), std::back_inserter(result.findings));
    }
  }
  return result;
}

}  // namespace ami::storage::vee
